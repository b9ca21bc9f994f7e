// Signing in to an identity source from the popup and the options page, with
// the OAuth 2.0 device authorization grant (RFC 8628): the issuer's discovery
// document names the endpoints, the user confirms a short code on the
// issuer's own page, and this page polls for the tokens. Tokens go to session
// storage only (tokens.js). An unfinished sign-in is kept there too, so a
// popup that closed when the verification page took focus resumes it.
import { clearSession, readSession, saveSession, sessionFrom } from './tokens.js';

const api = globalThis.browser ?? globalThis.chrome;
// `consoledx` is the scope an identity source grants for the backend's audience;
// offline_access brings the refresh token that keeps the sign-in alive.
const SCOPE = 'openid offline_access consoledx';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const pendingKey = (issuer) => `pending ${issuer.replace(/\/+$/, '')}`;

// Older versions kept a token in sync storage; it belongs in session storage only.
api.storage.sync.remove('accessToken');

const trimSlash = (url) => url.replace(/\/+$/, '');
const isWebUrl = (value) => typeof value === 'string' && /^https?:\/\//.test(value);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The issuers (of `sources`) with a session that is live or can be renewed. */
export async function signedInIssuers(sources) {
  const live = [];
  for (const source of sources) {
    const session = await readSession(source.issuer);
    if (session && (session.expiresAt > Date.now() || session.refreshToken)) live.push(source.issuer);
  }
  return live;
}

// Loopback is in the manifest; another issuer's host is asked for on the
// click that starts the sign-in (permission requests need the user's gesture).
async function permit(issuer) {
  const { hostname, origin } = new URL(issuer);
  if (hostname === '127.0.0.1' || hostname === 'localhost') return;
  if (!(await api.permissions.request({ origins: [`${origin}/*`] }))) {
    throw new Error(`Permission to contact ${origin} was not granted, so consoledx cannot sign you in there.`);
  }
}

async function json(url, init, what) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new Error(`${what} could not be reached (${error.message ?? error}).`);
  }
  const body = await response.json().catch(() => null);
  return { response, body: body && typeof body === 'object' ? body : {} };
}

async function discover(source) {
  const what = `The identity source ${source.name}`;
  const { response, body } = await json(`${trimSlash(source.issuer)}/.well-known/openid-configuration`, {}, what);
  if (!response.ok) throw new Error(`${what} has no discovery document (HTTP ${response.status} for /.well-known/openid-configuration).`);
  // OpenID Connect Discovery: a document for another issuer is not this one's.
  if (typeof body.issuer !== 'string' || trimSlash(body.issuer) !== trimSlash(source.issuer)) {
    throw new Error(`${what} answered with the discovery document of another issuer (${String(body.issuer).slice(0, 100)}).`);
  }
  if (!isWebUrl(body.device_authorization_endpoint) || !isWebUrl(body.token_endpoint)) {
    throw new Error(`${what} does not offer device sign-in (its discovery document names no device_authorization_endpoint).`);
  }
  return body;
}

/** Starts a sign-in: a code for the user to confirm, kept until it expires. */
export async function startSignIn(source) {
  await permit(source.issuer);
  const config = await discover(source);
  const { response, body } = await json(config.device_authorization_endpoint, {
    method: 'POST',
    body: new URLSearchParams({ client_id: source.clientId, scope: SCOPE }),
  }, `The identity source ${source.name}`);
  if (!response.ok || typeof body.device_code !== 'string' || typeof body.user_code !== 'string' || !isWebUrl(body.verification_uri)) {
    throw new Error(`${source.name} refused to start a sign-in: ${body.error_description ?? body.error ?? `HTTP ${response.status}`}.`);
  }
  const pending = {
    deviceCode: body.device_code,
    userCode: body.user_code.slice(0, 64),
    verificationUri: body.verification_uri,
    verificationUriComplete: isWebUrl(body.verification_uri_complete) ? body.verification_uri_complete : body.verification_uri,
    // RFC 8628 §3.2: 5 seconds when the issuer names no interval.
    interval: Math.max(1, Number(body.interval) || 5),
    expiresAt: Date.now() + (Number(body.expires_in) || 600) * 1000,
    tokenEndpoint: config.token_endpoint,
    clientId: source.clientId,
  };
  await api.storage.session.set({ [pendingKey(source.issuer)]: pending });
  return pending;
}

