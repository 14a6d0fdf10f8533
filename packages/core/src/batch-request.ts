// Owns: the JSON Schema of POST /v3/{project_id}/jobs/batch-connection — the migration service's field table plus our extensions.
// Must not: hold semantic rules that span fields (job-spec.ts) or anything about storage or probing.

import Type from 'typebox';
import { KNOWN_DB_TYPES } from './db-types.js';
import { POOL_NAME_PATTERN } from './ids.js';
import { KAFKA_SECURITY_PROTOCOLS, SSL_MODES } from './security-settings.js';

/** Limits a request must respect; the API reads the configurable ones from config. */
export const RequestLimits = {
  idLength: 128,
  hostListLength: 2048,
  nameLength: 255,
  userLength: 256,
  passwordLength: 1024,
  /** base64 of a certificate or a truststore: 256 KiB of text. */
  certLength: 262_144,
  minTimeoutMs: 100,
  maxTimeoutMs: 60_000,
  defaultTimeoutMs: 10_000,
} as const;

const Str = (maxLength: number, description: string) => Type.String({ maxLength, description });
const Secret = (maxLength: number, description: string) => Type.String({ maxLength, description: `${description} Secret: stored encrypted, never returned.` });

export const KafkaSecurityConfig = Type.Object(
  {
    type: Type.Enum([...KAFKA_SECURITY_PROTOCOLS], {
      description: 'Kafka security protocol of the listener.',
    }),
    sasl_mechanism: Type.Optional(Str(64, 'SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.')),
    delegation_tokens: Type.Optional(Type.Boolean({ description: 'Whether SASL uses delegation tokens.' })),
    trust_store_key_name: Type.Optional(Str(RequestLimits.nameLength, 'Truststore file name.')),
    trust_store_key: Type.Optional(Secret(RequestLimits.certLength, 'Truststore content, base64 (JKS, PKCS#12 or PEM).')),
    trust_store_password: Type.Optional(Secret(RequestLimits.passwordLength, 'Truststore password.')),
    endpoint_algorithm: Type.Optional(Str(16, 'Host name verification: "" = none, "https" = verify the broker name.')),
    enable_key_store: Type.Optional(Type.Boolean({ description: 'Present a client certificate (mutual TLS).' })),
    key_store_key_name: Type.Optional(Str(RequestLimits.nameLength, 'Keystore file name.')),
    key_store_key: Type.Optional(Secret(RequestLimits.certLength, 'Keystore content, base64.')),
    key_store_password: Type.Optional(Secret(RequestLimits.passwordLength, 'Keystore password.')),
    set_private_key_password: Type.Optional(Type.Boolean({ description: 'Whether the private key has its own password.' })),
    key_store_key_password: Type.Optional(Secret(RequestLimits.passwordLength, 'Private key password.')),
    key_password: Type.Optional(Secret(RequestLimits.passwordLength, 'Private key password (alias).')),
  },
  { additionalProperties: false },
);

