// Sign-in from the extension (issue 8): the device authorization grant against
// a real OpenID provider (oidc-provider, e2e/oidc/provider.mjs), tokens in
// session storage only, the bearer and profile headers on every backend call
// of a real `consoledx serve --auth-config`, the backend's plain 401 sentence
// in the panel, and a refresh before expiry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  axeViolations, diagnoseButton, diagnosisRegion, openConsolePage, startBackend, startOidcProvider, startStack, waitForPanelState,
} from '../harness.mjs';
import { SEED1_URL } from '../pages.mjs';

/** A pass-through to the backend that remembers every request's headers. */
async function startRecorder(target) {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      seen.push({ method: req.method, path: req.url, headers: { ...req.headers } });
      try {
        const headers = Object.fromEntries(Object.entries(req.headers)
          .filter(([name]) => !['host', 'connection', 'content-length'].includes(name)));
        const body = chunks.length ? Buffer.concat(chunks) : undefined;
        const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body });
        const answer = Buffer.from(await upstream.arrayBuffer());
        const back = Object.fromEntries([...upstream.headers]
          .filter(([name]) => !['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(name)));
        res.writeHead(upstream.status, back);
        res.end(answer);
      } catch (error) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'recorder', message: String(error) }));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    last: (pathname) => seen.filter((r) => r.path === pathname).at(-1),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

let stack;
let oidc;
let authBackend;
let recorder;
let configDir;
let org;
let acct;

const ALICE = { sub: 'alice', username: 'alice@example.com', groups: ['platform', 'admins'] };

async function post(url) {
  const res = await fetch(url, { method: 'POST' });
  if (!res.ok) throw new Error(`POST ${url} -> ${res.status}: ${await res.text()}`);
  return res.json();
}

const extensionPage = async (file) => {
  const page = await stack.context.newPage();
  await page.goto(`chrome-extension://${stack.extensionId}/${file}`);
  return page;
};

async function openPopup() {
  const popup = await extensionPage('popup.html');
  await popup.waitForSelector('body[data-ready]');
  return popup;
}

/** The issuer's session once `ready(session)` holds, polled until 15 s after `due` (ms since the epoch). */
async function sessionWhen(page, issuer, ready, due) {
  for (;;) {
    const session = await sessionOf(page, issuer);
    if (ready(session)) return session;
    if (Date.now() > due + 15_000) throw new Error(`the session of ${issuer} did not change in time: ${JSON.stringify(session)}`);
    await page.waitForTimeout(250);
  }
}

/** Everything the extension keeps in one storage area, as text. */
const storageText = (page, area) => page.evaluate(async (a) => JSON.stringify(await chrome.storage[a].get(null)), area);
const sessionOf = (page, issuer) => page.evaluate(async (key) => (await chrome.storage.session.get(key))[key], `session ${issuer}`);

/**
 * The device flow as a user goes through it: Sign in in the popup, the
 * issuer's page opens in a tab with the code, confirm, log in, consent; the
 * popup picks the tokens up.
 */
async function signInThroughPopup(popup, source, user, { checkAccessibility = false, closePopup = false } = {}) {
  const opened = stack.context.waitForEvent('page', { timeout: 15_000 });
  await popup.getByRole('button', { name: `Sign in to ${source.name}` }).click();
  const verification = await opened.catch(async (error) => {
    throw new Error(`no verification tab opened; the popup says: ${await popup.locator('#signin').innerText()} (${error.message})`);
  });
  const code = (await popup.locator('.user-code .code').innerText()).trim();
  assert.match(code, /^[A-Z]{4}-[A-Z]{4}$/, 'the popup shows the user code');
  if (checkAccessibility) assert.deepEqual(await axeViolations(popup), [], 'popup showing the code to confirm');
  // A real popup closes when the verification tab takes focus: reopened, it resumes.
  if (closePopup) await popup.close();
  await verification.waitForURL((url) => url.origin === source.issuer);
  // The issuer's confirmation page shows the code the popup shows.
  await verification.getByRole('heading', { name: 'Confirm Device' }).waitFor();
  assert.equal((await verification.locator('code').innerText()).trim(), code, 'the verification page shows the same code');
  await verification.getByRole('button', { name: 'Continue' }).click();
  // Then the login page (unless the provider remembers the user) and consent
  // (unless already given), whichever the provider asks for.
  const login = verification.locator('input[name="login"]');
  const consent = verification.getByRole('button', { name: 'Continue' });
  const success = verification.getByRole('heading', { name: 'Sign-in Success' });
  for (let step = 0; step < 3 && !(await success.isVisible()); step += 1) {
    await login.or(consent).or(success).first().waitFor();
    if (await login.isVisible()) {
      await login.fill(user.sub);
      await verification.locator('input[name="password"]').fill('any password');
      await verification.getByRole('button', { name: 'Sign-in' }).click();
    } else if (await consent.isVisible()) {
      await consent.click();
    }
    await verification.waitForLoadState();
  }
  await success.waitFor();
  await verification.close();
  if (closePopup) popup = await openPopup();
  // The popup polls every 5 s (the provider names no interval: RFC 8628's default).
  await popup.getByText(`Signed in to ${source.name}.`, { exact: true }).waitFor({ timeout: 20_000 });
  return popup;
}

