// Profiles (issue 8, first step): the options page imports an administrator's
// profile file, adds, edits and removes profiles; the popup lists and switches
// them; diagnoses go to the active profile's backend. Every check is the
// core's, so a bad file or form changes nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  axeViolations, diagnoseButton, diagnosisRegion, freePort, openConsolePage, startStack, waitForPanelState,
} from '../harness.mjs';
import { SEED1_URL } from '../pages.mjs';

let stack;
let options;
let downUrl;

const ORG = { id: 'example-org', name: 'Example Corp', kind: 'organization', issuer: 'https://idp.example.com/org', clientId: 'consoledx' };
const ACCT = { id: 'charlie-acct', name: 'Charlie account', kind: 'account', issuer: 'https://idp.example.com/charlie', clientId: 'consoledx' };

function profileFile(overrides = {}) {
  return {
    format: 1,
    identitySources: [ORG, ACCT],
    profiles: [
      { id: 'us', name: 'US Profile', identitySource: 'example-org', region: 'us-east-1', backendUrl: downUrl, customization: 'alpha-runbooks' },
      { id: 'eu', name: 'EU Profile', identitySource: 'example-org', region: 'eu-central-1', backendUrl: downUrl },
      { id: 'charlie', name: 'Charlie', identitySource: 'charlie-acct', region: 'us-west-2', backendUrl: downUrl },
    ],
    ...overrides,
  };
}

async function importFile(page, name, value) {
  await page.getByLabel('Import a profile file').setInputFiles({
    name, mimeType: 'application/json', buffer: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  });
}

const rows = (page) => page.locator('#profile-rows tr');
const status = (page) => page.locator('#profile-status');

before(async () => {
  stack = await startStack();
  // A loopback port with nothing listening: "the US backend is down".
  downUrl = `http://127.0.0.1:${await freePort()}`;
  options = await stack.context.newPage();
  await options.goto(`chrome-extension://${stack.extensionId}/options.html`);
  await options.waitForSelector('body[data-profiles-ready]');
});
after(async () => { await stack?.stop(); });

test('importing the administrator file lists every profile', async () => {
  assert.equal(await rows(options).count(), 0);
  await importFile(options, 'orange-blue.json', profileFile());
  await options.getByText('Imported orange-blue.json: 3 added, 0 replaced.').waitFor({ timeout: 10_000 });
  assert.equal(await rows(options).count(), 3);
  const table = await options.locator('#profile-table').innerText();
  assert.match(table, /US Profile \(customization alpha-runbooks\)\s+us-east-1\s+Example Corp/);
  assert.match(table, /Charlie\s+us-west-2\s+Charlie account/);
  assert.deepEqual(await axeViolations(options), [], 'options page with profiles');
});

