#!/usr/bin/env node
// Owns: the `conncheck-worker` command, a worker process (`npm run start:worker`): the one entry point of this app, named by
// its package.json `bin` and run by the root npm script. Must not: hold logic; it starts the build's main module.
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('conncheck: not built yet: run `npm run build` first (`npm start` and the start:* scripts build first)\n');
  process.exit(2);
}
await import(main.href);
