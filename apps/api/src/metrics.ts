// Owns: the API's Prometheus metrics (requests, submissions, queue depth) on prom-client's default registry.
// Must not: hold per-item labels with unbounded values (no check ids, no hosts).

import client from 'prom-client';

export const httpRequests = new client.Counter({
  name: 'conncheck_http_requests_total',
  help: 'HTTP requests answered, by route and status code.',
  labelNames: ['method', 'route', 'status'] as const,
});

export const httpDuration = new client.Histogram({
  name: 'conncheck_http_request_duration_seconds',
  help: 'HTTP request duration.',
  labelNames: ['method', 'route'] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

export const submittedItems = new client.Counter({
  name: 'conncheck_submitted_items_total',
  help: 'Check items accepted, by db_type.',
  labelNames: ['db_type'] as const,
});

export const canceledItems = new client.Counter({
  name: 'conncheck_items_canceled_total',
  help: 'Check items a cancel ended before they had a result (pending or running at the time).',
});

export const submittedTasks = new client.Counter({
  name: 'conncheck_submitted_tasks_total',
  help: 'Check tasks accepted.',
});

let defaultsCollected = false;
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  client.collectDefaultMetrics({ prefix: 'conncheck_' });
}
