// Owns: loading the Lua scripts of lua/ into an ioredis client as typed commands, with their shared includes.
// Must not: contain state-transition logic itself; that lives in the scripts.

import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** Scripts are files named `<name>-<key count>.lua`, as BullMQ names its own. */
const SCRIPTS = [
  'submitTask-17',
  'advanceItem-14',
  'cancelTask-14',
  'releaseItems-2',
  'saveChannel-2',
  'deleteChannel-2',
  'createConnection-4',
  'deleteConnection-4',
  'recordConnectionCheck-2',
] as const;

export type AdvanceReply = [written: number | null, taskStatus: string | null, claim: ClaimReply | null, ended: 0 | 1];
export type ClaimReply = ['run', number, string | null, string | null] | ['skip', string] | ['gone'];
export type SubmitReply = ['created'] | ['backlog', number] | ['same', string, string] | ['conflict', string];
/** A hash as HGETALL inside a script returns it: field, value, field, value … */
export type FlatHash = string[];
export type CancelReply = -1 | ['ended', string] | ['canceled', number, FlatHash, FlatHash, FlatHash];

export interface StoreCommands {
  submitTask(...args: (string | number)[]): Promise<SubmitReply>;
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

export function defineScripts(redis: Redis): Redis & StoreCommands {
  for (const file of SCRIPTS) {
    const [name, keys] = file.split('-') as [string, string];
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: Number(keys), lua: scriptSource(file) });
  }
  return redis as Redis & StoreCommands;
}