export async function pendingSignIn(source) {
  const pending = (await api.storage.session.get(pendingKey(source.issuer)))[pendingKey(source.issuer)];
  return pending && pending.expiresAt > Date.now() ? pending : undefined;
}

const forget = (source) => api.storage.session.remove(pendingKey(source.issuer));

/**
 * Polls the token endpoint until the user confirms, declines, or the code
 * expires; resolves once the session is stored, rejects with a sentence for
 * the user. `stillWanted()` false stops quietly (the page moved on).
 */
export async function finishSignIn(source, pending, stillWanted = () => true) {
  let interval = pending.interval;
  for (;;) {
    if (Date.now() >= pending.expiresAt) {
      await forget(source);
      throw new Error(`The code ${pending.userCode} expired before it was confirmed. Choose Sign in for a new one.`);
    }
    await sleep(interval * 1000);
    if (!stillWanted()) return false;
    // Another page (the options page, a reopened popup) may have finished it.
    if (!(await pendingSignIn(source)) && (await readSession(source.issuer))) return true;
    let answer;
    try {
      answer = await json(pending.tokenEndpoint, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: pending.deviceCode, client_id: pending.clientId }),
      }, source.name);
    } catch {
      continue; // the issuer is unreachable for now: the code's expiry bounds the wait
    }
    const { response, body } = answer;
    if (response.ok && typeof body.access_token === 'string') {
      await saveSession(source.issuer, sessionFrom(body, pending));
      await forget(source);
      return true;
    }
    switch (body.error) {
      case 'authorization_pending':
        continue;
      case 'slow_down':
        interval += 5; // RFC 8628 §3.5
        continue;
      case 'access_denied':
        await forget(source);
        throw new Error(`The sign-in to ${source.name} was declined on its page. Choose Sign in to try again.`);
      case 'expired_token':
        await forget(source);
        throw new Error(`The code ${pending.userCode} expired before it was confirmed. Choose Sign in for a new one.`);
      default:
        await forget(source);
        throw new Error(`${source.name} refused the sign-in: ${String(body.error_description ?? body.error ?? `HTTP ${response.status}`).slice(0, 200)}.`);
    }
  }
}

// The backend's refusals (auth.rs) that a new sign-in mends; the others
// (an untrusted issuer, another audience, a wrong clock) it would not.
const SIGN_IN_AGAIN = new Set(['token_expired', 'token_revoked', 'bad_signature', 'malformed_token']);

/**
 * Whether `backendUrl` still accepts the session's token: only the backend
 * hears of a revocation (the identity source's or an administrator's), and a
 * session kept in storage would otherwise read "Signed in" until sign-out.
 * Resolves to the backend's own sentence when it refuses the token, with
 * `ended` when the session was dropped for it; undefined when it accepts
 * the token, cannot be reached, or runs without sign-in (those say nothing
 * of the token).
 */
