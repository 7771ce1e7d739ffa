// Enrolment with a one-time link (#token=…): show who, set a password, register an authenticator.
'use strict';

(function () {
  const K = window.Kakunin;
  const status = document.getElementById('enrol-status');
  const error = document.getElementById('enrol-error');
  const who = document.getElementById('enrol-who');
  const form = document.getElementById('enrol-form');
  const pw1 = document.getElementById('new-password');
  const pw2 = document.getElementById('new-password-again');
  const submit = document.getElementById('enrol-submit');
  const done = document.getElementById('enrol-done');

  const BAD_LINK = K.bi('この登録リンクは無効か、期限が切れています', 'This enrolment link is invalid or has expired');
  const FRESH_MS = 45000;  // options older than this are fetched again (their challenge may lapse)

  const token = new URLSearchParams(location.hash.replace(/^#/, '')).get('token') || '';
  let options = null;
  let optionsAt = 0;
  let operatorId = '';

  async function fetchOptions() {
    const r = await K.api('POST', '/v1/enrolment/options', { token });
    if (!r.ok || !r.body || !r.body.publicKey) return r;
    options = r.body.publicKey;
    optionsAt = Date.now();
    operatorId = String(r.body.operator_id || '');
    document.getElementById('enrol-name').textContent = String(r.body.name || '');
    document.getElementById('enrol-operator-id').textContent = operatorId;
    return r;
  }

  function failText(r) {
    if (r.status === 0 || r.status >= 500) {
      return K.bi('現在登録できません。しばらくしてから再度お試しください', 'Enrolment is not available now; please try again later');
    }
    return BAD_LINK;
  }

  async function start() {
    if (token === '') {
      K.say(error, BAD_LINK);
      return;
    }
    K.say(status, K.bi('読み込んでいます…', 'Loading…'));
    const r = await fetchOptions();
    K.say(status, '');
    if (!options) {
      K.say(error, failText(r));
      return;
    }
    who.hidden = false;
    form.hidden = false;
    pw1.focus();
  }

  function checkPasswords() {
    const p = pw1.value;
    if (p.length < 12 || p.length > 128) {
      return K.bi('パスワードは12文字以上128文字以下にしてください', 'The password must be 12 to 128 characters');
    }
    if (operatorId !== '' && p.toLowerCase().includes(operatorId.toLowerCase())) {
      return K.bi('パスワードに操作者IDを含めることはできません', 'The password may not contain the operator ID');
    }
    if (p !== pw2.value) return K.bi('確認のパスワードが一致しません', 'The two passwords differ');
    return '';
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    K.say(error, '');
    const problem = checkPasswords();
    if (problem) {
      K.say(error, problem);
      pw1.setAttribute('aria-invalid', 'true');
      pw1.focus();
      return;
    }
    pw1.removeAttribute('aria-invalid');
    submit.disabled = true;
    try {
      if (Date.now() - optionsAt > FRESH_MS) {
        const r = await fetchOptions();
        if (!r.ok) { K.say(error, failText(r)); return; }
      }
      K.say(status, K.bi('認証器を登録しています…', 'Registering your authenticator…'));
      let cred;
      try {
        cred = await navigator.credentials.create({ publicKey: K.toCreationOptions(options) });
      } catch (e) {
        K.say(status, '');
        K.say(error, K.bi('認証器を登録できませんでした', 'The authenticator could not be registered'));
        return;
      }
      const body = Object.assign({ token, password: pw1.value }, K.attestationToJSON(cred));
      const r = await K.api('POST', '/v1/enrolment/finish', body);
      K.say(status, '');
      if (!r.ok) {
        if (r.status === 400 && r.body && r.body.code === 'invalid_request') {
          K.say(error, K.bi('パスワードが条件を満たしていないか、登録内容が正しくありません',
            'The password does not meet the policy, or the enrolment was not accepted'));
        } else {
          K.say(error, failText(r));
        }
        return;
      }
      pw1.value = '';
      pw2.value = '';
      form.hidden = true;
      // The token is used up: drop it from the address bar and this history entry.
      history.replaceState(null, '', location.pathname);
      done.hidden = false;
      document.getElementById('enrol-done-title').focus();
    } finally {
      submit.disabled = false;
    }
  });

  // Another link pasted into the address bar of this page: start again with its token.
  window.addEventListener('hashchange', () => { location.reload(); });

  start();
})();
