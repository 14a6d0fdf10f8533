#!/usr/bin/env node
// Owns: the `conncheck` command (`npx conncheck` from the repo): the one entry point of the CLI, named by its
// package.json `bin`. Must not: hold logic; it starts the build's main module (npm ci links bins before a build exists).
import { existsSync } from 'node:fs';

const main = new URL('../dist/src/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('conncheck: not built yet: run `npm run build` first\n');
  process.exit(2);
}
await import(main.href);
