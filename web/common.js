// Kakunin console: shared helpers (no framework, no build step).
// - api(): fetch wrapper; sends JSON, adds x-csrf-token on POST, parses problem documents.
// - base64url helpers and WebAuthn option/credential conversion.
// - small UI helpers for accessible error messages; the signed-in pages' shell (banner, sign-out,
//   idle lock and unlock).
'use strict';

(function () {
  const CSRF_KEY = 'kakunin.csrf';

  function setCsrf(token) {
    if (typeof token === 'string' && token !== '') sessionStorage.setItem(CSRF_KEY, token);
  }
  function clearCsrf() { sessionStorage.removeItem(CSRF_KEY); }
  function csrf() { return sessionStorage.getItem(CSRF_KEY) || ''; }

  // Listeners called with the parsed problem when an API call answers 401 session_locked.
  const lockListeners = [];
  function onLocked(fn) { lockListeners.push(fn); }

  // Calls the console API. Resolves to {ok, status, body} (body: parsed JSON or null); never
  // throws on HTTP errors. A network failure gives {ok:false, status:0, body:{code:'network'}}.
  async function api(method, path, body) {
    const headers = { accept: 'application/json, application/problem+json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET') {
      const token = csrf();
      if (token) headers['x-csrf-token'] = token;
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body === undefined ? {} : body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      return { ok: false, status: 0, body: { code: 'network' } };
    }
    let parsed = null;
    const text = await res.text();
    if (text !== '') {
      try { parsed = JSON.parse(text); } catch (e) { parsed = null; }
    }
    if (parsed && typeof parsed.csrf_token === 'string') setCsrf(parsed.csrf_token);
    const result = { ok: res.ok, status: res.status, body: parsed };
    if (res.status === 401 && parsed && parsed.code === 'session_locked') {
      for (const fn of lockListeners) fn(result);
    }
    return result;
  }

  function problemCode(result) {
    return (result && result.body && typeof result.body.code === 'string') ? result.body.code : 'http_' + (result ? result.status : 0);
  }

  // base64url <-> ArrayBuffer
  function b64urlToBuffer(s) {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufferToB64url(buf) {
    const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let bin = '';
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function convertDescriptors(list) {
    if (!Array.isArray(list)) return undefined;
    return list.map((d) => Object.assign({}, d, { id: b64urlToBuffer(d.id) }));
  }

  // Server JSON (base64url strings) -> PublicKeyCredentialRequestOptions.
  function toRequestOptions(pk) {
    const o = Object.assign({}, pk, { challenge: b64urlToBuffer(pk.challenge) });
    if (pk.allowCredentials) o.allowCredentials = convertDescriptors(pk.allowCredentials);
    return o;
  }
  // Server JSON (base64url strings) -> PublicKeyCredentialCreationOptions.
  function toCreationOptions(pk) {
    const o = Object.assign({}, pk, { challenge: b64urlToBuffer(pk.challenge) });
    o.user = Object.assign({}, pk.user, { id: b64urlToBuffer(pk.user.id) });
    if (pk.excludeCredentials) o.excludeCredentials = convertDescriptors(pk.excludeCredentials);
    return o;
  }
  // PublicKeyCredential (assertion) -> the body of /v1/session/webauthn/verify.
  function assertionToJSON(cred) {
    return {
      id: cred.id,
      clientDataJSON: bufferToB64url(cred.response.clientDataJSON),
      authenticatorData: bufferToB64url(cred.response.authenticatorData),
      signature: bufferToB64url(cred.response.signature),
    };
  }
  // PublicKeyCredential (attestation) -> the credential part of /v1/enrolment/finish.
  function attestationToJSON(cred) {
    return {
      id: cred.id,
      clientDataJSON: bufferToB64url(cred.response.clientDataJSON),
      attestationObject: bufferToB64url(cred.response.attestationObject),
    };
  }

  // The WebAuthn second factor for the current session: options -> get -> verify.
  // Resolves to {ok:true} or {ok:false, code}.
  async function secondFactor() {
    const opt = await api('POST', '/v1/session/webauthn/options', {});
    if (!opt.ok || !opt.body || !opt.body.publicKey) return { ok: false, code: problemCode(opt) };
    let cred;
    try {
      cred = await navigator.credentials.get({ publicKey: toRequestOptions(opt.body.publicKey) });
    } catch (e) {
      return { ok: false, code: 'webauthn_' + (e && e.name ? e.name : 'error') };
    }
    if (!cred) return { ok: false, code: 'webauthn_none' };
    const ver = await api('POST', '/v1/session/webauthn/verify', assertionToJSON(cred));
    if (!ver.ok) return { ok: false, code: problemCode(ver) };
    return { ok: true, stage: ver.body && ver.body.stage };
  }

  // Shows a message in an aria-live region (empty text hides it).
  function say(el, text) {
    el.textContent = text || '';
    el.hidden = !text;
  }

  // Two-language text: Japanese first, English second.
  function bi(ja, en) { return ja + ' / ' + en; }

  // The shell every signed-in page shares: the banner with who is signed in, sign-out, and the
  // idle lock with its WebAuthn unlock. The page gives its elements' ids by convention (app,
  // lock, lock-title, lock-error, unlock, logout, lock-logout, banner-who) and three hooks:
  //   render(session)  shows what the active session allows (called on every load of it);
  //   clear()          removes anything personal from the page (called when it locks);
  //   resume()         what to do once the session is active again (after start and unlock).
  // Returns {start, showLock, isLocked, locked(), session()}.
  function shell(page) {
    const $ = (id) => document.getElementById(id);
    const app = $('app');
    const lock = $('lock');
    const lockError = $('lock-error');
    const logoutButtons = [$('logout'), $('lock-logout')];
    let idleSeconds = 300;
    let lastActivity = Date.now();
    let isLockedNow = false;
    let current = null;

    const goLogin = () => { clearCsrf(); location.assign('index.html'); };
    const isLocked = (r) => r.status === 401 && r.body && r.body.code === 'session_locked';

    function showLock() {
      if (isLockedNow) return;
      isLockedNow = true;
      if (page.clear) page.clear();  // no personal data stays on a locked screen
      app.hidden = true;
      lock.hidden = false;
      say(lockError, '');
      if (page.status) say(page.status, '');
      $('lock-title').focus();
    }

    function hideLock() {
      isLockedNow = false;
      lock.hidden = true;
      app.hidden = false;
      lastActivity = Date.now();
    }

    async function loadSession() {
      const r = await api('GET', '/v1/session');
      if (isLocked(r)) {
        showLock();
        return null;
      }
      if (!r.ok || !r.body) {
        if (r.status === 0 || r.status >= 500) {
          if (page.error) say(page.error, bi('サーバに接続できません', 'The server cannot be reached'));
          return null;
        }
        goLogin();
        return null;
      }
      // Before the second factor (or while locked) the node tells only the stage: nothing to show.
      if (r.body.stage === 'active') {
        current = r.body;
        const banner = $('banner-who');
        banner.textContent = (current.name || '') + '（' + (current.operator_id || '') + '）';
        banner.hidden = false;
        if (typeof current.idle_lock_seconds === 'number' && current.idle_lock_seconds > 0) {
          idleSeconds = current.idle_lock_seconds;
        }
        page.render(current);
        hideLock();
      } else {
        showLock();
      }
      return r.body;
    }

    async function unlock() {
      say(lockError, '');
      $('unlock').disabled = true;
      const r = await secondFactor();
      $('unlock').disabled = false;
      if (!r.ok) {
        if (r.code === 'http_401' || r.code === 'session_required' || r.code === 'unauthenticated' || r.code === 'session_expired') {
          goLogin();
          return;
        }
        say(lockError, bi('認証器による本人確認ができませんでした', 'The authenticator check did not succeed'));
        $('unlock').focus();
        return;
      }
      const s = await loadSession();
      if (s && s.stage === 'active' && page.resume) await page.resume();
    }

    async function logout() {
      for (const b of logoutButtons) b.disabled = true;
      await api('POST', '/v1/session/logout', {});
      goLogin();
    }

    async function start() {
      $('unlock').addEventListener('click', () => { unlock(); });
      for (const b of logoutButtons) b.addEventListener('click', () => { logout(); });
      // User activity resets the idle clock; an API answer of 401 session_locked locks at once.
      for (const type of ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart', 'focusin']) {
        document.addEventListener(type, () => { if (!isLockedNow) lastActivity = Date.now(); }, { passive: true, capture: true });
      }
      onLocked(() => showLock());
      // Leaving the page (for another, or into the browser's back/forward cache): nothing
      // personal stays in it for Back to bring up again.
      window.addEventListener('pagehide', () => { if (page.clear) page.clear(); });
      // Back from that cache: the session may have locked or ended meanwhile; ask the node.
      window.addEventListener('pageshow', async (ev) => {
        if (!ev.persisted || isLockedNow) return;
        const s = await loadSession();
        if (s && s.stage === 'active' && page.resume) await page.resume();
      });
      if (page.status) say(page.status, bi('読み込んでいます…', 'Loading…'));
      const s = await loadSession();
      if (s && s.stage === 'active' && page.resume) await page.resume();
      if (page.status) say(page.status, '');
      for (const b of logoutButtons) b.hidden = false;
      const checkIdle = () => {
        if (!isLockedNow && Date.now() - lastActivity >= idleSeconds * 1000) showLock();
      };
      setInterval(checkIdle, 500);
      // A background tab's timers may run once a minute: a tab brought back to the front
      // checks at once, before anything on it is seen.
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') checkIdle();
      });
    }

    return { start, showLock, isLocked, locked: () => isLockedNow, session: () => current };
  }

  // A refusal in words, Japanese first, with the problem's code and its generic detail (which
  // never carries personal data): `words` maps codes to [ja, en]; `fallback` is [ja, en].
  function showProblem(el, r, words, fallback) {
    const code = problemCode(r);
    const w = (words && words[code]) || COMMON_WORDS[code] || fallback;
    el.replaceChildren(document.createTextNode(bi(w[0], w[1]) + ' ('));
    const c = document.createElement('code');
    c.className = 'problem-code';
    c.textContent = code;
    el.append(c, ')');
    const detail = r && r.body && typeof r.body.detail === 'string' ? r.body.detail : '';
    if (detail) el.append(' ' + detail);
    el.hidden = false;
  }

  const COMMON_WORDS = {
    not_permitted: ['この操作を行う役割がありません', 'Your roles do not allow this'],
    invalid_request: ['入力内容を確認してください', 'Check what you entered'],
    malformed_request: ['入力内容を確認してください', 'Check what you entered'],
    conflict: ['現在の状態ではこの操作はできません', 'Not possible in the current state'],
    halted: ['ノードは作動停止中です', 'The node is halted'],
    unavailable: ['現在利用できません。しばらくしてから再度お試しください', 'Not available now; please try again later'],
    csrf_failed: ['画面を再読み込みしてください', 'Reload the page'],
    network: ['サーバに接続できません', 'The server cannot be reached'],
  };

  // Today in Japan (UTC+9, no daylight saving): the node dates its registers by JST.
  function todayJst() {
    return new Date(Date.now() + 9 * 3600_000).toISOString().slice(0, 10);
  }

  window.Kakunin = {
    api, problemCode, setCsrf, clearCsrf, csrf, onLocked,
    b64urlToBuffer, bufferToB64url, toRequestOptions, toCreationOptions,
    assertionToJSON, attestationToJSON, secondFactor, say, bi,
    shell, showProblem, todayJst,
  };
})();
