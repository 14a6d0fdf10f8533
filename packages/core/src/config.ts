// Owns: every environment setting, its default and its validation; read once at start.
// Must not: open connections or start anything; a bad value is a ConfigError naming the variable, nothing more.

import { isIP } from 'node:net';
import { POOL_NAME_PATTERN, PROJECT_ID_PATTERN } from './ids.js';
import { parseSecretKey } from './secret-box.js';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export interface AuthTokenGrant {
  token: string;
  /** Project ids this token may use; `'*'` = every project. */
  projects: '*' | string[];
}

export interface Config {
  /** @defaultValue 8080 */
  port: number;
  /** @defaultValue 127.0.0.1 */
  host: string;
  /** @defaultValue redis://127.0.0.1:6379 */
  redisUrl: string;
  /** Whether REDIS_URL was set explicitly (the all-in-one process starts a private Redis only when it was not). */
  redisUrlExplicit: boolean;
  /**
   * Seed nodes (host:port) of a Redis Cluster to run on instead of one Redis; REDIS_URL then gives only the user,
   * password and TLS (rediss://) for every node. Unset: one Redis at REDIS_URL.
   */
  redisClusterNodes: string[] | undefined;
  /** Undefined = open mode (loopback only). */
  authTokens: AuthTokenGrant[] | undefined;
  /** Undefined = not set (the all-in-one process generates one). */
  secretKey: Buffer | undefined;
  targetAllow: string | undefined;
  targetDeny: string | undefined;
  /** Probes one worker process runs at once. @defaultValue 50 */
  workerConcurrency: number;
  /** @defaultValue default */
  workerPool: string;
  /** Items one batch may hold. @defaultValue 1000 */
  maxItemsPerBatch: number;
  /** Largest request body in bytes. @defaultValue 16 MiB */
  bodyLimit: number;
  /** How long a task and its items are kept after they end, in seconds. @defaultValue 604800 (7 days) */
  retentionSeconds: number;
  /** Unfinished items one project may have queued at once before submissions get 429. @defaultValue 20000 */
  maxPendingItemsPerProject: number;
  /** Key prefix of everything conncheck writes to Redis (BullMQ included). @defaultValue cc */
  redisPrefix: string;
  /** @defaultValue info */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long a stopping worker waits for running probes. @defaultValue 65000 */
  shutdownGraceMs: number;
  /**
   * BullMQ job lock of a worker, renewed every half of it while the job runs. A killed worker's jobs run again
   * once their lock has expired and a stall check (every third of it) has found them: within 1⅓× this. @defaultValue 10000
   */
  workerLockMs: number;
  /** A TLS server certificate valid for fewer days than this makes a successful item carry a warning; 0 = never. @defaultValue 30 */
  tlsExpiryWarningDays: number;
  /** Port of a separate worker process's /metrics and /healthz (0 = none). @defaultValue 0 */
  workerMetricsPort: number;
  /**
   * A synchronous check (cluster connectivity test, gateway backend check) waits for its task at most its largest item
   * timeout plus this; then it answers 503 with the check_id. @defaultValue 5000
   */
  syncWaitMarginMs: number;
  /** net_type → pool, for batch items that name no pool (CONNCHECK_NET_TYPE_POOLS=vpn=zone-b,vpc=zone-c). @defaultValue {} */
  netTypePools: Record<string, string>;
  /** Earlier secret keys, still accepted for opening what they sealed while a key is rotated. @defaultValue [] */
  previousSecretKeys: Buffer[];
  /** Delivery attempts of a callback_url before it is given up. @defaultValue 8 */
  webhookAttempts: number;
  /** First retry delay of a callback delivery; each next one doubles (8 attempts span about 4 minutes). @defaultValue 2000 */
  webhookBackoffMs: number;
  /** A request's headers and body must arrive within this (a client that trickles is cut off with 408). @defaultValue 30000 */
  requestTimeoutMs: number;
  /** Open connections one client address may hold against the API. @defaultValue 64 */
  maxConnectionsPerClient: number;
  /** Requests a token (or a client address without one) may make a minute. @defaultValue 1200 */
  rateLimitPerMinute: number;
  /** Failed authentications a client address may make a minute before it gets 429s. @defaultValue 20 */
  authFailuresPerMinute: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? fallback : raw.trim();
}

