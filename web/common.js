// Kakunin console: shared helpers (no framework, no build step).
// - api(): fetch wrapper; sends JSON, adds x-csrf-token on POST, parses problem documents.
// - base64url helpers and WebAuthn option/credential conversion.
// - small UI helpers for accessible error messages.
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

  window.Kakunin = {
    api, problemCode, setCsrf, clearCsrf, csrf, onLocked,
    b64urlToBuffer, bufferToB64url, toRequestOptions, toCreationOptions,
    assertionToJSON, attestationToJSON, secondFactor, say, bi,
  };
})();
