// Toolbar popup: is the backend reachable, and which profile answers. Profiles
// are listed and switched here (the core's checks, through profiles.js); the
// backend check goes through the service worker like the options page's.
// The active profile's identity source is signed in to here (signin.js).
import { profileRequest } from './profiles.js';
import { signInControls, signedInIssuers } from './signin.js';

const api = globalThis.browser ?? globalThis.chrome;
const backend = document.getElementById('backend');
const fieldset = document.getElementById('profiles');
const list = document.getElementById('profile-list');
const noProfiles = document.getElementById('profile');
const profileStatus = document.getElementById('profile-status');
const signIn = document.getElementById('signin');
const signInBox = document.getElementById('signin-controls');
let shownSource;

async function ask(message) {
  try {
    return await api.runtime.sendMessage(message);
  } catch (error) {
    return { type: 'Error', message: `The consoledx service worker did not answer: ${error.message ?? error}` };
  }
}

async function checkBackend() {
  backend.textContent = 'Checking…';
  backend.className = '';
  const reply = await ask({ type: 'TestConnection' });
  backend.textContent = reply.detail ?? reply.message;
  backend.className = reply.ok ? 'ok' : 'error';
}

function say(text, isError = false) {
  profileStatus.textContent = text;
  profileStatus.className = isError ? 'error' : '';
}

function render(set) {
  list.replaceChildren();
  const profiles = set.profiles ?? [];
  fieldset.hidden = profiles.length === 0;
  noProfiles.textContent = profiles.length === 0
    ? 'No profiles: diagnoses go to the backend set on the options page.'
    : '';
  const active = set.active ?? profiles[0]?.id;
  const sources = new Map((set.identitySources ?? []).map((source) => [source.id, source]));
  for (const profile of profiles) {
    const label = document.createElement('label');
    label.className = 'choice';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'profile';
    input.value = profile.id;
    input.checked = profile.id === active;
    input.addEventListener('change', () => switchTo(profile.id));
    const text = document.createElement('span');
    const source = sources.get(profile.identitySource);
    text.textContent = `${profile.name} — ${profile.region}${source ? ` · ${source.name}` : ''}`;
    label.append(input, text);
    list.append(label);
  }
  const activeProfile = profiles.find((p) => p.id === active);
  const source = sources.get(activeProfile?.identitySource);
  signIn.hidden = !source;
  // Kept while the source and the backend that checks its token stay the
  // same: a sign-in under way goes on polling.
  const shown = source && `${source.issuer} ${activeProfile.backendUrl}`;
  if (shown !== shownSource) {
    shownSource = shown;
    if (source) signInControls(signInBox, source, checkBackend, { backendUrl: activeProfile.backendUrl });
    else signInBox.replaceChildren();
  }
}

async function loadProfiles() {
  const reply = await profileRequest({ type: 'ListProfiles' });
  if (reply.type === 'Profiles') render(reply.set);
  else say(reply.message, true);
}

async function switchTo(id) {
  // The core decides whether this profile needs a new sign-in; it is told
  // which issuers already have a session.
  const { set } = await profileRequest({ type: 'ListProfiles' });
  const signedIn = await signedInIssuers(set?.identitySources ?? []);
  const reply = await profileRequest({ type: 'SwitchProfile', id, signedIn });
  if (reply.type !== 'Profiles') {
    say(reply.message, true);
    return loadProfiles();
  }
  render(reply.set);
  const profile = reply.set.profiles.find((p) => p.id === id);
  const needed = reply.switched?.signIn;
  say(needed
    ? `${profile.name} is active. It needs a sign-in to ${needed.name} (${needed.issuer}); until then its backend may refuse requests.`
    : `${profile.name} is active.`);
  checkBackend();
}

document.getElementById('recheck').addEventListener('click', checkBackend);
document.getElementById('open-options').addEventListener('click', () => api.runtime.openOptionsPage());
checkBackend();
loadProfiles().then(() => { document.body.dataset.ready = 'true'; });
