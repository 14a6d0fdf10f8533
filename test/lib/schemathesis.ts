// Test support: schemathesis (the property-based API fuzzer, from PyPI) in a virtualenv of its own, installed once per
// machine into a cache outside the repo, at a pinned version. Must not: install anything into the system's Python.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const SCHEMATHESIS_VERSION = '4.32.5';

/** The `schemathesis` command: from the cache, else a new virtualenv with it installed by pip (about 30 s, once). */
export async function schemathesisCommand(): Promise<string> {
  const root = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'conncheck');
  const dir = join(root, `schemathesis-${SCHEMATHESIS_VERSION}`);
  const bin = join(dir, 'bin', 'schemathesis');
  // Written last: a directory without it is an install that did not finish.
  const complete = join(dir, '.complete');
  if (existsSync(complete)) return bin;
  mkdirSync(root, { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  const run = promisify(execFile);
  try {
    // Made where it stays: a virtualenv's scripts name their directory.
    await run('python3', ['-m', 'venv', dir], { timeout: 120_000 });
    await run(join(dir, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`], { timeout: 600_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    rmSync(dir, { recursive: true, force: true });
    if (e.code === 'ENOENT') throw new Error('the API fuzz run needs python3 with its venv module on PATH (schemathesis comes from PyPI)');
    throw new Error(`installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI failed: ${e.stderr ?? e.message}`);
  }
  writeFileSync(complete, '');
  return bin;
}
