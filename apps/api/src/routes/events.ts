// Owns: a task's live events as Server-Sent Events — one `item` event per item as it ends, `progress` counts, one
// `end` event when the task ends — read from the task's event stream in Redis, so any API process can serve any
// client and a client resumes with Last-Event-ID. Must not: keep events in process memory.

import fastifySseModule, { type SSEPluginOptions } from '@fastify/sse';
import Type from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ApiError, ApiErrorCode, ErrorBody } from '@conncheck/core';
import type { ApiDeps, ApiInstance } from '../deps.js';
import { ProjectId, projectErrors } from '../params.js';

/**
 * The package is CommonJS: its `module.exports` (what an ESM default import gets) is the plugin wrapped to act on the
 * scope it is registered in, which its types call the module itself; its named export is the unwrapped one.
 */
const fastifySse = fastifySseModule as unknown as FastifyPluginAsync<SSEPluginOptions>;

/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
const STREAM_ID = /^\d{1,15}-\d{1,10}$/;

export async function eventRoutes(app: ApiInstance, deps: ApiDeps): Promise<void> {
  const { store } = deps;
  await app.register(fastifySse, { heartbeatInterval: HEARTBEAT_MS });

  app.get(
    '/v1/:project_id/checks/:check_id/events',
    {
      sse: { kind: 'only' },
      schema: {
        tags: ['checks'],
        summary: 'Watch a task: Server-Sent Events as its items end',
        description: [
          'A text/event-stream. `item` (data: the item, as in the task view) for every item that has ended, past ones first;',
          '`progress` (data: `{status, summary}`) after each batch of items; `end` (data: the task without its items) when',
          'the task ends, after which the stream closes. Every event has an `id`: reconnect with a Last-Event-ID header',
          '(or `last_event_id`) to go on after it. A task that has ended replays its events and closes.',
        ].join(' '),
        params: Type.Object({ project_id: ProjectId, check_id: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
        querystring: Type.Object(
          {
            last_event_id: Type.Optional(
              Type.String({
                pattern: '^(0|[0-9]{1,15}-[0-9]{1,10})$',
                description: 'As the Last-Event-ID header, for clients that cannot set it: an event id this stream sent, or 0 for all.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'The event stream: each event as the schema below, its data a JSON document.',
            content: {
              'text/event-stream': {
                schema: Type.Object({
                  event: Type.Enum(['item', 'progress', 'end']),
                  id: Type.Optional(Type.String({ description: 'Resume after this event with Last-Event-ID.' })),
                  data: Type.String({ description: 'item: the item as in the task view; progress: {status, summary}; end: the task without its items.' }),
                }),
              },
            },
          },
          406: ErrorBody,
          ...projectErrors,
        },
      },
    },
    async (request, reply) => {
      const { project_id: project, check_id: checkId } = request.params;
      const resumeFrom = reply.sse.lastEventId ?? request.query.last_event_id ?? '0';
      if (resumeFrom !== '0' && !STREAM_ID.test(resumeFrom))
        throw new ApiError(400, ApiErrorCode.INVALID_PARAMETER, `Last-Event-ID: "${resumeFrom}" is not an id this stream sent`);
      const first = await store.getTask(checkId, project, { items: false });
      if (!first) throw new ApiError(404, ApiErrorCode.NOT_FOUND, `no check ${checkId} in this project`);

      let closed = false;
      reply.sse.onClose(() => {
        closed = true;
      });
      async function* events() {
        let last = resumeFrom;
        yield { event: 'progress', data: { status: first!.status, summary: first!.summary } };
        while (!closed) {
          const batch = await store.eventsAfter(checkId, last);
          if (batch.length === 0) {
            await store.waitForEvent(checkId, last, HEARTBEAT_MS);
            continue;
          }
          for (const entry of batch) {
            last = entry.id;
            if (entry.type === 'item') {
              yield { id: entry.id, event: 'item', data: entry.item };
            } else {
              const task = await store.getTask(checkId, project, { items: false });
              if (task) yield { event: 'progress', data: { status: task.status, summary: task.summary } };
              yield { id: entry.id, event: 'end', data: task ?? { check_id: checkId } };
              return;
            }
          }
          const task = await store.getTask(checkId, project, { items: false });
          if (!task) return;
          yield { event: 'progress', data: { status: task.status, summary: task.summary } };
        }
      }
      await reply.sse.send(events());
    },
  );
}