/** A fresh console page, one Diagnose click; resolves to the panel's text once it has an answer. */
async function diagnose() {
  const { page } = await openConsolePage(stack.context, SEED1_URL);
  const flash = page.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(flash).click();
  const region = diagnosisRegion(flash);
  await waitForPanelState(region, 'analysis');
  const text = await region.innerText();
  await page.close();
  return text;
}

async function switchProfile(popup, name) {
  await popup.getByRole('radio', { name: new RegExp(name) }).check();
  await popup.getByText(new RegExp(`^${name} is active\\.`)).waitFor({ timeout: 10_000 });
  return popup.locator('#profile-status').innerText();
}

before(async () => {
  stack = await startStack();
  oidc = await startOidcProvider();
  org = { id: 'example-org', name: 'Example Corp', kind: 'organization', issuer: oidc.issuers.organization, clientId: oidc.extension_client_id };
  acct = { id: 'charlie-acct', name: 'Charlie account', kind: 'account', issuer: oidc.issuers.account, clientId: oidc.extension_client_id };
  configDir = await mkdtemp(path.join(tmpdir(), 'consoledx-e2e-auth-'));
  const config = path.join(configDir, 'auth.toml');
  // Introspection answers are not cached, so a revoked token is refused at once.
  await writeFile(config, [
    'introspection_cache_seconds = 0',
    '[[issuer]]', `url = "${org.issuer}"`, `audience = "${oidc.audience}"`, 'kind = "organization"',
    '[issuer.introspection]', `client_id = "${oidc.backend_client_id}"`, 'client_secret_env = "E2E_INTROSPECTION_SECRET"',
    '[[issuer]]', `url = "${acct.issuer}"`, `audience = "${oidc.audience}"`, 'kind = "account"',
  ].join('\n'));
  authBackend = await startBackend({
    motoEndpoint: stack.moto.endpoint,
    args: ['--auth-config', config],
    env: { E2E_INTROSPECTION_SECRET: oidc.backend_client_secret },
  });
  recorder = await startRecorder(authBackend.url);
  await post(`${org.issuer}/test/account?sub=${ALICE.sub}&username=${encodeURIComponent(ALICE.username)}&groups=${ALICE.groups.join(',')}`);

  const options = await extensionPage('options.html');
  await options.waitForSelector('body[data-profiles-ready]');
  const file = {
    format: 1,
    identitySources: [org, acct],
    profiles: [
      { id: 'us', name: 'US Profile', identitySource: org.id, region: 'us-east-1', backendUrl: recorder.url, customization: 'alpha-runbooks' },
      { id: 'eu', name: 'EU Profile', identitySource: org.id, region: 'eu-west-1', backendUrl: recorder.url },
      { id: 'charlie', name: 'Charlie', identitySource: acct.id, region: 'us-west-2', backendUrl: recorder.url },
    ],
  };
  await options.getByLabel('Import a profile file').setInputFiles({
    name: 'corp.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(file)),
  });
  await options.getByText('Imported corp.json: 3 added, 0 replaced.').waitFor({ timeout: 10_000 });
  // A token an older version kept in sync storage is removed (by the pages, and when the service worker starts).
  await options.evaluate(() => chrome.storage.sync.set({ accessToken: 'old-token-from-sync' }));
  await options.close();
});

