// Owns: a private, per-run relay between a database driver that insists on opening its own connections and the
// upstream sockets a probe opened itself (to policy-checked addresses, TLS already verified). Must not: resolve
// names, choose addresses or speak any database protocol; the probe hands it a way to open upstream sockets.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ItemErrorCode } from '@conncheck/core';
import { fromNodeError } from './node-errors.js';
import { ProbeFailure } from './probe-result.js';
import { guardReplies, type GreetingVerdict } from './reply-guard.js';
import type { ProbeContext } from './types.js';

/**
 * Why a relay: the driver (the official MongoDB one) opens every connection itself — a monitoring connection and
 * a pool connection per server — and offers no public way to hand it a socket. Given an address it would connect
 * to it with its own timers, and its sockets would live past the run's deadline (Node's idle timers do not stop a
 * server that trickles bytes). So the driver is pointed at this relay, a Unix socket in a private directory, and
 * every connection it opens is spliced onto an upstream socket the probe opened itself: to an address that passed
 * the network policy, tracked by the runner, TLS-verified by tls.ts when TLS was asked for. The driver cannot reach
 * anything else, and when the run ends the runner destroys both sides, which ends the driver's sockets too.
 */
export interface RelayOptions {
  /** Opens (and verifies) one more upstream connection; throws a ProbeFailure when it cannot. */
  connectUpstream(): Promise<Socket>;
  /** An upstream socket the probe already opened; the first driver connection gets it. */
  first?: Socket;
  /** Judges the server's first reply on each upstream connection (see reply-guard.ts). */
  judge(received: Buffer): GreetingVerdict;
  /** What the first reply should be, for error_msg. */
  expected: string;
}

/** The driver opens two connections per server (monitor + pool); a few more for a diagnosis. Nothing needs more. */
const MAX_CONNECTIONS = 8;

let privateDir: string | undefined;

/** One 0700 directory per process for the relays' sockets, removed at exit. */
function socketDir(): string {
  if (!privateDir) {
    privateDir = mkdtempSync(join(tmpdir(), 'conncheck-relay-'));
    const dir = privateDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return privateDir;
}

export class DriverRelay {
  /** The first failure seen on an upstream connection: the real cause behind a driver's "connection closed". */
  failure: ProbeFailure | undefined;
  /** Rejects with the first upstream failure; never resolves. Race driver calls against it to fail fast. */
  readonly failed: Promise<never>;
  /** Whether any upstream connection has delivered a well-formed first reply. */
  answered = false;

  private accepted = 0;
  private spare: Socket | undefined;
  private closing = false;
  private rejectFailed!: (failure: ProbeFailure) => void;

  private constructor(
    private readonly server: Server,
    /** Path of the Unix socket the driver connects to. */
    readonly path: string,
    private readonly options: RelayOptions,
    private readonly ctx: ProbeContext,
  ) {
    this.spare = options.first;
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => undefined);
    server.on('connection', (client) => this.accept(client));
    ctx.signal.addEventListener('abort', () => this.close(), { once: true });
  }

  static async open(options: RelayOptions, ctx: ProbeContext): Promise<DriverRelay> {
    const path = join(socketDir(), `${randomBytes(8).toString('hex')}.sock`);
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => ctx.logger.debug({ err: String(err) }, 'relay listener error'));
    return new DriverRelay(server, path, options, ctx);
  }

  /** Stops accepting; open connections are the runner's to destroy. Closing the listener removes its socket file. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.spare?.destroy();
    this.server.close();
  }

  /** Records the first failure and rejects `failed` with it. */
  fail(failure: ProbeFailure): void {
    if (this.closing || this.ctx.signal.aborted) return;
    this.failure ??= failure;
    this.rejectFailed(this.failure);
  }

  private accept(client: Socket): void {
    this.ctx.track(client);
    if (this.closing || ++this.accepted > MAX_CONNECTIONS) {
      client.destroy();
      return;
    }
    const spare = this.spare;
    this.spare = undefined;
    (spare ? Promise.resolve(spare) : this.options.connectUpstream()).then(
      (upstream) => this.splice(client, upstream),
      (err: unknown) => {
        client.destroy();
        if (err instanceof ProbeFailure) this.fail(err);
        else if (!this.ctx.signal.aborted) this.ctx.logger.debug({ err: String(err) }, 'relay upstream failed');
      },
    );
  }

  private splice(client: Socket, upstream: Socket): void {
    if (client.destroyed || this.closing) {
      upstream.destroy();
      return;
    }
    guardReplies(upstream, {
      expected: this.options.expected,
      judge: (received) => this.options.judge(received),
      onGreeting: () => (this.answered = true),
      onFailure: (failure) => this.fail(failure),
    });
    // The server hung up (or the network did) while the driver still wanted the connection.
    const serverGone = (err?: Error): void => {
      if (client.destroyed) return;
      const mapped = err ? fromNodeError(err) : undefined;
      this.fail(
        mapped ??
          new ProbeFailure(
            ItemErrorCode.CONNECTION_RESET,
            this.answered ? 'the server closed the connection' : 'the server closed the connection without answering the handshake',
          ),
      );
      client.destroy();
    };
    upstream.once('error', serverGone);
    upstream.once('end', () => serverGone());
    upstream.once('close', () => serverGone());
    client.once('close', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }
}
