// Owns: the list of database types conncheck accepts, the ones it can probe, and what a request must say for each.
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

/** What a request must say for a type: the compiler asks for a row per type a probe exists for. */
export interface DbTypeRules {
  /** The port when the request names none. */
  defaultPort?: number;
  /** `one` server, or a `list` clients connect with (a MongoDB seed list, a Kafka bootstrap list). */
  endpoints: 'one' | 'list';
  /**
   * db_user and db_password: `required`; `optional` but as a pair (MongoDB without access control: without them the
   * probe connects unauthenticated and reports whether the server requires a login); or `other` (none, or Kafka's,
   * which its kafka_security_config decides).
   */
  credentials: 'required' | 'optional' | 'other';
}

export const DB_TYPE_RULES = {
  tcp: { endpoints: 'one', credentials: 'other' },
  mysql: { defaultPort: 3306, endpoints: 'one', credentials: 'required' },
  postgresql: { defaultPort: 5432, endpoints: 'one', credentials: 'required' },
  mongodb: { defaultPort: 27017, endpoints: 'list', credentials: 'optional' },
  kafka: { defaultPort: 9092, endpoints: 'list', credentials: 'other' },
} as const satisfies Record<DbType, DbTypeRules>;

/** The rules of a type conncheck can probe; undefined for any other. */
export function dbTypeRules(dbType: string): DbTypeRules | undefined {
  return isSupportedDbType(dbType) ? DB_TYPE_RULES[dbType] : undefined;
}
