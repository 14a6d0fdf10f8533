// Owns: standing between a server and the driver's parser on our socket — judging the server's first message
// before the driver sees it, and turning a parser that throws on hostile bytes into PROTOCOL_ERROR.
// Must not: alter the bytes it lets through, or judge anything after the first message.

import type { Socket } from 'node:net';
import { ItemErrorCode } from '@conncheck/core';
import { ProbeFailure } from './probe-result.js';
import type { ServerInfo } from './types.js';
import { serverText } from './server-text.js';

export type GreetingVerdict = { kind: 'more' } | { kind: 'ok'; server?: ServerInfo } | { kind: 'bad'; code?: ItemErrorCode; message: string };

export interface ReplyGuardOptions {
  /** What the first message should be, for error_msg: "a PostgreSQL reply". */
  expected: string;
  judge(received: Buffer): GreetingVerdict;
  onGreeting(server: ServerInfo | undefined): void;
  /** Called once; the socket is destroyed right after. */
  onFailure(failure: ProbeFailure): void;
}

/** Never hold back more than this while judging: a real first message is far smaller. */
const MAX_GREETING_BYTES = 64 * 1024;

/**
 * Installs the guard on `socket`; call it before handing the socket to a driver.
 *
 * Why: a driver parses garbage as a length and waits for megabytes that never come, or throws. pg-protocol
 * throws from inside the socket's 'data' event on an unknown authentication type, which would be an uncaught
 * exception and take the whole worker down. So the first message is judged here and only reaches the driver
 * once it looks right, and every later 'data' delivery runs inside a try/catch. The guard sits in the
 * socket's own `emit`, because that is the one place every listener is called from, whatever their order.
 */
export function guardReplies(socket: Socket, options: ReplyGuardOptions): void {
  let state: 'judging' | 'passing' | 'failed' = 'judging';
  let held = Buffer.alloc(0);
  type Emit = (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
  // The socket's own emit, kept to be called with the socket as `this` once the reply passed.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called as emit.call(socket, …)
  const emit = socket.emit as Emit;

  const fail = (failure: ProbeFailure): void => {
    if (state === 'failed') return;
    state = 'failed';
    options.onFailure(failure);
    socket.destroy();
  };
  const deliver = (chunk: Buffer): boolean => {
    try {
      return emit.call(socket, 'data', chunk);
    } catch (err) {
      fail(new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, `malformed reply from the server: ${err instanceof Error ? err.message : String(err)}`));
      return false;
    }
  };

  socket.emit = function guardedEmit(this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'end' || event === 'close') {
      if (state === 'judging' && held.length > 0) {
        fail(new ProbeFailure(ItemErrorCode.PROTOCOL_ERROR, `${notExpected(held, options.expected)}, then closed the connection`));
      }
      return emit.call(this, event, ...args);
    }
    if (event !== 'data') return emit.call(this, event, ...args);
    if (state === 'failed') return false;
    const chunk = args[0] as Buffer;
    if (state === 'passing') return deliver(chunk);
    held = Buffer.concat([held, chunk]);
    const verdict: GreetingVerdict = held.length > MAX_GREETING_BYTES ? { kind: 'bad', message: notExpected(held, options.expected) } : options.judge(held);
    if (verdict.kind === 'more') return true;
    if (verdict.kind === 'bad') {
      fail(new ProbeFailure(verdict.code ?? ItemErrorCode.PROTOCOL_ERROR, verdict.message));
      return false;
    }
    state = 'passing';
    options.onGreeting(verdict.server);
    const all = held;
    held = Buffer.alloc(0);
    return deliver(all);
  } as Socket['emit'];
}

export function notExpected(received: Buffer, expected: string): string {
  return `the server's first bytes are not ${expected}: ${describeBytes(received)}`;
}

/** A short, printable rendering of untrusted bytes, with a guess at what sent them. */
export function describeBytes(bytes: Buffer): string {
  const head = bytes.subarray(0, 32);
  const text = head.toString('latin1');
  const printable = /^[\x20-\x7e\r\n\t]*$/.test(text);
  const shown = serverText(printable ? JSON.stringify(text.trim()) : `0x${head.toString('hex')}`);
  const guess = guessProtocol(bytes);
  return guess ? `${shown} (looks like ${guess})` : shown;
}

function guessProtocol(bytes: Buffer): string | undefined {
  const text = bytes.subarray(0, 8).toString('latin1');
  if (text.startsWith('SSH-')) return 'an SSH server';
  if (text.startsWith('HTTP/')) return 'an HTTP server';
  if (text.startsWith('-ERR') || text.startsWith('+OK')) return 'a Redis or POP3 server';
  if (/^220[ -]/.test(text)) return 'an SMTP or FTP server';
  if (bytes.length >= 5 && bytes[3] === 0 && bytes[4] === 0x0a) return 'a MySQL or MariaDB server';
  if (bytes[0] === 0x16 && bytes[1] === 0x03) return 'a TLS server';
  return undefined;
}
