// How the button lives on real pages: a strict page CSP, banners that appear
// late or get dismissed, the regional console host, a Form's errorText.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  diagnoseButton, diagnosisRegion, openConsolePage, startStack, waitForPanelState,
} from '../harness.mjs';
import { PAGE_CSP } from '../server.mjs';
import { BUCKET, SEED2_URL, pageUrl } from '../pages.mjs';

let stack;

before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

test(`a page served with CSP "${PAGE_CSP}" gets the button and the panel without CSP violations`, async () => {
  const page = await stack.context.newPage();
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} blocked=${e.blockedURI} source=${e.sourceFile}:${e.lineNumber}`);
    });
  });
  const response = await page.goto(SEED2_URL);
  assert.equal(response.headers()['content-security-policy'], PAGE_CSP);
  await page.waitForSelector('body[data-fixture-ready]');
  const errorAlert = page.locator('[data-analytics-alert="error"]');
  await diagnoseButton(errorAlert).click({ timeout: 10_000 });
  const region = diagnosisRegion(errorAlert);
  await waitForPanelState(region, 'analysis');
  assert.match(await region.innerText(), new RegExp(BUCKET));
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], 'the extension triggers no CSP violation');

  // The policy is really enforced on this page: an inline script is refused.
  const inlineRan = await page.evaluate(async () => {
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true;';
    document.head.append(script);
    await new Promise((r) => setTimeout(r, 50));
    return window.__inlineRan === true;
  });
  assert.equal(inlineRan, false, 'inline script blocked by the page CSP');
  await page.close();
});

test('an error flash that appears after load gets the button', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('late-error', { extraQuery: { delay: '1200' } }));
  assert.equal(await page.locator('[data-analytics-flashbar="error"]').count(), 0, 'no error yet');
  assert.equal(await page.locator('consoledx-diagnose').count(), 0, 'no button on the info flash');
  const errorFlash = page.locator('[data-analytics-flashbar="error"]');
  await errorFlash.waitFor({ timeout: 10_000 });
  await diagnoseButton(errorFlash).waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await page.locator('consoledx-diagnose').count(), 1);
  await page.close();
});

test('dismissing the error flash removes its button and panel', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('dismiss-error'));
  const errorFlash = page.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(errorFlash).click({ timeout: 10_000 });
  await waitForPanelState(diagnosisRegion(errorFlash), ['analysis', 'loading']);
  await page.getByRole('button', { name: 'Dismiss message' }).click();
  await errorFlash.waitFor({ state: 'detached', timeout: 5000 });
  await page.locator('consoledx-diagnose').waitFor({ state: 'detached', timeout: 5000 });
  assert.equal(await diagnosisRegion(page).count(), 0, 'no orphan panel');
  await page.close();
});

test('the regional console host (us-west-2.console.aws.amazon.com) gets the button', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('seed1-delete-bucket', { host: 'us-west-2.console.aws.amazon.com' }));
  await diagnoseButton(page.locator('[data-analytics-flashbar="error"]')).waitFor({ state: 'visible', timeout: 10_000 });
  await page.close();
});

test("a Form's errorText (an error Alert) gets the button and a diagnosis", async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('form-error'));
  const errorAlert = page.locator('[data-analytics-alert="error"]');
  await diagnoseButton(errorAlert).click({ timeout: 10_000 });
  const region = diagnosisRegion(errorAlert);
  await waitForPanelState(region, 'analysis');
  assert.match(await region.innerText(), new RegExp(BUCKET));
  await page.close();
});
