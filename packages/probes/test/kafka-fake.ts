// Owns: a fake Kafka broker for the kafka probe's tests — the broker side of ApiVersions and Metadata v0/v1, written
// from the protocol spec, that advertises whatever brokers a test wants. Must not: reuse kafkajs or the probe's code.

import type { Socket } from 'node:net';
import { fakeServer, type FakeServer } from './helpers.js';

export interface FakeBroker {
  nodeId: number;
  host: string;
  port: number;
}

const int16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
const int32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const str = (s: string | null): Buffer => (s === null ? int16(-1) : Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]));

/** A response frame: int32 size, int32 correlation id, body. */
export function kafkaResponse(correlationId: number, body: Buffer): Buffer {
  return Buffer.concat([int32(4 + body.length), int32(correlationId), body]);
}

/** ApiVersions v0-v2 answer offering ApiVersions 0-2, Metadata 0-1, SaslHandshake 0-1, SaslAuthenticate 0. */
function apiVersions(version: number): Buffer {
  const keys: [number, number, number][] = [
    [18, 0, 2],
    [3, 0, 1],
    [17, 0, 1],
    [36, 0, 0],
  ];
  const list = Buffer.concat([int32(keys.length), ...keys.map(([k, min, max]) => Buffer.concat([int16(k), int16(min), int16(max)]))]);
  return Buffer.concat([int16(0), list, ...(version >= 1 ? [int32(0)] : [])]);
}

/** UNSUPPORTED_VERSION in the v0 layout: what a broker older than 2.4 answers to ApiVersions v3. */
function apiVersionsUnsupported(): Buffer {
  return Buffer.concat([int16(35), int32(1), int16(18), int16(0), int16(2)]);
}

/** Metadata v1: brokers (with a null rack), controller id, no topics. */
function metadataV1(brokers: FakeBroker[], controllerId: number): Buffer {
  return Buffer.concat([
    int32(brokers.length),
    ...brokers.map((b) => Buffer.concat([int32(b.nodeId), str(b.host), int32(b.port), str(null)])),
    int32(controllerId),
    int32(0),
  ]);
}

/**
 * A broker that answers ApiVersions and Metadata (advertising `brokers()`, decided per request so a test can point
 * them at the fake's own port) and never anything else. Every request it got is kept as [api key, version].
 */
export async function fakeKafka(brokers: (self: number) => FakeBroker[]): Promise<FakeServer & { requests: [number, number][] }> {
  const requests: [number, number][] = [];
  let self = 0;
  const server = await fakeServer((socket: Socket) => {
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 4 && received.length >= 4 + received.readInt32BE(0)) {
        const frame = received.subarray(4, 4 + received.readInt32BE(0));
        received = received.subarray(4 + frame.length);
        const apiKey = frame.readInt16BE(0);
        const version = frame.readInt16BE(2);
        const correlationId = frame.readInt32BE(4);
        requests.push([apiKey, version]);
        if (apiKey === 18) socket.write(kafkaResponse(correlationId, version <= 2 ? apiVersions(version) : apiVersionsUnsupported()));
        else if (apiKey === 3) socket.write(kafkaResponse(correlationId, metadataV1(brokers(self), 1)));
      }
    });
  });
  self = server.port;
  return Object.assign(server, { requests });
}
