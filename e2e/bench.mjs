// Measures the extension in Chromium (not a test; prints figures):
//   - cold: first Diagnose click after browser launch -> analysis visible
//   - warm: N more clicks (fresh page each, service worker already running)
//   - stopped: 5 clicks right after the service worker was stopped (CDP)
//   - gzip size of extension/pkg/*.wasm and *.js (the payload budget)
//
//   node e2e/bench.mjs [--clicks 20]     (from /work/main; honours harness.mjs env vars)
//
// Times are taken inside the page (performance.now() from the click to the
// panel's data-state="analysis" being rendered), so Playwright's round trips
// are not counted.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { EXTENSION_DIR, assertExtensionBuilt, openConsolePage, startStack } from './harness.mjs';
import { SEED1_URL } from './pages.mjs';

const clicksArg = process.argv.indexOf('--clicks');
const CLICKS = clicksArg > 0 ? Number(process.argv[clicksArg + 1]) : 20;
const STOPPED_RUNS = 5;

/** Clicks Diagnose on the error flash and resolves to ms until the analysis shows. */
async function timeDiagnose(page) {
  const host = page.locator('[data-analytics-flashbar="error"] consoledx-diagnose');
  await host.waitFor({ state: 'attached', timeout: 10_000 });
  await host.getByRole('button', { name: 'Diagnose', exact: true }).waitFor({ state: 'visible' });
  return host.evaluate(
    (element) =>
      new Promise((resolve, reject) => {
        const root = element.shadowRoot;
        const button = [...root.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Diagnose');
        const timeout = setTimeout(() => reject(new Error(`no analysis after 20 s: ${root.textContent}`)), 20_000);
        const check = () => {
          const region = root.querySelector('section[aria-label="Diagnosis"]');
          const state = region?.getAttribute('data-state');
          if (state === 'analysis' && region.textContent.trim()) {
            const elapsed = performance.now() - started;
            observer.disconnect();
            clearTimeout(timeout);
            // Count the frame that paints it.
            requestAnimationFrame(() => resolve(elapsed));
          } else if (state === 'error') {
            observer.disconnect();
            clearTimeout(timeout);
            reject(new Error(`panel error: ${region.textContent}`));
          }
        };
        const observer = new MutationObserver(check);
        observer.observe(root, { subtree: true, childList: true, attributes: true, characterData: true });
        const started = performance.now();
        button.click();
        check();
      }),
  );
}

/**
 * Stops the extension's service worker through CDP (from an extension page,
 * whose ServiceWorker domain sees the extension's worker) and waits until
 * it is stopped, so the next message has to start it and instantiate the wasm.
 */
async function serviceWorkerStopper(context, extensionId) {
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

const fmt = (sorted) =>
  `p50 ${percentile(sorted, 50).toFixed(1)} ms, p95 ${percentile(sorted, 95).toFixed(1)} ms, min ${sorted[0].toFixed(1)} ms, max ${sorted.at(-1).toFixed(1)} ms`;

function percentile(sorted, p) {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

function payloadSizes() {
  const pkg = path.join(EXTENSION_DIR, 'pkg');
  const rows = readdirSync(pkg)
    .filter((f) => f.endsWith('.wasm') || f.endsWith('.js'))
    .map((f) => {
      const bytes = readFileSync(path.join(pkg, f));
      return { file: `pkg/${f}`, raw: statSync(path.join(pkg, f)).size, gzip: gzipSync(bytes, { level: 9 }).length };
    });
  return rows;
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

assertExtensionBuilt();
const stack = await startStack();
try {
  const first = await openConsolePage(stack.context, SEED1_URL);
  const cold = await timeDiagnose(first.page);
  await first.page.close();

  const page = await stack.context.newPage();
  const warm = [];
  for (let i = 0; i < CLICKS; i += 1) {
    await page.goto(SEED1_URL);
    await page.waitForSelector('body[data-fixture-ready]');
    warm.push(await timeDiagnose(page));
  }
  warm.sort((a, b) => a - b);

  // Service worker stopped between page load and click (Chrome stops idle
  // workers after ~30 s): the click pays for worker start + wasm instantiation.
  const stopWorker = await serviceWorkerStopper(stack.context, stack.extensionId);
  const stopped = [];
  for (let i = 0; i < STOPPED_RUNS; i += 1) {
    await page.goto(SEED1_URL);
    await page.waitForSelector('body[data-fixture-ready]');
    await page.locator('[data-analytics-flashbar="error"] consoledx-diagnose').waitFor({ state: 'attached' });
    await stopWorker();
    stopped.push(await timeDiagnose(page));
  }
  stopped.sort((a, b) => a - b);

  console.log(`click -> analysis visible (Chromium ${stack.context.browser()?.version() ?? ''}, backend ${stack.backendUrl}, moto)`);
  console.log(`  cold (first click after launch): ${cold.toFixed(1)} ms`);
  console.log(`  warm service worker x${warm.length}: ${fmt(warm)}`);
  console.log(`  stopped service worker x${stopped.length}: ${fmt(stopped)}`);

  const sizes = payloadSizes();
  console.log('payload (gzip -9):');
  for (const row of sizes) console.log(`  ${row.file.padEnd(32)} ${kb(row.raw).padStart(10)} raw ${kb(row.gzip).padStart(10)} gzip`);
  const total = sizes.reduce((sum, r) => ({ raw: sum.raw + r.raw, gzip: sum.gzip + r.gzip }), { raw: 0, gzip: 0 });
  console.log(`  ${'total pkg/*.wasm + *.js'.padEnd(32)} ${kb(total.raw).padStart(10)} raw ${kb(total.gzip).padStart(10)} gzip`);
} finally {
  await stack.stop();
}
