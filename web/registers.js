// Staff registers (docs/operators.md "Registers the operating rules require"): training,
// contractors with their workers, and self-inspections, audits and log reviews. Each section is
// shown to the roles that read it, each form to the roles that record it; the node checks both
// again (and records every call). Nothing here is personal: operator ids, companies, dates, short
// texts.
'use strict';

(function () {
  const K = window.Kakunin;
  const $ = (id) => document.getElementById(id);

  // Who reads and who records each register (the node's rules, docs/operators.md).
  const READS = {
    trainings: ['security_chief', 'security_manager', 'auditor'],
    contracts: ['security_chief', 'security_manager', 'access_manager', 'auditor'],
    reviews: ['security_chief', 'security_manager', 'auditor'],
    log: ['auditor', 'access_manager', 'security_manager'],
  };
  const RECORDS = {
    trainings: ['security_chief', 'security_manager'],
    contracts: ['security_chief'],
  };
  const REVIEW_KINDS = [
    ['self_inspection', '自己点検', 'self-inspection', ['security_chief']],
    ['audit', '監査', 'audit', ['auditor']],
    ['log_review', '操作履歴の確認', 'log review', ['auditor', 'security_manager', 'access_manager']],
  ];
  const TRAINING_KIND = { operator: ['操作者研修', 'operators'], manager: ['管理者研修', 'managers'] };
  const RESULT = { no_findings: ['指摘なし', 'no findings'], findings: ['指摘あり', 'findings'] };
  const SUBCONTRACTING = { prohibited: ['禁止', 'prohibited'], approved: ['承認', 'approved'] };
  const REVIEW_KIND = Object.fromEntries(REVIEW_KINDS.map(([k, ja, en]) => [k, [ja, en]]));
  const label = (table, v) => (table[v] ? K.bi(table[v][0], table[v][1]) : String(v || '—'));
  const WORDS = {
    not_found: ['該当する記録がありません', 'No such record'],
  };

  let roles = [];
  const holds = (list) => list.some((r) => roles.includes(r));

  function cell(tr, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.append(td);
    return td;
  }

  // Fills a register's table from a GET, or says why it could not.
  async function loadTable(name, path, key, row) {
    const problem = $(name + '-problem');
    K.say(problem, '');
    const r = await K.api('GET', path);
    const body = $(name + '-body');
    body.replaceChildren();
    if (!r.ok || !r.body || !Array.isArray(r.body[key])) {
      $(name + '-table').hidden = true;
      $(name + '-empty').hidden = true;
      K.showProblem(problem, r, WORDS, ['記録簿を読み込めませんでした', 'The register could not be loaded']);
      return null;
    }
    for (const item of r.body[key]) body.append(row(item));
    $(name + '-table').hidden = r.body[key].length === 0;
    $(name + '-empty').hidden = r.body[key].length !== 0;
    return r.body[key];
  }

  function trainingRow(t) {
    const tr = document.createElement('tr');
    tr.dataset.training = String(t.training_id);
    cell(tr, String(t.training_id), 'num');
    cell(tr, t.held_on);
    cell(tr, label(TRAINING_KIND, t.kind));
    cell(tr, t.title);
    cell(tr, (t.attendees || []).join('、'), 'attendees');
    cell(tr, t.recorded_by);
    return tr;
  }

  function contractRow(c) {
    const tr = document.createElement('tr');
    tr.dataset.contract = String(c.contract_id);
    cell(tr, String(c.contract_id), 'num');
    cell(tr, c.company);
    cell(tr, c.work);
    cell(tr, c.from + ' 〜 ' + c.to + (c.ended_on ? K.bi('（' + c.ended_on + ' まで。解除）', ' (ended: last day ' + c.ended_on + ')') : ''), 'period');
    cell(tr, c.in_force ? K.bi('有効', 'in force') : K.bi('期間外', 'not in force'), c.in_force ? 'in-force' : 'not-in-force');
    cell(tr, label(SUBCONTRACTING, c.subcontracting) + (c.approved_on ? '（' + c.approved_on + '）' : ''));
    cell(tr, c.pledge_received_on || K.bi('未受領', 'not received'));
    cell(tr, (c.workers || []).map((w) => w.removed_at
      ? w.operator_id + K.bi('（' + w.removed_at.slice(0, 10) + ' 除外）', ' (removed ' + w.removed_at.slice(0, 10) + ')')
      : w.operator_id).join('、') || '—', 'workers');
    return tr;
  }

  function reviewRow(v) {
    const tr = document.createElement('tr');
    tr.dataset.review = String(v.review_id);
    cell(tr, String(v.review_id), 'num');
    cell(tr, label(REVIEW_KIND, v.kind));
    cell(tr, v.period_from + ' 〜 ' + v.period_to);
    cell(tr, v.conducted_on);
    cell(tr, label(RESULT, v.result), v.result === 'findings' ? 'findings' : '');
    cell(tr, v.summary, 'summary');
    cell(tr, v.recorded_by);
    return tr;
  }

  async function loadTrainings() {
    await loadTable('trainings', '/v1/trainings', 'trainings', trainingRow);
  }

  async function loadContracts() {
    const list = await loadTable('contracts', '/v1/contracts', 'contracts', contractRow);
    // A worker is listed under a contract in force; removed from any contract with a worker
    // still listed; a contract not ended yet can be ended.
    fill('worker-contract', (list || []).filter((c) => c.in_force));
    fill('removal-contract', (list || []).filter((c) => (c.workers || []).some((w) => !w.removed_at)));
    fill('end-contract', (list || []).filter((c) => !c.ended_on));
  }

  // The contracts a form may name, as its select's options (keeping the one chosen); the form's
  // button is disabled when there is none.
  function fill(id, contracts) {
    const select = $(id);
    const previous = select.value;
    select.replaceChildren();
    for (const c of contracts) {
      const opt = document.createElement('option');
      opt.value = String(c.contract_id);
      opt.textContent = c.contract_id + ': ' + c.company + '（' + c.work + '）';
      select.append(opt);
    }
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
    $(id.replace('-contract', '-submit')).disabled = select.options.length === 0;
  }

  async function loadReviews() {
    await loadTable('reviews', '/v1/reviews', 'reviews', reviewRow);
  }

  function render(s) {
    roles = Array.isArray(s.roles) ? s.roles : [];
    const show = {
      trainings: holds(READS.trainings),
      contracts: holds(READS.contracts),
      // An access manager records log reviews without reading the register.
      reviews: holds(READS.reviews) || REVIEW_KINDS.some((k) => holds(k[3])),
    };
    $('trainings').hidden = !show.trainings;
    $('training-form').hidden = !holds(RECORDS.trainings);
    $('contracts').hidden = !show.contracts;
    $('contract-form').hidden = !holds(RECORDS.contracts);
    $('worker-form').hidden = !holds(RECORDS.contracts);
    $('removal-form').hidden = !holds(RECORDS.contracts);
    $('end-form').hidden = !holds(RECORDS.contracts);
    $('reviews').hidden = !show.reviews;
    const kinds = $('review-kinds');
    for (const old of kinds.querySelectorAll('.choice')) old.remove();
    let first = true;
    for (const [kind, ja, en, who] of REVIEW_KINDS) {
      if (!holds(who)) continue;
      const div = document.createElement('div');
      div.className = 'choice';
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'review-kind';
      input.id = 'review-kind-' + kind;
      input.value = kind;
      input.checked = first;
      first = false;
      const lab = document.createElement('label');
      lab.htmlFor = input.id;
      lab.append(ja + ' ');
      const span = document.createElement('span');
      span.lang = 'en';
      span.className = 'en';
      span.textContent = '/ ' + en;
      lab.append(span);
      div.append(input, lab);
      kinds.append(div);
    }
    $('review-form').hidden = first;  // no kind this operator may record
    for (const name of ['trainings', 'contracts', 'reviews']) $(name + '-reload').hidden = !holds(READS[name]);
    $('log').hidden = !holds(READS.log);
    $('reg-none').hidden = show.trainings || show.contracts || show.reviews || holds(READS.log);
  }

  function logRow(e) {
    const tr = document.createElement('tr');
    tr.dataset.seq = String(e.seq);
    cell(tr, String(e.seq), 'num');
    cell(tr, e.time || '');
    cell(tr, e.erased ? K.bi('保存期間経過', 'erased') : (e.actor || ''));
    cell(tr, e.action || '');
    cell(tr, e.purpose || '');
    cell(tr, e.result_count === undefined ? '' : String(e.result_count), 'num');
    cell(tr, e.outcome || '');
    return tr;
  }

  async function loadAll() {
    if (holds(READS.trainings)) await loadTrainings();
    if (holds(READS.contracts)) await loadContracts();
    if (holds(READS.reviews)) await loadReviews();
  }

  // A form's submission: the body from the form, one POST, the answer in the form's live region.
  function onSubmit(form, name, build, done, after) {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const problem = $(name + '-problem');
      const doneEl = $(name + '-done');
      K.say(problem, '');
      K.say(doneEl, '');
      const req = build();
      if (!req) return;
      const submit = $(name + '-submit');
      submit.disabled = true;
      const r = await K.api('POST', req.path, req.body);
      submit.disabled = false;
      if (!r.ok) {
        if (!shell.isLocked(r)) K.showProblem(problem, r, WORDS, ['記録できませんでした', 'Not recorded']);
        return;
      }
      // The register is read again first, so that what the message reports is in the table
      // when the message shows.
      await after();
      K.say(doneEl, done(r.body));
    });
  }

  function requireFilled(form) {
    let ok = true;
    for (const el of form.querySelectorAll('input[required], textarea[required], select[required]')) {
      const empty = el.value.trim() === '';
      el.setAttribute('aria-invalid', empty ? 'true' : 'false');
      if (empty && ok) {
        el.focus();
        ok = false;
      }
    }
    return ok;
  }

  const checked = (form, name) => {
    const el = form.querySelector('input[name="' + name + '"]:checked');
    return el ? el.value : '';
  };

  onSubmit($('training-form'), 'training', () => {
    const form = $('training-form');
    if (!requireFilled(form)) return null;
    const attendees = $('training-attendees').value.split(/[\s,、，]+/).filter((a) => a !== '');
    return {
      path: '/v1/trainings',
      body: { held_on: $('training-held-on').value, kind: checked(form, 'kind'), title: $('training-title').value.trim(), attendees },
    };
  }, (b) => K.bi('研修を記録しました（番号 ' + b.training_id + '）', 'Training recorded (no. ' + b.training_id + ')'), async () => {
    $('training-title').value = '';
    $('training-attendees').value = '';
    await loadTrainings();
  });

  $('contract-sub-approved').addEventListener('change', () => { $('contract-approved-on').disabled = false; });
  $('contract-sub-prohibited').addEventListener('change', () => {
    $('contract-approved-on').disabled = true;
    $('contract-approved-on').value = '';
  });
  onSubmit($('contract-form'), 'contract', () => {
    const form = $('contract-form');
    if (!requireFilled(form)) return null;
    const body = {
      company: $('contract-company').value.trim(),
      work: $('contract-work').value.trim(),
      from: $('contract-from').value,
      to: $('contract-to').value,
      subcontracting: checked(form, 'subcontracting'),
    };
    if (body.subcontracting === 'approved') body.approved_on = $('contract-approved-on').value;
    if ($('contract-pledge').value) body.pledge_received_on = $('contract-pledge').value;
    return { path: '/v1/contracts', body };
  }, (b) => K.bi('契約を記録しました（番号 ' + b.contract_id + '）', 'Contract recorded (no. ' + b.contract_id + ')'), async () => {
    for (const id of ['contract-company', 'contract-work', 'contract-approved-on', 'contract-pledge']) $(id).value = '';
    await loadContracts();
  });

  onSubmit($('worker-form'), 'worker', () => {
    if (!requireFilled($('worker-form'))) return null;
    return {
      path: '/v1/contracts/' + encodeURIComponent($('worker-contract').value) + '/workers',
      body: { operator_id: $('worker-operator').value.trim() },
    };
  }, (b) => K.bi(b.operator_id + ' を契約 ' + b.contract_id + ' の作業者として名簿に載せました',
    b.operator_id + ' listed under contract ' + b.contract_id), async () => {
    $('worker-operator').value = '';
    await loadContracts();
  });

  onSubmit($('removal-form'), 'removal', () => {
    if (!requireFilled($('removal-form'))) return null;
    return {
      path: '/v1/contracts/' + encodeURIComponent($('removal-contract').value) + '/worker-removals',
      body: { operator_id: $('removal-operator').value.trim() },
    };
  }, (b) => K.bi(b.operator_id + ' を契約 ' + b.contract_id + ' の名簿から外しました',
    b.operator_id + ' taken off the roster of contract ' + b.contract_id), async () => {
    $('removal-operator').value = '';
    await loadContracts();
  });

  onSubmit($('end-form'), 'end', () => {
    if (!requireFilled($('end-form'))) return null;
    return {
      path: '/v1/contracts/' + encodeURIComponent($('end-contract').value) + '/end',
      body: { last_day: $('end-last-day').value },
    };
  }, (b) => K.bi('契約 ' + b.contract_id + ' の解除を記録しました（' + b.last_day + ' まで有効）',
    'Contract ' + b.contract_id + ' ended (last day ' + b.last_day + ')'), async () => {
    $('end-last-day').value = '';
    await loadContracts();
  });

  onSubmit($('review-form'), 'review', () => {
    const form = $('review-form');
    if (!requireFilled(form)) return null;
    return {
      path: '/v1/reviews',
      body: {
        kind: checked(form, 'review-kind'),
        period_from: $('review-from').value,
        period_to: $('review-to').value,
        conducted_on: $('review-on').value,
        result: checked(form, 'result'),
        summary: $('review-summary').value.trim(),
      },
    };
  }, (b) => K.bi('点検・監査を記録しました（番号 ' + b.review_id + '）', 'Review recorded (no. ' + b.review_id + ')'), async () => {
    $('review-summary').value = '';
    if (holds(READS.reviews)) await loadReviews();
  });

  $('log-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const problem = $('log-problem');
    K.say(problem, '');
    const q = new URLSearchParams();
    for (const k of ['from', 'to', 'actor', 'action']) {
      const v = $('log-' + k).value.trim();
      if (v) q.set(k, v);
    }
    const r = await K.api('GET', '/v1/audit/entries' + (q.toString() ? '?' + q.toString() : ''));
    const body = $('log-body');
    body.replaceChildren();
    if (!r.ok || !r.body || !Array.isArray(r.body.entries)) {
      $('log-table').hidden = true;
      $('log-empty').hidden = true;
      $('log-truncated').hidden = true;
      if (!shell.isLocked(r)) K.showProblem(problem, r, WORDS, ['操作履歴を読み込めませんでした', 'The log could not be read']);
      return;
    }
    for (const e of r.body.entries) body.append(logRow(e));
    $('log-table').hidden = r.body.entries.length === 0;
    $('log-empty').hidden = r.body.entries.length !== 0;
    $('log-truncated').hidden = !r.body.truncated;
  });

  for (const id of ['trainings', 'contracts', 'reviews']) {
    const reload = document.createElement('button');
    reload.type = 'button';
    reload.className = 'secondary';
    reload.id = id + '-reload';
    reload.append('再読込 ');
    const en = document.createElement('span');
    en.lang = 'en';
    en.className = 'en';
    en.textContent = '/ Reload';
    reload.append(en);
    const p = document.createElement('p');
    p.append(reload);
    $(id + '-table').closest('.scroll').before(p);
  }
  $('trainings-reload').addEventListener('click', () => { loadTrainings(); });
  $('contracts-reload').addEventListener('click', () => { loadContracts(); });
  $('reviews-reload').addEventListener('click', () => { loadReviews(); });

  const today = K.todayJst();
  for (const id of ['training-held-on', 'review-on']) {
    $(id).value = today;
    $(id).max = today;
  }
  $('review-to').max = today;
  $('review-from').max = today;

  const shell = K.shell({
    status: $('reg-status'),
    error: $('reg-error'),
    render,
    clear() {},  // nothing personal on this page
    resume: loadAll,
  });
  shell.start();
})();
