// Owns: turning a schema-valid batch job into what a worker needs — a public ItemSpec and its ItemSecrets — and
// the rules that span fields (per-type required fields, host/port parsing, checksum). Must not: touch Redis or sockets.

import { isIP } from 'node:net';
import { type BatchJob, RequestLimits, SECRET_KAFKA_FIELDS } from './batch-request.js';
import type { Endpoint } from './check-result.js';
import { DB_TYPE_RULES, type DbType, KNOWN_DB_TYPES, dbTypeRules, isSupportedDbType } from './db-types.js';
import { ApiErrorCode } from './error-codes.js';
import { type FieldProblem, ProblemList } from './field-problems.js';
import type { SslMode } from './security-settings.js';
import { validateKafka } from './validate-kafka.js';
import { certificateKey, effectiveSslMode, validateTls } from './validate-tls.js';

/** Everything about an item that is not secret. Stored in clear; shown (in part) in results. */
export interface ItemSpec {
  index: number;
  id: string;
  db_type: DbType;
  net_type: 'vpn' | 'vpc' | 'eip';
  end_point_type: 'so' | 'ta';
  /** As submitted in `ip` (and `db_port`), for display. */
  ip: string;
  db_port?: number;
  endpoints: Endpoint[];
  db_user?: string;
  db_name?: string;
  timeout_ms: number;
  ssl_link: boolean;
  /** The effective mode when ssl_link is true: as given, else verify-full with a certificate, require without. */
  ssl_mode?: SslMode;
  ssl_cert_name?: string;
  ssl_cert_check_sum?: string;
  kafka?: Omit<NonNullable<BatchJob['kafka_security_config']>, (typeof SECRET_KAFKA_FIELDS)[number]>;
  /** Fields of the migration service's request that the check does not use, kept so nothing is dropped. */
  meta: { inst_id?: string; vpc_id?: string; subnet_id?: string; region?: string; project_id?: string };
  /** The worker pool (network zone) the item is checked from. */
  pool: string;
  /** Names the probe resolves to these addresses instead of asking DNS (a saved connection's `hosts`), still under the network policy. */
  hosts?: HostMapping[];
  /**
   * Whether the item may reach loopback: set by the API, true only in open mode (no tokens). With tokens, a tenant's
   * item must not reach the worker's own host unless CONNCHECK_TARGET_ALLOW opens it. Absent: denied.
   */
  allow_loopback?: boolean;
}

/** A name-to-address mapping the probes use instead of DNS for that name. */
export interface HostMapping {
  name: string;
  ip: string;
}

export interface BuildItemsOptions {
  /** The pool of a job that names none. @defaultValue job.pool ?? 'default' */
  poolFor?: (job: BatchJob) => string;
  /** ItemSpec.allow_loopback: the API's open mode. @defaultValue false */
  allowLoopback?: boolean;
}

/** The secret part of an item; exists in clear only in the API's and a worker's memory. */
export interface ItemSecrets {
  db_password?: string;
  ssl_cert_key?: string;
  ssl_cert_password?: string;
  kafka?: Partial<Record<(typeof SECRET_KAFKA_FIELDS)[number], string>>;
}

const HOSTNAME = /^(?=.{1,253}$)(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** Splits `ip` (+ `db_port`) into endpoints: `h`, `h:p`, `[v6]:p`, bare IPv6, comma-separated lists. */
export function parseEndpoints(ip: string, dbPort: number | undefined, dbType: string): { endpoints: Endpoint[] } | { error: string } {
  const entries = ip.split(',').map((s) => s.trim());
  if (entries.some((e) => e === '')) return { error: 'has an empty entry in the host list' };
  const rules = dbTypeRules(dbType);
  const fallbackPort = dbPort && dbPort > 0 ? dbPort : rules?.defaultPort;
  const endpoints: Endpoint[] = [];
  for (const entry of entries) {
    let host: string;
    let portText: string | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      host = bracketed[1]!;
      portText = bracketed[2];
      if (isIP(host) !== 6) return { error: `"${entry}" has brackets but no IPv6 address in them` };
    } else if (isIP(entry) === 6) {
      host = entry;
    } else {
      const colon = entry.lastIndexOf(':');
      if (colon >= 0) {
        host = entry.slice(0, colon);
        portText = entry.slice(colon + 1);
        if (!/^\d+$/.test(portText)) return { error: `"${entry}" has a port that is not a number` };
      } else {
        host = entry;
      }
      if (!isIP(host) && !HOSTNAME.test(host)) return { error: `"${host}" is not an IP address or a valid host name` };
    }
    let port: number;
    if (portText !== undefined) {
      port = Number(portText);
      if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: `port ${portText} of "${entry}" is out of range 1-65535` };
      if (dbPort && dbPort > 0 && dbPort !== port) {
        return { error: `"${entry}" names port ${port} but db_port is ${dbPort}` };
      }
    } else if (fallbackPort !== undefined) {
      port = fallbackPort;
    } else {
      return { error: `no port: give db_port or write "${entry}:<port>"` };
    }
    endpoints.push({ host, port });
  }
  if (rules?.endpoints === 'one' && endpoints.length !== 1) {
    return { error: `db_type ${dbType} checks one server; got ${endpoints.length} addresses` };
  }
  return { endpoints };
}

