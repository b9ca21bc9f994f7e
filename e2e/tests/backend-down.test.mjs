// The backend is unreachable: the panel says so, still shows the local
// (in-extension) analysis, and Retry succeeds once the backend is up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  diagnoseButton, diagnosisRegion, freePort, openConsolePage, setBackendUrl, startStack, waitForPanelState,
} from '../harness.mjs';
import { BUCKET, SEED1_URL } from '../pages.mjs';

let stack;

before(async () => { stack = await startStack({ backend: false }); });
after(async () => { await stack?.stop(); });

test('backend down: "Cannot reach" with the local analysis, then Retry works after it starts', async () => {
  const { page } = await openConsolePage(stack.context, SEED1_URL);
  const errorFlash = page.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(errorFlash).click();
  const region = diagnosisRegion(errorFlash);
  await region.getByText(/Cannot reach the consoledx backend/).waitFor({ state: 'visible', timeout: 15_000 });
  const offline = await region.innerText();
  assert.match(offline, new RegExp(BUCKET), `the local analysis names the bucket:\n${offline}`);
  const retry = region.getByRole('button', { name: 'Retry', exact: true });
  assert.ok(await retry.isVisible(), `a Retry button is shown:\n${offline}`);

  await stack.startBackendLater();
  await retry.click();
  // The offline panel is already in state "analysis": wait for the notice to go too.
  let online = '';
  const deadline = Date.now() + 15_000;
  do {
    await waitForPanelState(region, 'analysis');
    online = await region.innerText();
    if (!/Cannot reach the consoledx backend/.test(online)) break;
    await page.waitForTimeout(100);
  } while (Date.now() < deadline);
  assert.doesNotMatch(online, /Cannot reach the consoledx backend/, `after Retry:\n${online}`);
  assert.match(online, new RegExp(BUCKET), `after Retry:\n${online}`);
  assert.ok(await region.getByRole('button', { name: 'Help me resolve' }).isVisible(), `Help me resolve offered:\n${online}`);
});

test('a backend URL changed on the options page is used by the next diagnosis', async () => {
  const diagnoseOnce = async () => {
    const { page } = await openConsolePage(stack.context, SEED1_URL);
    const errorFlash = page.locator('[data-analytics-flashbar="error"]');
    await diagnoseButton(errorFlash).click();
    const region = diagnosisRegion(errorFlash);
    await waitForPanelState(region, 'analysis');
    const text = await region.innerText();
    await page.close();
    return text;
  };
  const deadUrl = `http://127.0.0.1:${await freePort()}`;
  await setBackendUrl(stack.context, stack.extensionId, deadUrl);
  assert.match(await diagnoseOnce(), /Cannot reach the consoledx backend/, `with ${deadUrl} configured`);

  await setBackendUrl(stack.context, stack.extensionId, stack.backendUrl);
  const online = await diagnoseOnce();
  assert.doesNotMatch(online, /Cannot reach the consoledx backend/, `with ${stack.backendUrl} configured:\n${online}`);
});
