// Owns: the CLI process: runs the command line and sets the exit code. Must not: hold command logic (program.ts).
// Reached through bin/conncheck.js only.

import { run } from './program.js';

// A reader that goes away (`conncheck list | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
// exitCode rather than exit(): stdout, when a pipe, is written asynchronously and must drain first.
process.exitCode = await run(process.argv.slice(2));
