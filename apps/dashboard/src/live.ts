// Owns: following a task's Server-Sent Events (/v1/{project}/checks/{id}/events) with the X-Auth-Token header —
// fetch-based, since EventSource cannot send headers and the token never goes in a URL — resuming after a dropped
// connection with Last-Event-ID. Must not: render anything or keep the task; it hands each event to its caller.

import { type EventSourceMessage, fetchEventSource } from '@microsoft/fetch-event-source';
import { type CheckItem, type TaskHeader, type TaskStatus, type TaskSummary, ApiFailure, api, authHeaders, failureOf } from './api';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

export interface TaskEvents {
  item(item: CheckItem): void;
  progress(progress: { status: TaskStatus; summary: TaskSummary }): void;
  end(task: TaskHeader): void;
  state(state: LiveState, failure?: ApiFailure): void;
}

/** A failure not worth retrying (the task or the token is not valid): stops the stream. */
class Fatal extends Error {
  constructor(readonly failure: ApiFailure) {
    super(failure.message);
  }
}
class Dropped extends Error {}

const RETRY_MS = [500, 1000, 2000, 5000];

/** Follows a task until its `end` event or until the returned function is called. */
export function followTask(project: string, checkId: string, on: TaskEvents): () => void {
  const controller = new AbortController();
  let ended = false;
  let failures = 0;
  on.state('connecting');
  void fetchEventSource(api.eventsUrl(project, checkId), {
    headers: authHeaders(),
    signal: controller.signal,
    // Keep following in a background tab: the page is often left open to watch a long task end.
    openWhenHidden: true,
    async onopen(res) {
      if (res.ok && res.headers.get('content-type')?.startsWith('text/event-stream')) {
        failures = 0;
        on.state('live');
        return;
      }
      const failure = await failureOf(res);
      // 4xx will not change by retrying (no such task, token refused); 5xx (an API restarting) may.
      if (res.status >= 400 && res.status < 500) throw new Fatal(failure);
      throw failure;
    },
    onmessage(message: EventSourceMessage) {
      if (!message.data) return;
      const data: unknown = JSON.parse(message.data);
      if (message.event === 'item') on.item(data as CheckItem);
      else if (message.event === 'progress') on.progress(data as { status: TaskStatus; summary: TaskSummary });
      else if (message.event === 'end') {
        ended = true;
        on.end(data as TaskHeader);
      }
    },
    onclose() {
      // The server closes after `end`; closing before it is a dropped connection, to resume from the last id.
      if (!ended) throw new Dropped();
    },
    onerror(err: unknown) {
      if (err instanceof Fatal) {
        on.state('failed', err.failure);
        throw err;
      }
      on.state('reconnecting');
      return RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)];
    },
  }).then(
    () => {
      if (ended) on.state('ended');
    },
    () => undefined, // a Fatal, already reported
  );
  return () => controller.abort();
}
