// Toolbar popup: is the backend reachable, and which profile answers.
// The check is the core's, through the service worker, like the options page's.
const api = globalThis.browser ?? globalThis.chrome;
const backend = document.getElementById('backend');
const profile = document.getElementById('profile');

async function check() {
  backend.textContent = 'Checking…';
  backend.className = '';
  try {
    const reply = await api.runtime.sendMessage({ type: 'TestConnection' });
    backend.textContent = reply.detail ?? reply.message;
    backend.className = reply.ok ? 'ok' : 'error';
  } catch (error) {
    backend.textContent = `The consoledx service worker did not answer: ${error.message ?? error}`;
    backend.className = 'error';
  }
  const stored = await api.storage.sync.get(['profile']);
  profile.textContent = stored.profile || 'Default (built-in knowledge base)';
}

document.getElementById('recheck').addEventListener('click', check);
document.getElementById('open-options').addEventListener('click', () => api.runtime.openOptionsPage());
check();
