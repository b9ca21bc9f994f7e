// Options page: reads and writes chrome.storage.sync. Checks are the core's
// (Test connection goes through the service worker like every diagnosis).
import { profileRequest } from './profiles.js';
import { signInControls } from './signin.js';

const api = globalThis.browser ?? globalThis.chrome;
const DEFAULT_BACKEND_URL = 'http://127.0.0.1:8787';
const form = document.getElementById('settings');
const status = document.getElementById('status');
const urlInput = document.getElementById('backend-url');
const patternsInput = document.getElementById('redaction-patterns');

function say(message, isError = false) {
  status.textContent = message;
  status.classList.toggle('error', isError);
}

const patterns = () => patternsInput.value.split('\n').map((line) => line.trim()).filter(Boolean);

// Loopback is in the manifest; any other backend host is asked for when it is set.
async function permit(backendUrl) {
  const { protocol, hostname, origin } = new URL(backendUrl);
  if (!['http:', 'https:'].includes(protocol)) throw new Error('The backend URL must start with http:// or https://');
  if (hostname === '127.0.0.1' || hostname === 'localhost') return;
  const granted = await api.permissions.request({ origins: [`${origin}/*`] });
  if (!granted) throw new Error(`Permission to contact ${origin} was not granted.`);
}

// The form is filled before it can be used: a Save before the stored values
// arrive would otherwise write the defaults over them.
form.inert = true;
api.storage.sync.get(['backendUrl', 'redactionPatterns']).then((stored) => {
  urlInput.value = stored.backendUrl ?? DEFAULT_BACKEND_URL;
  patternsInput.value = (stored.redactionPatterns ?? []).join('\n');
  form.inert = false;
  document.body.dataset.ready = 'true';
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const backendUrl = urlInput.value.trim();
    await permit(backendUrl);
    await api.storage.sync.set({ backendUrl, redactionPatterns: patterns() });
    say('Saved.');
  } catch (error) {
    say(String(error.message ?? error), true);
  }
});

document.getElementById('test-connection').addEventListener('click', async () => {
  say('Testing…');
  try {
    const reply = await api.runtime.sendMessage({ type: 'TestConnection', backendUrl: urlInput.value.trim() });
    say(reply.detail ?? reply.message, !reply.ok);
  } catch (error) {
    say(String(error.message ?? error), true);
  }
});

// Profiles: the core checks and applies every change (profiles.js); this page
// only renders and collects.
const profileRows = document.getElementById('profile-rows');
const profileTable = document.getElementById('profile-table');
const noProfiles = document.getElementById('no-profiles');
const profileForm = document.getElementById('profile-form');
const profileStatus = document.getElementById('profile-status');
const sourceSelect = document.getElementById('profile-source');
const newSource = document.getElementById('new-source');
const field = (id) => document.getElementById(id);
const NEW_SOURCE = '\u0000new';
let profileSet = { identitySources: [], profiles: [] };

function sayProfiles(message, isError = false) {
  profileStatus.textContent = message;
  profileStatus.classList.toggle('error', isError);
}


// Ids are derived from names: lower-case letters, digits and '-', unique in the set.
function newId(name, taken) {
  const base = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48) || 'profile';
  let id = base;
  for (let n = 2; taken.includes(id); n += 1) id = `${base}-${n}`;
  return id;
}

function renderProfiles(set) {
  profileSet = set;
  const sources = new Map(set.identitySources.map((source) => [source.id, source]));
  profileRows.replaceChildren();
  for (const profile of set.profiles) {
    const row = document.createElement('tr');
    const cell = (text) => {
      const td = document.createElement('td');
      td.textContent = text;
      row.append(td);
    };
    cell(profile.name + (profile.customization ? ` (customization ${profile.customization})` : ''));
    cell(profile.region);
    cell(sources.get(profile.identitySource)?.name ?? 'None');
    cell(profile.backendUrl);
    const actions = document.createElement('td');
    actions.className = 'actions';
    const edit = document.createElement('button');
    edit.type = 'button';
    edit.textContent = 'Edit';
    edit.setAttribute('aria-label', `Edit ${profile.name}`);
    edit.addEventListener('click', () => editProfile(profile));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', `Remove ${profile.name}`);
    remove.addEventListener('click', () => removeProfile(profile));
    actions.append(edit, remove);
    row.append(actions);
    profileRows.append(row);
  }
  profileTable.hidden = set.profiles.length === 0;
  noProfiles.hidden = set.profiles.length !== 0;
  const chosen = sourceSelect.value;
  sourceSelect.replaceChildren(new Option('None (no sign-in)', ''));
  for (const source of set.identitySources) sourceSelect.append(new Option(`${source.name} — ${source.issuer}`, source.id));
  sourceSelect.append(new Option('New identity source…', NEW_SOURCE));
  sourceSelect.value = [...sourceSelect.options].some((o) => o.value === chosen) ? chosen : '';
  newSource.hidden = sourceSelect.value !== NEW_SOURCE;
  renderSignIn(set);
}

