// A real OpenID provider (oidc-provider from npm) on loopback, playing the
// identity sources consoledx trusts: an IAM Identity Center organization
// instance, an account instance, and a third issuer nobody trusts.
//
//   node e2e/oidc/provider.mjs [--audience URN]
//
// Prints one JSON line (issuers, client ids, the backend's introspection
// secret), then serves until killed. Each issuer has its own signing key
// (organization: RS256, account: ES256, untrusted: RS256) and issues JWT
// access tokens for the backend's audience (resource indicators), with
// introspection and revocation enabled.
//
// Test-only endpoints, answered to loopback callers only:
//   GET  /test/token?sub=&username=&groups=a,b&ttl=&exp_offset=&nbf_offset=&resource=&forge=
//        a token from the provider's own AccessToken class, signed by its own
//        key; exp_offset/nbf_offset (seconds from now) set exp/nbf through the
//        provider's JWT customizer; forge=tampered|other-key|none|hs256 turns
//        it into an attacker's copy.
//   POST /test/rotate
//        a new signing key (same algorithm) that signs from now on; the old
//        key stays published, as a provider rotating keys does.
//   POST /test/account?sub=&username=&groups=a,b
//        a user the interaction pages sign in (dev interactions: any password);
//        its username and groups go into the tokens issued to it.
//   POST /test/ttl?seconds=[&kind=device_code]
//        the lifetime of access tokens issued from now on (default 3600), so a
//        test sees a client refresh before expiry without waiting an hour; with
//        kind=device_code, of device sign-in codes (default 600).
//
// The extension's device flow (RFC 8628) works as a user sees it: the
// verification page asks to confirm the code, then the login page (any
// password), then consent; scope `openid offline_access consoledx` brings a
// refresh token and a JWT access token for the backend's audience.

import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const args = process.argv.slice(2);
const audienceFlag = args.indexOf('--audience');
const AUDIENCE = audienceFlag >= 0 ? args[audienceFlag + 1] : 'urn:consoledx:backend';
const OTHER_AUDIENCE = 'urn:example:another-api';
const EXTENSION_CLIENT = 'consoledx-extension';
const BACKEND_CLIENT = 'consoledx-backend';
const BACKEND_SECRET = crypto.randomBytes(24).toString('base64url');
const SCOPE = 'consoledx';

// Users seen through /test/token: subject -> { username, groups }.
const accounts = new Map();
// Per-token claim overrides (exp/nbf) read by the JWT customizer.
const overrides = new WeakMap();
let accessTokenTTL = 3600;
let deviceCodeTTL = 600;

function newKey(alg) {
  const { privateKey } = alg === 'ES256'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = crypto.randomBytes(8).toString('hex');
  return { alg, kid, privateKey };
}

