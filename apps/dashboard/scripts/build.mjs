#!/usr/bin/env node
// Owns: building the dashboard (vite build into dist/ui) only when something it is built from changed, so that the
// root `npm run build`, which `npm start` runs at every start, costs a few stats when nothing did; `--force` builds.
// Must not: type-check (the root `tsc -b` does, through the root tsconfig's references) or write outside dist/.

import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(root, '../..');
const outDir = join(root, 'dist/ui');
/** What the last build was made from: every module in the bundle, as Vite reported it, and when the build began. */
const record = join(root, 'dist/build-inputs.json');
/** Read by the build without being modules of the bundle. */
const fixedInputs = ['index.html', 'vite.config.mjs', 'package.json', 'scripts/build.mjs', 'public/favicon.svg'].map((f) => join(root, f));

function upToDate() {
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(record, 'utf8'));
    statSync(join(outDir, 'index.html'));
  } catch {
    return false;
  }
  const files = [...fixedInputs, join(repo, 'package-lock.json'), ...recorded.inputs.map((f) => resolve(repo, f))];
  for (const file of files) {
    try {
      // Compared with when the last build began, so that a file saved during a build is built again next time.
      if (statSync(file).mtimeMs > recorded.startedAt) return false;
    } catch {
      return false; // gone: the bundle was made of something that no longer exists
    }
  }
  return true;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * One build at a time: `npm run start:api` and several `start:worker`s started together all run the build, and two
 * Vite builds emptying the same directory would break each other. The others wait, then find the build up to date.
 */
async function withLock(fn) {
  const lock = join(root, 'dist/build.lock');
  mkdirSync(dirname(lock), { recursive: true });
  const until = Date.now() + 120_000;
  for (;;) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(lock, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    if (!holder || !alive(holder)) {
      rmSync(lock, { force: true }); // left by a build that died
      continue;
    }
    if (Date.now() > until) throw new Error(`dashboard: ${lock} is held by process ${holder}; remove it if that is not a build`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

const force = process.argv.includes('--force');
if (!force && upToDate()) process.exit(0);
await withLock(async () => {
  if (!force && upToDate()) return; // built by the process that held the lock
  await build();
});

async function build() {
  const startedAt = Date.now();
  const vite = await import('vite');
  const result = await vite.build({ root, configFile: join(root, 'vite.config.mjs'), logLevel: 'warn' });
  const outputs = Array.isArray(result) ? result : [result];
  const inputs = new Set();
  for (const output of outputs) {
    if (!('output' in output)) continue;
    for (const chunk of output.output) {
      if (chunk.type !== 'chunk') continue;
      for (const id of chunk.moduleIds) {
        const file = id.split('?')[0];
        if (isAbsolute(file)) inputs.add(relative(repo, file)); // virtual modules (\0…) are Vite's own
      }
    }
  }
  mkdirSync(dirname(record), { recursive: true });
  writeFileSync(record, `${JSON.stringify({ startedAt, inputs: [...inputs].sort() }, null, 2)}\n`);
  process.stderr.write(`dashboard: built ${relative(repo, outDir)} from ${inputs.size} modules in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
}
