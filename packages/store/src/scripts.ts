// Owns: loading the Lua scripts of lua/ into an ioredis client as typed commands, with their shared includes.
// Must not: contain state-transition logic itself; that lives in the scripts.

import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis.js';

/** Scripts are files named `<name>-<key count>.lua`, as BullMQ names its own. */
const SCRIPTS = [
  'reserveTask-8',
  'storeTask-4',
  'abandonTask-1',
  'projectTask-8',
  'recordIntent-4',
  'clearIntents-3',
  'closeTask-2',
  'advanceItem-5',
  'cancelTask-5',
  'releaseItems-2',
  'saveChannel-2',
  'deleteChannel-2',
  'createConnection-4',
  'deleteConnection-4',
  'recordConnectionCheck-2',
] as const;

/** What the end of a task leaves for its project's side: seconds its keys are kept, 1 if a callback is due, its Idempotency-Key. */
export type EndReply = [keep: number, callback: 0 | 1, idempotencyKey: string | null];
export type AdvanceReply = [
  written: number | null,
  taskStatus: string | null,
  claim: ClaimReply | null,
  ended: 0 | 1,
  started: 0 | 1,
  remaining: number | null,
  end: EndReply | null,
];
export type ClaimReply = ['run', number, string | null, string | null] | ['skip', string] | ['gone'];
export type ReserveReply = ['created'] | ['backlog', number] | ['same', string, string] | ['conflict', string];
/** A hash as HGETALL inside a script returns it: field, value, field, value … */
export type FlatHash = string[];
export type CancelReply = -1 | ['ended', string] | ['canceled', number, FlatHash, FlatHash, FlatHash, EndReply];

export interface StoreCommands {
  reserveTask(...args: (string | number)[]): Promise<ReserveReply>;
  storeTask(...args: (string | number)[]): Promise<'created' | 'abandoned'>;
  abandonTask(...args: (string | number)[]): Promise<'abandoned' | 'exists'>;
  projectTask(...args: (string | number)[]): Promise<number>;
  recordIntent(...args: (string | number)[]): Promise<1>;
  clearIntents(...args: (string | number)[]): Promise<number>;
  closeTask(...args: (string | number)[]): Promise<1>;
  advanceItem(...args: (string | number)[]): Promise<AdvanceReply>;
  cancelTask(...args: (string | number)[]): Promise<CancelReply>;
  releaseItems(...args: (string | number)[]): Promise<number>;
  saveChannel(...args: (string | number)[]): Promise<1 | ['taken', string]>;
  deleteChannel(...args: (string | number)[]): Promise<0 | 1>;
  createConnection(...args: (string | number)[]): Promise<1 | ['taken', string]>;
  deleteConnection(...args: (string | number)[]): Promise<string[] | null>;
  recordConnectionCheck(...args: (string | number)[]): Promise<[string, string] | null>;
}

const scriptDir = new URL('../../src/lua/', import.meta.url);

/**
 * A script's text with its `--- @include "name"` lines replaced by lua/includes/<name>.lua, as BullMQ assembles its
 * scripts from shared pieces: what several scripts must do alike is written once.
 */
export function scriptSource(file: string): string {
  return readFileSync(new URL(`${file}.lua`, scriptDir), 'utf8').replace(/^--- @include "([A-Za-z]+)"$/gm, (_line, name: string) =>
    readFileSync(new URL(`includes/${name}.lua`, scriptDir), 'utf8'),
  );
}

export function defineScripts(redis: RedisClient): RedisClient & StoreCommands {
  for (const file of SCRIPTS) {
    const [name, keys] = file.split('-') as [string, string];
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: Number(keys), lua: scriptSource(file) });
  }
  return redis as RedisClient & StoreCommands;
}
