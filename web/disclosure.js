// Disclosure desk (docs/disclosure.md): register a resident's written request, print the decision
// notice (PDF), hand over the access statement (JSON), take correction requests; and, for security
// managers and auditors, the printout register. Sign-out and the idle lock: the shell in common.js.
// Nothing personal is kept on screen longer than needed: the resident code is cleared once
// registered, and the lock clears the forms.
'use strict';

(function () {
  const K = window.Kakunin;
  const $ = (id) => document.getElementById(id);

  const status = $('desk-status');
  const error = $('desk-error');
  const desk = $('desk');
  const refused = $('desk-refused');
  const receiveForm = $('receive-form');
  const purposeSelect = $('receive-purpose');
  const codeInput = $('receive-code');
  const dateInput = $('receive-date');
  const receiveSubmit = $('receive-submit');
  const receiveProblem = $('receive-problem');
  const receiveDone = $('receive-done');
  const listProblem = $('list-problem');
  const listStatus = $('list-status');
  const listBody = $('list-body');
  const detail = $('detail');
  const correctionForm = $('correction-form');
  const correctionFields = $('correction-fields');
  const correctionDetails = $('correction-details');
  const correctionSubmit = $('correction-submit');
  const correctionProblem = $('correction-problem');
  const correctionDone = $('correction-done');
  const closeForm = $('close-form');
  const closeOutcome = $('close-outcome');
  const closeReason = $('close-reason');
  const closeProblem = $('close-problem');
  const closeDone = $('close-done');
  const printouts = $('printouts');
  const printoutsProblem = $('printouts-problem');

  const STATUS = {
    received: ['受付済', 'received'],
    disclosed: ['開示', 'disclosed'],
    no_record: ['不存在', 'no record'],
    withdrawn: ['取下げ', 'withdrawn'],
    rejected: ['却下', 'rejected'],
    entered_in_error: ['登録誤り', 'entered in error'],
  };
  const CLOSE_REASON = {
    identity_not_confirmed: ['本人確認ができない', 'identity not confirmed'],
    not_entitled: ['請求資格がない', 'not entitled'],
    incomplete: ['不備が補正されない', 'left incomplete'],
  };
  // A request closed without a notice takes none.
  const CLOSED = new Set(['withdrawn', 'rejected', 'entered_in_error']);
  const REQUESTER = { self: ['本人', 'the person'], legal_representative: ['法定代理人', 'legal representative'] };
  const DOCUMENT = {
    individual_number_card: ['個人番号カード', 'My Number card'],
    driver_license: ['運転免許証', "driver's licence"],
    passport: ['旅券', 'passport'],
    two_documents: ['その他2点', 'two other documents'],
  };
  const CHANNEL = { counter: ['窓口', 'counter'], post: ['郵送', 'post'], online: ['電子申請', 'online'] };
  // The items a correction request may name (the purpose's fields, disclosure.self).
  const ITEMS = [
    ['name', '氏名', 'Name'],
    ['name_kana', '氏名の振り仮名', 'Name (kana)'],
    ['former_surname', '旧氏', 'Former surname'],
    ['alias', '通称', 'Alias'],
    ['sex', '性別', 'Sex'],
    ['birth_date', '生年月日', 'Date of birth'],
    ['address', '住所', 'Address'],
    ['individual_number', '個人番号', 'Individual number'],
    ['resident_code', '住民票コード', 'Resident code'],
  ];
  const ITEM_NAMES = Object.fromEntries(ITEMS.map(([k, ja]) => [k, ja]));
  const CORRECTION_STATUS = { open: ['未回答', 'open'], answered: ['回答済', 'answered'] };
  const OUTCOME = { corrected: ['訂正済', 'corrected'], not_corrected: ['訂正せず', 'not corrected'] };
  const PRINTOUT_KIND = {
    disclosure_notice: ['開示決定通知書', 'disclosure notice'],
    no_record_notice: ['不存在通知書', 'no-record notice'],
    correction_result_notice: ['訂正等の申出に係る調査結果通知書', 'correction result notice'],
  };

  const label = (table, v) => (table[v] ? K.bi(table[v][0], table[v][1]) : String(v || '—'));

  let session = null;
  let shown = 0;  // the request whose details are open (0: none)

  // The desk's own words for a refusal (the common ones are in common.js).
  const WORDS = {
    not_nominated: ['この利用事由の指名がありません', 'You are not nominated for this purpose'],
    not_found: ['該当する開示請求はありません', 'No such request'],
    conflict: ['この請求の現在の状態ではこの操作はできません', 'Not possible in the request\'s current state'],
    // At the desk, the one refusal an operator with the role gets: the two-person rule (the
    // detail says so, Japanese first).
    not_permitted: ['この請求についてはこの操作を行えません', 'You may not do this for this request'],
  };
  const showProblem = (el, r, fallback) => K.showProblem(el, r, WORDS, fallback);

  function cell(tr, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.append(td);
    return td;
  }

  // --- what the session allows; what a lock clears ---

  function render(s) {
    session = s;
    const previous = purposeSelect.value;
    purposeSelect.replaceChildren();
    const seen = new Set();
    for (const n of Array.isArray(s.nominations) ? s.nominations : []) {
      if (n.kind !== 'disclosure' || seen.has(n.purpose)) continue;
      seen.add(n.purpose);
      const opt = document.createElement('option');
      opt.value = n.purpose;
      opt.textContent = n.title ? n.purpose + '（' + n.title + '）' : n.purpose;
      purposeSelect.append(opt);
    }
    if (seen.has(previous)) purposeSelect.value = previous;
    const roles = Array.isArray(s.roles) ? s.roles : [];
    printouts.hidden = !(roles.includes('security_manager') || roles.includes('auditor'));
  }

  function clearPersonal() {
    codeInput.value = '';
    $('detail-code').textContent = '';
    correctionDetails.value = '';
    for (const box of correctionFields.querySelectorAll('input')) box.checked = false;
  }

  // --- files: the notice (PDF) and the statement (JSON) ---

  // Fetches a file with the session (and the CSRF token on POST) and saves it under `filename`
  // through an object URL. Resolves to {ok:true} or the refusal ({ok:false, status, body}).
  async function saveFile(method, path, filename, accept) {
    const headers = { accept: accept + ', application/problem+json' };
    if (method !== 'GET') headers['x-csrf-token'] = K.csrf();
    let res;
    try {
      res = await fetch(path, { method, headers, credentials: 'same-origin', cache: 'no-store' });
    } catch (e) {
      return { ok: false, status: 0, body: { code: 'network' } };
    }
    if (!res.ok) {
      let body = null;
      try { body = JSON.parse(await res.text()); } catch (e) { body = null; }
      const r = { ok: false, status: res.status, body };
      if (shell.isLocked(r)) shell.showLock();
      return r;
    }
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    return { ok: true };
  }

  // --- the list ---

  function renderList(list) {
    listBody.replaceChildren();
    for (const d of list) {
      const n = String(d.disclosure_id);
      const tr = document.createElement('tr');
      tr.dataset.disclosure = n;
      tr.dataset.status = d.status;
      if (d.overdue) tr.className = 'overdue';
      const num = cell(tr, n, 'num');
      num.id = 'row-' + n;
      cell(tr, d.received_on);
      const due = cell(tr, d.due_on);
      if (d.overdue) {
        const badge = document.createElement('strong');
        badge.className = 'badge overdue-badge';
        badge.textContent = '期限超過';
        const en = document.createElement('span');
        en.lang = 'en';
        en.className = 'en';
        en.textContent = ' overdue';
        due.append(' ', badge, en);
      }
      cell(tr, label(STATUS, d.status)).dataset.field = 'status';
      cell(tr, String(d.documents), 'num').dataset.field = 'documents';
      const actions = document.createElement('td');
      actions.className = 'actions';
      const button = (action, ja, en) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'small' + (action === 'notice' ? '' : ' secondary');
        b.dataset.action = action;
        b.dataset.disclosure = n;
        b.setAttribute('aria-describedby', num.id);
        b.append(ja + ' ');
        const s = document.createElement('span');
        s.lang = 'en';
        s.className = 'en';
        s.textContent = '/ ' + en;
        b.append(s);
        actions.append(b);
        return b;
      };
      if (!CLOSED.has(d.status)) button('notice', '通知書を印刷', 'Print notice');
      // The statement is the one the latest notice printed the digest of: none before a notice.
      if (d.documents > 0) button('statement', '証明書', 'Statement');
      button('detail', '詳細', 'Details');
      tr.append(actions);
      listBody.append(tr);
    }
    $('list-table').hidden = list.length === 0;
    $('list-empty').hidden = list.length !== 0;
  }

  // The desk refused the operator: say why, show nothing of it.
  function showRefused(code) {
    desk.hidden = true;
    detail.hidden = true;
    shown = 0;
    listBody.replaceChildren();
    clearPersonal();
    const why = code === 'not_nominated'
      ? ['開示窓口の利用事由に指名されていないため、この窓口は利用できません。',
        'You are not nominated for a disclosure purpose, so the desk is closed to you.']
      : ['開示窓口は、開示の利用事由に指名された操作者が利用します。',
        'The desk is served by operators nominated for a disclosure purpose.'];
    $('desk-refused-ja').textContent = why[0];
    $('desk-refused-en').textContent = why[1];
    $('desk-refused-code').textContent = code;
    refused.hidden = false;
  }

  // Loads the list; it is also how the page learns whether the desk is open to the operator.
  async function loadList() {
    K.say(listProblem, '');
    const r = await K.api('GET', '/v1/disclosures');
    if (shell.isLocked(r)) return;
    if (r.status === 403 && r.body && (r.body.code === 'not_nominated' || r.body.code === 'not_permitted')) {
      showRefused(r.body.code);
      return;
    }
    refused.hidden = true;
    if (!r.ok || !r.body || !Array.isArray(r.body.disclosures)) {
      desk.hidden = false;
      showProblem(listProblem, r, ['一覧を読み込めませんでした', 'The list could not be loaded']);
      return;
    }
    desk.hidden = false;
    renderList(r.body.disclosures);
  }

  // --- register ---

  function radio(name) {
    const checked = receiveForm.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : '';
  }

  receiveForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    K.say(receiveProblem, '');
    receiveDone.hidden = true;
    const code = codeInput.value.trim();
    if (!/^\d{11}$/.test(code)) {
      K.say(receiveProblem, K.bi('住民票コードは11桁の数字です', 'A resident code is 11 digits'));
      codeInput.setAttribute('aria-invalid', 'true');
      codeInput.focus();
      return;
    }
    codeInput.removeAttribute('aria-invalid');
    if (!purposeSelect.value) {
      K.say(receiveProblem, K.bi('開示の利用事由の指名がありません', 'You are not nominated for a disclosure purpose'));
      return;
    }
    if (!dateInput.value) {
      K.say(receiveProblem, K.bi('受付日を入力してください', 'Enter the day the request arrived'));
      dateInput.setAttribute('aria-invalid', 'true');
      dateInput.focus();
      return;
    }
    dateInput.removeAttribute('aria-invalid');
    receiveSubmit.disabled = true;
    const r = await K.api('POST', '/v1/disclosures', {
      purpose: purposeSelect.value,
      resident_code: code,
      requester: radio('requester'),
      identity_document: radio('identity_document'),
      channel: radio('channel'),
      received_on: dateInput.value,
    });
    receiveSubmit.disabled = false;
    if (shell.isLocked(r)) return;
    if (!r.ok || !r.body) {
      showProblem(receiveProblem, r, ['受け付けられませんでした', 'The request was refused']);
      return;
    }
    codeInput.value = '';  // the code stays in the store, not on the screen
    $('receive-number').textContent = '開示第' + r.body.disclosure_id + '号';
    $('receive-number').dataset.disclosure = String(r.body.disclosure_id);
    $('receive-due').textContent = r.body.due_on;
    receiveDone.hidden = false;
    await loadList();
  });

  // --- the rows' actions ---

  async function printNotice(n, button) {
    K.say(listProblem, '');
    K.say(listStatus, K.bi('通知書を作成しています…', 'Making the notice…'));
    button.disabled = true;
    const r = await saveFile('POST', '/v1/disclosures/' + n + '/notice', 'disclosure-' + n + '.pdf', 'application/pdf');
    button.disabled = false;
    K.say(listStatus, '');
    if (!r.ok) {
      if (!shell.isLocked(r)) showProblem(listProblem, r, ['通知書を印刷できませんでした', 'The notice could not be printed']);
      return;
    }
    K.say(listStatus, K.bi('開示第' + n + '号の通知書をダウンロードしました（disclosure-' + n + '.pdf）', 'The notice was downloaded'));
    await loadList();
    if (shown === Number(n)) await showDetail(n, true);
  }

  async function saveStatement(n, button) {
    K.say(listProblem, '');
    K.say(listStatus, '');
    button.disabled = true;
    const r = await saveFile('GET', '/v1/disclosures/' + n + '/statement', 'statement-' + n + '.json', 'application/json');
    button.disabled = false;
    if (!r.ok) {
      if (!shell.isLocked(r)) showProblem(listProblem, r, ['証明書を取得できませんでした', 'The statement could not be fetched']);
      return;
    }
    K.say(listStatus, K.bi('開示第' + n + '号のアクセス証明書をダウンロードしました（statement-' + n + '.json）', 'The access statement was downloaded'));
  }

  listBody.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action]');
    if (!b || b.disabled) return;
    const n = b.dataset.disclosure;
    if (b.dataset.action === 'notice') printNotice(n, b);
    else if (b.dataset.action === 'statement') saveStatement(n, b);
    else if (b.dataset.action === 'detail') showDetail(n, false);
  });

  // --- details and correction requests ---

  function buildItems() {
    for (const [k, ja, en] of ITEMS) {
      const div = document.createElement('div');
      div.className = 'choice';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.id = 'item-' + k;
      box.name = 'fields';
      box.value = k;
      const lab = document.createElement('label');
      lab.htmlFor = box.id;
      lab.append(ja + ' ');
      const s = document.createElement('span');
      s.lang = 'en';
      s.className = 'en';
      s.textContent = '/ ' + en;
      lab.append(s);
      div.append(box, lab);
      correctionFields.append(div);
    }
  }

  function renderDetail(d) {
    $('detail-number').textContent = String(d.disclosure_id);
    $('detail-purpose').textContent = d.purpose;
    // The code the request names: the deciding clerk checks it against the written request.
    $('detail-code').textContent = d.resident_code || '—';
    $('detail-requester').textContent = label(REQUESTER, d.requester);
    $('detail-document').textContent = label(DOCUMENT, d.identity_document);
    $('detail-channel').textContent = label(CHANNEL, d.channel);
    $('detail-received').textContent = d.received_on;
    $('detail-due').textContent = d.due_on + (d.overdue ? '（期限超過 / overdue）' : '');
    $('detail-status').textContent = label(STATUS, d.status) +
      (d.close_reason ? '（' + label(CLOSE_REASON, d.close_reason) + '）' : '');
    $('detail-status').dataset.status = d.status;
    $('detail-registered-by').textContent = d.registered_by || '—';
    $('detail-decided-by').textContent = d.decided_by || '—';
    $('detail-documents').textContent = String(d.documents);
    const body = $('corrections-body');
    body.replaceChildren();
    const corrections = Array.isArray(d.corrections) ? d.corrections : [];
    for (const c of corrections) {
      const tr = document.createElement('tr');
      tr.dataset.correction = String(c.correction_id);
      tr.dataset.status = c.status;
      cell(tr, String(c.correction_id), 'num');
      cell(tr, (Array.isArray(c.fields) ? c.fields : []).map((f) => ITEM_NAMES[f] || f).join('、'));
      cell(tr, label(CORRECTION_STATUS, c.status)).dataset.field = 'status';
      cell(tr, c.outcome ? label(OUTCOME, c.outcome) : '—').dataset.field = 'outcome';
      // The written result to the person: once the municipality answered; printed again for a
      // spoiled sheet. The first print's time says it went out.
      const notified = cell(tr, '');
      notified.dataset.field = 'notified';
      if (c.status === 'answered') {
        if (c.notified_at) {
          const when = document.createElement('span');
          when.textContent = String(c.notified_at).slice(0, 10) + ' 通知済 ';
          notified.append(when);
        }
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'small' + (c.notified_at ? ' secondary' : '');
        b.dataset.action = 'correction-notice';
        b.dataset.disclosure = String(d.disclosure_id);
        b.dataset.correction = String(c.correction_id);
        b.append(K.bi(c.notified_at ? '再印刷' : '調査結果通知書を印刷',
          c.notified_at ? 'Print again' : 'Print the written result'));
        notified.append(b);
      } else {
        notified.textContent = '—';
      }
      body.append(tr);
    }
    $('corrections-table').hidden = corrections.length === 0;
    $('corrections-empty').hidden = corrections.length !== 0;
    // A correction request follows a disclosure: only a request whose notice disclosed a record.
    correctionForm.hidden = d.status !== 'disclosed';
    // Closing: only a request that awaits its decision.
    closeForm.hidden = d.status !== 'received';
  }

  async function printCorrectionNotice(n, c, button) {
    const problem = $('corrections-problem');
    const status = $('corrections-status');
    K.say(problem, '');
    K.say(status, K.bi('通知書を作成しています…', 'Making the notice…'));
    button.disabled = true;
    const file = 'correction-' + n + '-' + c + '.pdf';
    const r = await saveFile('POST', '/v1/disclosures/' + n + '/corrections/' + c + '/notice', file,
      'application/pdf');
    button.disabled = false;
    K.say(status, '');
    if (!r.ok) {
      if (!shell.isLocked(r)) showProblem(problem, r, ['通知書を印刷できませんでした', 'The notice could not be printed']);
      return;
    }
    await showDetail(n, true);
    K.say($('corrections-status'), K.bi('訂正等の申出第' + c + '号の調査結果通知書をダウンロードしました（' + file + '）',
      'The written result was downloaded'));
  }

  $('corrections-body').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-action="correction-notice"]');
    if (!b || b.disabled) return;
    printCorrectionNotice(b.dataset.disclosure, b.dataset.correction, b);
  });

  async function showDetail(n, keepMessages) {
    const number = Number(n);
    if (number !== shown || !keepMessages) {
      K.say(correctionProblem, '');
      K.say(correctionDone, '');
      K.say($('corrections-problem'), '');
      K.say($('corrections-status'), '');
      K.say(closeProblem, '');
      K.say(closeDone, '');
      closeOutcome.value = '';
      closeReason.value = '';
      $('close-reason-field').hidden = true;
    }
    if (number !== shown) clearPersonal();
    const r = await K.api('GET', '/v1/disclosures/' + encodeURIComponent(n));
    if (shell.isLocked(r)) return;
    if (!r.ok || !r.body) {
      showProblem(listProblem, r, ['詳細を読み込めませんでした', 'The request could not be loaded']);
      return;
    }
    shown = number;
    renderDetail(r.body);
    detail.hidden = false;
    if (!keepMessages) detail.focus();
  }

  correctionForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    K.say(correctionProblem, '');
    K.say(correctionDone, '');
    const fields = [...correctionFields.querySelectorAll('input:checked')].map((b) => b.value);
    const details = correctionDetails.value.trim();
    if (fields.length === 0) {
      K.say(correctionProblem, K.bi('訂正を求める項目を選んでください', 'Choose the items said to be wrong'));
      correctionFields.querySelector('input').focus();
      return;
    }
    if (details === '') {
      K.say(correctionProblem, K.bi('申出の内容を入力してください', 'Enter what is wrong'));
      correctionDetails.setAttribute('aria-invalid', 'true');
      correctionDetails.focus();
      return;
    }
    correctionDetails.removeAttribute('aria-invalid');
    correctionSubmit.disabled = true;
    const n = shown;
    const r = await K.api('POST', '/v1/disclosures/' + n + '/corrections', { fields, details });
    correctionSubmit.disabled = false;
    if (shell.isLocked(r)) return;
    if (!r.ok || !r.body) {
      showProblem(correctionProblem, r, ['申出を受け付けられませんでした', 'The correction request was refused']);
      return;
    }
    clearPersonal();
    K.say(correctionDone, K.bi('訂正等の申出 第' + r.body.correction_id + '号を受け付け、市町村へ送付します',
      'Correction request No. ' + r.body.correction_id + ' registered; it goes to the municipality'));
    await showDetail(n, true);
  });

  // --- closing a request without a notice ---

  closeOutcome.addEventListener('change', () => {
    $('close-reason-field').hidden = closeOutcome.value !== 'rejected';
    if (closeOutcome.value !== 'rejected') closeReason.value = '';
  });

  closeForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    K.say(closeProblem, '');
    K.say(closeDone, '');
    if (!closeOutcome.value) {
      K.say(closeProblem, K.bi('終了の区分を選んでください', 'Choose how the request ends'));
      closeOutcome.focus();
      return;
    }
    if (closeOutcome.value === 'rejected' && !closeReason.value) {
      K.say(closeProblem, K.bi('却下の理由を選んでください', 'Choose why it is rejected'));
      closeReason.focus();
      return;
    }
    const body = { outcome: closeOutcome.value };
    if (closeOutcome.value === 'rejected') body.reason = closeReason.value;
    const n = shown;
    $('close-submit').disabled = true;
    const r = await K.api('POST', '/v1/disclosures/' + n + '/close', body);
    $('close-submit').disabled = false;
    if (shell.isLocked(r)) return;
    if (!r.ok || !r.body) {
      showProblem(closeProblem, r, ['請求を終了できませんでした', 'The request could not be closed']);
      return;
    }
    K.say(closeDone, K.bi('開示第' + n + '号を「' + (STATUS[r.body.status] || [r.body.status])[0] + '」として終了しました',
      'Request No. ' + n + ' was closed'));
    await loadList();
    await showDetail(n, true);
  });

  // --- the printout register ---

  // 2026-12-05T22:41:46.468712+09:00 -> 2026-12-05 22:41:46 (to the second, in JST as the node
  // gives it); anything else as it came.
  function when(t) {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(\+09:00)?$/.exec(String(t));
    if (!m) return String(t);
    return m[1] + ' ' + m[2] + (m[3] ? ' JST' : '');
  }

  const OUTCOMES = [
    ['handed_over', '', '交付（窓口）', 'handed over'],
    ['mailed', '', '郵送', 'mailed'],
    ['destroyed', 'shredded', '廃棄（細断）', 'destroyed, shredded'],
    ['destroyed', 'dissolved', '廃棄（溶解）', 'destroyed, dissolved'],
  ];

  // The row's outcome once recorded; before, for the register's keeper, a form to record it.
  function outcomeCell(p) {
    const td = document.createElement('td');
    td.className = 'outcome';
    if (p.outcome) {
      const o = OUTCOMES.find((x) => x[0] === p.outcome && x[1] === (p.outcome_method || ''));
      td.textContent = (o ? o[2] + ' / ' + o[3] : p.outcome) + ' ' + p.outcome_on + '（' + p.outcome_by + '）';
      return td;
    }
    const roles = session && Array.isArray(session.roles) ? session.roles : [];
    if (!roles.includes('security_manager')) {
      td.textContent = K.bi('未記録', 'not recorded');
      return td;
    }
    const select = document.createElement('select');
    select.setAttribute('aria-label', '第' + p.printout_id + '号の取扱い / what became of No. ' + p.printout_id);
    for (const [i, o] of OUTCOMES.entries()) {
      const opt = document.createElement('option');
      opt.value = String(i);
      opt.textContent = o[2];
      opt.title = o[3];
      select.append(opt);
    }
    const day = document.createElement('input');
    day.type = 'date';
    day.value = K.todayJst();
    day.max = day.value;
    day.min = String(p.printed_at).slice(0, 10);
    day.setAttribute('aria-label', '第' + p.printout_id + '号の取扱日 / its date');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small';
    button.dataset.printout = String(p.printout_id);
    button.textContent = K.bi('記録', 'Record');
    button.addEventListener('click', async () => {
      K.say(printoutsProblem, '');
      const o = OUTCOMES[Number(select.value)];
      const body = { outcome: o[0], on: day.value };
      if (o[1]) body.method = o[1];
      button.disabled = true;
      const r = await K.api('POST', '/v1/printouts/' + p.printout_id + '/outcome', body);
      button.disabled = false;
      if (shell.isLocked(r)) return;
      if (!r.ok) {
        showProblem(printoutsProblem, r, ['取扱いを記録できませんでした', 'It could not be recorded']);
        return;
      }
      await loadPrintouts();
    });
    td.append(select, day, button);
    return td;
  }

  async function loadPrintouts() {
    K.say(printoutsProblem, '');
    const r = await K.api('GET', '/v1/printouts');
    if (shell.isLocked(r)) return;
    const body = $('printouts-body');
    body.replaceChildren();
    if (!r.ok || !r.body || !Array.isArray(r.body.printouts)) {
      $('printouts-table').hidden = true;
      $('printouts-empty').hidden = true;
      showProblem(printoutsProblem, r, ['管理簿を読み込めませんでした', 'The register could not be loaded']);
      return;
    }
    for (const p of r.body.printouts) {
      const tr = document.createElement('tr');
      tr.dataset.printout = String(p.printout_id);
      cell(tr, String(p.printout_id), 'num');
      cell(tr, label(PRINTOUT_KIND, p.kind), 'kind');
      cell(tr, p.reference);
      cell(tr, when(p.printed_at));
      cell(tr, p.printed_by);
      cell(tr, String(p.pages), 'num');
      const td = document.createElement('td');
      td.className = 'hash-cell';
      const c = document.createElement('code');
      c.className = 'hash';
      c.textContent = p.sha256;
      td.append(c);
      tr.append(td);
      tr.append(outcomeCell(p));
      body.append(tr);
    }
    $('printouts-table').hidden = r.body.printouts.length === 0;
    $('printouts-empty').hidden = r.body.printouts.length !== 0;
  }

  async function loadAll() {
    const roles = session && Array.isArray(session.roles) ? session.roles : [];
    if (roles.includes('operator')) {
      await loadList();
    } else {
      // Only operators serve the desk; ask nothing the node would refuse (and record).
      showRefused('not_permitted');
    }
    if (!printouts.hidden) await loadPrintouts();
  }

  $('list-reload').addEventListener('click', () => { loadList(); });
  $('printouts-reload').addEventListener('click', () => { loadPrintouts(); });

  buildItems();
  const today = K.todayJst();
  dateInput.value = today;
  dateInput.max = today;
  const shell = K.shell({ status, error, render, clear: clearPersonal, resume: loadAll });
  shell.start();
})();
