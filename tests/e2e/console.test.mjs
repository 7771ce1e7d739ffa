// Browser end-to-end tests of the operator console (docs/operators.md), against a real node:
// `kakunin demo` serves the console, `kakunin operator bootstrap` makes the first operators,
// Debian Chromium driven by playwright-core plays the operators, each with its own CDP virtual
// authenticator (ctap2, internal, user verification).
//
// Environment: KAKUNIN_BIN (default /work/main/build/kakunin), CHROMIUM (default /usr/bin/chromium),
// KAKUNIN_E2E_KEEP=1 keeps the demo's data directory.
// Run: node --test tests/e2e/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import https from 'node:https';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const BIN = process.env.KAKUNIN_BIN || '/work/main/build/kakunin';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const IDLE_LOCK_SECONDS = 3;
const STEP = { timeout: 180_000 };

const GENERIC_LOGIN_ERROR = 'IDまたはパスワードが正しくありません / ID or password is incorrect';
const MAINTENANCE_FIELDS = ['resident_code', 'individual_number', 'name', 'name_kana', 'former_surname',
  'alias', 'sex', 'birth_date', 'address', 'municipality_code'];

let tmp;
let dataDir;
let demo;
let demoLog = '';
let demoJson;
let consoleUrl;
let residentCode;
let browser;
const operators = new Map();  // operator_id -> {name, password, context, page, cdp, authenticatorId, problems}

// ---------------------------------------------------------------------------------------------
// Helpers

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

