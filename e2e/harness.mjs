// Test harness for the browser end-to-end tests: a moto server seeded with
// the account state, the consoledx backend, the HTTPS fixture server and
// Chromium with the unpacked extension, all torn down with the process.
//
// Run from /work/main:  node --test --test-concurrency=1 e2e/tests/
//
// Environment it honours:
//   CONSOLEDX_EXTENSION  unpacked extension directory (default /work/main/extension);
//                        must hold manifest.json and a built pkg/ (`cargo xtask build`)
//   CONSOLEDX_BIN        backend binary (default /work/main/target/debug/consoledx)
//   MOTO_SERVER          moto_server executable (default /work/main/.venv/bin/moto_server,
//                        else moto_server on PATH)
//   E2E_PYTHON           python with boto3 for seed_moto.py (default /work/main/.venv/bin/python,
//                        else python3)
//   CHROMIUM             browser executable (default /usr/bin/chromium)
//   E2E_HEADFUL=1        show the browser window (needs a display)
//   E2E_DEBUG=1          echo child-process output and browser console messages
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startFixtureServer } from './server.mjs';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Serious and critical axe-core violations on an extension page (its CSP allows evaluate). */
export async function axeViolations(page) {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => ['serious', 'critical'].includes(v.impact))
      .map((v) => `${v.id}: ${v.nodes.map((n) => n.html.slice(0, 100)).join(' | ')}`);
  });
}

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = path.dirname(E2E_DIR);
const DEBUG = process.env.E2E_DEBUG === '1';

export const EXTENSION_DIR = path.resolve(process.env.CONSOLEDX_EXTENSION ?? path.join(REPO_DIR, 'extension'));
export const BACKEND_BIN = path.resolve(process.env.CONSOLEDX_BIN ?? path.join(REPO_DIR, 'target/debug/consoledx'));
const VENV_BIN = path.join(REPO_DIR, '.venv/bin');

function firstExisting(candidates, fallback) {
  return candidates.find((c) => c && existsSync(c)) ?? fallback;
}

export const MOTO_SERVER = process.env.MOTO_SERVER ?? firstExisting([path.join(VENV_BIN, 'moto_server')], 'moto_server');
export const PYTHON = process.env.E2E_PYTHON ?? firstExisting([path.join(VENV_BIN, 'python')], 'python3');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

// ---------------------------------------------------------------- processes

const children = new Set();

function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Each child leads its own process group (detached), so wrappers such as
    // pyenv shims take their grandchildren with them.
    process.kill(-child.pid, signal);
  } catch {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}

process.on('exit', () => { for (const child of children) killGroup(child, 'SIGKILL'); });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { for (const child of children) killGroup(child, 'SIGKILL'); process.exit(130); });
}

/**
 * Spawns a long-running child and resolves once `ready(line)` accepts a line
 * of its output. Rejects with the output so far if it exits or times out.
 */
function spawnService(label, command, args, { env, ready, timeoutMs = 30_000 }) {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(command, args, { env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      reject(new Error(`${label}: cannot start ${command}: ${error.message}`));
      return;
    }
    children.add(child);
    const output = [];
    let settled = false;
    const finish = (error, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) { killGroup(child, 'SIGKILL'); reject(error); } else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`${label} not ready after ${timeoutMs} ms; output:\n${output.join('\n')}`)), timeoutMs);
    const onData = (chunk) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        output.push(line);
        if (output.length > 200) output.shift();
        if (DEBUG) console.error(`[${label}] ${line}`);
        const value = settled ? undefined : ready(line);
        if (value) finish(null, { child, value, output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (error) => finish(new Error(`${label}: cannot start ${command}: ${error.message}`)));
    child.once('exit', (code, signal) => {
      children.delete(child);
      finish(new Error(`${label} exited (${signal ?? code}) before it was ready; output:\n${output.join('\n')}`));
    });
  });
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

