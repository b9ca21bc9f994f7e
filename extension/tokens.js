// Sign-in sessions per identity source, keyed by issuer, in storage.session
// only (memory, gone with the browser, unreadable by content scripts). Loaded
// by the service worker: kept small for the payload budget.
const api = globalThis.browser ?? globalThis.chrome;
const store = api.storage.session;
const key = (issuer) => `session ${issuer.replace(/\/+$/, '')}`;

// A session is renewed a minute before it expires (the service worker's
// alarm calls accessToken), so one left idle is still live when next used.
const alarm = (issuer) => `renew ${issuer.replace(/\/+$/, '')}`;

export const readSession = async (issuer) => (await store.get(key(issuer)))[key(issuer)];
export async function saveSession(issuer, session) {
  await store.set({ [key(issuer)]: session });
  if (session.refreshToken) api.alarms.create(alarm(issuer), { when: session.expiresAt - 60_000 });
}
export async function clearSession(issuer) {
  await store.remove(key(issuer));
  await api.alarms.clear(alarm(issuer));
}
/** The issuer an alarm of saveSession's renews, else undefined. */
export const renewalIssuer = (name) => name.startsWith('renew ') ? name.slice(6) : undefined;

export const sessionFrom = (tokens, { tokenEndpoint, clientId, refreshToken }) => ({
  accessToken: tokens.access_token,
  refreshToken: tokens.refresh_token ?? refreshToken,
  expiresAt: Date.now() + (tokens.expires_in || 300) * 1000,
  tokenEndpoint,
  clientId,
});

const renewing = new Map();

/** The issuer's access token, renewed when under a minute remains (it must outlive the request). */
export async function accessToken(issuer) {
  const session = await readSession(issuer);
  if (!session || session.expiresAt - Date.now() > 60_000) return session?.accessToken;
  // One refresh at a time: a rotated refresh token used twice revokes the grant.
  if (!renewing.has(issuer)) renewing.set(issuer, renew(issuer, session).finally(() => renewing.delete(issuer)));
  return (await renewing.get(issuer))?.accessToken;
}

async function renew(issuer, session) {
  let tokens;
  try {
    const response = await fetch(session.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: session.refreshToken, client_id: session.clientId }),
    });
    tokens = response.ok && await response.json();
  } catch {
    // Unreachable: the token serves while it lasts.
    return session.expiresAt > Date.now() && session;
  }
  // Refused: signed out, and the popup asks again.
  if (!tokens?.access_token) return clearSession(issuer);
  session = sessionFrom(tokens, session);
  await saveSession(issuer, session);
  return session;
}
