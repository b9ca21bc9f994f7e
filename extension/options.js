// Options page: reads and writes chrome.storage.sync. Checks are the core's
// (Test connection goes through the service worker like every diagnosis).
const api = globalThis.browser ?? globalThis.chrome;
const DEFAULT_BACKEND_URL = 'http://127.0.0.1:8787';
const form = document.getElementById('settings');
const status = document.getElementById('status');
const urlInput = document.getElementById('backend-url');
const patternsInput = document.getElementById('redaction-patterns');
const tokenInput = document.getElementById('access-token');

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
api.storage.sync.get(['backendUrl', 'redactionPatterns', 'accessToken']).then((stored) => {
  urlInput.value = stored.backendUrl ?? DEFAULT_BACKEND_URL;
  patternsInput.value = (stored.redactionPatterns ?? []).join('\n');
  tokenInput.value = stored.accessToken ?? '';
  form.inert = false;
  document.body.dataset.ready = 'true';
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const backendUrl = urlInput.value.trim();
    await permit(backendUrl);
    await api.storage.sync.set({ backendUrl, redactionPatterns: patterns(), accessToken: tokenInput.value.trim() || null });
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
