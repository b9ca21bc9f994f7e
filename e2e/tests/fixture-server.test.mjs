// The fixture server on its own (no browser, no extension): routing by host
// and path, the CSP header, the console markup the extension reads, assets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { PAGE_CSP, startFixtureServer } from '../server.mjs';
import { PAGES, pageUrl } from '../pages.mjs';

let server;
before(async () => { server = await startFixtureServer(); });
after(async () => { await server?.close(); });

/** GET a console URL from the loopback server, as Chromium does after host mapping. */
function get(url) {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = https.get({
      host: '127.0.0.1', port: server.port, path: target.pathname + target.search,
      headers: { host: target.host }, servername: target.hostname, rejectUnauthorized: false,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

const ROUTES = [
  ...PAGES.flatMap((p) => p.hosts.map((host) => ({ url: pageUrl(p.name, { host }), status: 200, page: p.name }))),
  { url: 'https://s3.console.aws.amazon.com/s3/buckets/other-bucket?region=us-west-2', status: 404 },
  { url: 'https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?e2e=nope', status: 404 },
  { url: 'https://example.com/s3/buckets/my-bucket-123456', status: 404 },
  { url: 'https://s3.console.aws.amazon.com.evil.test/s3/buckets/my-bucket-123456', status: 404 },
  { url: 'https://s3.console.aws.amazon.com/__e2e/../harness.mjs', status: 404 },
  { url: 'https://s3.console.aws.amazon.com/__e2e/missing.js', status: 404 },
];

for (const route of ROUTES) {
  test(`${route.url} -> ${route.status}${route.page ? ` ${route.page}` : ''}`, async () => {
    const res = await get(route.url);
    assert.equal(res.status, route.status);
    if (route.status !== 200) return;
    assert.equal(res.headers['content-security-policy'], PAGE_CSP);
    assert.match(res.body, new RegExp(`<script src="/__e2e/${route.page}\\.js"></script>`));
    assert.doesNotMatch(res.body, /<script>|<script [^>]*>[^<]/, 'no inline script');
    assert.match(res.body, /<meta id="awsc-mezz-region" name="awsc-mezz-region" content="us-west-2">/);
    assert.match(res.body, /<button id="nav-usernameMenu" type="button" data-testid="more-menu__awsc-nav-account-menu-button" aria-label="ReadOnly\/alice"/);
    assert.match(res.body, /<span title="ReadOnly\/alice @ 1234-5678-9012">/);
    assert.match(String(res.headers['set-cookie']), /^aws-userInfo=%7B%22arn%22%3A%22arn%3Aaws%3Asts%3A%3A123456789012%3Aassumed-role%2FReadOnly%2Falice%22/);
  });
}

test('each page bundle and stylesheet is served', async () => {
  for (const page of PAGES) {
    for (const [ext, type] of [['js', /javascript/], ['css', /text\/css/]]) {
      const res = await get(`https://s3.console.aws.amazon.com/__e2e/${page.name}.${ext}`);
      assert.equal(res.status, 200, `${page.name}.${ext}`);
      assert.match(res.headers['content-type'], type);
      assert.ok(res.body.length > 10_000, `${page.name}.${ext} is a real bundle`);
    }
  }
});
