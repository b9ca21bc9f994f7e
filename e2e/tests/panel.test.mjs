// The panel as a user meets it: keyboard only, focus, accessible names,
// axe-core, copy buttons, collapse and close, the console's dark mode.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  diagnoseButton, diagnosisRegion, openConsolePage, startStack, waitForPanelState,
} from '../harness.mjs';
import { SEED2_URL } from '../pages.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let stack;

before(async () => {
  stack = await startStack();
  await stack.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: 'https://s3.console.aws.amazon.com' });
});
after(async () => { await stack?.stop(); });

/** What has focus, looking through the panel's shadow root. */
function focused(page) {
  return page.evaluate(() => {
    let active = document.activeElement;
    while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
    return { tag: active?.localName, text: active?.textContent?.trim().slice(0, 60), label: active?.getAttribute('aria-label') };
  });
}

/** Tabs forward until the focused control's text or label matches `name`. */
async function tabTo(page, name) {
  for (let i = 0; i < 40; i += 1) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    if (name.test(now.text ?? '') || name.test(now.label ?? '')) return now;
  }
  throw new Error(`Tab never reached ${name}`);
}

test('keyboard alone: Diagnose, Help me resolve, copy, collapse, close; focus moves sensibly', async () => {
  const { page } = await openConsolePage(stack.context, SEED2_URL);
  const alert = page.locator('[data-analytics-alert="error"]');
  const region = diagnosisRegion(alert);
  await diagnoseButton(alert).waitFor({ timeout: 10_000 });
  await diagnoseButton(alert).focus();
  await page.keyboard.press('Enter');
  await waitForPanelState(region, 'analysis');
  assert.equal((await focused(page)).tag, 'h3', 'focus moves to the analysis heading');

  await tabTo(page, /^Help me resolve$/);
  await page.keyboard.press('Enter');
  await waitForPanelState(region, 'resolved', 30_000);
  assert.match((await focused(page)).text, /How to resolve/, 'focus moves to the steps');

  await tabTo(page, /^Copy the policy of step/);
  await page.keyboard.press('Enter');
  await region.getByText('Copied').first().waitFor({ timeout: 5000 });
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.match(copied, /"s3:ListBucket"/, `the policy JSON was copied:\n${copied}`);

  await tabTo(page, /^Collapse diagnosis$/).catch(async () => {
    // The collapse control sits before the steps: go round once more.
    await tabTo(page, /^Collapse diagnosis$/);
  });
  await page.keyboard.press('Enter');
  assert.equal(await region.getByRole('button', { name: 'Expand diagnosis' }).getAttribute('aria-expanded'), 'false');
  assert.equal(await region.locator('ol').isVisible(), false, 'collapsed');
  await page.keyboard.press('Enter');
  assert.equal(await region.locator('ol').isVisible(), true, 'expanded again');

  await tabTo(page, /^Close diagnosis$/);
  await page.keyboard.press('Enter');
  assert.equal(await region.isVisible(), false, 'closed');
  assert.equal((await focused(page)).text, 'Diagnose', 'focus returns to Diagnose');
  await page.close();
});

test('axe-core finds no serious or critical violation in the panel, in every state', async () => {
  const { page } = await openConsolePage(stack.context, SEED2_URL);
  // evaluate() runs outside the page's CSP, which forbids injected scripts.
  await page.evaluate(AXE_SOURCE);
  const audit = () => page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((v) => ['serious', 'critical'].includes(v.impact))
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.filter((n) => JSON.stringify(n.target).includes('consoledx-diagnose')).map((n) => `${JSON.stringify(n.target)} ${n.html.slice(0, 120)} ${n.failureSummary}`) }))
      .filter((v) => v.nodes.length > 0);
  });
  const alert = page.locator('[data-analytics-alert="error"]');
  const region = diagnosisRegion(alert);
  await diagnoseButton(alert).waitFor({ timeout: 10_000 });
  assert.deepEqual(await audit(), [], 'button only');
  await diagnoseButton(alert).click();
  await waitForPanelState(region, 'analysis');
  assert.deepEqual(await audit(), [], 'analysis');
  await region.getByRole('button', { name: 'Help me resolve' }).click();
  await waitForPanelState(region, 'resolved', 30_000);
  await region.getByText('Details sent').click();
  assert.deepEqual(await audit(), [], 'resolved, details open');
  await page.close();
});

test("the panel follows the console's dark mode", async () => {
  const { page } = await openConsolePage(stack.context, SEED2_URL);
  const alert = page.locator('[data-analytics-alert="error"]');
  await diagnoseButton(alert).click({ timeout: 10_000 });
  await waitForPanelState(diagnosisRegion(alert), 'analysis');
  const background = () => alert.locator('consoledx-diagnose').evaluate((host) => getComputedStyle(host.shadowRoot.querySelector('section')).backgroundColor);
  assert.equal(await background(), 'rgb(255, 255, 255)');
  await page.evaluate(() => document.body.classList.add('awsui-dark-mode'));
  await page.waitForFunction(() => document.querySelector('consoledx-diagnose')?.dataset.mode === 'dark');
  assert.equal(await background(), 'rgb(22, 29, 38)');
  await page.close();
});
