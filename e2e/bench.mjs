// Measures the extension in Chromium (not a test; prints figures):
//   - cold: first Diagnose click after browser launch -> analysis visible
//   - warm: N more clicks (fresh page each, service worker already running)
//   - stopped: 5 clicks right after the service worker was stopped (CDP)
//   - gzip size of extension/pkg/*.wasm and *.js (the payload budget)
//   - banner appears -> Diagnose button in the DOM (and painted), N banners
//   - JS loaded into every console page (extension/bridge.js)
//   - memory the extension adds to a console tab: JS heap (CDP
//     Runtime.getHeapUsage after HeapProfiler.collectGarbage; content-script
//     worlds share the page's isolate, so they are counted) and DOM nodes
//     (CDP Performance.getMetrics), with vs without the extension
//
//   node e2e/bench.mjs [--clicks 20]     (from /work/main; honours harness.mjs env vars)
//
// Times are taken inside the page (performance.now() from the click to the
// panel's data-state="analysis" being rendered), so Playwright's round trips
// are not counted.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  EXTENSION_DIR, assertExtensionBuilt, launchBrowser, openConsolePage, serviceWorkerStopper, startStack,
} from './harness.mjs';
import { SEED1_URL, pageUrl } from './pages.mjs';

const clicksArg = process.argv.indexOf('--clicks');
const CLICKS = clicksArg > 0 ? Number(process.argv[clicksArg + 1]) : 20;
const STOPPED_RUNS = 5;
const BANNERS = 50;
const MEMORY_RUNS = 5;

/**
 * Replaces the error flash BANNERS times (a new element each time) and times,
 * inside the page, from the mutation that inserts the banner to the one that
 * inserts its Diagnose host, and to the next painted frame.
 */
