// Owns: the one map from db_type to probe; the compiler checks it covers every DbType core declares.
// Must not: special-case any type outside this map, or run probes (run-probe.ts does).

import type { DbType } from '@conncheck/core';
import { kafkaProbe } from './kafka.js';
import { mongodbProbe } from './mongodb.js';
import { mysqlProbe } from './mysql.js';
import { postgresqlProbe } from './postgresql.js';
import { tcpProbe } from './tcp.js';
import type { Probe } from './types.js';

export const probes = {
  tcp: tcpProbe,
  mysql: mysqlProbe,
  postgresql: postgresqlProbe,
  mongodb: mongodbProbe,
  kafka: kafkaProbe,
} as const satisfies Record<DbType, Probe>;

export function getProbe(dbType: DbType): Probe {
  return probes[dbType];
}