function cli(args) {
  return new Promise((resolve) => {
    execFile(BIN, args, { timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Today's date (YYYY-MM-DD) in the local time zone of this host, the node's host.
// The date in Japan (UTC+9, no daylight saving): nominations are checked against the node's
// JST date, whatever the test host's time zone.
function isoDate(d) {
  return new Date(d.getTime() + 9 * 3600_000).toISOString().slice(0, 10);
}

// Shows what the node said, for a failing assertion.
function show(r) { return JSON.stringify(r); }

async function newOperator(id, name) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'ja-JP', baseURL: consoleUrl });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  // Every refused API call, to explain a failure: method, path, status and the problem document.
  const refusals = [];
  page.on('response', async (res) => {
    const u = new URL(res.url());
    if (!u.pathname.startsWith('/v1/') || res.status() < 400) return;
    const body = await res.text().catch(() => '');
    refusals.push(`${res.request().method()} ${u.pathname}${u.search} -> ${res.status()} ${body}`);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  const op = { id, name, password: `秋の夕暮れ-${randomBytes(6).toString('hex')}`, context, page, cdp, authenticatorId, problems, refusals };
  operators.set(id, op);
  return op;
}

// Unlocks the home page's lock screen with WebAuthn, as the operator would.
async function unlock(op) {
  const { page } = op;
  await page.locator('#lock').waitFor({ state: 'visible' });
  await page.locator('#unlock').click();
  await page.locator('#app').waitFor({ state: 'visible' });
}

// With idle_lock_seconds = 3, an operator who waited while others acted finds the screen locked.
async function ensureActive(op) {
  if (await op.page.locator('#lock').isVisible()) await unlock(op);
}

// An API call from the home page, through the console's own fetch wrapper (cookie + x-csrf-token).
// An operator whose session locked meanwhile unlocks it (WebAuthn) and tries again.
async function api(op, method, urlPath, body) {
  const call = () => op.page.evaluate(([m, p, b]) => window.Kakunin.api(m, p, b), [method, urlPath, body]);
  let r = await call();
  if (r.status === 401 && r.body && r.body.code === 'session_locked') {
    await unlock(op);
    r = await call();
  }
  return r;
}

// A raw fetch from the page: the cookie, but nothing else from the console's scripts.
function rawFetch(op, method, urlPath, body, headers = {}) {
  return op.page.evaluate(async ([m, p, b, h]) => {
    const init = { method: m, headers: h, credentials: 'same-origin' };
    if (b !== undefined) {
      init.body = JSON.stringify(b);
      init.headers = Object.assign({ 'content-type': 'application/json' }, h);
    }
    const res = await fetch(p, init);
    const text = await res.text();
    let parsed = null;
    try { parsed = JSON.parse(text); } catch (e) { parsed = text; }
    return { status: res.status, contentType: res.headers.get('content-type'), body: parsed };
  }, [method, urlPath, body, headers]);
}

async function credentialCount(op) {
  const { credentials } = await op.cdp.send('WebAuthn.getCredentials', { authenticatorId: op.authenticatorId });
  return credentials.length;
}

async function enrol(op, url) {
  const { page } = op;
  await page.goto(url);
  await page.locator('#enrol-form').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#enrol-name').textContent(), op.name);
  assert.equal(await page.locator('#enrol-operator-id').textContent(), op.id);
  await page.locator('#new-password').fill(op.password);
  await page.locator('#new-password-again').fill(op.password);
  await page.locator('#enrol-submit').click();
  await Promise.race([
    page.locator('#enrol-done').waitFor({ state: 'visible' }),
    page.locator('#enrol-error').waitFor({ state: 'visible' }).then(async () => {
      throw new Error(`enrolment of ${op.id} failed: ${await page.locator('#enrol-error').textContent()}\n` +
        op.refusals.join('\n'));
    }),
  ]);
  assert.equal(await credentialCount(op), 1, 'one credential in the virtual authenticator');
  assert.equal(new URL(page.url()).hash, '', 'the used token is dropped from the address bar');
}

// Signs in with the keyboard only: ID, Tab, password, Enter; the WebAuthn prompt follows by itself.
async function login(op) {
  const { page } = op;
  await page.goto('/index.html');
  await page.locator('#operator-id').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'operator-id');
  await page.keyboard.type(op.id);
  await page.keyboard.press('Tab');
  await page.keyboard.type(op.password);
  await page.keyboard.press('Enter');
  await Promise.race([
    page.waitForURL(/\/home\.html$/),
    page.locator('#login-error').waitFor({ state: 'visible' }).then(async () => {
      throw new Error(`login of ${op.id} failed: ${await page.locator('#login-error').textContent()}\n` +
        op.refusals.join('\n'));
    }),
  ]);
  await page.locator('#app').waitFor({ state: 'visible' });
  assert.equal(await page.locator('#me-id').textContent(), op.id);
  assert.equal(await page.locator('#me-name').textContent(), op.name);
}

async function roles(op) {
  return op.page.locator('#me-roles li').evaluateAll((lis) => lis.map((li) => li.dataset.role));
}

// The access manager creates an operator; the chief approves the role the access manager requests
// and issues the enrolment link (the creator of an account never holds it).
async function createWithRole(id, name, unit, role) {
  const access = operators.get('access');
  const chief = operators.get('chief');
  const created = await api(access, 'POST', '/v1/operators', { operator_id: id, name, unit });
  assert.equal(created.status, 201, `POST /v1/operators ${id}: ${show(created)}`);
  assert.equal(created.body.enrolment_token, undefined, `the creator gets no link: ${show(created)}`);
  const byCreator = await api(access, 'POST', `/v1/operators/${id}/enrolment`, {});
  assert.equal(byCreator.status, 403, `the creator may not issue the link: ${show(byCreator)}`);
  const link = await api(chief, 'POST', `/v1/operators/${id}/enrolment`, {});
  assert.equal(link.status, 201, `POST /v1/operators/${id}/enrolment: ${show(link)}`);
  assert.equal(typeof link.body.enrolment_token, 'string', show(link));
  const req = await api(access, 'POST', `/v1/operators/${id}/role-requests`, { role });
  assert.equal(req.status, 201, `POST /v1/operators/${id}/role-requests: ${show(req)}`);
  assert.ok(req.body.request_id !== undefined, show(req));
  // The requester cannot approve (an access manager is no chief either).
  const self = await api(access, 'POST', `/v1/role-requests/${req.body.request_id}/approve`, {});
  assert.equal(self.status, 403, `approval by the requester: ${show(self)}`);
  const ok = await api(chief, 'POST', `/v1/role-requests/${req.body.request_id}/approve`, {});
  assert.ok(ok.status >= 200 && ok.status < 300, `approval by the chief: ${show(ok)}`);
  const op = await newOperator(id, name);
  await enrol(op, `${consoleUrl}/enrol.html#token=${encodeURIComponent(link.body.enrolment_token)}`);
  return op;
}

async function lookupInUi(op, code, purpose) {
  const { page } = op;
  await page.locator('#resident-code').fill(code);
  if (purpose) await page.locator('#purpose').selectOption(purpose);
  await page.locator('#resident-code').press('Enter');
  await Promise.race([
    page.locator('#lookup-result').waitFor({ state: 'visible' }),
    page.locator('#lookup-problem').waitFor({ state: 'visible' }),
    page.locator('#lock').waitFor({ state: 'visible' }),
  ]);
}

// A call on the systems' port as one of the demo's clients (mutual TLS), e.g. 甲府市's CS.
async function asClient(client, method, route, body) {
  const [ca, cert, key] = await Promise.all(
    [demoJson.ca_file, client.certificate, client.key].map((f) => readFile(f)));
  const url = new URL(demoJson.url);
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request({
      hostname: url.hostname, port: url.port, path: route, method, ca, cert, key,
      servername: 'localhost',
      headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let parsed = null;
        try { parsed = JSON.parse(text); } catch (e) { /* not JSON */ }
        resolve({ status: res.statusCode, body: parsed, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function shownRecord(op) {
  return op.page.locator('#lookup-record dd').evaluateAll(
    (dds) => Object.fromEntries(dds.map((dd) => [dd.dataset.field, dd.textContent])));
}

// pdftotext's reading of a PDF (UTF-8), or its failure.
function pdfText(file) {
  return new Promise((resolve, reject) => {
    execFile('pdftotext', ['-enc', 'UTF-8', file, '-'], { timeout: 60_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`pdftotext ${file}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

// Settles with `tag` when `p` resolves, never rejects (a loser of a race must not reject later).
function tagged(p, tag) { return p.then(() => tag, () => null); }

// A step on a console page that the idle lock (3 s) may interrupt: the page answers 401
// session_locked with its lock screen, and the operator unlocks and does it again.
async function deskStep(op, what, act, done) {
  for (let attempt = 0; attempt < 3; attempt++) {
    await ensureActive(op);
    const locked = op.page.locator('#lock').waitFor({ state: 'visible' });
    const finished = done();
    await act();
    const which = await Promise.race([tagged(finished, 'done'), tagged(locked, 'lock')]);
    if (which !== 'lock') return finished;  // done, or its failure
  }
  throw new Error(`${op.id}: ${what} did not finish\n${op.refusals.slice(-5).join('\n')}`);
}

// Waits for a form's answer: `ok` shown, or `problem` (a refusal, which fails the test).
async function shownOrRefused(ok, problem, what) {
  const which = await Promise.race([tagged(ok.waitFor({ state: 'visible' }), 'ok'),
    tagged(problem.waitFor({ state: 'visible' }), 'problem')]);
  if (which === 'problem') throw new Error(`${what} refused: ${await problem.textContent()}`);
  if (which === null) throw new Error(`${what}: no answer shown`);
}

// Clicks a button that downloads a file; resolves to the playwright Download.
function downloadBy(op, what, button) {
  let download;
  return deskStep(op, what, () => button.click(),
    () => op.page.waitForEvent('download', { timeout: 20_000 }).then((d) => { download = d; }))
    .then(() => download);
}

async function openDesk(op) {
  const { page } = op;
  await page.goto('/disclosure.html');
  await page.waitForFunction(() => !document.getElementById('app').hidden || !document.getElementById('lock').hidden);
  await ensureActive(op);
  await page.waitForFunction(() => !document.getElementById('desk').hidden ||
    !document.getElementById('desk-refused').hidden || !document.getElementById('lock').hidden);
  await ensureActive(op);
}

async function openRegisters(op) {
  const { page } = op;
  await page.goto('/registers.html');
  await page.waitForFunction(() => !document.getElementById('app').hidden || !document.getElementById('lock').hidden);
  await ensureActive(op);
}

// Submits the registers page's form `name`; resolves to {done} or {problem, code} as shown.
async function submitRegister(op, name) {
  const { page } = op;
  await page.evaluate((n) => {
    document.getElementById(`${n}-done`).hidden = true;
    document.getElementById(`${n}-problem`).hidden = true;
  }, name);
  await deskStep(op, `the ${name} form`, () => page.locator(`#${name}-submit`).click(),
    () => page.waitForFunction((n) => !document.getElementById(`${n}-done`).hidden ||
      !document.getElementById(`${n}-problem`).hidden, name, { timeout: 20_000 }));
  if (await page.locator(`#${name}-done`).isVisible()) return { done: await page.locator(`#${name}-done`).textContent() };
  return {
    problem: await page.locator(`#${name}-problem`).textContent(),
    code: await page.locator(`#${name}-problem code`).textContent(),
  };
}

// ---------------------------------------------------------------------------------------------
// The node and the browser

before(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kakunin-e2e-'));
  dataDir = path.join(tmp, 'demo');
  demo = spawn(BIN, ['demo', '--data', dataDir, '--port', '0', '--console-port', '0', '--residents', '300',
    '--idle-lock-seconds', String(IDLE_LOCK_SECONDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  demo.stdout.on('data', (d) => { demoLog += d; });
  demo.stderr.on('data', (d) => { demoLog += d; });
  let exited = null;
  demo.on('exit', (code, signal) => { exited = { code, signal }; });
  for (let i = 0; i < 600 && !demoJson; i++) {
    if (exited) break;
    try {
      const j = JSON.parse(await readFile(path.join(dataDir, 'demo.json'), 'utf8'));
      if (j.console_url) demoJson = j;
    } catch (e) { /* not there yet */ }
    if (!demoJson) await sleep(250);
  }
  if (!demoJson) {
    throw new Error(`kakunin demo gave no demo.json with console_url (exit ${JSON.stringify(exited)}):\n${demoLog}`);
  }
  consoleUrl = demoJson.console_url.replace(/\/$/, '');
  residentCode = demoJson.examples && demoJson.examples.resident_code;
  assert.match(consoleUrl, /^https:\/\/localhost:\d+$/, 'console_url');
  assert.equal(typeof residentCode, 'string', 'examples.resident_code in demo.json');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (demo && demo.exitCode === null && demo.signalCode === null) {
    const done = new Promise((r) => demo.once('exit', r));
    demo.kill('SIGTERM');
    await Promise.race([done, sleep(15_000)]);
    if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
  }
  if (process.env.KAKUNIN_E2E_KEEP) console.log(`# kept ${tmp}`);
  else if (tmp) await rm(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The flow

let bootstrapLines;

test('bootstrap prints one enrolment link per operator, and works only once', STEP, async () => {
  const r = await cli(['operator', 'bootstrap', '--data', dataDir, '--chief', 'chief:県太郎',
    '--access-manager', 'access:県花子']);
  assert.equal(r.code, 0, `bootstrap: ${r.stderr}`);
  bootstrapLines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(bootstrapLines.map((l) => l.operator_id).sort(), ['access', 'chief']);
  for (const l of bootstrapLines) {
    assert.ok(l.enrolment_url.startsWith(`${consoleUrl}/enrol.html#token=`), l.enrolment_url);
  }
  const again = await cli(['operator', 'bootstrap', '--data', dataDir, '--chief', 'chief2:県次郎',
    '--access-manager', 'access2:県三郎']);
  assert.notEqual(again.code, 0, 'a second bootstrap is refused');
});

test('the console pages are served with the CSP', STEP, async () => {
  const op = await newOperator('probe', '');
  for (const p of ['/index.html', '/enrol.html', '/home.html', '/disclosure.html', '/common.js', '/disclosure.js',
    '/registers.html', '/registers.js', '/style.css']) {
    const res = await op.page.request.get(p);
    assert.equal(res.status(), 200, `GET ${p}`);
    if (p.endsWith('.html')) {
      assert.match(res.headers()['content-security-policy'] || '', /default-src 'none'/, `CSP on ${p}`);
    }
  }
  await op.context.close();
  operators.delete('probe');
});

test('the chief and the access manager enrol in the browser', STEP, async () => {
  const names = { chief: '県太郎', access: '県花子' };
  for (const l of bootstrapLines) {
    const op = await newOperator(l.operator_id, names[l.operator_id]);
    await enrol(op, l.enrolment_url);
  }
  // A used link is refused.
  const chief = operators.get('chief');
  await chief.page.goto(bootstrapLines.find((l) => l.operator_id === 'chief').enrolment_url);
  await chief.page.locator('#enrol-error').waitFor({ state: 'visible' });
  assert.equal(await chief.page.locator('#enrol-form').isVisible(), false);
});

test('a wrong password is refused with the generic message, as is an unknown ID', STEP, async () => {
  const chief = operators.get('chief');
  const { page } = chief;
  const attempt = async (id, password) => {
    await page.goto('/index.html');
    await page.locator('#operator-id').fill(id);
    await page.locator('#password').fill(password);
    await page.locator('#login-submit').click();
    await page.locator('#login-error').waitFor({ state: 'visible' });
    assert.match(page.url(), /\/index\.html$/);
    assert.equal(await page.locator('#second-factor').isVisible(), false);
    return page.locator('#login-error').textContent();
  };
  const wrongPassword = await attempt('chief', 'not-the-password-at-all');
  const unknownId = await attempt('nobody-here', 'not-the-password-at-all');
  assert.equal(wrongPassword, GENERIC_LOGIN_ERROR);
  assert.equal(unknownId, GENERIC_LOGIN_ERROR);
  // The API gives the same answer for both: 401 login_failed, nothing else told.
  const a = await rawFetch(chief, 'POST', '/v1/session/login', { operator_id: 'chief', password: 'wrong-wrong-wrong' });
  const b = await rawFetch(chief, 'POST', '/v1/session/login', { operator_id: 'nobody-here', password: 'wrong-wrong-wrong' });
  assert.equal(a.status, 401, show(a));
  assert.equal(a.body.code, 'login_failed', show(a));
  const strip = (r) => { const c = Object.assign({}, r.body); delete c.request_id; return { ...r, body: c }; };
  assert.deepEqual(strip(a), strip(b));
  // The right password alone: the session tells the next step and nothing about the operator.
  const ok = await rawFetch(chief, 'POST', '/v1/session/login', { operator_id: 'chief', password: chief.password });
  assert.equal(ok.status, 200, show(ok));
  assert.equal(ok.body.stage, 'second_factor', show(ok));
  const half = await rawFetch(chief, 'GET', '/v1/session');
  assert.equal(half.status, 200, show(half));
  assert.deepEqual(Object.keys(half.body).sort(), ['csrf_token', 'stage'], show(half));
  await rawFetch(chief, 'POST', '/v1/session/logout', {}, { 'x-csrf-token': ok.body.csrf_token });
});

test('the chief and the access manager sign in and see the home page', STEP, async () => {
  const chief = operators.get('chief');
  const access = operators.get('access');
  await login(chief);
  assert.ok((await roles(chief)).includes('security_chief'), `chief roles: ${await roles(chief)}`);
  const s = await api(chief, 'GET', '/v1/session');
  assert.equal(s.status, 200, show(s));
  assert.equal(s.body.stage, 'active');
  assert.equal(s.body.idle_lock_seconds, IDLE_LOCK_SECONDS);
  await login(access);
  assert.ok((await roles(access)).includes('access_manager'), `access roles: ${await roles(access)}`);
  // A POST without the CSRF header is refused.
  const noCsrf = await rawFetch(access, 'POST', '/v1/operators', { operator_id: 'csrf1', name: '試験', unit: '試験' });
  assert.equal(noCsrf.status, 403, show(noCsrf));
  assert.equal(noCsrf.body.code, 'csrf_failed', show(noCsrf));
});

test('op1 is created, given the operator role by the chief, enrols and signs in', STEP, async () => {
  const op1 = await createWithRole('op1', '県一郎', '市町村課', 'operator');
  await login(op1);
  assert.deepEqual(await roles(op1), ['operator']);
  assert.equal(await op1.page.locator('#no-nominations').isVisible(), true);
  assert.equal(await op1.page.locator('#lookup-submit').isDisabled(), true);
});

test('a lookup without a nomination is refused: 403 not_nominated', STEP, async () => {
  const op1 = operators.get('op1');
  const r = await api(op1, 'GET', `/v1/residents/${residentCode}?purpose=registry.maintenance`);
  assert.equal(r.status, 403, show(r));
  assert.equal(r.body.code, 'not_nominated', show(r));
});

test('sec1 becomes a security manager and nominates op1 for registry.maintenance', STEP, async () => {
  const sec1 = await createWithRole('sec1', '県守', '情報政策課', 'security_manager');
  await login(sec1);
  assert.ok((await roles(sec1)).includes('security_manager'));
  const today = new Date();
  const to = new Date(today.getTime() + 30 * 86400_000);
  // Not before op1 attended this fiscal year's operator training (研修の記録).
  const untrained = await api(sec1, 'POST', '/v1/operators/op1/nominations',
    { purpose: 'registry.maintenance', from: isoDate(today), to: isoDate(to) });
  assert.equal(untrained.status, 409, show(untrained));
  assert.equal(untrained.body.code, 'conflict', show(untrained));
  // Recorded by the security chief: the training that lets sec1 nominate is not one sec1 recorded.
  const training = await api(operators.get('chief'), 'POST', '/v1/trainings',
    { held_on: isoDate(today), kind: 'operator', title: '操作者研修（本人確認情報の保護）', attendees: ['op1'] });
  assert.equal(training.status, 201, `training: ${show(training)}`);
  const trainings = await api(sec1, 'GET', '/v1/trainings');
  assert.equal(trainings.status, 200, show(trainings));
  assert.deepEqual(trainings.body.trainings[0].attendees, ['op1'], show(trainings));
  const r = await api(sec1, 'POST', '/v1/operators/op1/nominations',
    { purpose: 'registry.maintenance', from: isoDate(today), to: isoDate(to) });
  assert.ok(r.status >= 200 && r.status < 300, `nomination: ${show(r)}`);
  // An access manager may not nominate.
  const access = operators.get('access');
  const denied = await api(access, 'POST', '/v1/operators/op1/nominations',
    { purpose: 'registry.maintenance', from: isoDate(today), to: isoDate(to) });
  assert.equal(denied.status, 403, show(denied));
});

test("op1's lookup succeeds and shows only the purpose's fields", STEP, async () => {
  const op1 = operators.get('op1');
  const { page } = op1;
  await page.reload();
  await page.waitForFunction(() => !document.getElementById('app').hidden || !document.getElementById('lock').hidden);
  await ensureActive(op1);
  const row = page.locator('#nominations-body tr[data-purpose="registry.maintenance"]');
  await row.waitFor({ state: 'visible' });
  assert.equal(await row.locator('td').nth(2).textContent(), isoDate(new Date()));
  assert.deepEqual(await page.locator('#purpose option').evaluateAll((os) => os.map((o) => o.value)),
    ['registry.maintenance']);
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  assert.equal(await page.locator('#lookup-problem').isVisible(), false,
    `lookup problem: ${await page.locator('#lookup-problem').textContent()}\n${op1.refusals.slice(-1)}`);
  const shown = await shownRecord(op1);
  // Derived items come only beside their field: municipality_name with municipality_code, a
  // 外字 display form (<field>_display) with its field.
  const allowed = (k) => MAINTENANCE_FIELDS.includes(k) ||
    (k === 'municipality_name' && MAINTENANCE_FIELDS.includes('municipality_code')) ||
    (k.endsWith('_display') && MAINTENANCE_FIELDS.includes(k.slice(0, -'_display'.length)));
  for (const k of Object.keys(shown)) assert.ok(allowed(k), `field ${k} not in the purpose`);
  assert.ok('name' in shown && 'resident_code' in shown, JSON.stringify(shown));
  assert.equal(await page.locator('#lookup-result-purpose').textContent(), 'registry.maintenance');
  // The page shows exactly what the node answered.
  const r = await api(op1, 'GET', `/v1/residents/${residentCode}?purpose=registry.maintenance`);
  assert.equal(r.status, 200, show(r));
  assert.deepEqual(Object.keys(shown), Object.keys(r.body.record));
  // A purpose op1 is not nominated for is still refused.
  const other = await api(op1, 'GET', `/v1/residents/${residentCode}?purpose=board.school_aid`);
  assert.equal(other.status, 403, show(other));
  // An unknown resident shows the problem's code.
  await lookupInUi(op1, '99999999999', 'registry.maintenance');
  assert.equal(await page.locator('#lookup-problem').isVisible(), true);
  assert.ok(['not_found', 'invalid_request'].includes(await page.locator('#lookup-code').textContent()));
});

test('the security chief halts the node from the home page (作動停止) and resumes it', STEP, async () => {
  const chief = operators.get('chief');
  const op1 = operators.get('op1');
  const shots = process.env.KAKUNIN_E2E_SCREENSHOTS;
  const { page } = chief;
  await page.goto('/home.html');
  await page.waitForFunction(() => !document.getElementById('app').hidden || !document.getElementById('lock').hidden);
  await ensureActive(chief);
  await page.locator('#halt').waitFor({ state: 'visible' });
  await deskStep(chief, 'halting the node',
    async () => {
      await page.locator('#halt-reason').fill('端末の盗難の疑いがあるため（試験）');
      await page.locator('#halt-submit').click();
    },
    () => shownOrRefused(page.locator('#halt-done'), page.locator('#halt-problem'), 'the halt'));
  assert.equal(await page.locator('#halt-reason').inputValue(), '', 'the reason leaves the screen');
  const refused = await api(op1, 'GET', `/v1/residents/${residentCode}?purpose=registry.maintenance`);
  assert.equal(refused.status, 503, show(refused));
  assert.equal(refused.body.code, 'halted', show(refused));
  if (shots) {
    await ensureActive(chief);
    await page.locator('#halt').screenshot({ path: `${shots}/home-halted.png` });
  }
  await deskStep(chief, 'resuming the node', () => page.locator('#resume-submit').click(),
    () => page.waitForFunction(() => document.getElementById('halt-done').textContent.includes('再開')));
  const served = await api(op1, 'GET', `/v1/residents/${residentCode}?purpose=registry.maintenance`);
  assert.equal(served.status, 200, show(served));
  // Nobody else sees the panel, and the node refuses them.
  await op1.page.goto('/home.html');
  await op1.page.waitForFunction(() => !document.getElementById('app').hidden || !document.getElementById('lock').hidden);
  await ensureActive(op1);
  assert.equal(await op1.page.locator('#halt').isVisible(), false);
  const notChief = await api(op1, 'POST', '/v1/halt', { reason: '試験' });
  assert.equal(notChief.status, 403, show(notChief));
});

test('a resident under a support measure (支援措置): the console warns the operator, until it ends', STEP, async () => {
  const op1 = operators.get('op1');
  const { page } = op1;
  await ensureActive(op1);
  const cs = demoJson.clients.find((c) => c.kind === 'municipal_cs');
  assert.ok(cs, 'a municipal CS in demo.json');
  const until = isoDate(new Date(Date.now() + 30 * 86400_000));
  const set = await asClient(cs, 'POST', '/v1/support-measures', { resident_code: residentCode, valid_until: until });
  assert.equal(set.status, 200, show(set));
  assert.deepEqual(set.body, { resident_code: residentCode, valid_until: until, status: 'in_force' });
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  const warning = page.locator('#lookup-support-measure');
  assert.equal(await warning.isVisible(), true, 'the warning is shown');
  assert.match(await warning.textContent(), /支援措置対象者/);
  const r = await api(op1, 'GET', `/v1/residents/${residentCode}?purpose=registry.maintenance`);
  assert.equal(r.body.support_measure, true, show(r));
  if (process.env.KAKUNIN_E2E_SCREENSHOTS) {
    await page.locator('#lookup-result').screenshot({ path: `${process.env.KAKUNIN_E2E_SCREENSHOTS}/support-measure.png` });
  }
  // Ended by the municipality: the next lookup shows no warning.
  const end = await asClient(cs, 'POST', '/v1/support-measures/end', { resident_code: residentCode });
  assert.equal(end.status, 200, show(end));
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  assert.equal(await page.locator('#lookup-result').isVisible(), true);
  assert.equal(await warning.isVisible(), false, 'no warning after the end');
});

test('a statistics nomination gives the population table in the page, and no lookup', STEP, async () => {
  const sec1 = operators.get('sec1');
  const op1 = operators.get('op1');
  const today = new Date();
  const to = new Date(today.getTime() + 30 * 86400_000);
  const n = await api(sec1, 'POST', '/v1/operators/op1/nominations',
    { purpose: 'stats.population', from: isoDate(today), to: isoDate(to) });
  assert.ok(n.status >= 200 && n.status < 300, `nomination: ${show(n)}`);
  const { page } = op1;
  await page.reload();
  await page.waitForFunction(() => !document.getElementById('app').hidden || !document.getElementById('lock').hidden);
  await ensureActive(op1);
  await page.locator('#stats').waitFor({ state: 'visible' });
  // The lookup offers only the purposes that read records; the table only statistics ones.
  assert.deepEqual(await page.locator('#purpose option').evaluateAll((os) => os.map((o) => o.value)),
    ['registry.maintenance']);
  assert.deepEqual(await page.locator('#stats-purpose option').evaluateAll((os) => os.map((o) => o.value)),
    ['stats.population']);
  await page.locator('#stats-submit').click();
  await Promise.race([
    page.locator('#stats-result').waitFor({ state: 'visible' }),
    page.locator('#stats-problem').waitFor({ state: 'visible' }),
  ]);
  assert.equal(await page.locator('#stats-problem').isVisible(), false,
    `stats problem: ${await page.locator('#stats-problem').textContent()}`);
  const r = await api(op1, 'GET', '/v1/statistics/population?purpose=stats.population');
  assert.equal(r.status, 200, show(r));
  assert.deepEqual(r.body.by, ['municipality_code', 'sex', 'age_band']);
  assert.ok(r.body.total > 0 && r.body.cells.length > 0, show(r));
  assert.equal(await page.locator('#stats-total').textContent(), String(r.body.total));
  assert.equal(await page.locator('#stats-body tr').count(), r.body.cells.length);
  const sum = r.body.cells.reduce((a, c) => a + c.count, 0);
  assert.equal(sum, r.body.total);
  // Nobody is named: no resident code or birth date in the page's table.
  const text = await page.locator('#stats-table').textContent();
  assert.ok(!text.includes(residentCode), 'a resident code in the table');
  assert.ok(!/\d{4}-\d{2}-\d{2}/.test(text), 'a date in the table');
  // And under the statistics purpose no record of anyone.
  const record = await api(op1, 'GET', `/v1/residents/${residentCode}?purpose=stats.population`);
  assert.equal(record.status, 403, show(record));
  assert.equal(record.body.code, 'statistics_only', show(record));
  if (process.env.KAKUNIN_E2E_SCREENSHOTS) {
    await page.locator('#stats').screenshot({ path: `${process.env.KAKUNIN_E2E_SCREENSHOTS}/population.png` });
  }
});

test('idle lock: the node answers 401 session_locked, the lock screen appears, WebAuthn unlocks', STEP, async () => {
  const op1 = operators.get('op1');
  const { page } = op1;
  await ensureActive(op1);
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  await page.locator('#lookup-result').waitFor({ state: 'visible' });

  // 1. The user is active (mouse moves) but sends no request: the node locks the session, and the
  //    next lookup answers 401 session_locked, which brings up the lock screen.
  const until = Date.now() + (IDLE_LOCK_SECONDS + 1.5) * 1000;
  for (let x = 10; Date.now() < until; x = x === 10 ? 20 : 10) {
    await page.mouse.move(x, 10);
    await sleep(300);
  }
  assert.equal(await page.locator('#lock').isVisible(), false, 'no lock while the user is active');
  const answers = [];
  const onResponse = async (res) => {
    if (res.url().includes('/v1/residents/')) answers.push({ status: res.status(), body: await res.json().catch(() => null) });
  };
  page.on('response', onResponse);
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  await page.locator('#lock').waitFor({ state: 'visible' });
  page.off('response', onResponse);
  assert.equal(answers.length, 1);
  assert.equal(answers[0].status, 401, show(answers[0]));
  assert.equal(answers[0].body.code, 'session_locked', show(answers[0]));
  assert.equal(await page.locator('#app').isVisible(), false);
  assert.equal(await page.locator('#lookup-record dd').count(), 0, 'no personal data under the lock');
  assert.equal(await page.locator('#resident-code').inputValue(), '', 'no resident code left in the form under the lock');
  const s = await rawFetch(op1, 'GET', '/v1/session');
  assert.equal(s.status, 200, show(s));
  assert.equal(s.body.stage, 'locked', show(s));

  // 2. WebAuthn unlocks (keyboard: the unlock button is reachable with Tab and Enter).
  await page.locator('#unlock').focus();
  await page.keyboard.press('Enter');
  await page.locator('#app').waitFor({ state: 'visible' });
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  await page.locator('#lookup-result').waitFor({ state: 'visible' });

  // 3. No activity at all: the page locks itself after idle_lock_seconds, and the node agrees.
  await page.locator('#lock').waitFor({ state: 'visible', timeout: (IDLE_LOCK_SECONDS + 5) * 1000 });
  await sleep(1000);
  const locked = await rawFetch(op1, 'GET', `/v1/residents/${residentCode}?purpose=registry.maintenance`);
  assert.equal(locked.status, 401, show(locked));
  assert.equal(locked.body.code, 'session_locked', show(locked));
  await page.locator('#unlock').click();
  await page.locator('#app').waitFor({ state: 'visible' });
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  await page.locator('#lookup-result').waitFor({ state: 'visible' });
});

test('sign-out ends the session', STEP, async () => {
  const op1 = operators.get('op1');
  const { page } = op1;
  await ensureActive(op1);
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  await page.locator('#lookup-result').waitFor({ state: 'visible' });
  // To another page and Back: the record is not brought back from the back/forward cache, nor
  // the code from the form's saved state.
  await page.locator('#link-disclosure').click();
  await page.waitForURL(/\/disclosure\.html$/);
  await page.goBack();
  await page.waitForURL(/\/home\.html$/);
  assert.equal(await page.locator('#lookup-record dd').count(), 0, 'no record after Back');
  assert.equal(await page.locator('#resident-code').inputValue(), '', 'no resident code after Back');
  await page.waitForFunction(() => !document.getElementById('app').hidden || !document.getElementById('lock').hidden);
  await ensureActive(op1);
  await lookupInUi(op1, residentCode, 'registry.maintenance');
  await page.locator('#lookup-result').waitFor({ state: 'visible' });
  await page.locator('#logout').click();
  await page.waitForURL(/\/index\.html$/);
  const s = await rawFetch(op1, 'GET', '/v1/session');
  assert.equal(s.status, 401, show(s));
  // Back after sign-out: the browser must not bring the signed-out page back from its
  // back/forward cache with the record still on it.
  await page.goBack();
  assert.equal(await page.locator('#lookup-record dd').count(), 0, `no record after Back (${page.url()})`);
  await page.waitForURL(/\/index\.html$/);
  await page.goto('/home.html');
  await page.waitForURL(/\/index\.html$/);
});

test('an operator changes their own password on the home page; every session ends', STEP, async () => {
  const op1 = operators.get('op1');
  const { page } = op1;
  await login(op1);
  await page.locator('#password-form').waitFor({ state: 'visible' });
  const fresh = `冬の朝-${randomBytes(6).toString('hex')}`;
  // A wrong current password: refused in words, and the form keeps nothing.
  await page.locator('#current-password').fill('not-the-password-at-all');
  await page.locator('#new-password').fill(fresh);
  await page.locator('#new-password-again').fill(fresh);
  await page.locator('#password-submit').click();
  await page.locator('#password-problem').waitFor({ state: 'visible' });
  assert.match(await page.locator('#password-problem').textContent(), /現在のパスワードが正しくありません.*login_failed/);
  assert.equal(await page.locator('#current-password').inputValue(), '');
  // A confirmation that differs is caught before anything is sent.
  await page.locator('#current-password').fill(op1.password);
  await page.locator('#new-password-again').fill(fresh + 'x');
  await page.locator('#password-submit').click();
  await page.waitForFunction(() => /確認欄と一致しません/.test(document.getElementById('password-problem').textContent));
  if (process.env.KAKUNIN_E2E_SCREENSHOTS) {
    await page.locator('#password').screenshot({ path: path.join(process.env.KAKUNIN_E2E_SCREENSHOTS, 'password-change.png') });
  }
  // Right: to the sign-in page, which says why; the old session is gone, the old password too.
  await page.locator('#new-password-again').fill(fresh);
  await page.locator('#password-submit').click();
  await page.waitForURL(/\/index\.html\?password_changed=1$/);
  await page.waitForFunction(() => /パスワードを変更しました/.test(document.getElementById('login-status').textContent));
  if (process.env.KAKUNIN_E2E_SCREENSHOTS) {
    await page.screenshot({ path: path.join(process.env.KAKUNIN_E2E_SCREENSHOTS, 'password-changed-signin.png') });
  }
  const gone = await rawFetch(op1, 'GET', '/v1/session');
  assert.equal(gone.status, 401, show(gone));
  const old = await rawFetch(op1, 'POST', '/v1/session/login', { operator_id: op1.id, password: op1.password });
  assert.equal(old.status, 401, show(old));
  op1.password = fresh;
  await login(op1);
});

test('the disclosure desk: register, print the notice, hand over the statement, take a correction', STEP, async () => {
  const sec1 = operators.get('sec1');
  const desk1 = await createWithRole('desk1', '県窓子', '県民課', 'operator');
  const today = new Date();
  const to = new Date(today.getTime() + 30 * 86400_000);
  const trained = await api(operators.get('chief'), 'POST', '/v1/trainings',
    { held_on: isoDate(today), kind: 'operator', title: '操作者研修（開示窓口）', attendees: ['desk1'] });
  assert.equal(trained.status, 201, `training: ${show(trained)}`);
  const nom = await api(sec1, 'POST', '/v1/operators/desk1/nominations',
    { purpose: 'disclosure.self', from: isoDate(today), to: isoDate(to) });
  assert.ok(nom.status >= 200 && nom.status < 300, `nomination: ${show(nom)}`);
  await login(desk1);
  const { page } = desk1;
  const shots = process.env.KAKUNIN_E2E_SCREENSHOTS;

  // The home page links to the desk.
  await ensureActive(desk1);
  await page.locator('#link-disclosure').click();
  await page.waitForURL(/\/disclosure\.html$/);
  await openDesk(desk1);
  assert.equal(await page.locator('#desk').isVisible(), true, desk1.refusals.join('\n'));
  assert.equal(await page.locator('#desk-refused').isVisible(), false);
  assert.equal(await page.locator('#printouts').isVisible(), false, 'an operator sees no printout register');
  assert.deepEqual(await page.locator('#receive-purpose option').evaluateAll((os) => os.map((o) => o.value)),
    ['disclosure.self']);
  assert.equal(await page.locator('#receive-date').inputValue(), isoDate(new Date()), 'received today by default');

  // 1. Register the written request: the number and the day the decision is due.
  await page.locator('#requester-legal').check();
  await page.locator('#doc-passport').check();
  await page.locator('#channel-post').check();
  await deskStep(desk1, 'registering the request',
    async () => {
      await page.locator('#receive-code').fill(residentCode);
      await page.locator('#receive-submit').click();
    },
    () => shownOrRefused(page.locator('#receive-done'), page.locator('#receive-problem'), 'the registration'));
  const n = await page.locator('#receive-number').getAttribute('data-disclosure');
  assert.match(n, /^\d+$/);
  const due = await page.locator('#receive-due').textContent();
  assert.match(due, /^\d{4}-\d{2}-\d{2}$/);
  assert.equal(await page.locator('#receive-code').inputValue(), '', 'the code leaves the screen once registered');
  const row = page.locator(`#list-body tr[data-disclosure="${n}"]`);
  await row.waitFor({ state: 'attached' });
  assert.equal(await row.getAttribute('data-status'), 'received');
  assert.match(await row.locator('[data-field="status"]').textContent(), /受付済/);
  assert.equal(await row.locator('button[data-action="statement"]').count(), 0, 'no statement before a notice');
  const listed = await api(desk1, 'GET', `/v1/disclosures/${n}`);
  assert.equal(listed.status, 200, show(listed));
  assert.equal(listed.body.due_on, due);
  assert.deepEqual([listed.body.requester, listed.body.identity_document, listed.body.channel],
    ['legal_representative', 'passport', 'post']);
  // The deciding clerk checks the code against the written request (review finding).
  assert.equal(listed.body.resident_code, residentCode);
  assert.ok(!(await page.locator('#app').textContent()).includes(residentCode), 'a resident code on the page');
  if (shots) {
    await ensureActive(desk1);
    await page.screenshot({ path: `${shots}/disclosure-registered.png`, fullPage: true });
  }

  // The clerk who took the request does not print its notice: a second clerk decides it.
  const own = await api(desk1, 'POST', `/v1/disclosures/${n}/notice`);
  assert.equal(own.status, 403, `the registering clerk's own notice: ${show(own)}`);
  const desk2 = await createWithRole('desk2', '県窓二郎', '県民課', 'operator');
  const trained2 = await api(operators.get('chief'), 'POST', '/v1/trainings',
    { held_on: isoDate(today), kind: 'operator', title: '操作者研修（開示窓口）', attendees: ['desk2'] });
  assert.equal(trained2.status, 201, `training: ${show(trained2)}`);
  const nom2 = await api(sec1, 'POST', '/v1/operators/desk2/nominations',
    { purpose: 'disclosure.self', from: isoDate(today), to: isoDate(to) });
  assert.ok(nom2.status >= 200 && nom2.status < 300, `nomination: ${show(nom2)}`);
  await login(desk2);
  await openDesk(desk2);
  const page2 = desk2.page;
  assert.equal(await page2.locator('#desk').isVisible(), true, desk2.refusals.join('\n'));
  const row2 = page2.locator(`#list-body tr[data-disclosure="${n}"]`);
  await row2.waitFor({ state: 'attached' });

  // 2. Print the decision notice: a real download of a PDF that pdftotext reads.
  const notice = await downloadBy(desk2, 'printing the notice', row2.locator('button[data-action="notice"]'));
  assert.equal(notice.suggestedFilename(), `disclosure-${n}.pdf`);
  assert.equal(await notice.failure(), null);
  const pdfFile = path.join(tmp, `disclosure-${n}.pdf`);
  await notice.saveAs(pdfFile);
  const pdf = await readFile(pdfFile);
  assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-', 'the notice is a PDF');
  const text = await pdfText(pdfFile);
  assert.ok(text.includes('本人確認情報開示決定通知書'), `the title in the notice:\n${text.slice(0, 600)}`);
  assert.ok(text.includes(`開示第${n}号`), `the request's number in the notice:\n${text.slice(0, 600)}`);
  await page2.locator(`#list-body tr[data-disclosure="${n}"][data-status="disclosed"]`).waitFor({ state: 'attached' });
  assert.match(await row2.locator('[data-field="status"]').textContent(), /開示/);
  assert.equal(await row2.locator('[data-field="documents"]').textContent(), '1');

  // 3. The access statement the notice printed the digest of.
  const statement = await downloadBy(desk2, 'fetching the statement', row2.locator('button[data-action="statement"]'));
  assert.equal(statement.suggestedFilename(), `statement-${n}.json`);
  const statementFile = path.join(tmp, `statement-${n}.json`);
  await statement.saveAs(statementFile);
  const json = JSON.parse(await readFile(statementFile, 'utf8'));
  assert.ok('parts' in json, `parts in the statement: ${Object.keys(json)}`);
  assert.ok(!(await readFile(statementFile, 'utf8')).includes(residentCode), 'the statement names nobody in clear');

  // 4. Details, and a correction request that goes to the municipality.
  await deskStep(desk2, 'opening the details', () => row2.locator('button[data-action="detail"]').click(),
    () => page2.locator('#correction-form').waitFor({ state: 'visible' }));
  assert.equal(await page2.locator('#detail-number').textContent(), n);
  // The code is shown only while the request awaits its decision (checked below, before it).
  assert.equal(await page2.locator('#detail-code').textContent(), '—');
  assert.equal(await page2.locator('#detail-status').getAttribute('data-status'), 'disclosed');
  assert.equal(await page2.locator('#corrections-empty').isVisible(), true);
  assert.equal(await page2.locator('#correction-fields input[type="checkbox"]').count(), 9);
  await deskStep(desk2, 'registering the correction request',
    async () => {
      await page2.locator('#item-address').check();
      await page2.locator('#item-name_kana').check();
      await page2.locator('#correction-details').fill('転居前の住所のままです。\n振り仮名の濁点が抜けています。');
      await page2.locator('#correction-submit').click();
    },
    () => shownOrRefused(page2.locator('#correction-done'), page2.locator('#correction-problem'), 'the correction request'));
  const correction = page2.locator('#corrections-body tr').first();
  await correction.waitFor({ state: 'attached' });
  assert.equal(await page2.locator('#corrections-body tr').count(), 1);
  assert.equal(await correction.getAttribute('data-status'), 'open');
  assert.match(await correction.locator('[data-field="status"]').textContent(), /未回答/);
  assert.equal(await correction.locator('[data-field="outcome"]').textContent(), '—');
  assert.match(await correction.textContent(), /住所/);
  assert.equal(await page2.locator('#correction-details').inputValue(), '', 'the text leaves the screen once registered');
  // A text typed and left: to the home page and Back, it does not come back (bfcache, form state).
  await page2.locator('#correction-details').fill('甲府市丸の内一丁目のままです');
  await page2.locator('#item-address').check();
  await page2.goto('/home.html');
  await page2.goBack();
  await page2.waitForURL(/\/disclosure\.html$/);
  assert.equal(await page2.locator('#correction-details').inputValue(), '', 'no correction text after Back');
  assert.equal(await page2.locator('#item-address').isChecked(), false, 'no item checked after Back');
  await openDesk(desk2);
  await row2.waitFor({ state: 'attached' });
  const shown = await api(desk2, 'GET', `/v1/disclosures/${n}`);
  assert.equal(shown.status, 200, show(shown));
  assert.equal(shown.body.corrections.length, 1, show(shown));
  assert.deepEqual([...shown.body.corrections[0].fields].sort(), ['address', 'name_kana']);
  assert.equal(shown.body.corrections[0].status, 'open');
  // Not where it went: after a move under a support measure, that is where the person lives.
  assert.ok(!('municipality_code' in shown.body.corrections[0]), show(shown));
  assert.ok(!('municipality_name' in shown.body.corrections[0]), show(shown));
  if (shots) {
    await ensureActive(desk2);
    await page2.screenshot({ path: `${shots}/disclosure-detail.png`, fullPage: true });
  }

  // 5. The municipality answers; a clerk prints the written result to the person
  // (調査結果通知書): which items, what was found, nothing of the record.
  const holder = demoJson.clients.find((c) => c.kind === 'municipal_cs');
  const referred = await asClient(holder, 'GET', '/v1/corrections');
  assert.equal(referred.status, 200, show(referred));
  const correctionId = shown.body.corrections[0].correction_id;
  assert.ok(referred.body.corrections.some((c) => c.correction_id === correctionId), show(referred));
  const answered = await asClient(holder, 'POST', `/v1/corrections/${correctionId}/result`, { outcome: 'not_corrected' });
  assert.equal(answered.status, 200, show(answered));
  await deskStep(desk2, 'opening the details again', () => row2.locator('button[data-action="detail"]').click(),
    () => page2.locator('#corrections-body tr[data-status="answered"]').waitFor({ state: 'attached' }));
  const resultButton = page2.locator('#corrections-body button[data-action="correction-notice"]');
  assert.match(await resultButton.textContent(), /調査結果通知書を印刷/);
  const result = await downloadBy(desk2, 'printing the written result', resultButton);
  assert.equal(result.suggestedFilename(), `correction-${n}-${correctionId}.pdf`);
  const resultFile = path.join(tmp, `correction-${n}-${correctionId}.pdf`);
  await result.saveAs(resultFile);
  const resultText = await pdfText(resultFile);
  assert.ok(resultText.includes('訂正等の申出に係る調査結果通知書'), resultText.slice(0, 600));
  assert.ok(resultText.includes('誤りは認められませんでした'), resultText.slice(0, 600));
  assert.ok(!resultText.includes(residentCode), 'no resident code on the written result');
  await page2.locator('#corrections-body [data-field="notified"]', { hasText: '通知済' }).waitFor({ state: 'attached' });
  const afterResult = await api(desk2, 'GET', `/v1/disclosures/${n}`);
  assert.ok(afterResult.body.corrections[0].notified_at, show(afterResult));
  if (shots) {
    await ensureActive(desk2);
    await page2.screenshot({ path: `${shots}/disclosure-correction-result.png`, fullPage: true });
  }

  // A request received 20 days ago and still undecided is past its due day (14 days by default).
  const late = await api(desk1, 'POST', '/v1/disclosures', {
    purpose: 'disclosure.self', resident_code: residentCode, requester: 'self',
    identity_document: 'individual_number_card', channel: 'counter',
    received_on: isoDate(new Date(Date.now() - 20 * 86400_000)),
  });
  assert.equal(late.status, 201, show(late));
  assert.equal(late.body.overdue, true, show(late));
  const lateRow = page.locator(`#list-body tr[data-disclosure="${late.body.disclosure_id}"]`);
  await deskStep(desk1, 'reloading the list', () => page.locator('#list-reload').click(),
    () => lateRow.waitFor({ state: 'attached' }));
  assert.equal(await lateRow.getAttribute('class'), 'overdue');
  assert.match(await lateRow.textContent(), /期限超過/);
  await row.waitFor({ state: 'attached' });
  assert.doesNotMatch(await row.textContent(), /期限超過/);
  if (shots) {
    await ensureActive(desk1);
    await page.locator('#list-table').screenshot({ path: `${shots}/disclosure-list.png` });
  }

  // The late request is closed without a notice by the second clerk (却下: identity not
  // confirmed): no longer overdue, no notice button, the reason shown.
  const lateN = String(late.body.disclosure_id);
  const lateRow2 = page2.locator(`#list-body tr[data-disclosure="${lateN}"]`);
  await deskStep(desk2, 'reloading the list', () => page2.locator('#list-reload').click(),
    () => lateRow2.waitFor({ state: 'attached' }));
  await deskStep(desk2, 'opening the late request', () => lateRow2.locator('button[data-action="detail"]').click(),
    () => page2.locator('#close-form').waitFor({ state: 'visible' }));
  assert.equal(await page2.locator('#detail-number').textContent(), lateN);
  await deskStep(desk2, 'closing the request',
    async () => {
      await page2.locator('#close-outcome').selectOption('rejected');
      await page2.locator('#close-reason').selectOption('identity_not_confirmed');
      await page2.locator('#close-submit').click();
    },
    () => shownOrRefused(page2.locator('#close-done'), page2.locator('#close-problem'), 'closing the request'));
  await page2.locator(`#list-body tr[data-disclosure="${lateN}"][data-status="rejected"]`).waitFor({ state: 'attached' });
  assert.match(await lateRow2.locator('[data-field="status"]').textContent(), /却下/);
  assert.equal(await lateRow2.locator('button[data-action="notice"]').count(), 0, 'a closed request takes no notice');
  assert.doesNotMatch(await lateRow2.textContent(), /期限超過/);
  assert.match(await page2.locator('#detail-status').textContent(), /本人確認ができない/);
  assert.equal(await page2.locator('#close-form').isVisible(), false);
  const closed = await api(desk2, 'GET', `/v1/disclosures/${lateN}`);
  assert.equal(closed.status, 200, show(closed));
  assert.equal(closed.body.status, 'rejected', show(closed));
  assert.equal(closed.body.close_reason, 'identity_not_confirmed', show(closed));
  assert.equal(closed.body.overdue, false, show(closed));
  assert.ok(!('resident_code' in closed.body), show(closed));
  const noNotice = await api(desk2, 'POST', `/v1/disclosures/${lateN}/notice`);
  assert.equal(noNotice.status, 409, show(noNotice));
  if (shots) {
    await ensureActive(desk2);
    await page2.screenshot({ path: `${shots}/disclosure-closed.png`, fullPage: true });
  }

  // 5. The security manager finds the notice in the printout register; the desk is not theirs.
  await openDesk(sec1);
  assert.equal(await sec1.page.locator('#desk').isVisible(), false);
  assert.equal(await sec1.page.locator('#desk-refused').isVisible(), true);
  await sec1.page.locator('#printouts').waitFor({ state: 'visible' });
  const register = await api(sec1, 'GET', '/v1/printouts');
  assert.equal(register.status, 200, show(register));
  const entry = register.body.printouts.find((p) => p.reference === `disclosure:${n}`);
  assert.ok(entry, show(register));
  assert.equal(entry.sha256, createHash('sha256').update(pdf).digest('hex'), 'the register has the PDF downloaded');
  const printed = sec1.page.locator(`#printouts-body tr[data-printout="${entry.printout_id}"]`);
  await printed.waitFor({ state: 'attached' });
  assert.match(await printed.textContent(), new RegExp(entry.sha256));
  // The written result of the correction is a row of its own, under its kind.
  const resultEntry = register.body.printouts.find((p) => p.reference === `disclosure:${n}/correction:${correctionId}`);
  assert.ok(resultEntry, show(register));
  assert.equal(resultEntry.kind, 'correction_result_notice');
  assert.equal(resultEntry.sha256, createHash('sha256').update(await readFile(resultFile)).digest('hex'));
  assert.match(await sec1.page.locator(`#printouts-body tr[data-printout="${resultEntry.printout_id}"]`).textContent(),
    /調査結果通知書/);
  if (shots) {
    await sec1.page.locator('#printouts .scroll').evaluate((el) => { el.scrollLeft = el.scrollWidth; });
    await sec1.page.screenshot({ path: `${shots}/disclosure-printouts.png`, fullPage: true });
  }
  // 6. The keeper records that the notice was handed over (交付): once, in the row itself.
  const keptRow = sec1.page.locator(`#printouts-body tr[data-printout="${entry.printout_id}"]`);
  assert.equal(entry.outcome, undefined, show(entry));
  await keptRow.locator('select').selectOption({ label: '交付（窓口）' });
  await keptRow.locator('button').click();
  await sec1.page.waitForFunction((id) => {
    const tr = document.querySelector(`#printouts-body tr[data-printout="${id}"]`);
    return tr && /交付（窓口）/.test(tr.textContent) && !tr.querySelector('button');
  }, entry.printout_id);
  const after = await api(sec1, 'GET', '/v1/printouts');
  const recorded = after.body.printouts.find((p) => p.printout_id === entry.printout_id);
  assert.equal(recorded.outcome, 'handed_over', show(recorded));
  assert.equal(recorded.outcome_on, isoDate(new Date()), show(recorded));
  assert.equal(recorded.outcome_by, 'sec1', show(recorded));
  const again = await api(sec1, 'POST', `/v1/printouts/${entry.printout_id}/outcome`, { outcome: 'mailed', on: recorded.outcome_on });
  assert.equal(again.status, 409, show(again));
  if (shots) await sec1.page.screenshot({ path: `${shots}/disclosure-printout-outcome.png`, fullPage: true });
});

test('an operator not nominated for disclosure finds the desk closed', STEP, async () => {
  const op1 = operators.get('op1');
  const { page } = op1;
  await login(op1);
  await page.locator('#link-disclosure').click();
  await page.waitForURL(/\/disclosure\.html$/);
  await openDesk(op1);
  await page.locator('#desk-refused').waitFor({ state: 'visible' });
  assert.match(await page.locator('#desk-refused').textContent(), /指名されていない/);
  assert.equal(await page.locator('#desk-refused-code').textContent(), 'not_nominated');
  assert.equal(await page.locator('#desk').isVisible(), false);
  assert.equal(await page.locator('#list-body tr').count(), 0, 'no request listed');
  assert.equal(await page.locator('#printouts').isVisible(), false);
  const r = await api(op1, 'GET', '/v1/disclosures');
  assert.equal(r.status, 403, show(r));
  assert.equal(r.body.code, 'not_nominated', show(r));
  if (process.env.KAKUNIN_E2E_SCREENSHOTS) {
    await page.screenshot({ path: `${process.env.KAKUNIN_E2E_SCREENSHOTS}/disclosure-refused.png`, fullPage: true });
  }
});

test('the staff registers page: each role sees and records what the rules let it', STEP, async () => {
  const chief = operators.get('chief');
  const { page } = chief;
  await login(chief);
  await page.locator('#link-registers').click();
  await page.waitForURL(/\/registers\.html$/);
  await openRegisters(chief);
  for (const id of ['#trainings', '#contracts', '#reviews', '#training-form', '#contract-form', '#worker-form', '#review-form']) {
    assert.equal(await page.locator(id).isVisible(), true, `${id} shown to the security chief`);
  }
  // The chief records only self-inspections (audits are the auditor's).
  assert.deepEqual(await page.locator('#review-kinds input').evaluateAll((els) => els.map((e) => e.value)), ['self_inspection']);
  // The training a security manager recorded earlier is listed.
  await page.locator('#trainings-body tr').first().waitFor({ state: 'visible' });
  assert.match(await page.locator('#trainings-body').textContent(), /操作者研修（本人確認情報の保護）/);
  assert.match(await page.locator('#trainings-body').textContent(), /op1/);

  // A contract, then a worker under it.
  const today = new Date();
  await ensureActive(chief);
  await page.locator('#contract-company').fill('株式会社甲斐情報サービス');
  await page.locator('#contract-work').fill('住基ネット機器の保守');
  await page.locator('#contract-from').fill(isoDate(today));
  await page.locator('#contract-to').fill(isoDate(new Date(today.getTime() + 365 * 86400_000)));
  await page.locator('#contract-pledge').fill(isoDate(today));
  const contract = await submitRegister(chief, 'contract');
  assert.ok(contract.done, `contract: ${show(contract)}`);
  const row = page.locator('#contracts-body tr').filter({ hasText: '株式会社甲斐情報サービス' });
  await row.waitFor({ state: 'visible' });
  assert.match(await row.textContent(), /有効/);
  // The prefecture's own staff are nobody's workers: a contractor's worker gets an account of
  // their own, listed before any role.
  await ensureActive(chief);
  await page.locator('#worker-operator').fill('op1');
  const staff = await submitRegister(chief, 'worker');
  assert.equal(staff.code, 'conflict', show(staff));
  const vendor = await api(operators.get('access'), 'POST', '/v1/operators',
    { operator_id: 'vendor1', name: '保守作業者', unit: '株式会社甲斐情報サービス' });
  assert.equal(vendor.status, 201, show(vendor));
  await ensureActive(chief);
  await page.locator('#worker-operator').fill('vendor1');
  const worker = await submitRegister(chief, 'worker');
  assert.ok(worker.done, `worker: ${show(worker)}`);
  assert.match(await row.locator('td.workers').textContent(), /vendor1/);
  // The worker leaves the work: taken off the roster, the listing stays, marked.
  await ensureActive(chief);
  await page.locator('#removal-operator').fill('vendor1');
  const removed = await submitRegister(chief, 'removal');
  assert.ok(removed.done, `removal: ${show(removed)}`);
  assert.match(await row.locator('td.workers').textContent(), /vendor1（\d{4}-\d{2}-\d{2} 除外）/);
  // And the contract ends early, today its last day in force.
  await ensureActive(chief);
  await page.locator('#end-last-day').fill(isoDate(today));
  const ended = await submitRegister(chief, 'end');
  assert.ok(ended.done, `end: ${show(ended)}`);
  assert.match(await row.locator('td.period').textContent(), new RegExp(`${isoDate(today)} まで。解除`));
  if (process.env.KAKUNIN_E2E_SCREENSHOTS) {
    await page.locator('#contracts').screenshot({ path: `${process.env.KAKUNIN_E2E_SCREENSHOTS}/registers-contracts.png` });
  }

  // A summary holding a resident code is refused, and nothing is recorded.
  await ensureActive(chief);
  await page.locator('#review-from').fill(isoDate(new Date(today.getTime() - 30 * 86400_000)));
  await page.locator('#review-to').fill(isoDate(today));
  await page.locator('#review-summary').fill(`住民票コード${residentCode}の照会を確認した`);
  const refused = await submitRegister(chief, 'review');
  assert.equal(refused.code, 'invalid_request', show(refused));
  assert.equal(await page.locator('#reviews-body tr').count(), 0, 'nothing recorded');
  await ensureActive(chief);
  await page.locator('#review-summary').fill('端末の設置場所と入退室の記録を点検した。指摘事項なし。');
  const review = await submitRegister(chief, 'review');
  assert.ok(review.done, `review: ${show(review)}`);
  await page.locator('#reviews-body tr').first().waitFor({ state: 'visible' });
  assert.match(await page.locator('#reviews-body').textContent(), /自己点検/);
  if (process.env.KAKUNIN_E2E_SCREENSHOTS) {
    await ensureActive(chief);
    await page.screenshot({ path: `${process.env.KAKUNIN_E2E_SCREENSHOTS}/registers-chief.png`, fullPage: true });
  }

  // The access manager reads the contractor roster and records log reviews, but reads no review
  // register and no training register, and changes no contract.
  const access = operators.get('access');
  await login(access);
  await openRegisters(access);
  assert.equal(await access.page.locator('#contracts').isVisible(), true);
  assert.equal(await access.page.locator('#contract-form').isVisible(), false);
  assert.equal(await access.page.locator('#trainings').isVisible(), false);
  assert.equal(await access.page.locator('#review-form').isVisible(), true);
  assert.equal(await access.page.locator('#reviews-table').isVisible(), false);
  assert.deepEqual(await access.page.locator('#review-kinds input').evaluateAll((els) => els.map((e) => e.value)), ['log_review']);
  await access.page.locator('#contracts-body tr').first().waitFor({ state: 'visible' });
  assert.match(await access.page.locator('#contracts-body').textContent(), /株式会社甲斐情報サービス/);
  const direct = await api(access, 'POST', '/v1/contracts', { company: 'X', work: 'Y', from: isoDate(today), to: isoDate(today), subcontracting: 'prohibited' });
  assert.equal(direct.status, 403, show(direct));
  // It reads the operation log for its review: the chief's contract is there, by ids only.
  assert.equal(await access.page.locator('#log').isVisible(), true);
  await ensureActive(access);
  await access.page.locator('#log-action').fill('register.contract.record');
  await access.page.locator('#log-submit').click();
  await access.page.locator('#log-body tr').first().waitFor({ state: 'visible' });
  assert.match(await access.page.locator('#log-body').textContent(), /operator:chief/);
  assert.match(await access.page.locator('#log-body').textContent(), /register\.contract\.record/);
  if (process.env.KAKUNIN_E2E_SCREENSHOTS) {
    await access.page.screenshot({ path: `${process.env.KAKUNIN_E2E_SCREENSHOTS}/registers-log.png`, fullPage: true });
  }
  const logRead = await api(access, 'GET', '/v1/audit/entries?action=audit.search&limit=5');
  assert.equal(logRead.status, 200, show(logRead));
  assert.ok(logRead.body.entries.some((e) => e.actor === 'operator:access'), 'the reading itself is recorded');

  // An operator keeps no register.
  const op1 = operators.get('op1');
  await login(op1);
  await openRegisters(op1);
  await op1.page.locator('#reg-none').waitFor({ state: 'visible' });
  for (const id of ['#trainings', '#contracts', '#reviews', '#log']) {
    assert.equal(await op1.page.locator(id).isVisible(), false, `${id} hidden from an operator`);
  }
  const notTheirs = await api(op1, 'GET', '/v1/audit/entries');
  assert.equal(notTheirs.status, 403, show(notTheirs));
});

test('no page broke the CSP or threw', STEP, async () => {
  const problems = [];
  for (const op of operators.values()) {
    // Failed resource loads (401/403 answers) are logged as console errors by Chromium; those are fine.
    problems.push(...op.problems.filter((p) => !/Failed to load resource/.test(p)).map((p) => `${op.id}: ${p}`));
  }
  assert.deepEqual(problems, []);
});
