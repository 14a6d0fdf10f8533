// Test support: the service's processes, started exactly as the README tells a user to start them (`npm start`,
// `npm run start:api`, `npm run start:worker`), so that a drift between the README's scripts and the build fails a test.
// Must not: start a process by a file path of its own; the npm script is the contract (DESIGN.md).

import { type ChildProcess, spawn } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from './harness.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The npm scripts the README names for starting the service. */
export type StartScript = 'start' | 'start:api' | 'start:worker';

export interface Proc {
  child: ChildProcess;
  /** Everything the process printed, npm's own lines included. */
  output(): string;
  /** What the service printed: the output without npm's `> conncheck@… script` banner and blank lines. */
  serviceOutput(): string;
  /** The npm process's exit code (npm passes on the script's). */
  exited: Promise<number | null>;
  /** A signal to npm, as `kill <pid>` or a service manager sends it; npm passes SIGTERM and SIGINT on to the service. */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL to npm and the service at once (the process group): a crash, not a shutdown. */
  kill(): void;
}

/**
 * Runs `npm run <script>` in the repository with only PATH and `env` set. The process gets a group of its own so that
 * `kill()` reaches the service behind npm too.
 */
export function startScript(script: StartScript, env: Record<string, string>): Proc {
  const child = spawn('npm', ['run', script], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  return {
    child,
    output: () => output,
    serviceOutput: () =>
      output
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('> '))
        .map((line) => `${line}\n`)
        .join(''),
    exited,
    signal: (signal) => {
      if (!gone) child.kill(signal);
    },
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    },
  };
}

/** A loopback port nothing listens on: for a process to take, or to be refused at (CONNECTION_REFUSED). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Waits until `GET /readyz` answers 200; on a timeout the error carries what the process printed. */
export async function waitUntilReady(base: string, proc: Proc, timeoutMs = 30_000): Promise<void> {
  try {
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`the process exited with code ${proc.child.exitCode}`);
        try {
          return (await fetch(`${base}/readyz`)).status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      timeoutMs,
      `${base}/readyz`,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; the process said:\n${proc.output()}`);
  }
}
