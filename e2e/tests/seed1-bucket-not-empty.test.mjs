// Seed 1: "Failed to delete bucket" (BucketNotEmpty) in a Flashbar, end to end:
// button placement, analysis, resolution steps, feedback stored by the backend.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backendJson, diagnoseButton, diagnosisRegion, openConsolePage, startStack, waitForPanelState,
} from '../harness.mjs';
import { BUCKET, SEED1_URL } from '../pages.mjs';

let stack;
let page;

before(async () => {
  stack = await startStack();
  ({ page } = await openConsolePage(stack.context, SEED1_URL));
});
after(async () => { await stack?.stop(); });

test('Diagnose appears beside the error flash only, not on success or info flashes', async () => {
  const errorFlash = page.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(errorFlash).waitFor({ state: 'visible', timeout: 10_000 });
  // The other banners were on the page from the start; give one more frame for stragglers.
  await page.waitForTimeout(300);
  for (const type of ['success', 'info']) {
    const banner = page.locator(`[data-analytics-flashbar="${type}"]`);
    assert.equal(await banner.count(), 1, `fixture has one ${type} flash`);
    assert.equal(await banner.locator('consoledx-diagnose').count(), 0, `no Diagnose on the ${type} flash`);
  }
  assert.equal(await page.locator('consoledx-diagnose').count(), 1, 'exactly one Diagnose host on the page');
  assert.equal(await errorFlash.locator('consoledx-diagnose').count(), 1);
});

test('Diagnose shows an analysis naming the bucket; Help me resolve lists the steps', async () => {
  const errorFlash = page.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(errorFlash).click();
  const region = diagnosisRegion(errorFlash);
  await region.waitFor({ state: 'visible', timeout: 10_000 });
  await waitForPanelState(region, 'analysis');
  const analysis = await region.innerText();
  assert.match(analysis, new RegExp(BUCKET), `analysis names the bucket:\n${analysis}`);
  assert.match(analysis, /not empty|objects|versions/i, `analysis explains the cause:\n${analysis}`);

  await region.getByRole('button', { name: 'Help me resolve' }).click();
  await waitForPanelState(region, 'resolved', 30_000);
  const steps = await region.locator('ol > li').allInnerTexts();
  const all = steps.join('\n');
  assert.ok(steps.length >= 2, `several steps, got:\n${all}`);
  for (const expected of [/empty/i, /permanently delete/i, /lifecycle/i, /retry|try again|delete (the )?bucket again/i]) {
    assert.match(all, expected, `steps mention ${expected}:\n${all}`);
  }
  assert.match(all, new RegExp(BUCKET), `steps name the bucket:\n${all}`);
});

test('Helpful feedback with a comment is thanked and stored; the vote can be changed', async () => {
  const region = diagnosisRegion(page.locator('[data-analytics-flashbar="error"]'));
  const id = await region.getAttribute('data-diagnosis-id');
  assert.ok(id, 'panel carries data-diagnosis-id');
  await region.getByRole('textbox', { name: 'Comment (optional)' }).fill('Spot on, the bucket had versions.');
  const helpful = region.getByRole('button', { name: 'Helpful', exact: true });
  await helpful.click();
  await region.getByText(/Thanks/).waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await helpful.getAttribute('aria-pressed'), 'true');

  const stored = await backendJson(stack.backendUrl, `/v1/diagnoses/${encodeURIComponent(id)}`);
  assert.equal(stored.id, id);
  assert.equal(stored.verdict, 'helpful', `stored diagnosis: ${JSON.stringify(stored)}`);
  assert.equal(stored.comment, 'Spot on, the bucket had versions.');
  assert.match(String(stored.rule), /bucket_not_empty/, `stored rule: ${JSON.stringify(stored)}`);

  const notHelpful = region.getByRole('button', { name: 'Not helpful', exact: true });
  await notHelpful.click();
  for (let i = 0; i < 50 && (await notHelpful.getAttribute('aria-pressed')) !== 'true'; i += 1) await page.waitForTimeout(100);
  assert.equal(await notHelpful.getAttribute('aria-pressed'), 'true');
  assert.equal(await helpful.getAttribute('aria-pressed'), 'false');
  const changed = await backendJson(stack.backendUrl, `/v1/diagnoses/${encodeURIComponent(id)}`);
  assert.equal(changed.verdict, 'not_helpful', `the later vote replaces the earlier: ${JSON.stringify(changed)}`);
});
