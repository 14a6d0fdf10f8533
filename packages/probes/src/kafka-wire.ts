// Owns: the few bytes of the Kafka wire protocol the kafka probe reads itself — request headers (to know what a
// response answers), the Metadata and SaslHandshake answers kafkajs receives, and our own ApiVersions v3 exchange
// that tells the broker's release. Must not: open sockets or decide error codes beyond "this is not Kafka".

import type { Endpoint } from './types.js';

/** API keys the probe cares about (Kafka protocol numbering). */
export const ApiKey = {
  Metadata: 3,
  SaslHandshake: 17,
  ApiVersions: 18,
  SaslAuthenticate: 36,
} as const;

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
}

/** A Kafka request as a client writes it: int32 size, int16 api_key, int16 api_version, int32 correlation_id, … */
export function readRequestHeader(frame: Buffer): RequestHeader | undefined {
  if (frame.length < 12 || frame.readInt32BE(0) !== frame.length - 4) return undefined;
  return { apiKey: frame.readInt16BE(4), apiVersion: frame.readInt16BE(6), correlationId: frame.readInt32BE(8) };
}

export interface AdvertisedBroker extends Endpoint {
  nodeId: number;
  rack?: string;
}

export interface MetadataAnswer {
  brokers: AdvertisedBroker[];
  clusterId?: string;
  controllerId?: number;
}

/** Thrown by the readers below when the bytes do not parse: the peer does not speak the protocol it claims. */
export class WireError extends Error {
  override name = 'WireError';
}

/** Sequential reader over one response body; every read is bounds-checked. */
class Reader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  private take(n: number): number {
    if (n < 0 || this.offset + n > this.buffer.length) throw new WireError(`truncated response (${this.buffer.length} bytes)`);
    const at = this.offset;
    this.offset += n;
    return at;
  }
  int8(): number {
    return this.buffer.readInt8(this.take(1));
  }
  int16(): number {
    return this.buffer.readInt16BE(this.take(2));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.take(4));
  }
  int64(): bigint {
    return this.buffer.readBigInt64BE(this.take(8));
  }
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.buffer.readUInt8(this.take(1));
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new WireError('varint too long');
  }
  /** int16 length; -1 = null. */
  string(): string | undefined {
    const length = this.int16();
    if (length < 0) return undefined;
    return this.buffer.toString('utf8', this.take(length), this.offset);
  }
  /** uvarint length + 1; 0 = null. */
  compactString(): string | undefined {
    const length = this.uvarint() - 1;
    if (length < 0) return undefined;
    return this.buffer.toString('utf8', this.take(length), this.offset);
  }
  /** int32 count; -1 = null. Counts beyond what the bytes can hold are garbage. */
  array<T>(item: () => T): T[] {
    return this.items(this.int32(), item);
  }
  compactArray<T>(item: () => T): T[] {
    return this.items(this.uvarint() - 1, item);
  }
  private items<T>(count: number, item: () => T): T[] {
    if (count < 0) return [];
    if (count > this.buffer.length - this.offset) throw new WireError(`array of ${count} items in ${this.buffer.length} bytes`);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(item());
    return out;
  }
  skip(n: number): void {
    this.take(n);
  }
  /** Tagged fields: each tag's bytes handed to `onTag` (or skipped). */
  taggedFields(onTag: (tag: number, body: Reader) => void = () => undefined): void {
    for (let n = this.uvarint(); n > 0; n--) {
      const tag = this.uvarint();
      const size = this.uvarint();
      const at = this.take(size);
      onTag(tag, new Reader(this.buffer.subarray(at, at + size)));
    }
  }
}

/**
 * The broker list, cluster id and controller of a Metadata response body (after the correlation id), versions 0-8:
 * the non-flexible ones kafkajs speaks (it asks v0-v6).
 */
export function parseMetadataResponse(body: Buffer, version: number): MetadataAnswer {
  if (version > 8) throw new WireError(`Metadata v${version} is not parsed`);
  const r = new Reader(body);
  if (version >= 3) r.int32(); // throttle_time_ms
  const brokers = r.array(() => {
    const broker: AdvertisedBroker = { nodeId: r.int32(), host: r.string() ?? '', port: r.int32() };
    if (version >= 1) {
      const rack = r.string();
      if (rack !== undefined) broker.rack = rack;
    }
    return broker;
  });
  const answer: MetadataAnswer = { brokers };
  if (version >= 2) {
    const clusterId = r.string();
    if (clusterId !== undefined) answer.clusterId = clusterId;
  }
  if (version >= 1) answer.controllerId = r.int32();
  return answer;
}

/** A SaslHandshake response body (v0/v1): the error code and the mechanisms the listener enables. */
export function parseSaslHandshakeResponse(body: Buffer): { errorCode: number; mechanisms: string[] } {
  const r = new Reader(body);
  const errorCode = r.int16();
  return { errorCode, mechanisms: r.array(() => r.string() ?? '') };
}

const CLIENT_ID = 'conncheck';
const SOFTWARE_NAME = 'conncheck';
const SOFTWARE_VERSION = '1';