/**
 * Applies the cross-field rules to schema-valid jobs. Returns every problem found (for a dry run), or the specs and
 * secrets in submission order. Defaults the schema already applied (net_type, end_point_type, timeout_ms) are relied on.
 */
export function buildItems(jobs: BatchJob[], options: BuildItemsOptions = {}): { problems: FieldProblem[]; items: { spec: ItemSpec; secrets: ItemSecrets }[] } {
  const poolFor = options.poolFor ?? ((job: BatchJob) => job.pool ?? 'default');
  const out = new ProblemList();
  const items: { spec: ItemSpec; secrets: ItemSecrets }[] = [];
  jobs.forEach((job, index) => {
    const at = (field: string) => `jobs[${index}].${field}`;
    const before = out.problems.length;
    const dbType = job.db_type;
    if (!(KNOWN_DB_TYPES as readonly string[]).includes(dbType)) {
      out.add(at('db_type'), ApiErrorCode.INVALID_PARAMETER, `unknown db_type "${dbType}"; expected one of ${KNOWN_DB_TYPES.join(', ')}`);
      return;
    }
    if (!isSupportedDbType(dbType)) {
      out.add(at('db_type'), ApiErrorCode.UNSUPPORTED_DB_TYPE, `db_type "${dbType}" is recognised but this conncheck version has no probe for it`);
      return;
    }
    const parsed = parseEndpoints(job.ip, job.db_port, dbType);
    if ('error' in parsed) out.add(at('ip'), ApiErrorCode.INVALID_PARAMETER, parsed.error);
    const { credentials } = DB_TYPE_RULES[dbType];
    if (credentials === 'required') {
      if (job.db_user === undefined || job.db_user === '') out.add(at('db_user'), ApiErrorCode.MISSING_FIELD, `is required for db_type ${dbType}`);
      if (job.db_password === undefined) out.add(at('db_password'), ApiErrorCode.MISSING_FIELD, `is required for db_type ${dbType} (use "" for no password)`);
    }
    if (credentials === 'optional') {
      if (job.db_user === '')
        out.add(at('db_user'), ApiErrorCode.INVALID_PARAMETER, `is empty; omit db_user and db_password to check db_type ${dbType} without authentication`);
      else if (job.db_user !== undefined && job.db_password === undefined)
        out.add(at('db_password'), ApiErrorCode.MISSING_FIELD, `is required with db_user for db_type ${dbType}`);
      else if (job.db_user === undefined && job.db_password !== undefined)
        out.add(at('db_user'), ApiErrorCode.MISSING_FIELD, `is required with db_password for db_type ${dbType}`);
    }
    validateTls(job, dbType, at, out);
    validateKafka(job, dbType, at, out);
    if (out.problems.length > before || 'error' in parsed) return;

    const { kafka_security_config: kafka } = job;
    let kafkaSpec: ItemSpec['kafka'];
    let kafkaSecrets: ItemSecrets['kafka'];
    if (kafka) {
      const clear: Record<string, unknown> = { ...kafka };
      kafkaSecrets = {};
      for (const field of SECRET_KAFKA_FIELDS) {
        if (kafka[field] !== undefined) kafkaSecrets[field] = kafka[field];
        delete clear[field];
      }
      kafkaSpec = clear as ItemSpec['kafka'];
    }
    const spec: ItemSpec = {
      index,
      id: job.id,
      db_type: dbType,
      net_type: job.net_type ?? 'eip',
      end_point_type: job.end_point_type ?? 'so',
      ip: job.ip,
      endpoints: parsed.endpoints,
      timeout_ms: job.timeout_ms ?? RequestLimits.defaultTimeoutMs,
      ssl_link: job.ssl_link ?? false,
      meta: pickDefined({ inst_id: job.inst_id, vpc_id: job.vpc_id, subnet_id: job.subnet_id, region: job.region, project_id: job.project_id }),
      pool: poolFor(job),
      ...(options.allowLoopback ? { allow_loopback: true } : {}),
      ...pickDefined({
        db_port: job.db_port,
        db_user: job.db_user,
        db_name: job.db_name,
        ssl_mode: effectiveSslMode(job),
        ssl_cert_name: job.ssl_cert_name,
        ssl_cert_check_sum: job.ssl_cert_check_sum?.toLowerCase(),
        kafka: kafkaSpec,
      }),
    };
    const secrets: ItemSecrets = pickDefined({
      db_password: job.db_password,
      ssl_cert_key: certificateKey(job),
      ssl_cert_password: certificateKey(job) !== undefined && job.ssl_cert_password ? job.ssl_cert_password : undefined,
      kafka: kafkaSecrets && Object.keys(kafkaSecrets).length > 0 ? kafkaSecrets : undefined,
    });
    items.push({ spec, secrets });
  });
  return { problems: out.problems, items: out.problems.length > 0 ? [] : items };
}

function pickDefined<T extends Record<string, unknown>>(obj: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
