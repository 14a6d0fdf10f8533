// Test support: the whole pipeline in one process — API (inject), BullMQ, an in-process worker, the store — on a
// fresh Redis prefix, plus small real socket servers that are closed with it.

import assert from 'node:assert/strict';
import { type AddressInfo, type Server, type Socket, createServer } from 'node:net';
import { buildApp } from '@conncheck/api';
import type { CheckItem, Config, Task } from '@conncheck/core';
import { type RunningWorker, startWorker } from '@conncheck/worker';
import type { FastifyInstance } from 'fastify';
import { type Harness, harness, quietLogger, waitFor } from './harness.js';

export interface Listener {
  server: Server;
  port: number;
  /** The server side of every open connection. */
  sockets: Set<Socket>;
}

export interface Pipeline {
  h: Harness;
  app: FastifyInstance;
  readonly worker: RunningWorker;
  /** POSTs a batch to project `proj` and returns its check_id (asserting the 202). */
  submit(jobs: unknown[]): Promise<string>;
  task(checkId: string): Promise<Task>;
  /** Polls until the task has ended. */
  finished(checkId: string, timeoutMs?: number): Promise<Task>;
  /** A real listener on 127.0.0.1 that reads and drops what clients send; closed by close(). */
  listen(onConnection?: (socket: Socket) => void): Promise<Listener>;
  /** Stops the worker and starts another with this config (e.g. another network policy). */
  replaceWorker(config: Config): Promise<void>;
  close(): Promise<void>;
}

export async function startPipeline(env: Record<string, string> = {}): Promise<Pipeline> {
  const h = await harness({ CONNCHECK_WORKER_CONCURRENCY: '8', ...env });
  const app = await buildApp({ config: h.config, store: h.store, queue: h.queue });
  let worker = await startWorker(h.config, h.box, quietLogger);
  const listeners: Listener[] = [];
  const task = async (checkId: string): Promise<Task> => (await app.inject(`/v1/proj/checks/${checkId}`)).json();
  return {
    h,
    app,
    get worker() {
      return worker;
    },
    async submit(jobs) {
      const res = await app.inject({ method: 'POST', url: '/v3/proj/jobs/batch-connection', payload: { jobs } });
      assert.equal(res.statusCode, 202, res.body);
      return res.json().check_id;
    },
    task,
    finished(checkId, timeoutMs = 30_000) {
      return waitFor(
        async () => {
          const t = await task(checkId);
          return t.finished_at !== null ? t : undefined;
        },
        timeoutMs,
        `task ${checkId} to end`,
      );
    },
    async listen(onConnection = () => undefined) {
      const sockets = new Set<Socket>();
      const server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        // Read (and drop) what the client sends: a paused socket never sees the client's FIN behind unread bytes.
        socket.resume();
        onConnection(socket);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const listener = { server, port: (server.address() as AddressInfo).port, sockets };
      listeners.push(listener);
      return listener;
    },
    async replaceWorker(config) {
      await worker.close();
      worker = await startWorker(config, h.box, quietLogger);
    },
    async close() {
      await worker.close();
      await app.close();
      for (const { server, sockets } of listeners) {
        for (const socket of sockets) socket.destroy();
        server.close();
      }
      await h.close();
    },
  };
}

/** `dns:skipped tcp:ok auth:failed …`: an item's stages in one comparable string. */
export function stages(item: CheckItem | undefined): string {
  return (item?.stages ?? []).map((s) => `${s.name}:${s.status}`).join(' ');
}

/**
 * An address where a TCP connect never completes, as behind a firewall that drops: a real listener (a small Python
 * process, since Node always accepts) that never accepts, its one-slot accept queue filled, so the kernel drops every
 * further SYN. `close()` ends it.
 */
export async function blackhole(): Promise<{ port: number; close(): void }> {
  const { spawn } = await import('node:child_process');
  const { connect } = await import('node:net');
  const child = spawn(
    'python3',
    ['-c', 'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  const filler = connect(port, '127.0.0.1');
  filler.on('error', () => undefined);
  await new Promise((resolve) => filler.once('connect', resolve));
  return {
    port,
    close() {
      filler.destroy();
      child.stdin.end();
      child.kill();
    },
  };
}
