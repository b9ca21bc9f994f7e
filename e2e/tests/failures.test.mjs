// When the backend misbehaves: slower than the deadline, HTTP 500, malformed
// JSON, the service worker stopped mid-request, hostile content. Each case
// shows a clear message and a Retry that works once the backend is healthy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  diagnoseButton, diagnosisRegion, openConsolePage, serviceWorkerStopper, setBackendUrl, startStack, waitForPanelState,
} from '../harness.mjs';
import { startFaultBackend } from '../fault-backend.mjs';
import { SEED1_URL } from '../pages.mjs';

let stack;
let fault;

before(async () => {
  stack = await startStack();
  fault = await startFaultBackend(stack.backendUrl);
  await setBackendUrl(stack.context, stack.extensionId, fault.url);
});
after(async () => {
  await fault?.close();
  await stack?.stop();
});

async function openSeed1() {
  const { page } = await openConsolePage(stack.context, SEED1_URL);
  const flash = page.locator('[data-analytics-flashbar="error"]');
  return { page, flash, region: diagnosisRegion(flash) };
}

/** Diagnose while the backend misbehaves: the local analysis with `notice`, then a working Retry. */
async function localThenRetry(mode, options, notice) {
  const { page, flash, region } = await openSeed1();
  fault.set(mode, options);
  await diagnoseButton(flash).click({ timeout: 10_000 });
  await waitForPanelState(region, 'analysis', 20_000);
  const text = await region.innerText();
  assert.match(text, notice, text);
  assert.match(text, /Local analysis/, text);
  assert.match(text, /my-bucket-123456/, 'the local analysis still names the bucket');
  assert.equal(await region.getByRole('button', { name: 'Help me resolve' }).count(), 0, 'resolve needs the backend');

  fault.set('proxy');
  await region.getByRole('button', { name: 'Retry' }).click();
  await region.getByRole('button', { name: 'Help me resolve' }).waitFor({ timeout: 15_000 });
  assert.doesNotMatch(await region.innerText(), /Local analysis/);
  await page.close();
}

test('a backend slower than the deadline: local analysis, the reason, and Retry', async () => {
  await localThenRetry('proxy', { delayMs: 9_000 }, /no answer within 8000 ms/);
});

test('HTTP 500 from the backend: local analysis, the status, and Retry', async () => {
  await localThenRetry('http500', {}, /HTTP 500/);
});

test('malformed JSON from the backend: local analysis, the reason, and Retry', async () => {
  await localThenRetry('malformed', {}, /not what consoledx expects/);
});

test('Help me resolve failing with HTTP 500 shows the error and a Retry that works', async () => {
  const { page, flash, region } = await openSeed1();
  await diagnoseButton(flash).click({ timeout: 10_000 });
  await waitForPanelState(region, 'analysis');
  fault.set('http500');
  await region.getByRole('button', { name: 'Help me resolve' }).click();
  await waitForPanelState(region, 'error').catch(() => {});
  assert.equal(await region.getAttribute('data-state'), 'error');
  assert.match(await region.innerText(), /HTTP 500/);
  fault.set('proxy');
  await region.getByRole('button', { name: 'Retry' }).click();
  await waitForPanelState(region, 'resolved', 30_000);
  await page.close();
});

test('the service worker stopped mid-request: an error with Retry, and Retry works', async () => {
  const stopWorker = await serviceWorkerStopper(stack.context, stack.extensionId);
  const { page, flash, region } = await openSeed1();
  fault.set('proxy', { delayMs: 4_000 });
  await diagnoseButton(flash).click({ timeout: 10_000 });
  await waitForPanelState(region, 'loading');
  await stopWorker();
  await waitForPanelState(region, 'error').catch(() => {});
  assert.equal(await region.getAttribute('data-state'), 'error', await region.innerText());
  assert.ok((await region.innerText()).length > 20, 'the error says what happened');
  fault.set('proxy');
  await region.getByRole('button', { name: 'Retry' }).click();
  await region.getByRole('button', { name: 'Help me resolve' }).waitFor({ timeout: 15_000 });
  await page.close();
});

test('a hostile backend: nothing runs, only vetted https links, huge text clipped, the page stays usable', async () => {
  const { page, flash, region } = await openSeed1();
  fault.set('hostile');
  await diagnoseButton(flash).click({ timeout: 10_000 });
  await waitForPanelState(region, 'analysis');
  await region.getByRole('button', { name: 'Help me resolve' }).click();
  await waitForPanelState(region, 'resolved', 15_000);
  fault.set('proxy');

  const inspection = await flash.locator('consoledx-diagnose').evaluate((host) => {
    const root = host.shadowRoot;
    return {
      elements: [...new Set([...root.querySelectorAll('*')].map((e) => e.localName))].sort(),
      links: [...root.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      textLength: root.textContent.length,
      handlers: [...root.querySelectorAll('*')].flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith('on')),
    };
  });
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'no injected script or handler ran');
  for (const tag of ['script', 'img', 'h1', 'b', 'iframe', 'object']) assert.ok(!inspection.elements.includes(tag), `no <${tag}> in the panel: ${inspection.elements}`);
  assert.deepEqual(inspection.handlers, [], 'no inline event handlers');
  assert.deepEqual(inspection.links, ['https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-bucket.html'], 'only the AWS documentation link survives');
  assert.ok(inspection.textLength < 60_000, `2 MB strings are clipped (panel text ${inspection.textLength} chars)`);
  assert.match(await region.innerText(), /<script>window.__pwned = true<\/script>/, 'markup is shown as text');

  await page.getByRole('button', { name: 'Empty bucket' }).click({ timeout: 3000 });
  assert.equal(await page.evaluate(() => document.title), 'Delete bucket | S3 | us-west-2', 'the page still answers');
  await page.close();
});

test('the popup shows the backend status and the active profile', async () => {
  const page = await stack.context.newPage();
  await page.goto(`chrome-extension://${stack.extensionId}/popup.html`);
  await page.getByText(/Connected to consoledx/).waitFor({ timeout: 10_000 });
  assert.match(await page.locator('#profile').innerText(), /No profiles/);
  fault.set('http500');
  await page.getByRole('button', { name: 'Check again' }).click();
  await page.getByText(/HTTP 500/).waitFor({ timeout: 10_000 });
  fault.set('proxy');
  await page.close();
});