/** `token=projA,projB;token2=*` → grants. Tokens must be at least 16 characters: they are the only credential. */
export function parseAuthTokens(raw: string): AuthTokenGrant[] {
  const grants: AuthTokenGrant[] = [];
  for (const part of raw
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError('CONNCHECK_AUTH_TOKENS', 'each entry must be token=project[,project…] or token=*');
    const token = part.slice(0, eq).trim();
    const projects = part
      .slice(eq + 1)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (token.length < 16) throw new ConfigError('CONNCHECK_AUTH_TOKENS', 'every token must be at least 16 characters');
    if (projects.length === 0) throw new ConfigError('CONNCHECK_AUTH_TOKENS', 'a token lists no project (use * for all)');
    if (projects.some((p) => p !== '*' && !new RegExp(PROJECT_ID_PATTERN).test(p))) {
      throw new ConfigError('CONNCHECK_AUTH_TOKENS', 'a project id may hold only letters, digits, _ . - (at most 64)');
    }
    grants.push({ token, projects: projects.includes('*') ? '*' : projects });
  }
  if (grants.length === 0) throw new ConfigError('CONNCHECK_AUTH_TOKENS', 'is set but holds no token');
  return grants;
}

/** `vpn=zone-b,vpc=zone-c` → { vpn: 'zone-b', vpc: 'zone-c' }. */
export function parseNetTypePools(raw: string): Record<string, string> {
  const map: Record<string, string> = {};
  for (const part of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [netType, pool, ...rest] = part.split('=').map((s) => s.trim());
    if (!netType || !pool || rest.length > 0 || !/^[a-z0-9_-]{1,32}$/.test(netType)) {
      throw new ConfigError('CONNCHECK_NET_TYPE_POOLS', `each entry must be net_type=pool (e.g. vpn=zone-b), got "${part}"`);
    }
    if (!new RegExp(POOL_NAME_PATTERN).test(pool))
      throw new ConfigError('CONNCHECK_NET_TYPE_POOLS', `pool "${pool}" may hold only letters, digits, _ and - (at most 64)`);
    if (map[netType] !== undefined) throw new ConfigError('CONNCHECK_NET_TYPE_POOLS', `net_type ${netType} is mapped twice`);
    map[netType] = pool;
  }
  return map;
}

