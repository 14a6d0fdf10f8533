// Owns: loading the Lua scripts of lua/ into an ioredis client as typed commands.
// Must not: contain state-transition logic itself; that lives in the scripts.

import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/** Scripts are files named `<name>-<key count>.lua`, as BullMQ names its own. */
const SCRIPTS = ['advanceItem-9', 'cancelTask-8'] as const;

export type AdvanceReply = [written: number | null, taskStatus: string | null, claim: ClaimReply | null];
export type ClaimReply = ['run', number, string | null, string | null] | ['skip', string] | ['gone'];

export interface StoreCommands {
  advanceItem(...args: (string | number)[]): Promise<AdvanceReply>;
  cancelTask(...args: (string | number)[]): Promise<number | ['ended', string]>;
}

const scriptDir = new URL('../../src/lua/', import.meta.url);

export function defineScripts(redis: Redis): Redis & StoreCommands {
  for (const file of SCRIPTS) {
    const [name, keys] = file.split('-') as [string, string];
    if (!(name in redis)) {
      redis.defineCommand(name, {
        numberOfKeys: Number(keys),
        lua: readFileSync(new URL(`${file}.lua`, scriptDir), 'utf8'),
      });
    }
  }
  return redis as Redis & StoreCommands;
}