async function timeBannerToButton(page) {
  return page.evaluate(async (count) => {
    const inDom = [];
    const painted = [];
    const replace = [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Replace error');
    for (let i = 0; i < count; i += 1) {
      await new Promise((resolve, reject) => {
        const timeout = setTimeout(() => reject(new Error('no button within 5 s')), 5000);
        let banner = null;
        let appeared = 0;
        const observer = new MutationObserver((records) => {
          const now = performance.now();
          for (const record of records) {
            for (const node of record.addedNodes) {
              if (node.nodeType !== 1) continue;
              if (!banner) {
                const found = node.matches('[data-analytics-flashbar="error"]') ? node : node.querySelector('[data-analytics-flashbar="error"]');
                if (found) { banner = found; appeared = now; }
              }
              if (banner && node.localName === 'consoledx-diagnose' && banner.contains(node)) {
                observer.disconnect();
                clearTimeout(timeout);
                inDom.push(now - appeared);
                requestAnimationFrame(() => { painted.push(performance.now() - appeared); resolve(); });
                return;
              }
            }
          }
        });
        observer.observe(document.body, { childList: true, subtree: true });
        replace.click();
      });
    }
    return { inDom, painted };
  }, BANNERS);
}

/** JS heap and DOM nodes of a console tab, after a forced GC. */
async function tabMemory(context, url, { diagnose }) {
  const { page } = await openConsolePage(context, url);
  if (diagnose) {
    const flash = page.locator('[data-analytics-flashbar="error"]');
    await flash.locator('consoledx-diagnose').getByRole('button', { name: 'Diagnose', exact: true }).click({ timeout: 10_000 });
    await flash.locator('consoledx-diagnose section[data-state="analysis"]').waitFor({ timeout: 15_000 });
  } else {
    await page.waitForTimeout(300);
  }
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  const heap = await cdp.send('Runtime.getHeapUsage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  await page.close();
  return { heap: heap.usedSize, nodes: metrics.find((m) => m.name === 'Nodes')?.value ?? 0 };
}

/**
 * Layout shifts on a console page: while the button is attached at load
 * (no user input: counts toward CLS), then when Diagnose opens the panel
 * (user input: Chromium flags it hadRecentInput). Names what moved.
 */
async function layoutShifts(context, { diagnose = true } = {}) {
  const page = await context.newPage();
  await page.addInitScript(() => {
    window.__shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        window.__shifts.push({
          value: entry.value,
          input: entry.hadRecentInput,
          moved: entry.sources.map((s) => s.node?.nodeName?.toLowerCase() + (s.node?.className && typeof s.node.className === 'string' ? `.${s.node.className.split(' ')[0].slice(0, 40)}` : '')),
        });
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
  await page.goto(SEED1_URL);
  await page.waitForSelector('body[data-fixture-ready]');
  const flash = page.locator('[data-analytics-flashbar="error"]');
  if (diagnose) await flash.locator('consoledx-diagnose').waitFor({ state: 'attached', timeout: 10_000 });
  await page.waitForTimeout(500);
  const atLoad = await page.evaluate(() => window.__shifts.splice(0));
  if (!diagnose) {
    await page.close();
    return `at load CLS ${atLoad.filter((e) => !e.input).reduce((t, e) => t + e.value, 0).toFixed(4)} (${atLoad.length} shifts)`;
  }
  await flash.locator('consoledx-diagnose').getByRole('button', { name: 'Diagnose', exact: true }).click();
  await flash.locator('consoledx-diagnose section[data-state="analysis"]').waitFor({ timeout: 15_000 });
  await page.waitForTimeout(500);
  const onOpen = await page.evaluate(() => window.__shifts.splice(0));
  await page.close();
  const sum = (entries) => entries.filter((e) => !e.input).reduce((total, e) => total + e.value, 0).toFixed(4);
  const moved = (entries) => [...new Set(entries.flatMap((e) => e.moved))].join(', ') || 'nothing';
  return `at load CLS ${sum(atLoad)} (${atLoad.length} shifts; moved: ${moved(atLoad)}); on opening the panel CLS ${sum(onOpen)} (${onOpen.length} shifts, input-driven: ${onOpen.filter((e) => e.input).length}; moved: ${moved(onOpen)})`;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function medianTabMemory(context, url, options) {
  const runs = [];
  for (let i = 0; i < MEMORY_RUNS; i += 1) runs.push(await tabMemory(context, url, options));
  return { heap: median(runs.map((r) => r.heap)), nodes: median(runs.map((r) => r.nodes)) };
}

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
            requestAnimationFrame(() => {
              const render = performance.getEntriesByName('consoledx:render').at(-1);
              resolve({ elapsed, build: render?.duration ?? NaN, painted: render ? performance.now() - render.startTime : NaN });
            });
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
  const cold = (await timeDiagnose(first.page)).elapsed;
  await first.page.close();

  const page = await stack.context.newPage();
  const warm = [];
  const renders = [];
  for (let i = 0; i < CLICKS; i += 1) {
    await page.goto(SEED1_URL);
    await page.waitForSelector('body[data-fixture-ready]');
    const timing = await timeDiagnose(page);
    warm.push(timing.elapsed);
    renders.push(timing);
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
    stopped.push((await timeDiagnose(page)).elapsed);
  }
  stopped.sort((a, b) => a - b);

  console.log(`click -> analysis visible (Chromium ${stack.context.browser()?.version() ?? ''}, backend ${stack.backendUrl}, moto)`);
  console.log(`  cold (first click after launch): ${cold.toFixed(1)} ms`);
  console.log(`  warm service worker x${warm.length}: ${fmt(warm)}`);
  console.log(`  stopped service worker x${stopped.length}: ${fmt(stopped)}`);
  console.log(`view model arrives -> panel (warm clicks x${renders.length}):`);
  console.log(`  DOM built: ${fmt(renders.map((r) => r.build).sort((a, b) => a - b))}`);
  console.log(`  painted (next frame): ${fmt(renders.map((r) => r.painted).sort((a, b) => a - b))}`);
  console.log(`layout shift (Layout Instability API, seed 1 page), with the extension: ${await layoutShifts(stack.context)}`);

  const bannerPage = (await openConsolePage(stack.context, pageUrl('changing-error'))).page;
  await bannerPage.locator('consoledx-diagnose').waitFor({ state: 'attached', timeout: 10_000 });
  const appearance = await timeBannerToButton(bannerPage);
  await bannerPage.close();
  console.log(`banner appears -> Diagnose button, x${BANNERS} new error flashes:`);
  console.log(`  in the DOM: ${fmt(appearance.inDom.sort((a, b) => a - b))}`);
  console.log(`  painted (next frame): ${fmt(appearance.painted.sort((a, b) => a - b))}`);

  const bridgeBytes = statSync(path.join(EXTENSION_DIR, 'bridge.js')).size;
  console.log(`JS loaded into each console page: bridge.js ${bridgeBytes} B raw (${kb(bridgeBytes)}), ${gzipSync(readFileSync(path.join(EXTENSION_DIR, 'bridge.js')), { level: 9 }).length} B gzip`);

  const plain = await launchBrowser({ fixturePort: stack.fixtures.port, extension: false });
  try {
    console.log(`layout shift without the extension (the page's own, for comparison): ${await layoutShifts(plain.context, { diagnose: false })}`);
    const without = await medianTabMemory(plain.context, SEED1_URL, { diagnose: false });
    const idle = await medianTabMemory(stack.context, SEED1_URL, { diagnose: false });
    const diagnosed = await medianTabMemory(stack.context, SEED1_URL, { diagnose: true });
    const delta = (m) => `JS heap +${kb(m.heap - without.heap)}, DOM nodes +${m.nodes - without.nodes}`;
    console.log(`memory the extension adds to a console tab (median of ${MEMORY_RUNS}, after GC; without: JS heap ${kb(without.heap)}, ${without.nodes} nodes):`);
    console.log(`  button attached, not clicked: ${delta(idle)}`);
    console.log(`  after Diagnose, panel open:    ${delta(diagnosed)}`);
  } finally {
    await plain.close();
  }

  const sizes = payloadSizes();
  console.log('payload (gzip -9):');
  for (const row of sizes) console.log(`  ${row.file.padEnd(32)} ${kb(row.raw).padStart(10)} raw ${kb(row.gzip).padStart(10)} gzip`);
  const total = sizes.reduce((sum, r) => ({ raw: sum.raw + r.raw, gzip: sum.gzip + r.gzip }), { raw: 0, gzip: 0 });
  console.log(`  ${'total pkg/*.wasm + *.js'.padEnd(32)} ${kb(total.raw).padStart(10)} raw ${kb(total.gzip).padStart(10)} gzip`);
} finally {
  await stack.stop();
}
