// Owns: the public surface of @conncheck/probes (what the worker and config loader use).
// Must not: contain logic; helpers shared between probes (dial, error mapping, greeting checks) stay internal.

export type * from './types.js';
export { NetworkPolicy, parseCidrList, normalizeAddress } from './network-policy.js';
export type { IpFamily, NetworkPolicyOptions, NormalizedAddress, PolicyDecision } from './network-policy.js';
export { createStageRecorder } from './stage-recorder.js';
export { runProbe } from './run-probe.js';
export type { RunProbeOptions, RunResult } from './run-probe.js';
export { tcpProbe } from './tcp.js';
export { mysqlProbe } from './mysql.js';
export { postgresqlProbe } from './postgresql.js';
export { mongodbProbe } from './mongodb.js';
export type { MemberReport, MemberRole } from './mongodb.js';
export { kafkaProbe } from './kafka.js';
export { probes, getProbe } from './registry.js';