test('a bad profile file is refused with the reason and changes nothing', async () => {
  const bad = profileFile();
  bad.profiles[1] = { ...bad.profiles[1], backendUrl: 'http://consoledx.example.com' };
  await importFile(options, 'bad.json', bad);
  await status(options).getByText(/bad\.json was not imported: Profile “eu”: backendUrl: plain http:\/\//).waitFor({ timeout: 10_000 });
  await importFile(options, 'broken.json', '{"format": 1, "profiles": [');
  await status(options).getByText(/broken\.json was not imported: The profile file is not valid JSON/).waitFor({ timeout: 10_000 });
  await importFile(options, 'future.json', { format: 2, profiles: [] });
  await status(options).getByText(/this version of consoledx reads format 1/).waitFor({ timeout: 10_000 });
  await options.reload();
  await options.waitForSelector('body[data-profiles-ready]');
  assert.equal(await rows(options).count(), 3, 'still the three imported profiles');
  assert.doesNotMatch(await options.locator('#profile-table').innerText(), /consoledx\.example\.com/);
});

test('add, edit and remove a profile from the form', async () => {
  await options.getByLabel('Name', { exact: true }).fill('Local backend');
  await options.getByLabel('Region').fill('us-west-2');
  await options.getByLabel('Backend address').fill(stack.backendUrl);
  await options.getByRole('button', { name: 'Add profile' }).click();
  await status(options).getByText('Added Local backend.').waitFor({ timeout: 10_000 });
  assert.equal(await rows(options).count(), 4);

  // A region that is not one is refused by the core, with the field named.
  await options.getByRole('button', { name: 'Edit EU Profile' }).click();
  await options.getByLabel('Region').fill('eu-middle-1');
  await options.getByRole('button', { name: 'Save profile' }).click();
  await status(options).getByText(/Profile “eu”: region: “eu-middle-1” is not an AWS region/).waitFor({ timeout: 10_000 });
  await options.getByLabel('Region').fill('eu-west-1');
  await options.getByRole('button', { name: 'Save profile' }).click();
  await status(options).getByText('Saved EU Profile.').waitFor({ timeout: 10_000 });
  assert.match(await options.locator('#profile-table').innerText(), /EU Profile\s+eu-west-1/);

  await options.getByRole('button', { name: 'Remove Charlie' }).click();
  await status(options).getByText('Removed Charlie.').waitFor({ timeout: 10_000 });
  assert.equal(await rows(options).count(), 3);
  // Its identity source went with it: no other profile used it.
  const sources = await options.getByLabel('Identity source', { exact: true }).locator('option').allInnerTexts();
  assert.ok(!sources.some((s) => s.includes('Charlie account')), sources.join(' | '));
  assert.ok(sources.some((s) => s.includes('Example Corp')), sources.join(' | '));
});

test('the popup switches profiles; sign-in is asked only for a new identity source', async () => {
  const popup = await stack.context.newPage();
  await popup.goto(`chrome-extension://${stack.extensionId}/popup.html`);
  await popup.waitForSelector('body[data-ready]');
  const choices = popup.getByRole('radio');
  assert.equal(await choices.count(), 3);
  assert.deepEqual(await axeViolations(popup), [], 'popup with profiles');
  await popup.getByRole('radio', { name: /EU Profile/ }).check();
  await popup.getByText(/EU Profile is active\. It needs a sign-in to Example Corp/).waitFor({ timeout: 10_000 });
  await popup.getByRole('radio', { name: /Local backend/ }).check();
  await popup.getByText(/^Local backend is active\.$/).waitFor({ timeout: 10_000 });
  await popup.getByText(new RegExp(`Connected to consoledx .* at ${stack.backendUrl}`)).waitFor({ timeout: 10_000 });
  await popup.close();

  // The choice is stored: a fresh popup shows it checked.
  const again = await stack.context.newPage();
  await again.goto(`chrome-extension://${stack.extensionId}/popup.html`);
  await again.waitForSelector('body[data-ready]');
  assert.ok(await again.getByRole('radio', { name: /Local backend/ }).isChecked());
  await again.close();
});

test('diagnoses go to the active profile’s backend', async () => {
  const { page } = await openConsolePage(stack.context, SEED1_URL);
  const flash = page.locator('[data-analytics-flashbar="error"]');
  await diagnoseButton(flash).click();
  const region = diagnosisRegion(flash);
  await waitForPanelState(region, 'analysis');
  assert.doesNotMatch(await region.innerText(), /Local analysis/, 'the Local backend profile answered');

  const popup = await stack.context.newPage();
  await popup.goto(`chrome-extension://${stack.extensionId}/popup.html`);
  await popup.waitForSelector('body[data-ready]');
  await popup.getByRole('radio', { name: /US Profile/ }).check();
  await popup.getByText(/US Profile is active/).waitFor({ timeout: 10_000 });
  await popup.close();

  await region.getByRole('button', { name: /Close/ }).click();
  await diagnoseButton(flash).click();
  await diagnosisRegion(flash).getByText(`Cannot reach the consoledx backend at ${downUrl}`, { exact: false }).waitFor({ timeout: 15_000 });
  assert.match(await diagnosisRegion(flash).innerText(), /Local analysis/);
  await page.close();
});
