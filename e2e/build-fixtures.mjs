// Bundles each fixture page (real Cloudscape, React 18) into build/<page>.js
// and build/<page>.css: no inline script, so pages load under
// `Content-Security-Policy: script-src 'self'`.
import { build } from 'esbuild';
import { mkdir, stat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PAGES } from './pages.mjs';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const BUILD_DIR = path.join(E2E_DIR, 'build');
const FIXTURE_DIR = path.join(E2E_DIR, 'fixtures');

async function newestMtime(dir) {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? await newestMtime(full) : (await stat(full)).mtimeMs);
  }
  return newest;
}

async function isFresh() {
  try {
    const sourceTime = Math.max(await newestMtime(FIXTURE_DIR), (await stat(path.join(E2E_DIR, 'pages.mjs'))).mtimeMs);
    for (const page of PAGES) {
      for (const ext of ['js', 'css']) {
        if ((await stat(path.join(BUILD_DIR, `${page.name}.${ext}`))).mtimeMs < sourceTime) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

/** Builds the bundles unless they are newer than every fixture source. */
export async function buildFixtures({ force = false } = {}) {
  if (!force && (await isFresh())) return BUILD_DIR;
  await mkdir(BUILD_DIR, { recursive: true });
  await build({
    entryPoints: Object.fromEntries(PAGES.map((p) => [p.name, path.join(FIXTURE_DIR, `${p.name}.jsx`)])),
    outdir: BUILD_DIR,
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome120'],
    jsx: 'automatic',
    define: { 'process.env.NODE_ENV': '"production"' },
    loader: { '.woff': 'file', '.woff2': 'file', '.png': 'file', '.svg': 'file' },
    assetNames: 'assets/[name]-[hash]',
    logLevel: 'warning',
  });
  return BUILD_DIR;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const started = Date.now();
  await buildFixtures({ force: true });
  console.log(`fixtures built into ${BUILD_DIR} in ${Date.now() - started} ms`);
}
