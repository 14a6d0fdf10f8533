// Owns: following one task's Server-Sent Events (`item`, `progress`, `end`) until it ends, resuming after a dropped
// connection with Last-Event-ID (the eventsource library does both). Must not: draw or print; it calls its handlers.

import { EventSource } from 'eventsource';
import type { CheckItem, TaskHeader, TaskSummary } from '@conncheck/core';
import type { ApiClient } from './api-client.js';
import { CliError } from './exit-codes.js';

export interface FollowHandlers {
  onItem(item: CheckItem): void;
  onProgress(progress: { status: TaskHeader['status']; summary: TaskSummary }): void;
}

/** Reconnects in a row (3 s apart, the library's default) before the CLI gives up on an unreachable API: about 30 s. */
const MAX_RECONNECTS = 10;

/** Resolves with the task header of the `end` event; rejects with a CliError when the stream cannot go on. */
export function follow(client: ApiClient, project: string, checkId: string, handlers: FollowHandlers, signal?: AbortSignal): Promise<TaskHeader> {
  return new Promise<TaskHeader>((resolve, reject) => {
    const source = new EventSource(client.eventsUrl(project, checkId), {
      // Node has no EventSource with headers of its own; the library takes a fetch, so the token goes along.
      fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...client.headers() } }),
    });
    let failures = 0;
    const done = (fn: () => void) => {
      source.close();
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => done(() => reject(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason))));
    signal?.addEventListener('abort', onAbort, { once: true });

    const parse = <T>(event: MessageEvent): T | undefined => {
      try {
        return JSON.parse(event.data as string) as T;
      } catch {
        done(() => reject(new CliError(`the event stream of check ${checkId} sent an event that is not JSON: ${String(event.data).slice(0, 120)}`)));
        return undefined;
      }
    };
    source.addEventListener('open', () => {
      failures = 0;
    });
    source.addEventListener('item', (event) => {
      const item = parse<CheckItem>(event);
      if (item) handlers.onItem(item);
    });
    source.addEventListener('progress', (event) => {
      const progress = parse<{ status: TaskHeader['status']; summary: TaskSummary }>(event);
      if (progress) handlers.onProgress(progress);
    });
    source.addEventListener('end', (event) => {
      const header = parse<TaskHeader>(event);
      if (header) done(() => resolve(header));
    });
    source.addEventListener('error', (event) => {
      const why = event.code ? `HTTP ${event.code}` : (event.message ?? 'the connection failed');
      // CLOSED: the library will not try again (a 4xx/5xx or not an event stream); else it reconnects with Last-Event-ID.
      if (source.readyState === source.CLOSED) {
        done(() => reject(new CliError(`the event stream of check ${checkId} failed: ${why}`)));
      } else if (++failures > MAX_RECONNECTS) {
        done(() => reject(new CliError(`the event stream of check ${checkId} broke and ${MAX_RECONNECTS} reconnects failed: ${why}`)));
      }
    });
  });
}
