// Every banner kind the console can show, and how banners live on a
// single-page app: stacked flashbars, modals, form fields, the older AWS-UI
// markup, frames, text that changes in place, replaced banners, hash routes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  diagnoseButton, diagnosisRegion, openConsolePage, startStack, waitForPanelState,
} from '../harness.mjs';
import { BUCKET, pageUrl } from '../pages.mjs';

const ERROR_BANNERS = [
  '[data-analytics-flashbar="error"]',
  '[data-analytics-alert="error"]',
  '[data-analytics-field-error]',
  '.awsui-flash-type-error',
  '.awsui-alert-type-error',
].join(', ');

let stack;

before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); });

/** Exactly one Diagnose host per error banner in `frame`, and no other host. */
async function assertOneButtonPerError(frame, expectedErrors) {
  const counts = await frame.evaluate((selector) => {
    const banners = [...document.querySelectorAll(selector)];
    return {
      banners: banners.length,
      hosts: document.querySelectorAll('consoledx-diagnose').length,
      bannersWithOne: banners.filter((b) => b.querySelectorAll('consoledx-diagnose').length === 1).length,
    };
  }, ERROR_BANNERS);
  assert.deepEqual(counts, { banners: expectedErrors, hosts: expectedErrors, bannersWithOne: expectedErrors });
}

/** Opens the panel's "Details sent" and returns its text. */
async function detailsSent(region) {
  await region.getByText('Details sent').click();
  return region.locator('details').innerText();
}

test('stacked flashbar: the collapsed top error, then every error once expanded, never the warning or success', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('stacked-errors'));
  await diagnoseButton(page.locator('[data-analytics-flashbar="error"]').first()).waitFor({ state: 'visible', timeout: 10_000 });
  await assertOneButtonPerError(page, 1);
  await page.getByRole('button', { name: 'View all notifications' }).click();
  await page.locator('[data-analytics-flashbar="error"]').nth(1).waitFor({ timeout: 5000 });
  await page.locator('[data-analytics-flashbar="error"]').nth(1).locator('consoledx-diagnose').waitFor({ state: 'attached', timeout: 5000 });
  await assertOneButtonPerError(page, 2);
  for (const type of ['warning', 'success']) {
    assert.equal(await page.locator(`[data-analytics-flashbar="${type}"] consoledx-diagnose`).count(), 0, `no button on ${type}`);
  }
  const policyError = page.locator('[data-analytics-flashbar="error"]', { hasText: 's3:PutBucketPolicy' });
  await diagnoseButton(policyError).click();
  const region = diagnosisRegion(policyError);
  await waitForPanelState(region, 'analysis');
  assert.match(await region.innerText(), /s3:PutBucketPolicy/);
  await page.close();
});

test('an error Alert inside a Modal gets the button and a diagnosis; the info Alert does not', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('modal-error'));
  const dialog = page.getByRole('dialog');
  const errorAlert = dialog.locator('[data-analytics-alert="error"]');
  await diagnoseButton(errorAlert).click({ timeout: 10_000 });
  const region = diagnosisRegion(errorAlert);
  await waitForPanelState(region, 'analysis');
  assert.match(await region.innerText(), /s3:PutBucketPolicy/);
  assert.equal(await dialog.locator('[data-analytics-alert="info"] consoledx-diagnose').count(), 0);
  await assertOneButtonPerError(page, 1);
  await page.close();
});

test('a FormField error gets the button; nearby fields are sent, never the password', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('field-error'));
  const field = page.locator('[data-analytics-field-error]');
  await diagnoseButton(field).click({ timeout: 10_000 });
  const region = diagnosisRegion(field);
  await waitForPanelState(region, 'analysis');
  await assertOneButtonPerError(page, 1);
  const details = await detailsSent(region);
  assert.match(details, /Form field .Bucket name.: my-bucket-123456/, details);
  assert.match(details, /Form field .AWS Region.: US West \(Oregon\) us-west-2/, details);
  assert.match(details, /s3_bucket_name=my-bucket-123456/, `the bucket comes from the field:\n${details}`);
  assert.doesNotMatch(details, /hunter2|Replication secret/, 'password fields are never read');
  await page.close();
});