/** A currently free loopback port (for services that must be started later on a known port). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function runToCompletion(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr += c; });
    child.once('error', (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
    child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${stderr}${stdout}`))));
  });
}

// ---------------------------------------------------------------- moto

/** Starts moto_server on a free port; resolves to { endpoint, port, stop() }. */
export async function startMoto() {
  const port = await freePort();
  const { child } = await spawnService('moto', MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    ready: (line) => /Running on|Serving Flask|Press CTRL\+C/i.test(line),
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await waitForHttp(`${endpoint}/moto-api/`, 15_000);
  return { endpoint, port, stop: () => stopChild(child) };
}

/** Creates the bucket and the ReadOnly role (see seed_moto.py); returns what it printed. */
export async function seedMoto(endpoint) {
  const stdout = await runToCompletion(PYTHON, [path.join(E2E_DIR, 'seed_moto.py'), endpoint]);
  return JSON.parse(stdout.trim().split('\n').pop());
}

async function waitForHttp(url, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${lastError?.message}`);
}

// ---------------------------------------------------------------- backend

/**
 * Starts `consoledx serve` against the moto endpoint; resolves to
 * { url, port, dataDir, output, stop() } once it prints its ready line.
 */
export async function startBackend({ motoEndpoint, port = 0, dataDir, args: extraArgs = [], env: extraEnv = {} } = {}) {
  if (!existsSync(BACKEND_BIN)) {
    throw new Error(`backend binary ${BACKEND_BIN} is missing: build it (cargo build -p consoledx-backend) or set CONSOLEDX_BIN`);
  }
  const ownDataDir = !dataDir;
  const dir = dataDir ?? (await mkdtemp(path.join(tmpdir(), 'consoledx-e2e-data-')));
  const env = {
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-west-2',
    ...(motoEndpoint ? { AWS_ENDPOINT_URL: motoEndpoint } : {}),
    ...extraEnv,
  };
  const { child, value: url, output } = await spawnService(
    `backend ${BACKEND_BIN}`,
    BACKEND_BIN,
    ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dir, ...extraArgs],
    { env, ready: (line) => line.match(/consoledx listening on (http:\/\/\S+)/)?.[1] },
  );
  return {
    url: url.replace(/\/$/, ''),
    port: Number(new URL(url).port),
    dataDir: dir,
    output,
    stop: async () => {
      await stopChild(child);
      if (ownDataDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts the OpenID provider fixture (e2e/oidc/provider.mjs); resolves to what
 * it prints (issuers, client ids, the introspection secret) and stop().
 */
export async function startOidcProvider() {
  const { child, value } = await spawnService('oidc provider', process.execPath, [path.join(E2E_DIR, 'oidc/provider.mjs')], {
    timeoutMs: 60_000, // RSA keys for three issuers: slow on a busy machine
    ready: (line) => {
      if (!line.startsWith('{')) return undefined;
      try { return JSON.parse(line); } catch { return undefined; }
    },
  });
  return { ...value, stop: () => stopChild(child) };
}

/** GET a backend path and parse the JSON answer (throws with the body on non-2xx). */
export async function backendJson(backendUrl, pathname) {
  const res = await fetch(`${backendUrl}${pathname}`);
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${pathname} -> ${res.status}: ${text}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------- browser

/** Fails loudly unless the extension directory holds a built extension. */
export function assertExtensionBuilt(dir = EXTENSION_DIR) {
  const hint = 'run `cargo xtask build` first';
  if (!existsSync(path.join(dir, 'manifest.json'))) throw new Error(`no manifest.json in ${dir}: ${hint}`);
  const pkg = path.join(dir, 'pkg');
  const built = existsSync(pkg) && readdirSync(pkg).some((f) => f.endsWith('.wasm'));
  if (!built) throw new Error(`no built wasm in ${pkg}: ${hint}`);
  return JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
}

export function browserArgs({ fixturePort, extensionDir }) {
  const rules = [
    `MAP *.console.aws.amazon.com 127.0.0.1:${fixturePort}`,
    `MAP console.aws.amazon.com 127.0.0.1:${fixturePort}`,
    // The backend is addressed by IP literal; keep loopback out of the catch-all.
    'EXCLUDE 127.0.0.1',
    'EXCLUDE localhost',
    'MAP * ~NOTFOUND',
  ].join(', ');
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--host-resolver-rules=${rules}`,
    '--ignore-certificate-errors',
  ];
  if (process.env.E2E_HEADFUL !== '1') args.unshift('--headless=new');
  if (extensionDir) args.push(`--disable-extensions-except=${extensionDir}`, `--load-extension=${extensionDir}`);
  return args;
}

/**
 * Launches Chromium with the unpacked extension (unless `extension: false`).
 * Resolves to { context, extensionId, serviceWorker, userDataDir, close() }.
 */
