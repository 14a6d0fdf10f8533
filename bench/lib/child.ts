// Owns: the bench's helper processes (targets and bare baselines), each speaking one JSON object per stdout line.
// Must not: measure anything itself; the bench times what it asks of them.

import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Child {
  proc: ChildProcess;
  /** The next JSON line the child prints. */
  next<T = Record<string, unknown>>(): Promise<T>;
  /** Sends one JSON line to the child's stdin. */
  send(message: unknown): void;
  stop(): void;
}

const running = new Set<ChildProcess>();
// However the bench ends (an error included), no helper outlives it holding a port or the terminal's pipe.
process.on('exit', () => {
  for (const proc of running) proc.kill('SIGKILL');
});

/** Starts `bench/dist/children/<name>.js` with `args` and waits for its first line (its "ready" report). */
export async function startChild(name: string, args: string[] = []): Promise<{ child: Child; ready: Record<string, unknown> }> {
  const file = fileURLToPath(new URL(`../children/${name}.js`, import.meta.url));
  const proc = spawn(process.execPath, [file, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`bench child ${name} exited with ${code}`))));
  exited.catch(() => undefined);
  const child: Child = {
    proc,
    next: <T>() => {
      const line = lines.shift();
      const got = line !== undefined ? Promise.resolve(line) : new Promise<string>((resolve) => waiting.push(resolve));
      return Promise.race([got, exited]).then((l) => JSON.parse(l) as T);
    },
    send: (message) => proc.stdin.write(`${JSON.stringify(message)}\n`),
    stop: () => {
      proc.kill('SIGKILL');
    },
  };
  return { child, ready: await child.next() };
}

/** Reads one JSON object per stdin line, for a child's commands. */
export function onCommand(handle: (command: Record<string, unknown>) => unknown): void {
  createInterface({ input: process.stdin }).on('line', (line) => {
    void Promise.resolve(handle(JSON.parse(line) as Record<string, unknown>)).then((reply) => {
      if (reply !== undefined) process.stdout.write(`${JSON.stringify(reply)}\n`);
    });
  });
  process.stdin.on('end', () => process.exit(0));
}

export function report(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/** One TCP connect to 127.0.0.1:`port` and an immediate close: the work both bare baselines do per item. */
export function tcpConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}
