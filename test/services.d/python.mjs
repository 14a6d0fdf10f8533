// Python 3 with its venv module, for the API fuzz run (test/fuzz.test.ts makes a virtualenv and installs
// schemathesis from PyPI into it). Debian splits venv's ensurepip into `python3-venv`, installed with the servers'
// packages when missing. Not a server: nothing is started here.
import { spawnSync } from 'node:child_process';
import { which } from './common.mjs';

export function pythonVenvMissing() {
  if (!which('python3')) return ['python3', 'python3-venv'];
  const probe = spawnSync('python3', ['-c', 'import ensurepip, venv'], { stdio: 'ignore' });
  return probe.status === 0 ? [] : ['python3-venv'];
}
