// Owns: the HTTP edges the framework handles before any route — the server's read timeouts and per-client connection
// bound, malformed requests the parser refuses, the JSON body parser, Content-Encoding, URLs the router refuses, and
// 405 with Allow — each answered as `{error_code, error_msg}`. Must not: hold route logic or log a body.

import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, ApiErrorCode } from '@conncheck/core';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { logErrorAnswer } from './errors.js';

export interface HttpEdgeOptions {
  /** The whole request (headers and body) must arrive within this. @defaultValue 30000 */
  requestTimeoutMs: number;
  /** The headers must arrive within this. @defaultValue 10000 */
  headersTimeoutMs: number;
  /** Open connections one client address may hold; more are closed at once. @defaultValue 64 */
  maxConnectionsPerClient: number;
  /** Where a refused malformed request is logged. */
  log?: FastifyBaseLogger;
}

/**
 * Fastify server options for the edges: a server whose read timeouts are checked every second (Node checks every
 * 30 s by default, so a client trickling a body would hold the connection that long past its timeout), that closes a
 * client's connections beyond the bound, and that answers what the HTTP parser refuses as JSON.
 */
export function edgeServerOptions(options: HttpEdgeOptions): Pick<FastifyServerOptions, 'serverFactory' | 'clientErrorHandler' | 'requestTimeout'> {
  return {
    requestTimeout: options.requestTimeoutMs,
    serverFactory: (handler) => {
      const server = createServer(
        { requestTimeout: options.requestTimeoutMs, headersTimeout: options.headersTimeoutMs, connectionsCheckingInterval: 1000 },
        handler,
      );
      const perClient = new Map<string, number>();
      server.on('connection', (socket: Socket) => {
        const client = socket.remoteAddress ?? '';
        const open = (perClient.get(client) ?? 0) + 1;
        if (open > options.maxConnectionsPerClient) {
          socket.destroy();
          return;
        }
        perClient.set(client, open);
        socket.once('close', () => {
          const left = (perClient.get(client) ?? 1) - 1;
          if (left <= 0) perClient.delete(client);
          else perClient.set(client, left);
        });
      });
      return server;
    },
    clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => {
      if (!socket.writable) return;
      const [status, code, message] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, ApiErrorCode.HEADERS_TOO_LARGE, 'the request headers (with the URL) are larger than the server accepts']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'ERR_HTTP_HEADERS_TIMEOUT'
            ? [408, ApiErrorCode.REQUEST_TIMEOUT, 'the request did not arrive in time (headers and body are bounded)']
            : [400, ApiErrorCode.BAD_REQUEST, 'the request is not valid HTTP (malformed line, header or chunked encoding)'];
      if (options.log) logErrorAnswer(options.log, status, code, message);
      const body = JSON.stringify({ error_code: code, error_msg: message });
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
          `Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
  };
}

/** Errors the router raises before a route runs (a URL it cannot decode, a path parameter longer than it keeps). */
export const frameworkErrors: NonNullable<FastifyServerOptions['frameworkErrors']> = (error, request, reply) => {
  const long = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
  const [status, code, message] = long
    ? [414, ApiErrorCode.URI_TOO_LONG, 'a path parameter is longer than any valid one (the URL is too long)']
    : [400, ApiErrorCode.BAD_URL, 'the URL is not valid (a bad %-escape?)'];
  // These answers skip the onSend hooks, so they are logged here.
  logErrorAnswer(request.log, status, code, message);
  void (reply as unknown as FastifyReply).status(status).send({ error_code: code, error_msg: message });
};

/**
 * JSON bodies: parsed by JSON.parse (which never touches a prototype) and then refused when any object has a
 * `__proto__` key (or `constructor.prototype`), with the path named — not "not valid JSON". A Content-Encoding other
 * than identity is refused (415): bodies are never decompressed, and guessing would read garbage as JSON.
 */
export function registerBodyEdges(app: FastifyInstance): void {
  app.addHook('onRequest', async (request) => {
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      throw new ApiError(415, ApiErrorCode.UNSUPPORTED_MEDIA_TYPE, `Content-Encoding ${encoding} is not accepted: send the body uncompressed`);
    }
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(new ApiError(400, ApiErrorCode.INVALID_JSON, 'the body is empty; send a JSON object'), undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return done(new ApiError(400, ApiErrorCode.INVALID_JSON, 'the body is not valid JSON'), undefined);
    }
    const poisoned = prototypeKey(parsed, '');
    if (poisoned !== undefined) {
      return done(new ApiError(400, ApiErrorCode.INVALID_PARAMETER, `${poisoned}: a key that could change an object's prototype is refused`), undefined);
    }
    done(null, parsed);
  });
}

function prototypeKey(value: unknown, path: string): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (const [i, entry] of value.entries()) {
      const found = prototypeKey(entry, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (key === '__proto__') return at;
    const child = (value as Record<string, unknown>)[key];
    if (key === 'constructor' && child !== null && typeof child === 'object' && 'prototype' in child) return `${at}.prototype`;
    const found = prototypeKey(child, at);
    if (found) return found;
  }
  return undefined;
}

/**
 * 405 with Allow for a known path asked with a method it does not take (404 stays for unknown paths): the routes'
 * patterns are collected as they are added, and a path that matches one under another method names its methods.
 */
export function registerMethodNotAllowed(app: FastifyInstance): (method: string, path: string) => string[] {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('*')) return;
    const source = `^${route.url
      .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      .replace(/\\\*/g, '.*')
      .replace(/:[A-Za-z_]+/g, '[^/]+')}/?$`;
    let entry = routes.find((r) => r.pattern.source === source);
    if (!entry) routes.push((entry = { pattern: new RegExp(source), methods: new Set() }));
    for (const method of [route.method].flat()) entry.methods.add(method);
  });
  return (method, path) => {
    const allowed = new Set<string>();
    for (const { pattern, methods } of routes) if (pattern.test(path)) for (const m of methods) allowed.add(m);
    return allowed.has(method) ? [] : [...allowed].sort();
  };
}
