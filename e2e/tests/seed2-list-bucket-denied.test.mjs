// Seed 2: "Insufficient permissions to list objects" in an error Alert, end to
// end: the analysis names the action, bucket and role; the resolution reads the
// ReadOnly role from (moto) IAM and proposes allowing s3:ListBucket on the bucket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  backendJson, diagnoseButton, diagnosisRegion, openConsolePage, startStack, waitForPanelState,
} from '../harness.mjs';
import { BUCKET, ROLE, SEED2_URL } from '../pages.mjs';

let stack;
let page;

before(async () => {
  stack = await startStack();
  ({ page } = await openConsolePage(stack.context, SEED2_URL));
});
after(async () => { await stack?.stop(); });

test('Diagnose appears on the error alert only, not on the warning alert', async () => {
  const errorAlert = page.locator('[data-analytics-alert="error"]');
  await diagnoseButton(errorAlert).waitFor({ state: 'visible', timeout: 10_000 });
  await page.waitForTimeout(300);
  assert.equal(await page.locator('[data-analytics-alert="warning"] consoledx-diagnose').count(), 0, 'no Diagnose on the warning');
  assert.equal(await page.locator('consoledx-diagnose').count(), 1, 'exactly one Diagnose host on the page');
});

test('analysis names s3:ListBucket, the bucket and the ReadOnly role', async () => {
  const errorAlert = page.locator('[data-analytics-alert="error"]');
  await diagnoseButton(errorAlert).click();
  const region = diagnosisRegion(errorAlert);
  await waitForPanelState(region, 'analysis');
  const analysis = await region.innerText();
  for (const name of ['s3:ListBucket', BUCKET, ROLE]) {
    assert.ok(analysis.includes(name), `analysis names ${name}:\n${analysis}`);
  }
});

test('Help me resolve proposes allowing s3:ListBucket on the bucket ARN for ReadOnly', async () => {
  const region = diagnosisRegion(page.locator('[data-analytics-alert="error"]'));
  await region.getByRole('button', { name: 'Help me resolve' }).click();
  await waitForPanelState(region, 'resolved', 30_000);
  const steps = await region.locator('ol > li').allInnerTexts();
  const all = steps.join('\n');
  // The bucket ARN itself, not only its objects (arn:...:bucket/*), is what ListBucket needs.
  const bucketArn = new RegExp(`arn:aws:s3:::${BUCKET}(?!/)`);
  const grantStep = steps.find((s) => s.includes('s3:ListBucket') && bucketArn.test(s));
  assert.ok(grantStep, `a step allows s3:ListBucket on arn:aws:s3:::${BUCKET}:\n${all}`);
  assert.ok(all.includes(ROLE), `the steps name the ${ROLE} role:\n${all}`);

  await region.getByRole('button', { name: 'Not helpful', exact: true }).click();
  await region.getByText(/Thanks/).waitFor({ state: 'visible', timeout: 10_000 });
  const id = await region.getAttribute('data-diagnosis-id');
  const stored = await backendJson(stack.backendUrl, `/v1/diagnoses/${encodeURIComponent(id)}`);
  assert.equal(stored.verdict, 'not_helpful', `stored diagnosis: ${JSON.stringify(stored)}`);
});
