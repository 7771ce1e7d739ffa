// Sign-in: operator ID + password, then the WebAuthn second factor, then home.html.
'use strict';

(function () {
  const K = window.Kakunin;
  const form = document.getElementById('login-form');
  const idInput = document.getElementById('operator-id');
  const pwInput = document.getElementById('password');
  const submit = document.getElementById('login-submit');
  const second = document.getElementById('second-factor');
  const retry = document.getElementById('second-factor-retry');
  const status = document.getElementById('login-status');
  const error = document.getElementById('login-error');

  const GENERIC = K.bi('IDまたはパスワードが正しくありません', 'ID or password is incorrect');
  const UNAVAILABLE = K.bi('現在ログインできません。しばらくしてから再度お試しください', 'Sign-in is not available now; please try again later');
  const SECOND_FAILED = K.bi('認証器による本人確認ができませんでした', 'The authenticator check did not succeed');

  function busy(on) {
    submit.disabled = on;
    retry.disabled = on;
    form.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  async function runSecondFactor() {
    K.say(error, '');
    K.say(status, K.bi('認証器で本人確認をしています…', 'Checking with your authenticator…'));
    busy(true);
    const r = await K.secondFactor();
    busy(false);
    if (r.ok) {
      K.say(status, K.bi('ログインしました', 'Signed in'));
      location.assign('home.html');
      return;
    }
    K.say(status, '');
    // A session that went away (expired, refused) means starting again from the password.
    if (r.code === 'session_required' || r.code === 'unauthenticated' || r.code === 'http_401') {
      second.hidden = true;
      form.hidden = false;
      K.say(error, GENERIC);
      idInput.focus();
      return;
    }
    K.say(error, SECOND_FAILED);
    retry.focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    K.say(error, '');
    const operatorId = idInput.value.trim();
    const password = pwInput.value;
    if (operatorId === '' || password === '') {
      K.say(error, GENERIC);
      (operatorId === '' ? idInput : pwInput).focus();
      return;
    }
    busy(true);
    K.clearCsrf();
    const r = await K.api('POST', '/v1/session/login', { operator_id: operatorId, password });
    busy(false);
    pwInput.value = '';
    if (!r.ok || !r.body) {
      // Same message for every refusal: no hint whether the ID exists or is locked.
      K.say(error, r.status >= 500 || r.status === 0 ? UNAVAILABLE : GENERIC);
      pwInput.focus();
      return;
    }
    if (r.body.stage === 'active') {
      location.assign('home.html');
      return;
    }
    form.hidden = true;
    second.hidden = false;
    await runSecondFactor();
  });

  retry.addEventListener('click', () => { runSecondFactor(); });

  // Arrived from a password change (home.html): every session ended there.
  if (new URLSearchParams(location.search).get('password_changed') === '1') {
    K.say(status, K.bi('パスワードを変更しました。新しいパスワードでログインしてください', 'Your password was changed; sign in with the new one'));
  }
  idInput.focus();
})();