after(async () => {
  await recorder?.close();
  await authBackend?.stop();
  await oidc?.stop();
  await stack?.stop();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

test('the popup asks to sign in, and the device flow leaves the tokens in session storage only', async () => {
  const popup = await openPopup();
  // The first profile is active until one is chosen; EU shares its identity source.
  assert.match(await switchProfile(popup, 'EU Profile'), /It needs a sign-in to Example Corp/);
  const section = popup.getByRole('region', { name: 'Sign-in' });
  await section.getByText('Not signed in to Example Corp.').waitFor();
  assert.deepEqual(await axeViolations(popup), [], 'popup asking for a sign-in');

  await signInThroughPopup(popup, org, ALICE, { checkAccessibility: true });
  assert.deepEqual(await axeViolations(popup), [], 'popup signed in');
  const session = await sessionOf(popup, org.issuer);
  assert.ok(session?.accessToken && session.refreshToken, 'access and refresh token in storage.session');
  const claims = JSON.parse(Buffer.from(session.accessToken.split('.')[1], 'base64url'));
  assert.equal(claims.iss, org.issuer);
  assert.equal(claims.sub, ALICE.sub);
  for (const area of ['sync', 'local']) {
    const text = await storageText(popup, area);
    assert.ok(!text.includes(session.accessToken) && !text.includes(session.refreshToken), `no token in storage.${area}: ${text.slice(0, 300)}`);
    assert.ok(!text.includes('accessToken'), `the old sync token is gone from storage.${area}`);
  }
  assert.equal(await switchProfile(popup, 'US Profile'), 'US Profile is active.', 'same identity source: no new sign-in');
  await popup.close();
});

test('a diagnosis carries the bearer token and the profile headers to the backend', async () => {
  const text = await diagnose();
  assert.doesNotMatch(text, /Local analysis|refused/, text);
  const popup = await openPopup();
  const { accessToken } = await sessionOf(popup, org.issuer);
  await popup.close();
  const call = recorder.last('/v1/analyze');
  assert.equal(call.headers.authorization, `Bearer ${accessToken}`);
  assert.equal(call.headers['x-consoledx-profile'], 'us');
  assert.equal(call.headers['x-consoledx-customization'], 'alpha-runbooks');
  // The backend sees who signed in, with the groups of the provider's account.
  const whoami = await (await fetch(`${authBackend.url}/v1/whoami`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
  assert.deepEqual(whoami, {
    issuer: org.issuer, identity_source_kind: 'organization', subject: ALICE.sub, username: ALICE.username, groups: ALICE.groups,
  });
});

test('switching within the identity source needs no sign-in; another one asks, and its backend call carries no token', async () => {
  const popup = await openPopup();
  assert.equal(await switchProfile(popup, 'EU Profile'), 'EU Profile is active.');
  await popup.getByText('Signed in to Example Corp.').waitFor();
  assert.doesNotMatch(await diagnose(), /Local analysis/);
  const eu = recorder.last('/v1/analyze');
  assert.equal(eu.headers['x-consoledx-profile'], 'eu');
  assert.equal(eu.headers['x-consoledx-customization'], undefined, 'no customization named');
  assert.match(eu.headers.authorization ?? '', /^Bearer /);

  assert.match(await switchProfile(popup, 'Charlie'), /Charlie is active\. It needs a sign-in to Charlie account/);
  await popup.getByRole('button', { name: 'Sign in to Charlie account' }).waitFor();
  const text = await diagnose();
  assert.match(text, /refused the request: This backend requires sign-in/, text);
  assert.match(text, /To sign in, use the consoledx toolbar button\./, text);
  assert.match(text, /Local analysis/, 'the local analysis is still shown, with the reason');
  const charlie = recorder.last('/v1/analyze');
  assert.equal(charlie.headers.authorization, undefined);
  assert.equal(charlie.headers['x-consoledx-profile'], 'charlie');
  await switchProfile(popup, 'US Profile');
  await popup.close();

  // The options page lists each identity source with its own state.
  const options = await extensionPage('options.html');
  const signIn = options.getByRole('region', { name: 'Sign-in' });
  await signIn.getByText('Signed in to Example Corp.').waitFor();
  await signIn.getByRole('button', { name: 'Sign out of Example Corp' }).waitFor();
  await signIn.getByRole('button', { name: 'Sign in to Charlie account' }).waitFor();
  await options.close();
});

test('a revoked sign-in gives the panel the backend’s plain sentence, and the popup asks to sign in again', async () => {
  let popup = await openPopup();
  const { accessToken, clientId } = await sessionOf(popup, org.issuer);
  await popup.close();
  const revoked = await fetch(`${org.issuer}/token/revocation`, {
    method: 'POST', body: new URLSearchParams({ token: accessToken, client_id: clientId }),
  });
  assert.equal(revoked.status, 200);
  const text = await diagnose();
  assert.match(text, /refused the request: Your sign-in was revoked\. Sign in again\. To sign in, use the consoledx toolbar button\./, text);
  assert.equal(recorder.last('/v1/analyze').headers.authorization, `Bearer ${accessToken}`);

  // The popup asks the active profile's backend about the stored session
  // instead of reading "Signed in" off storage.
  popup = await openPopup();
  const section = popup.getByRole('region', { name: 'Sign-in' });
  await section.getByText('The consoledx backend refused your sign-in to Example Corp: Your sign-in was revoked. Sign in again.').waitFor();
  await section.getByRole('button', { name: 'Sign in to Example Corp' }).waitFor();
  assert.equal(recorder.last('/v1/whoami').headers.authorization, `Bearer ${accessToken}`);
  assert.equal(await sessionOf(popup, org.issuer), undefined, 'the refused session is gone');
  popup = await signInThroughPopup(popup, org, ALICE);
  assert.doesNotMatch(await diagnose(), /Local analysis|refused/);
  await popup.close();
});

test('sign out, then sign in again through a popup that closed meanwhile, with short-lived tokens: the token is refreshed before it expires, unused', async () => {
  await post(`${org.issuer}/test/ttl?seconds=65`);
  let popup = await openPopup();
  await popup.getByRole('button', { name: 'Sign out of Example Corp' }).click();
  await popup.getByText('Signed out of Example Corp.').waitFor();
  assert.equal(await sessionOf(popup, org.issuer), undefined);
  popup = await signInThroughPopup(popup, org, ALICE, { closePopup: true });
  // Tokens issued from now on last 80 s: the renewed one is not renewed
  // again for 20 s, while this test reads which token was sent.
  await post(`${org.issuer}/test/ttl?seconds=80`);
  const first = await sessionOf(popup, org.issuer);
  // Renewed once less than a minute remains (65 s tokens are due after 5 s),
  // by the service worker's alarm: nothing uses the token meanwhile.
  const analyzed = recorder.seen.filter((r) => r.path === '/v1/analyze').length;
  const second = await sessionWhen(popup, org.issuer, (s) => s?.accessToken !== first.accessToken, first.expiresAt - 60_000);
  assert.equal(recorder.seen.filter((r) => r.path === '/v1/analyze').length, analyzed, 'renewed without a request');
  const exp = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url')).exp;
  assert.ok(second.expiresAt > first.expiresAt);
  assert.ok(exp(second.accessToken) > exp(first.accessToken));
  assert.ok(exp(first.accessToken) * 1000 > Date.now(), 'renewed before the old token expired');
  assert.doesNotMatch(await diagnose(), /Local analysis|refused/);
  assert.equal(recorder.last('/v1/analyze').headers.authorization, `Bearer ${second.accessToken}`, 'the renewed token went to the backend');

  // A refresh the provider refuses (the grant was revoked) ends the session
  // at the next renewal, unused: the popup asks again.
  await fetch(`${org.issuer}/token/revocation`, {
    method: 'POST', body: new URLSearchParams({ token: second.refreshToken, token_type_hint: 'refresh_token', client_id: second.clientId }),
  });
  await sessionWhen(popup, org.issuer, (s) => s === undefined, second.expiresAt - 60_000);
  const text = await diagnose();
  assert.match(text, /refused the request: This backend requires sign-in/, text);
  assert.equal(await sessionOf(popup, org.issuer), undefined, 'the session is gone');
  await popup.reload();
  await popup.waitForSelector('body[data-ready]');
  await popup.getByRole('button', { name: 'Sign in to Example Corp' }).waitFor();
  await post(`${org.issuer}/test/ttl?seconds=3600`);
  await popup.close();
});

test('declining on the identity source’s page ends the sign-in with a clear message', async () => {
  const popup = await openPopup();
  await switchProfile(popup, 'Charlie');
  const opened = stack.context.waitForEvent('page', { timeout: 15_000 });
  await popup.getByRole('button', { name: 'Sign in to Charlie account' }).click();
  const verification = await opened;
  await verification.getByRole('heading', { name: 'Confirm Device' }).waitFor();
  await verification.getByRole('button', { name: '[ Abort ]' }).click();
  await popup.getByText('The sign-in to Charlie account was declined on its page. Choose Sign in to try again.').waitFor({ timeout: 20_000 });
  assert.equal(await sessionOf(popup, acct.issuer), undefined);
  await popup.getByRole('button', { name: 'Sign in to Charlie account' }).waitFor();
  await verification.close();
  await popup.close();
});

test('a code left unconfirmed expires with a clear message', async () => {
  await post(`${acct.issuer}/test/ttl?seconds=4&kind=device_code`);
  const popup = await openPopup();
  const opened = stack.context.waitForEvent('page', { timeout: 15_000 });
  await popup.getByRole('button', { name: 'Sign in to Charlie account' }).click();
  (await opened).close();
  const code = (await popup.locator('.user-code .code').innerText()).trim();
  await popup.getByText(`The code ${code} expired before it was confirmed. Choose Sign in for a new one.`).waitFor({ timeout: 20_000 });
  await popup.getByRole('button', { name: 'Sign in to Charlie account' }).waitFor();
  await post(`${acct.issuer}/test/ttl?seconds=600&kind=device_code`);
  await popup.close();
});