export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export function loadConfig(env: Env = process.env): Config {
  const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
  const logLevel = str(env, 'CONNCHECK_LOG_LEVEL', 'info');
  if (!(logLevels as readonly string[]).includes(logLevel)) {
    throw new ConfigError('CONNCHECK_LOG_LEVEL', `must be one of ${logLevels.join(', ')}`);
  }
  const host = str(env, 'HOST', '127.0.0.1');
  if (!isIP(host) && host !== 'localhost') throw new ConfigError('HOST', `must be an IP address to bind to, got "${host}"`);
  const redisUrl = str(env, 'REDIS_URL', 'redis://127.0.0.1:6379');
  if (!/^rediss?:\/\/[^\s]+$/.test(redisUrl)) throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL');
  const rawNodes = env.CONNCHECK_REDIS_CLUSTER_NODES?.trim();
  let redisClusterNodes: string[] | undefined;
  if (rawNodes) {
    redisClusterNodes = rawNodes.split(',').map((node) => node.trim());
    for (const node of redisClusterNodes) {
      const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(node);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
        throw new ConfigError('CONNCHECK_REDIS_CLUSTER_NODES', `must be a comma-separated list of host:port seed nodes, got "${node}"`);
    }
    const db = new URL(redisUrl).pathname.replace(/^\//, '');
    if (db !== '' && db !== '0') throw new ConfigError('REDIS_URL', `names database ${db}, and a Redis Cluster has only database 0`);
  }
  const pool = str(env, 'CONNCHECK_WORKER_POOL', 'default');
  if (!new RegExp(POOL_NAME_PATTERN).test(pool)) throw new ConfigError('CONNCHECK_WORKER_POOL', 'may hold only letters, digits, _ and - (at most 64)');
  const prefix = str(env, 'CONNCHECK_REDIS_PREFIX', 'cc');
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new ConfigError('CONNCHECK_REDIS_PREFIX', 'may hold only letters, digits, _ and - (at most 32)');
  let secretKey: Buffer | undefined;
  const rawKey = env.CONNCHECK_SECRET_KEY;
  if (rawKey !== undefined && rawKey.trim() !== '') {
    try {
      secretKey = parseSecretKey(rawKey);
    } catch (err) {
      throw new ConfigError('CONNCHECK_SECRET_KEY', (err as Error).message);
    }
  }
  const previousSecretKeys: Buffer[] = [];
  for (const raw of (env.CONNCHECK_SECRET_KEY_PREVIOUS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    try {
      previousSecretKeys.push(parseSecretKey(raw));
    } catch (err) {
      throw new ConfigError('CONNCHECK_SECRET_KEY_PREVIOUS', `${(err as Error).message} (a comma-separated list of earlier keys)`);
    }
  }
  if (previousSecretKeys.length > 0 && !secretKey)
    throw new ConfigError('CONNCHECK_SECRET_KEY_PREVIOUS', 'is set without CONNCHECK_SECRET_KEY (the key to rotate to)');
  const rawTokens = env.CONNCHECK_AUTH_TOKENS;
  const authTokens = rawTokens !== undefined && rawTokens.trim() !== '' ? parseAuthTokens(rawTokens) : undefined;
  if (!authTokens && !isLoopbackHost(host)) {
    throw new ConfigError('CONNCHECK_AUTH_TOKENS', `is unset, and open mode only binds to loopback; HOST is ${host}. Set tokens or bind to 127.0.0.1`);
  }
  return {
    port: int(env, 'PORT', 8080, 0, 65535),
    host,
    redisUrl,
    redisUrlExplicit: env.REDIS_URL !== undefined && env.REDIS_URL.trim() !== '',
    redisClusterNodes,
    authTokens,
    secretKey,
    targetAllow: env.CONNCHECK_TARGET_ALLOW?.trim() || undefined,
    targetDeny: env.CONNCHECK_TARGET_DENY?.trim() || undefined,
    workerConcurrency: int(env, 'CONNCHECK_WORKER_CONCURRENCY', 50, 1, 100_000),
    workerPool: pool,
    maxItemsPerBatch: int(env, 'CONNCHECK_MAX_ITEMS', 1000, 1, 100_000),
    bodyLimit: int(env, 'CONNCHECK_BODY_LIMIT', 16 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    retentionSeconds: int(env, 'CONNCHECK_RETENTION_SECONDS', 7 * 24 * 3600, 1, 366 * 24 * 3600),
    maxPendingItemsPerProject: int(env, 'CONNCHECK_MAX_PENDING_ITEMS', 20_000, 1, 10_000_000),
    redisPrefix: prefix,
    logLevel: logLevel as Config['logLevel'],
    shutdownGraceMs: int(env, 'CONNCHECK_SHUTDOWN_GRACE_MS', 65_000, 0, 600_000),
    workerLockMs: int(env, 'CONNCHECK_WORKER_LOCK_MS', 10_000, 1000, 600_000),
    tlsExpiryWarningDays: int(env, 'CONNCHECK_TLS_EXPIRY_WARNING_DAYS', 30, 0, 3650),
    workerMetricsPort: int(env, 'CONNCHECK_WORKER_METRICS_PORT', 0, 0, 65535),
    syncWaitMarginMs: int(env, 'CONNCHECK_SYNC_WAIT_MARGIN_MS', 5000, 0, 600_000),
    netTypePools: parseNetTypePools(env.CONNCHECK_NET_TYPE_POOLS ?? ''),
    previousSecretKeys,
    webhookAttempts: int(env, 'CONNCHECK_WEBHOOK_ATTEMPTS', 8, 1, 50),
    webhookBackoffMs: int(env, 'CONNCHECK_WEBHOOK_BACKOFF_MS', 2000, 10, 3_600_000),
    requestTimeoutMs: int(env, 'CONNCHECK_REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000),
    maxConnectionsPerClient: int(env, 'CONNCHECK_MAX_CONNECTIONS_PER_CLIENT', 64, 1, 100_000),
    rateLimitPerMinute: int(env, 'CONNCHECK_RATE_LIMIT_PER_MINUTE', 1200, 1, 10_000_000),
    authFailuresPerMinute: int(env, 'CONNCHECK_AUTH_FAILURES_PER_MINUTE', 20, 1, 1_000_000),
  };
}

/** For a process entry point: the config, or one clear line on stderr naming the variable, and exit code 2. */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) exitWithLine(err.message);
    throw err;
  }
}

export function exitWithLine(line: string, code = 2): never {
  process.stderr.write(`conncheck: ${line}\n`);
  process.exit(code);
}