export async function launchBrowser({ fixturePort, extension = true, extensionDir = EXTENSION_DIR } = {}) {
  if (extension) assertExtensionBuilt(extensionDir);
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'consoledx-e2e-profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: false, // --headless=new comes from browserArgs
    args: browserArgs({ fixturePort, extensionDir: extension ? extensionDir : null }),
    ignoreDefaultArgs: ['--disable-extensions'],
    viewport: { width: 1280, height: 900 },
  });
  // Bounded waits everywhere keep a broken build from stalling the run.
  context.setDefaultTimeout(15_000);
  const close = async () => {
    await context.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true });
  };
  if (DEBUG) context.on('page', (p) => p.on('console', (m) => console.error(`[page ${m.type()}] ${m.text()}`)));
  if (!extension) return { context, extensionId: null, serviceWorker: null, userDataDir, close };
  try {
    const serviceWorker = await extensionServiceWorker(context);
    const extensionId = new URL(serviceWorker.url()).host;
    if (DEBUG) serviceWorker.on('console', (m) => console.error(`[sw ${m.type()}] ${m.text()}`));
    return { context, extensionId, serviceWorker, userDataDir, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function extensionServiceWorker(context, timeoutMs = 15_000) {
  const isExtension = (w) => w.url().startsWith('chrome-extension://');
  const existing = context.serviceWorkers().find(isExtension);
  if (existing) return existing;
  try {
    return await context.waitForEvent('serviceworker', { predicate: isExtension, timeout: timeoutMs });
  } catch {
    throw new Error(`the extension's service worker did not start within ${timeoutMs} ms (check chrome://extensions errors; manifest background.service_worker)`);
  }
}

/** Sets the backend URL through the options page UI and checks it was stored. */
export async function setBackendUrl(context, extensionId, backendUrl) {
  const page = await context.newPage();
  try {
    const optionsUrl = `chrome-extension://${extensionId}/options.html`;
    await page.goto(optionsUrl);
    await page.waitForSelector('body[data-ready]');
    const input = page.getByLabel('Backend URL');
    await input.fill(backendUrl);
    await page.getByRole('button', { name: 'Save' }).click();
    // The saved value must survive a reload of the options page.
    const deadline = Date.now() + 5000;
    for (;;) {
      await page.reload();
      await page.waitForSelector('body[data-ready]');
      const value = await page.getByLabel('Backend URL').inputValue();
      if (value === backendUrl) break;
      if (Date.now() > deadline) throw new Error(`options page shows "${value}" after saving "${backendUrl}"`);
      await page.waitForTimeout(100);
    }
  } finally {
    await page.close();
  }
}

// ---------------------------------------------------------------- the whole stack

/**
 * Everything a browser test needs. `backend: false` leaves the backend down
 * (its would-be URL is still configured, on a reserved free port);
 * call `startBackendLater()` to bring it up there.
 */
export async function startStack({ backend = true, extension = true } = {}) {
  const stops = [];
  const stack = {};
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((e) => console.error(`teardown: ${e.message}`));
    stops.length = 0;
  };
  try {
    if (extension) assertExtensionBuilt();
    const fixtures = await startFixtureServer();
    stops.push(fixtures.close);
    stack.fixtures = fixtures;

    const moto = await startMoto();
    stops.push(moto.stop);
    stack.moto = moto;
    stack.seed = await seedMoto(moto.endpoint);

    const backendPort = await freePort();
    stack.backendUrl = `http://127.0.0.1:${backendPort}`;
    stack.startBackendLater = async () => {
      const server = await startBackend({ motoEndpoint: moto.endpoint, port: backendPort });
      stops.push(server.stop);
      stack.backend = server;
      return server;
    };
    if (backend) await stack.startBackendLater();

    const browser = await launchBrowser({ fixturePort: fixtures.port, extension });
    stops.push(browser.close);
    Object.assign(stack, browser);
    if (extension) await setBackendUrl(browser.context, browser.extensionId, stack.backendUrl);
  } catch (error) {
    await stopAll();
    throw error;
  }
  stack.stop = stopAll;
  return stack;
}

/**
 * Stops the extension's service worker through CDP (from an extension page,
 * whose ServiceWorker domain sees the extension's worker) and waits until
 * it is stopped, so the next message has to start it and instantiate the wasm.
 */
export async function serviceWorkerStopper(context, extensionId) {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${extensionId}/options.html`);
  const cdp = await context.newCDPSession(page);
  const status = new Map();
  const waiters = [];
  cdp.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
    for (const v of versions) if (v.scriptURL.startsWith(`chrome-extension://${extensionId}/`)) status.set(v.versionId, v.runningStatus);
    for (const w of waiters.splice(0)) w();
  });
  await cdp.send('ServiceWorker.enable');
  const changed = () => new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, 500); });
  return async function stop() {
    const deadline = Date.now() + 5000;
    for (const [versionId, running] of status) if (running !== 'stopped') await cdp.send('ServiceWorker.stopWorker', { versionId });
    while ([...status.values()].some((s) => s !== 'stopped')) {
      if (Date.now() > deadline) throw new Error(`service worker did not stop: ${JSON.stringify([...status])}`);
      await changed();
    }
  };
}

// ---------------------------------------------------------------- page helpers

/** Opens a console URL in a new tab and waits for the fixture's first render. */
export async function openConsolePage(context, url) {
  const page = await context.newPage();
  const response = await page.goto(url);
  if (!response || response.status() !== 200) throw new Error(`${url} answered ${response?.status()}`);
  await page.waitForSelector('body[data-fixture-ready]');
  return { page, response };
}

/** The Diagnose button inside a banner (playwright locators pierce open shadow roots). */
export function diagnoseButton(scope) {
  return scope.locator('consoledx-diagnose').getByRole('button', { name: 'Diagnose', exact: true });
}

export function diagnosisRegion(scope) {
  return scope.getByRole('region', { name: 'Diagnosis' });
}

/** Waits until the panel's data-state is one of `states`; returns it. */
export async function waitForPanelState(region, states, timeoutMs = 15_000) {
  const wanted = Array.isArray(states) ? states : [states];
  const deadline = Date.now() + timeoutMs;
  let state;
  while (Date.now() < deadline) {
    state = await region.getAttribute('data-state', { timeout: 1000 }).catch(() => null);
    if (wanted.includes(state)) return state;
    if (state === 'error') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const text = await region.innerText({ timeout: 1000 }).catch(() => '(no panel)');
  const why = state === 'error' ? 'went to "error"' : `was "${state}" after ${timeoutMs} ms`;
  throw new Error(`panel ${why}, wanted ${wanted.join('|')}; panel text:\n${text}`);
}