function jwkOf(key) {
  return { ...key.privateKey.export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig' };
}

function resourceServerInfo(resource, alg) {
  if (resource !== AUDIENCE && resource !== OTHER_AUDIENCE) {
    throw new Error(`unknown resource ${resource}`);
  }
  return {
    audience: resource,
    scope: SCOPE,
    accessTokenFormat: 'jwt',
    accessTokenTTL,
    jwt: { sign: { alg } },
  };
}

function buildProvider(issuer, alg, keys) {
  const provider = new Provider(issuer, {
    jwks: { keys: keys.map(jwkOf) },
    clients: [
      {
        // The browser extension: public, PKCE (required for public clients), chrome.identity redirect or device flow.
        client_id: EXTENSION_CLIENT,
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        redirect_uris: ['https://consoledx.chromiumapp.org/'],
      },
      {
        // The backend: confidential, only introspects.
        client_id: BACKEND_CLIENT,
        client_secret: BACKEND_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    // The extension's pages call the device and token endpoints from their
    // own origin; a public client's CORS origins are otherwise its redirect URIs'.
    clientBasedCORS: (_ctx, origin, client) => client.clientId === EXTENSION_CLIENT
      && /^(chrome|moz)-extension:\/\/[a-z0-9-]+$/.test(origin),
    ttl: { DeviceCode: () => deviceCodeTTL },
    // Each issuer holds keys of one algorithm only.
    clientDefaults: { id_token_signed_response_alg: alg },
    cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
    scopes: ['openid', 'offline_access', SCOPE],
    claims: { openid: ['sub'], [SCOPE]: ['username', 'groups'] },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, ...accounts.get(sub) }),
    }),
    extraTokenClaims: async (_ctx, token) => accounts.get(token.accountId),
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => resourceServerInfo(resource, alg),
      },
    },
    formats: {
      customizers: {
        jwt: async (_ctx, token, jwt) => {
          const extra = overrides.get(token);
          const now = Math.floor(Date.now() / 1000);
          if (extra?.expOffset !== undefined) jwt.payload.exp = now + extra.expOffset;
          if (extra?.nbfOffset !== undefined) jwt.payload.nbf = now + extra.nbfOffset;
        },
      },
    },
  });
  // oidc-provider keeps no record of JWT access tokens, and its
  // introspection and revocation endpoints refuse them. Providers such as
  // IAM Identity Center answer for them: record each issued one in the
  // provider's own storage under its jti (as opaque tokens are stored), and
  // let `forwardTokenEndpoint` hand the endpoints that jti. The endpoints'
  // own code then authenticates the client, applies its policy, revokes.
  const save = provider.AccessToken.prototype.save;
  provider.AccessToken.prototype.save = async function saveAndRecord(...rest) {
    const value = await save.apply(this, rest);
    if (this.format === 'jwt') {
      const claims = decodePart(value.split('.')[1]);
      const ttl = Math.max(1, claims.exp - Math.floor(Date.now() / 1000));
      await this.adapter.upsert(claims.jti, {
        jti: claims.jti,
        kind: 'AccessToken',
        iat: claims.iat,
        exp: claims.exp,
        clientId: this.clientId,
        accountId: this.accountId,
        aud: this.aud,
        grantId: this.grantId,
        scope: this.scope,
        extra: this.extra,
      }, ttl);
    }
    return value;
  };
  return provider;
}

function base64urlJson(value) {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url'));
}

/// An attacker's variant of a genuine token.
function forge(token, kind, issuerState) {
  const [headerPart, payloadPart, signature] = token.split('.');
  const header = decodePart(headerPart);
  const payload = decodePart(payloadPart);
  switch (kind) {
    case 'tampered': {
      payload.groups = [...(payload.groups ?? []), 'administrators'];
      return `${headerPart}.${base64urlJson(payload)}.${signature}`;
    }
    case 'other-key': {
      const signingInput = `${headerPart}.${payloadPart}`;
      const forged = crypto.sign('sha256', Buffer.from(signingInput), header.alg === 'ES256'
        ? { key: issuerState.attackerKey.privateKey, dsaEncoding: 'ieee-p1363' }
        : { key: issuerState.attackerKey.privateKey, padding: crypto.constants.RSA_PKCS1_PADDING });
      return `${signingInput}.${forged.toString('base64url')}`;
    }
    case 'none': {
      return `${base64urlJson({ ...header, alg: 'none' })}.${payloadPart}.`;
    }
    case 'hs256': {
      // The classic confusion attack: the issuer's public key (PEM) as an HMAC secret.
      const signingInput = `${base64urlJson({ ...header, alg: 'HS256' })}.${payloadPart}`;
      const publicPem = crypto.createPublicKey(issuerState.keys[0].privateKey)
        .export({ type: 'spki', format: 'pem' });
      const mac = crypto.createHmac('sha256', publicPem).update(signingInput).digest('base64url');
      return `${signingInput}.${mac}`;
    }
    default:
      throw new Error(`unknown forge kind ${kind}: tampered, other-key, none or hs256`);
  }
}

