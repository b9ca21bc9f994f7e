// Profile requests from the options page and the popup. The Rust core
// (pages-pkg, built from pages/ over core::profile) checks and applies each
// one; this module only does the storage I/O. The set and the active profile's
// summary (all the service worker reads) are written together.
import init, { handleProfiles } from './pages-pkg/consoledx_pages.js';

const api = globalThis.browser ?? globalThis.chrome;
const ready = init({ module_or_path: new URL('./pages-pkg/consoledx_pages_bg.wasm', import.meta.url) });

async function apply(message) {
  await ready;
  const { profiles } = await api.storage.sync.get('profiles');
  const stored = profiles == null ? undefined : JSON.stringify(profiles);
  const reply = JSON.parse(handleProfiles(JSON.stringify(message), stored));
  if (reply.type === 'Profiles' && reply.changed) {
    try {
      await api.storage.sync.set({ profiles: reply.set, activeProfile: reply.active ?? null });
    } catch (error) {
      return { type: 'Error', message: `The profiles could not be stored, so nothing changed: ${error.message ?? error}` };
    }
  }
  return reply;
}

// One request at a time: each reads, changes and writes the one stored set.
let queue = Promise.resolve();

export function profileRequest(message) {
  const run = () => apply(message).catch((error) => ({ type: 'Error', message: `consoledx could not load its profile module: ${error.message ?? error}` }));
  queue = queue.then(run, run);
  return queue;
}