export async function backendRefusal(source, backendUrl) {
  if (!isWebUrl(backendUrl)) return undefined;
  // The stored token as it is: renewing here could race the service
  // worker's renewal, and a rotated refresh token used twice ends the grant.
  // One about to expire says nothing yet; the next request renews it.
  const session = await readSession(source.issuer);
  if (!session || session.expiresAt - Date.now() < 10_000) return undefined;
  const token = session.accessToken;
  let answer;
  try {
    answer = await json(`${trimSlash(backendUrl)}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } }, 'The backend');
  } catch {
    return undefined;
  }
  const { response, body } = answer;
  if (response.status !== 401) return undefined;
  const ended = SIGN_IN_AGAIN.has(body.error);
  if (ended) await clearSession(source.issuer);
  return { ended, message: String(body.message ?? 'It answered HTTP 401.').slice(0, 300) };
}

/** Ends the session here; the issuer is told too when it can revoke (best effort). */
export async function signOut(source) {
  const session = await readSession(source.issuer);
  await clearSession(source.issuer);
  await forget(source);
  if (!session?.refreshToken) return;
  try {
    const config = await discover(source);
    if (isWebUrl(config.revocation_endpoint)) {
      await fetch(config.revocation_endpoint, {
        method: 'POST',
        body: new URLSearchParams({ token: session.refreshToken, token_type_hint: 'refresh_token', client_id: session.clientId }),
      });
    }
  } catch {
    // Signed out here either way; the refresh token dies with its grant's lifetime.
  }
}

/**
 * The sign-in controls for one identity source, rendered into `container`:
 * its state, the code to confirm while signing in, Sign in / Sign out.
 * `onChange` runs after the session starts or ends. With `backendUrl`, a
 * session is shown as signed in only once that backend accepts its token.
 */
export function signInControls(container, source, onChange = () => {}, { backendUrl } = {}) {
  let generation = 0;
  const status = document.createElement('p');
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  const code = document.createElement('p');
  code.className = 'user-code';
  const row = document.createElement('div');
  row.className = 'row';
  const button = document.createElement('button');
  button.type = 'button';
  row.append(button);
  container.replaceChildren(status, code, row);

  const say = (text, isError = false) => {
    status.textContent = text;
    status.className = isError ? 'error' : '';
  };

  async function show(message, isError) {
    const mine = ++generation;
    code.replaceChildren();
    let live = (await signedInIssuers([source])).length > 0;
    if (live && backendUrl && message === undefined) {
      const refusal = await backendRefusal(source, backendUrl);
      if (refusal) {
        live = !refusal.ended;
        message = refusal.ended
          ? `The consoledx backend refused your sign-in to ${source.name}: ${refusal.message}`
          : `Signed in to ${source.name}, but the consoledx backend refused the token: ${refusal.message}`;
        isError = true;
      }
    }
    if (mine !== generation) return;
    const pending = live ? undefined : await pendingSignIn(source);
    container.dataset.signin = live ? 'signed-in' : pending ? 'pending' : 'signed-out';
    button.hidden = false;
    if (pending) {
      wait(pending, mine);
      return;
    }
    say(message ?? (live ? `Signed in to ${source.name}.` : `Not signed in to ${source.name}.`), isError);
    button.textContent = live ? `Sign out of ${source.name}` : `Sign in to ${source.name}`;
    button.onclick = live ? () => signOut(source).then(() => { onChange(); show(`Signed out of ${source.name}.`); }) : begin;
  }

  function wait(pending, mine) {
    container.dataset.signin = 'pending';
    say(`Confirm this code on ${source.name}'s page, then come back: consoledx is waiting.`);
    const link = document.createElement('a');
    link.href = pending.verificationUriComplete;
    link.target = '_blank';
    link.rel = 'noreferrer';
    link.textContent = 'Open the sign-in page again';
    const strong = document.createElement('strong');
    strong.className = 'code';
    strong.textContent = pending.userCode;
    code.replaceChildren('Code: ', strong, ' · ', link);
    button.textContent = 'Cancel sign-in';
    button.onclick = () => forget(source).then(() => show('Sign-in cancelled.'));
    // Stops when the page shows another state or drops these controls.
    finishSignIn(source, pending, () => mine === generation && status.isConnected).then(
      (done) => { if (done) { onChange(); show(`Signed in to ${source.name}.`); } },
      (error) => { if (mine === generation) show(error.message, true); },
    );
  }

  async function begin() {
    const mine = ++generation;
    button.hidden = true;
    say(`Asking ${source.name} for a sign-in code…`);
    try {
      const pending = await startSignIn(source);
      if (mine !== generation) return;
      wait(pending, mine);
      // The issuer's own page, with the code filled in: the user checks it matches.
      await api.tabs.create({ url: pending.verificationUriComplete });
    } catch (error) {
      if (mine === generation) show(error.message ?? String(error), true);
    }
  }

  show();
  return { refresh: show };
}