function integer(params, name) {
  const text = params.get(name);
  if (text === null || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer number of seconds`);
  return value;
}

async function issueTestToken(state, params) {
  const { provider } = state;
  const sub = params.get('sub');
  if (!sub) throw new Error('sub is required');
  const groups = (params.get('groups') ?? '').split(',').filter(Boolean);
  accounts.set(sub, { username: params.get('username') ?? sub, groups });
  const resource = params.get('resource') || AUDIENCE;
  const client = await provider.Client.find(EXTENSION_CLIENT);
  const grant = new provider.Grant({ accountId: sub, clientId: EXTENSION_CLIENT });
  grant.addOIDCScope('openid');
  grant.addResourceScope(resource, SCOPE);
  const grantId = await grant.save();
  const token = new provider.AccessToken({
    accountId: sub,
    client,
    grantId,
    scope: SCOPE,
    resourceServer: new provider.ResourceServer(resource, resourceServerInfo(resource, state.alg)),
    expiresIn: integer(params, 'ttl') ?? 3600,
  });
  overrides.set(token, { expOffset: integer(params, 'exp_offset'), nbfOffset: integer(params, 'nbf_offset') });
  const value = await token.save();
  const kind = params.get('forge');
  return { access_token: kind ? forge(value, kind, state) : value, token_type: 'Bearer' };
}

/// A JWT access token sent to introspection or revocation stands for its
/// recorded jti; oidc-provider reads an already-read body from `req.body`.
async function forwardTokenEndpoint(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const form = new URLSearchParams(Buffer.concat(chunks).toString());
  const token = form.get('token') ?? '';
  const parts = token.split('.');
  if (parts.length === 3) {
    try {
      const { jti } = decodePart(parts[1]);
      if (typeof jti === 'string') form.set('token', jti);
    } catch {
      // Not a JWT: the endpoint answers for it as it is.
    }
  }
  req.body = form.toString();
}

function isLoopback(address) {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function startIssuer(alg) {
  const state = { alg, keys: [newKey(alg)], attackerKey: null, provider: null, issuer: null };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, state.issuer);
    if (url.pathname.startsWith('/test/')) {
      if (!isLoopback(req.socket.remoteAddress)) return reply(res, 403, { error: 'loopback only' });
      try {
        if (url.pathname === '/test/token' && req.method === 'GET') {
          return reply(res, 200, await issueTestToken(state, url.searchParams));
        }
        if (url.pathname === '/test/account' && req.method === 'POST') {
          const sub = url.searchParams.get('sub');
          if (!sub) throw new Error('sub is required');
          const groups = (url.searchParams.get('groups') ?? '').split(',').filter(Boolean);
          accounts.set(sub, { username: url.searchParams.get('username') ?? sub, groups });
          return reply(res, 200, { sub });
        }
        if (url.pathname === '/test/ttl' && req.method === 'POST') {
          const seconds = integer(url.searchParams, 'seconds');
          if (!(seconds > 0)) throw new Error('seconds must be a positive integer');
          if (url.searchParams.get('kind') === 'device_code') deviceCodeTTL = seconds;
          else accessTokenTTL = seconds;
          return reply(res, 200, { seconds });
        }
        if (url.pathname === '/test/rotate' && req.method === 'POST') {
          state.keys = [newKey(alg), ...state.keys];
          state.provider = buildProvider(state.issuer, alg, state.keys);
          return reply(res, 200, { kid: state.keys[0].kid });
        }
        return reply(res, 404, { error: 'no such test endpoint' });
      } catch (err) {
        return reply(res, 400, { error: String(err.message ?? err), description: err.error_description });
      }
    }
    if (req.method === 'POST' && (url.pathname === '/token/introspection' || url.pathname === '/token/revocation')) {
      await forwardTokenEndpoint(req);
    }
    return state.provider.callback()(req, res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.issuer = `http://127.0.0.1:${server.address().port}`;
  // Same kid and algorithm as the genuine key, different key material.
  state.attackerKey = { ...newKey(alg), kid: state.keys[0].kid };
  state.provider = buildProvider(state.issuer, alg, state.keys);
  return state;
}

const organization = await startIssuer('RS256');
const account = await startIssuer('ES256');
const untrusted = await startIssuer('RS256');

process.stdout.write(`${JSON.stringify({
  audience: AUDIENCE,
  other_audience: OTHER_AUDIENCE,
  extension_client_id: EXTENSION_CLIENT,
  backend_client_id: BACKEND_CLIENT,
  backend_client_secret: BACKEND_SECRET,
  issuers: {
    organization: organization.issuer,
    account: account.issuer,
    untrusted: untrusted.issuer,
  },
})}\n`);

// Whoever started us may stop reading stdout after the first line.
process.stdout.on('error', () => {});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
