// Owns: waiting for a task to end, or for its next event, without polling — one pub/sub connection per process, many
// waiters on it (a task's event channel is subscribed while someone waits on it).
// Must not: decide anything about the task; the scripts announce the end, callers re-read the task themselves.

import { type RedisClient, duplicateForSubscribing } from './redis.js';
import type { StoreKeys } from './keys.js';

export class TaskEvents {
  private subscriber: RedisClient | undefined;
  private subscribing: Promise<void> | undefined;
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Waiters on a task's event channel (the channel is subscribed while the set is not empty). */
  private readonly channelWaiters = new Map<string, Set<() => void>>();

  /** `redis` is duplicated: a subscribed connection can do nothing else. */
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {}

  private subscribe(): Promise<void> {
    this.subscribing ??= (async () => {
      const subscriber = duplicateForSubscribing(this.redis);
      subscriber.on('error', () => undefined);
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === this.keys.endedChannel()) {
          for (const wake of this.waiters.get(message) ?? []) wake();
        } else {
          for (const wake of this.channelWaiters.get(channel) ?? []) wake();
        }
      });
      await subscriber.subscribe(this.keys.endedChannel());
      this.subscriber = subscriber;
    })().catch((err: unknown) => {
      this.subscribing = undefined;
      throw err;
    });
    return this.subscribing;
  }

  /**
   * Resolves when the task ends or after `timeoutMs`, whichever is first. `hasEnded` is asked once after the
   * subscription is in place, so an end announced between the caller's read and this call is not missed.
   */
  async waitForEnd(checkId: string, timeoutMs: number, hasEnded: () => Promise<boolean>): Promise<void> {
    await this.subscribe();
    let set = this.waiters.get(checkId);
    if (!set) this.waiters.set(checkId, (set = new Set()));
    try {
      await sleepIn(set, timeoutMs, hasEnded);
    } finally {
      if (set.size === 0) this.waiters.delete(checkId);
    }
  }

  /**
   * Resolves on the next message on `channel`, or after `timeoutMs`. `hasNew` is asked once the subscription is in
   * place, so an event published between the caller's read and this call is not missed.
   */
  async waitForEvent(channel: string, timeoutMs: number, hasNew: () => Promise<boolean>): Promise<void> {
    await this.subscribe();
    let set = this.channelWaiters.get(channel);
    if (!set) {
      this.channelWaiters.set(channel, (set = new Set()));
      await this.subscriber?.subscribe(channel);
    }
    try {
      await sleepIn(set, timeoutMs, hasNew);
    } finally {
      if (set.size === 0 && this.channelWaiters.get(channel) === set) {
        this.channelWaiters.delete(channel);
        await this.subscriber?.unsubscribe(channel).catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    for (const set of this.waiters.values()) for (const wake of set) wake();
    for (const set of this.channelWaiters.values()) for (const wake of set) wake();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
    this.subscribing = undefined;
  }
}

/**
 * Waits in `set` (whoever wakes the set's members wakes this one) until woken or `timeoutMs` has passed — or not at
 * all when `ready` says so once this waiter is in place — and leaves the set.
 */
async function sleepIn(set: Set<() => void>, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  let wake: () => void = () => undefined;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  set.add(wake);
  const timer = setTimeout(wake, timeoutMs);
  try {
    if (await ready()) return;
    await woken;
  } finally {
    clearTimeout(timer);
    set.delete(wake);
  }
}
