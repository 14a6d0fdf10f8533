// Owns: the worker's Prometheus metrics on prom-client's default registry.
// Must not: label by check id or host (unbounded cardinality).

import client from 'prom-client';

export const itemsCompleted = new client.Counter({
  name: 'conncheck_items_completed_total',
  help: 'Check items a worker finished, by db_type, outcome and error_code.',
  labelNames: ['db_type', 'status', 'error_code', 'pool'] as const,
});

export const probeDuration = new client.Histogram({
  name: 'conncheck_probe_duration_seconds',
  help: 'Time from the start of a probe to its result, by db_type and outcome.',
  labelNames: ['db_type', 'status'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
});

export const probesRunning = new client.Gauge({
  name: 'conncheck_probes_running',
  help: 'Probes running in this process now.',
});

export const connectionStatusChanges = new client.Counter({
  name: 'conncheck_connection_status_changes_total',
  help: 'Saved connections whose status in a pool changed (CREATING → ACTIVE/FAILED, ACTIVE ↔ FAILED), by pool and the two statuses.',
  labelNames: ['pool', 'from', 'to'] as const,
});