export const BatchJob = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: RequestLimits.idLength, description: "Caller's task ID; echoed in results. Need not be unique in a batch." }),
    net_type: Type.Optional(Type.Enum(['vpn', 'vpc', 'eip'], { default: 'eip', description: 'Network type.' })),
    db_type: Type.Enum([...KNOWN_DB_TYPES], {
      description: 'mysql, postgresql, mongodb, kafka or tcp (our extension); oracle is recognised but not checked yet (400 CC.UNSUPPORTED_DB_TYPE).',
    }),
    ip: Type.String({
      minLength: 1,
      maxLength: RequestLimits.hostListLength,
      description: 'Host name or IP, optionally host:port; a comma-separated list for MongoDB and Kafka.',
    }),
    db_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: "Port; 0 = take it from ip or the type's default." })),
    inst_id: Type.Optional(Str(RequestLimits.idLength, 'DB instance ID (kept, not used by the check).')),
    db_user: Type.Optional(Str(RequestLimits.userLength, 'Database account.')),
    db_password: Type.Optional(Secret(RequestLimits.passwordLength, 'Database password.')),
    ssl_link: Type.Optional(Type.Boolean({ description: 'Connect with TLS.' })),
    ssl_cert_key: Type.Optional(Secret(RequestLimits.certLength, 'CA certificate, base64.')),
    ssl_cert_name: Type.Optional(Str(RequestLimits.nameLength, 'Certificate file name.')),
    ssl_cert_check_sum: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'Hex SHA-256 of the decoded ssl_cert_key bytes.' })),
    ssl_cert_password: Type.Optional(Secret(RequestLimits.passwordLength, 'Password of a .p12 certificate.')),
    vpc_id: Type.Optional(Str(RequestLimits.idLength, 'VPC ID (kept, not used by the check).')),
    subnet_id: Type.Optional(Str(RequestLimits.idLength, 'Subnet ID (kept, not used by the check).')),
    end_point_type: Type.Optional(Type.Enum(['so', 'ta'], { default: 'so', description: 'so = source, ta = destination.' })),
    region: Type.Optional(Str(RequestLimits.idLength, 'Region (kept, not used by the check).')),
    project_id: Type.Optional(Str(RequestLimits.idLength, 'Project of the region (kept, not used by the check).')),
    db_name: Type.Optional(Str(RequestLimits.userLength, 'Database to connect to (PostgreSQL, default postgres), or the authentication database (MongoDB).')),
    kafka_security_config: Type.Optional(KafkaSecurityConfig),
    timeout_ms: Type.Optional(
      Type.Integer({
        minimum: RequestLimits.minTimeoutMs,
        maximum: RequestLimits.maxTimeoutMs,
        default: RequestLimits.defaultTimeoutMs,
        description: "Extension: the item's deadline in milliseconds, from the moment a worker starts it.",
      }),
    ),
    ssl_mode: Type.Optional(Type.Enum([...SSL_MODES], { description: 'Extension: TLS verification, as libpq defines it.' })),
    pool: Type.Optional(
      Type.String({
        pattern: POOL_NAME_PATTERN,
        description:
          "Extension: the worker pool (network zone) to check from. Default: the pool CONNCHECK_NET_TYPE_POOLS maps net_type to, else the API's CONNCHECK_WORKER_POOL.",
      }),
    ),
  },
  {
    additionalProperties: false,
    description: [
      'One connection to check. Rules across fields (each broken one is a 400 naming the field; ?dry_run=true lists them all):',
      "the port comes from ip (host:port), else db_port, else the type's default (3306, 5432, 27017), and a port in ip that disagrees with db_port is refused;",
      'tcp needs a port; mysql and postgresql need db_user and db_password ("" for none); mongodb takes db_user and db_password together or neither;',
      'ip is one host for tcp, mysql and postgresql, a comma-separated list for mongodb and kafka;',
      'ssl_mode needs ssl_link; ssl_cert_check_sum, when given, is the hex SHA-256 of the decoded ssl_cert_key; a .p12 needs ssl_cert_password;',
      'kafka_security_config is for kafka only (its TLS comes from there, not ssl_link), and its SASL types need sasl_mechanism, db_user and db_password.',
    ].join(' '),
  },
);
export type BatchJob = Type.Static<typeof BatchJob>;

export const BatchRequest = Type.Object(
  {
    jobs: Type.Array(BatchJob, { minItems: 1, description: 'The connections to check.' }),
    callback_url: Type.Optional(
      Type.String({
        minLength: 8,
        maxLength: 2048,
        description:
          'Extension: an http(s) URL to POST the task summary to when the task ends, signed (X-Conncheck-Signature, see GET /v1/{project_id}/webhook-secret) and retried with backoff; the address goes through the same network policy as targets.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type BatchRequest = Type.Static<typeof BatchRequest>;

/** The batch request with the deployment's item limit in its schema (CONNCHECK_MAX_ITEMS), as the API validates and documents it. */
export function batchRequestSchema(maxItems: number): typeof BatchRequest {
  return Type.Object(
    {
      ...BatchRequest.properties,
      jobs: Type.Array(BatchJob, { minItems: 1, maxItems, description: `The connections to check: at most ${maxItems} (CONNCHECK_MAX_ITEMS; more is a 413).` }),
    },
    { additionalProperties: false },
  );
}

/** Names of the kafka_security_config fields that are secrets: encrypted at rest, never echoed. */
export const SECRET_KAFKA_FIELDS = [
  'trust_store_key',
  'trust_store_password',
  'key_store_key',
  'key_store_password',
  'key_store_key_password',
  'key_password',
] as const;
