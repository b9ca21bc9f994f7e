// HTTPS server answering for the console's hosts on loopback. Chromium is
// pointed at it with --host-resolver-rules, so fixture pages load at their
// real console URLs and the shipped manifest's match patterns apply.
//
//   node e2e/server.mjs [PORT]   serves until interrupted (for manual poking)
import https from 'node:https';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { PAGES, REGION, ROLE, SESSION, ACCOUNT_ID } from './pages.mjs';
import { buildFixtures, BUILD_DIR } from './build-fixtures.mjs';

const run = promisify(execFile);

export const PAGE_CSP = "script-src 'self'";
const ASSET_PREFIX = '/__e2e/';
const CONSOLE_HOST = /^([a-z0-9-]+\.)?console\.aws\.amazon\.com$/;

/** A throwaway certificate for the console hosts (trust comes from --ignore-certificate-errors). */
async function makeCertificate(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=console.aws.amazon.com',
    '-addext', 'subjectAltName=DNS:console.aws.amazon.com,DNS:*.console.aws.amazon.com',
  ]);
  return { key: await readFile(key), cert: await readFile(cert) };
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page shell: the console's identity markup and region meta around the React root. */
export function renderPage(page) {
  const who = `${ROLE}/${SESSION}`;
  const account = ACCOUNT_ID.replace(/^(\d{4})(\d{4})(\d{4})$/, '$1-$2-$3');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta id="awsc-mezz-region" name="awsc-mezz-region" content="${REGION}">
<title>${escapeHtml(page.title)}</title>
<link rel="stylesheet" href="${ASSET_PREFIX}${page.name}.css">
</head>
<body>
<header id="awsc-nav-header" style="display:flex;justify-content:flex-end;padding:4px 16px;background:#161d26">
<button id="nav-usernameMenu" type="button" data-testid="more-menu__awsc-nav-account-menu-button" aria-label="${escapeHtml(who)}" style="background:none;border:0;color:#fff">
<span title="${escapeHtml(`${who} @ ${account}`)}">${escapeHtml(who)}</span>
</button>
</header>
<div id="app"></div>
<script src="${ASSET_PREFIX}${page.name}.js"></script>
</body>
</html>
`;
}

function userInfoCookie() {
  const info = {
    arn: `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${ROLE}/${SESSION}`,
    alias: '',
    username: `assumed-role/${ROLE}/${SESSION}`,
    keybase: '',
    issuer: 'https://signin.aws.amazon.com',
    signinType: 'PUBLIC',
  };
  return `aws-userInfo=${encodeURIComponent(JSON.stringify(info))}; Domain=.amazon.com; Path=/; Secure`;
}

export function findPage(host, url) {
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  if (!CONSOLE_HOST.test(hostname)) return null;
  const variant = url.searchParams.get('e2e');
  return PAGES.find((p) => p.hosts.includes(hostname) && p.path === url.pathname.replace(/\/$/, '') && p.variant === variant) ?? null;
}

const CONTENT_TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.woff2': 'font/woff2', '.woff': 'font/woff', '.png': 'image/png', '.svg': 'image/svg+xml' };

async function serveAsset(res, pathname) {
  const relative = pathname.slice(ASSET_PREFIX.length);
  const resolved = path.resolve(BUILD_DIR, relative);
  if (!resolved.startsWith(BUILD_DIR + path.sep)) return notFound(res);
  try {
    const body = await readFile(resolved);
    res.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(resolved)] ?? 'application/octet-stream', 'cache-control': 'max-age=300' });
    res.end(body);
  } catch {
    notFound(res);
  }
}

function notFound(res) {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}

/**
 * Starts the fixture server on 127.0.0.1 (port 0 picks a free one).
 * Returns { port, requests, close() }; `requests` logs "HOST PATH STATUS".
 */
export async function startFixtureServer({ port = 0 } = {}) {
  await buildFixtures();
  const certDir = await mkdtemp(path.join(tmpdir(), 'consoledx-e2e-cert-'));
  const credentials = await makeCertificate(certDir);
  await rm(certDir, { recursive: true, force: true });
  const requests = [];
  const server = https.createServer(credentials, async (req, res) => {
    res.on('finish', () => requests.push(`${req.headers.host} ${req.url} ${res.statusCode}`));
    try {
      const url = new URL(req.url, 'https://placeholder');
      const hostname = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (req.method !== 'GET' && req.method !== 'HEAD') return notFound(res);
      if (url.pathname === '/favicon.ico') return res.writeHead(204).end();
      if (url.pathname.startsWith(ASSET_PREFIX) && CONSOLE_HOST.test(hostname)) return await serveAsset(res, url.pathname);
      const page = findPage(req.headers.host, url);
      if (!page) return notFound(res);
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': PAGE_CSP,
        'cache-control': 'no-store',
        'set-cookie': userInfoCookie(),
      });
      res.end(req.method === 'HEAD' ? undefined : renderPage(page));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const server = await startFixtureServer({ port: Number(process.argv[2] ?? 0) });
  console.log(`fixture server on https://127.0.0.1:${server.port} (use --host-resolver-rules="MAP *.console.aws.amazon.com 127.0.0.1:${server.port}")`);
}