test('the older AWS-UI error flash and alert get the button; info and warning do not', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('legacy-error'));
  const flash = page.locator('.awsui-flash-type-error');
  const alert = page.locator('.awsui-alert-type-error');
  await diagnoseButton(flash).waitFor({ state: 'visible', timeout: 10_000 });
  await diagnoseButton(alert).click();
  const region = diagnosisRegion(alert);
  await waitForPanelState(region, 'analysis');
  assert.match(await region.innerText(), /s3:ListBucket/);
  await assertOneButtonPerError(page, 2);
  assert.equal(await page.locator('.awsui-flash-type-info consoledx-diagnose, .awsui-alert-type-warning consoledx-diagnose').count(), 0);
  await page.close();
});

test('errors inside a same-origin frame and a frame the page wrote itself get the button', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('iframe-error'));
  const consoleFrame = page.frameLocator('iframe[name="console"]');
  const frameFlash = consoleFrame.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(frameFlash).click({ timeout: 15_000 });
  await waitForPanelState(diagnosisRegion(frameFlash), 'analysis');
  assert.match(await diagnosisRegion(frameFlash).innerText(), new RegExp(BUCKET));

  const writtenAlert = page.frameLocator('iframe[name="written"]').locator('[data-analytics-alert="error"]');
  await diagnoseButton(writtenAlert).click({ timeout: 15_000 });
  const region = diagnosisRegion(writtenAlert);
  await waitForPanelState(region, 'analysis');
  const details = await detailsSent(region);
  assert.match(details, /Page URL: https:\/\/s3\.console\.aws\.amazon\.com\/s3\/bucket\/my-bucket-123456\/delete/, `about:blank frames report the page's URL:\n${details}`);
  assert.match(details, /Signed in as: ReadOnly\/alice/, `identity read from the top document:\n${details}`);
  for (const frame of page.frames().filter((f) => f !== page.mainFrame())) await assertOneButtonPerError(frame, 1);
  await assertOneButtonPerError(page, 0);
  await page.close();
});

test('a banner whose text changes is re-diagnosed in place; a replaced banner gets a fresh button', async () => {
  const { page } = await openConsolePage(stack.context, pageUrl('changing-error'));
  const flash = page.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(flash).click({ timeout: 10_000 });
  const region = diagnosisRegion(flash);
  await waitForPanelState(region, 'analysis');
  const firstId = await region.getAttribute('data-diagnosis-id');
  assert.doesNotMatch(await region.innerText(), /s3:DeleteBucket/);
  const element = await flash.elementHandle();

  await page.getByRole('button', { name: 'Try again' }).click();
  await page.waitForFunction((el) => el.textContent.includes('s3:DeleteBucket'), element);
  await page.waitForFunction(async (el) => {
    const section = el.querySelector('consoledx-diagnose').shadowRoot.querySelector('section');
    return section.dataset.state === 'analysis' && section.textContent.includes('s3:DeleteBucket');
  }, element, { timeout: 15_000 });
  assert.equal(await page.evaluate((el) => el.isConnected, element), true, 'React kept the same banner element');
  assert.notEqual(await region.getAttribute('data-diagnosis-id'), firstId, 'a new diagnosis');
  await assertOneButtonPerError(page, 1);

  await page.getByRole('button', { name: 'Replace error' }).click();
  await page.waitForFunction((el) => !el.isConnected, element);
  await diagnoseButton(page.locator('[data-analytics-flashbar="error"]')).waitFor({ state: 'visible', timeout: 5000 });
  await assertOneButtonPerError(page, 1);
  assert.equal(await diagnosisRegion(page).isVisible(), false, 'the new banner starts undiagnosed');
  await page.close();
});

test('hash routes: the context keeps the URL the error appeared at', async () => {
  const { page } = await openConsolePage(stack.context, `${pageUrl('hash-nav')}#Instances:`);
  assert.equal(await page.locator('consoledx-diagnose').count(), 0);
  await page.getByRole('button', { name: 'Open instance' }).click();
  await page.waitForFunction(() => location.hash.startsWith('#InstanceDetails'));
  await page.getByRole('button', { name: 'Stop instance' }).click();
  const flash = page.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(flash).waitFor({ state: 'visible', timeout: 10_000 });
  await page.getByRole('button', { name: 'Back to instances' }).click();
  await page.waitForFunction(() => location.hash === '#Instances:');
  await diagnoseButton(flash).click();
  const region = diagnosisRegion(flash);
  await waitForPanelState(region, 'analysis');
  const details = await detailsSent(region);
  assert.match(details, /#InstanceDetails:instanceId=i-0123456789abcdef0/, details);
  assert.match(details, /ec2_instance_id=i-0123456789abcdef0/, details);
  await assertOneButtonPerError(page, 1);
  await page.close();
});