// One block per identity source; a block is kept while its source is, so a
// sign-in under way goes on polling through re-renders.
const signInBlocks = new Map();
function renderSignIn(set) {
  const sources = set.identitySources;
  const list = document.getElementById('signin-sources');
  const keep = new Map();
  const active = set.active ?? set.profiles[0]?.id;
  for (const source of sources) {
    // The backend that checks this source's session: the active profile's
    // when it signs in here, else the first profile's that does.
    const users = set.profiles.filter((p) => p.identitySource === source.id);
    const backendUrl = (users.find((p) => p.id === active) ?? users[0])?.backendUrl;
    const id = `${source.id} ${source.issuer} ${source.clientId} ${source.name} ${backendUrl}`;
    let block = signInBlocks.get(id);
    if (!block) {
      block = document.createElement('div');
      block.className = 'signin-source';
      const heading = document.createElement('h3');
      heading.textContent = `${source.name} — ${source.issuer}`;
      const controls = document.createElement('div');
      block.append(heading, controls);
      signInControls(controls, source, undefined, { backendUrl });
    }
    keep.set(id, block);
  }
  signInBlocks.clear();
  for (const [id, block] of keep) signInBlocks.set(id, block);
  list.replaceChildren(...keep.values());
  document.getElementById('no-sources').hidden = sources.length !== 0;
}

function resetProfileForm() {
  profileForm.reset();
  field('profile-id').value = '';
  field('profile-form-heading').textContent = 'Add a profile';
  field('profile-save').textContent = 'Add profile';
  field('profile-cancel').hidden = true;
  newSource.hidden = true;
}

function editProfile(profile) {
  field('profile-id').value = profile.id;
  field('profile-name').value = profile.name;
  field('profile-region').value = profile.region;
  field('profile-backend').value = profile.backendUrl;
  field('profile-customization').value = profile.customization ?? '';
  sourceSelect.value = profile.identitySource ?? '';
  newSource.hidden = true;
  field('profile-form-heading').textContent = `Edit ${profile.name}`;
  field('profile-save').textContent = 'Save profile';
  field('profile-cancel').hidden = false;
  field('profile-name').focus();
}

async function applied(reply, done) {
  if (reply.type !== 'Profiles') {
    sayProfiles(reply.message, true);
    return false;
  }
  renderProfiles(reply.set);
  sayProfiles(done);
  return true;
}

async function removeProfile(profile) {
  const reply = await profileRequest({ type: 'RemoveProfile', id: profile.id });
  await applied(reply, `Removed ${profile.name}.`);
}

sourceSelect.addEventListener('change', () => { newSource.hidden = sourceSelect.value !== NEW_SOURCE; });
field('profile-cancel').addEventListener('click', resetProfileForm);

profileForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const editing = field('profile-id').value;
  const name = field('profile-name').value.trim();
  const taken = profileSet.profiles.map((p) => p.id);
  const profile = {
    id: editing || newId(name, taken),
    name,
    region: field('profile-region').value.trim(),
    backendUrl: field('profile-backend').value.trim(),
  };
  const customization = field('profile-customization').value.trim();
  if (customization) profile.customization = customization;
  // Runbook hosts come only from the administrator's file: editing keeps them.
  const linkHosts = profileSet.profiles.find((p) => p.id === editing)?.linkHosts;
  if (linkHosts) profile.linkHosts = linkHosts;
  let source;
  if (sourceSelect.value === NEW_SOURCE) {
    const sourceName = field('source-name').value.trim();
    source = {
      id: newId(sourceName || 'identity-source', profileSet.identitySources.map((s) => s.id)),
      name: sourceName,
      kind: field('source-kind').value,
      issuer: field('source-issuer').value.trim(),
      clientId: field('source-client').value.trim(),
    };
    profile.identitySource = source.id;
  } else if (sourceSelect.value) {
    profile.identitySource = sourceSelect.value;
  }
  try {
    await permit(profile.backendUrl);
  } catch (error) {
    sayProfiles(String(error.message ?? error), true);
    return;
  }
  const reply = await profileRequest({ type: 'SaveProfile', profile, ...(source ? { source } : {}) });
  if (await applied(reply, `${editing ? 'Saved' : 'Added'} ${name}.`)) resetProfileForm();
});

field('profile-file').addEventListener('change', async (event) => {
  const [file] = event.target.files;
  if (!file) return;
  // The core reads the file; a profile file is small, and anything larger is not one.
  if (file.size > 256 * 1024) {
    sayProfiles(`${file.name} is ${file.size} bytes; a profile file is at most 256 KB.`, true);
    event.target.value = '';
    return;
  }
  const text = await file.text();
  const reply = await profileRequest({ type: 'ImportProfiles', text });
  if (reply.type === 'Profiles') {
    const { added, replaced } = reply.imported;
    await applied(reply, `Imported ${file.name}: ${added.length} added, ${replaced.length} replaced.`);
  } else {
    sayProfiles(`${file.name} was not imported: ${reply.message}`, true);
  }
  event.target.value = '';
});

profileRequest({ type: 'ListProfiles' }).then((reply) => {
  if (reply.type === 'Profiles') renderProfiles(reply.set);
  else sayProfiles(reply.message, true);
  document.body.dataset.profilesReady = 'true';
});
