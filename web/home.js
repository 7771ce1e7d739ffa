// Home: who is signed in, their nominations, a resident lookup, the population table (statistics
// purposes); sign-out and the idle lock: the shell in common.js.
'use strict';

(function () {
  const K = window.Kakunin;
  const $ = (id) => document.getElementById(id);

  const status = $('home-status');
  const error = $('home-error');
  const lookupForm = $('lookup-form');
  const codeInput = $('resident-code');
  const purposeSelect = $('purpose');
  const lookupSubmit = $('lookup-submit');
  const lookupProblem = $('lookup-problem');
  const lookupResult = $('lookup-result');
  const statsSection = $('stats');
  const statsForm = $('stats-form');
  const statsSelect = $('stats-purpose');
  const statsSubmit = $('stats-submit');
  const statsProblem = $('stats-problem');
  const statsResult = $('stats-result');

  const ROLE_NAMES = {
    security_chief: 'セキュリティ統括責任者',
    system_admin: 'システム管理者',
    security_manager: 'セキュリティ管理者',
    access_manager: 'アクセス管理者',
    operator: '操作者',
    auditor: '監査者',
    contractor: '委託事業者',
  };
  const FIELD_NAMES = {
    resident_code: ['住民票コード', 'Resident code'],
    individual_number: ['個人番号', 'Individual number'],
    name: ['氏名', 'Name'],
    name_kana: ['氏名（カナ）', 'Name (kana)'],
    former_surname: ['旧氏', 'Former surname'],
    alias: ['通称', 'Alias'],
    sex: ['性別', 'Sex'],
    birth_date: ['生年月日', 'Date of birth'],
    address: ['住所', 'Address'],
    municipality_code: ['市町村コード', 'Municipality code'],
    municipality_name: ['市町村名', 'Municipality'],
    name_display: ['氏名（外字表示）', 'Name (外字 shown)'],
    former_surname_display: ['旧氏（外字表示）', 'Former surname (外字 shown)'],
    alias_display: ['通称（外字表示）', 'Alias (外字 shown)'],
    address_display: ['住所（外字表示）', 'Address (外字 shown)'],
  };
  const SEX = { male: '男 / male', female: '女 / female' };

  function clearLookup() {
    lookupResult.hidden = true;
    $('lookup-record').replaceChildren();
    $('lookup-result-purpose').textContent = '';
    $('lookup-support-measure').hidden = true;
    K.say(lookupProblem, '');
  }

  function render(s) {
    $('me-name').textContent = s.name || '';
    $('me-id').textContent = s.operator_id || '';
    $('me-unit').textContent = s.unit || '';
    const roles = $('me-roles');
    roles.replaceChildren();
    for (const r of Array.isArray(s.roles) ? s.roles : []) {
      const li = document.createElement('li');
      li.dataset.role = r;
      li.textContent = (ROLE_NAMES[r] ? ROLE_NAMES[r] + ' ' : '') + '(' + r + ')';
      roles.append(li);
    }

    const noms = Array.isArray(s.nominations) ? s.nominations : [];
    const body = $('nominations-body');
    body.replaceChildren();
    const previous = purposeSelect.value;
    const previousStats = statsSelect.value;
    purposeSelect.replaceChildren();
    statsSelect.replaceChildren();
    const seen = new Set();
    for (const n of noms) {
      const tr = document.createElement('tr');
      tr.dataset.purpose = n.purpose;
      for (const v of [n.purpose, n.title, n.from, n.to]) {
        const td = document.createElement('td');
        td.textContent = v === undefined || v === null || v === '' ? '—' : String(v);
        tr.append(td);
      }
      body.append(tr);
      if (!seen.has(n.purpose)) {
        seen.add(n.purpose);
        const opt = document.createElement('option');
        opt.value = n.purpose;
        opt.textContent = n.title ? n.purpose + '（' + n.title + '）' : n.purpose;
        // A statistics purpose counts; it looks nobody up.
        (n.kind === 'statistics' ? statsSelect : purposeSelect).append(opt);
      }
    }
    if (seen.has(previous)) purposeSelect.value = previous;
    if (seen.has(previousStats)) statsSelect.value = previousStats;
    $('nominations').hidden = noms.length === 0;
    $('no-nominations').hidden = noms.length !== 0;
    const lookups = purposeSelect.options.length;
    purposeSelect.disabled = lookups === 0;
    lookupSubmit.disabled = lookups === 0;
    statsSection.hidden = statsSelect.options.length === 0;
    // 作動停止: the security chief's (the node refuses, and records, anyone else).
    $('halt').hidden = !(Array.isArray(s.roles) && s.roles.includes('security_chief'));

  }

  function showRecord(body) {
    const dl = $('lookup-record');
    dl.replaceChildren();
    const record = body.record && typeof body.record === 'object' ? body.record : {};
    for (const [k, v] of Object.entries(record)) {
      const names = FIELD_NAMES[k] || [k, k];
      const dt = document.createElement('dt');
      dt.textContent = K.bi(names[0], names[1]);
      const dd = document.createElement('dd');
      dd.dataset.field = k;
      dd.textContent = k === 'sex' && SEX[v] ? SEX[v] : String(v);
      dl.append(dt, dd);
    }
    $('lookup-result-purpose').textContent = String(body.purpose || '');
    $('lookup-support-measure').hidden = body.support_measure !== true;
    lookupResult.hidden = false;
  }

  lookupForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearLookup();
    const code = codeInput.value.trim();
    const purpose = purposeSelect.value;
    if (code === '') {
      K.say(lookupProblem, K.bi('住民票コードを入力してください', 'Enter a resident code'));
      codeInput.setAttribute('aria-invalid', 'true');
      codeInput.focus();
      return;
    }
    codeInput.removeAttribute('aria-invalid');
    if (!purpose) return;
    lookupSubmit.disabled = true;
    const r = await K.api('GET', '/v1/residents/' + encodeURIComponent(code) + '?purpose=' + encodeURIComponent(purpose));
    lookupSubmit.disabled = false;
    if (r.ok && r.body) {
      showRecord(r.body);
      return;
    }
    if (r.status === 401 && r.body && r.body.code === 'session_locked') return;  // the lock screen is up
    const pcode = K.problemCode(r);
    let text;
    if (pcode === 'not_found') text = K.bi('該当する住民はいません', 'No such resident');
    else if (pcode === 'not_nominated') text = K.bi('この利用事由で照会する指名がありません', 'You are not nominated for this purpose');
    else if (pcode === 'statistics_only') text = K.bi('統計の利用事由では個人の記録は照会できません', 'A statistics purpose gives no record of anyone');
    else text = K.bi('照会できませんでした', 'The lookup was refused');
    lookupProblem.replaceChildren(document.createTextNode(text + ' '));
    const c = document.createElement('code');
    c.id = 'lookup-code';
    c.textContent = pcode;
    lookupProblem.append('(', c, ')');
    lookupProblem.hidden = false;
  });

  const AGE = (band) => band === '100-' ? '100歳以上' : band.replace('-', '〜') + '歳';

  statsForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    statsResult.hidden = true;
    K.say(statsProblem, '');
    const purpose = statsSelect.value;
    if (!purpose) return;
    statsSubmit.disabled = true;
    const r = await K.api('GET', '/v1/statistics/population?purpose=' + encodeURIComponent(purpose));
    statsSubmit.disabled = false;
    if (r.status === 401 && r.body && r.body.code === 'session_locked') return;  // the lock screen is up
    if (!r.ok || !r.body || !Array.isArray(r.body.cells)) {
      const pcode = K.problemCode(r);
      const text = pcode === 'not_nominated'
        ? K.bi('この利用事由の指名がありません', 'You are not nominated for this purpose')
        : K.bi('集計できませんでした', 'The table was refused');
      statsProblem.replaceChildren(document.createTextNode(text + ' '));
      const c = document.createElement('code');
      c.textContent = pcode;
      statsProblem.append('(', c, ')');
      statsProblem.hidden = false;
      return;
    }
    const body = $('stats-body');
    body.replaceChildren();
    for (const cell of r.body.cells) {
      const tr = document.createElement('tr');
      const values = [
        cell.municipality_code ? cell.municipality_code + (cell.municipality_name ? ' ' + cell.municipality_name : '') : '—',
        cell.sex ? (SEX[cell.sex] || cell.sex) : '—',
        cell.age_band ? AGE(cell.age_band) : '—',
        String(cell.count),
      ];
      values.forEach((v, i) => {
        const td = document.createElement('td');
        td.textContent = v;
        if (i === 3) td.className = 'num';
        tr.append(td);
      });
      body.append(tr);
    }
    $('stats-as-of').textContent = String(r.body.as_of || '');
    $('stats-total').textContent = String(r.body.total);
    statsResult.hidden = false;
  });

  // --- 作動停止 (the security chief) ---

  const HALT_WORDS = {
    conflict: ['現在の状態ではこの操作はできません（既に停止中、または停止していません）',
      'Not possible now (already halted, or not halted)'],
  };

  $('halt-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    K.say($('halt-problem'), '');
    K.say($('halt-done'), '');
    const reason = $('halt-reason').value.trim();
    if (reason === '') {
      K.say($('halt-problem'), K.bi('停止の理由を入力してください', 'Enter the reason'));
      $('halt-reason').focus();
      return;
    }
    $('halt-submit').disabled = true;
    const r = await K.api('POST', '/v1/halt', { reason });
    $('halt-submit').disabled = false;
    if (shell.isLocked(r)) return;
    if (!r.ok) {
      K.showProblem($('halt-problem'), r, HALT_WORDS, ['作動を停止できませんでした', 'The node could not be halted']);
      return;
    }
    $('halt-reason').value = '';  // kept nowhere
    K.say($('halt-done'), K.bi('作動を停止しました', 'The node is halted'));
  });

  $('resume-submit').addEventListener('click', async () => {
    K.say($('halt-problem'), '');
    K.say($('halt-done'), '');
    $('resume-submit').disabled = true;
    const r = await K.api('POST', '/v1/resume', {});
    $('resume-submit').disabled = false;
    if (shell.isLocked(r)) return;
    if (!r.ok) {
      K.showProblem($('halt-problem'), r, HALT_WORDS, ['作動を再開できませんでした', 'The node could not be resumed']);
      return;
    }
    K.say($('halt-done'), K.bi('作動を再開しました', 'The node is running again'));
  });

  // --- パスワードの変更 (every operator, their own) ---

  const PASSWORD_WORDS = {
    login_failed: ['現在のパスワードが正しくありません（続けて誤るとアカウントがロックされます）',
      'The current password is not right (repeated mistakes lock the account)'],
  };

  function clearPasswords() {
    for (const id of ['current-password', 'new-password', 'new-password-again']) $(id).value = '';
  }

  $('password-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    K.say($('password-problem'), '');
    const current = $('current-password').value;
    const next = $('new-password').value;
    if (current === '' || next === '') {
      K.say($('password-problem'), K.bi('現在のパスワードと新しいパスワードを入力してください', 'Enter the current and the new password'));
      return;
    }
    if (next !== $('new-password-again').value) {
      K.say($('password-problem'), K.bi('新しいパスワードが確認欄と一致しません', 'The new password and its confirmation differ'));
      $('new-password-again').focus();
      return;
    }
    $('password-submit').disabled = true;
    const r = await K.api('POST', '/v1/session/password', { current_password: current, new_password: next });
    $('password-submit').disabled = false;
    if (shell.isLocked(r)) return;
    if (!r.ok) {
      K.showProblem($('password-problem'), r, PASSWORD_WORDS, ['パスワードを変更できませんでした', 'The password was not changed']);
      $('current-password').value = '';
      return;
    }
    clearPasswords();
    K.clearCsrf();
    // Every session has ended: the sign-in page says why.
    location.assign('index.html?password_changed=1');
  });

  // What the lock (and leaving the page) clears: the record shown, and the code typed for it.
  function clearPersonal() {
    clearLookup();
    codeInput.value = '';
    codeInput.removeAttribute('aria-invalid');
    $('halt-reason').value = '';
    clearPasswords();
  }

  const shell = K.shell({ status, error, render, clear: clearPersonal, resume: () => codeInput.focus() });
  shell.start();
})();
