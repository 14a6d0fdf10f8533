// Owns: the list of database types conncheck accepts and the ones it can probe.
// Must not: know how any type is probed (packages/probes) or stored (packages/store).

/** Every `db_type` the batch request may name: the migration service's, plus our `tcp` and `kafka`. */
export const KNOWN_DB_TYPES = ['mysql', 'postgresql', 'mongodb', 'oracle', 'kafka', 'tcp'] as const;
export type KnownDbType = (typeof KNOWN_DB_TYPES)[number];

/** The types a worker has a probe for. The probe registry must cover exactly these (the compiler checks). */
export const DB_TYPES = ['tcp', 'mysql', 'postgresql', 'mongodb', 'kafka'] as const;
export type DbType = (typeof DB_TYPES)[number];

export function isSupportedDbType(value: string): value is DbType {
  return (DB_TYPES as readonly string[]).includes(value);
}