/**
 * ApiVersions v3 (KIP-511, Kafka 2.4+): the first version whose answer carries the broker's supported and finalized
 * features. Allowed before SASL authentication, so it needs no credentials.
 */
export function apiVersionsV3Request(correlationId: number): Buffer {
  const clientId = Buffer.from(CLIENT_ID);
  const compact = (text: string): Buffer => Buffer.concat([Buffer.from([Buffer.byteLength(text) + 1]), Buffer.from(text)]);
  const header = Buffer.alloc(10 + clientId.length);
  let o = header.writeInt16BE(ApiKey.ApiVersions, 0);
  o = header.writeInt16BE(3, o);
  o = header.writeInt32BE(correlationId, o);
  o = header.writeInt16BE(clientId.length, o);
  clientId.copy(header, o);
  // header tagged fields, client_software_name, client_software_version, body tagged fields
  const body = Buffer.concat([header, Buffer.from([0]), compact(SOFTWARE_NAME), compact(SOFTWARE_VERSION), Buffer.from([0])]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

export interface ApiVersionsAnswer {
  errorCode: number;
  /** api key → [min, max] version the broker supports. */
  apiKeys: Map<number, [number, number]>;
  /** Features the broker software supports: name → [min, max] level (e.g. metadata.version). */
  supportedFeatures: Map<string, [number, number]>;
  /** Features finalized for the cluster: name → max level. */
  finalizedFeatures: Map<string, number>;
}

/**
 * An ApiVersions response body (after the correlation id; ApiVersions answers always use response header v0).
 * A broker that does not know v3 answers UNSUPPORTED_VERSION (35) in the v0 layout, which is read as such.
 */
export function parseApiVersionsResponse(body: Buffer, version: number): ApiVersionsAnswer {
  const r = new Reader(body);
  const errorCode = r.int16();
  const answer: ApiVersionsAnswer = { errorCode, apiKeys: new Map(), supportedFeatures: new Map(), finalizedFeatures: new Map() };
  if (errorCode !== 0 || version < 3) {
    for (const [key, min, max] of r.array(() => [r.int16(), r.int16(), r.int16()] as const)) answer.apiKeys.set(key, [min, max]);
    return answer;
  }
  for (const [key, min, max] of r.compactArray(() => {
    const entry = [r.int16(), r.int16(), r.int16()] as const;
    r.taggedFields();
    return entry;
  })) {
    answer.apiKeys.set(key, [min, max]);
  }
  r.int32(); // throttle_time_ms
  r.taggedFields((tag, t) => {
    if (tag === 0) {
      for (const feature of t.compactArray(() => {
        const entry = { name: t.compactString() ?? '', min: t.int16(), max: t.int16() };
        t.taggedFields();
        return entry;
      })) {
        answer.supportedFeatures.set(feature.name, [feature.min, feature.max]);
      }
    } else if (tag === 2) {
      for (const feature of t.compactArray(() => {
        const entry = { name: t.compactString() ?? '', max: t.int16(), min: t.int16() };
        t.taggedFields();
        return entry;
      })) {
        answer.finalizedFeatures.set(feature.name, feature.max);
      }
    }
  });
  return answer;
}

/**
 * Kafka's metadata.version feature levels (MetadataVersion in kafka-server-common) by the release that introduced
 * them. A KRaft broker supports levels up to its own release's newest production level, so the highest level it
 * supports names its release (major.minor; the patch release is not on the wire).
 */
const METADATA_VERSIONS: readonly (readonly [level: number, name: string])[] = [
  [1, '3.0-IV1'],
  [2, '3.1-IV0'],
  [3, '3.2-IV0'],
  [4, '3.3-IV0'],
  [5, '3.3-IV1'],
  [6, '3.3-IV2'],
  [7, '3.3-IV3'],
  [8, '3.4-IV0'],
  [9, '3.5-IV0'],
  [10, '3.5-IV1'],
  [11, '3.5-IV2'],
  [12, '3.6-IV0'],
  [13, '3.6-IV1'],
  [14, '3.6-IV2'],
  [15, '3.7-IV0'],
  [16, '3.7-IV1'],
  [17, '3.7-IV2'],
  [18, '3.7-IV3'],
  [19, '3.7-IV4'],
  [20, '3.8-IV0'],
  [21, '3.9-IV0'],
  [22, '4.0-IV0'],
  [23, '4.0-IV1'],
  [24, '4.0-IV2'],
  [25, '4.0-IV3'],
  [26, '4.1-IV0'],
  [27, '4.1-IV1'],
  [28, '4.2-IV0'],
  [29, '4.2-IV1'],
  [30, '4.3-IV0'],
  [31, '4.4-IV0'],
];

/** `30` → `4.3-IV0`; undefined for a level this table does not know (a newer release). */
export function metadataVersionName(level: number): string | undefined {
  return METADATA_VERSIONS.find(([l]) => l === level)?.[1];
}

/** The release (major.minor) of a broker whose newest supported metadata.version is `level`. */
export function releaseOfMetadataLevel(level: number): string | undefined {
  return metadataVersionName(level)?.replace(/-IV\d+$/, '');
}
