// Test support for test/differential.test.ts: the clients users really run, given the settings of a conncheck job —
// Apache Kafka's Java AdminClient (test/reference/KafkaAdminCheck.java, compiled here against the jars test/services
// fetched), the `mariadb` command-line client and `psql` — and their verdicts in conncheck's vocabulary: `success`, or
// the stage that failed (tcp, tls, auth, probe). Must not: reach anything but the loopback test servers; a verdict it
// cannot place is `unclassified`, never a guess.

import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckItem } from '@conncheck/core';
import type { KafkaEndpoint } from './services.js';

/** `success`, the stage that failed, or `unclassified` (the detail says what the client said). */
export type Verdict = 'success' | 'dns' | 'tcp' | 'tls' | 'auth' | 'probe' | 'unclassified';

export interface ReferenceVerdict {
  verdict: Verdict;
  /** What the client printed or threw, on one line. */
  detail: string;
}

/** conncheck's verdict on an item: success, or the stage that failed. */
export function conncheckVerdict(item: CheckItem): Verdict {
  if (item.status === 'success') return 'success';
  const failed = item.stages.find((s) => s.status === 'failed');
  return (failed?.name as Verdict | undefined) ?? 'unclassified';
}

/** A conncheck job as the reference clients read it (the request's own field names). */
export interface Job {
  ip: string;
  db_port?: number;
  db_user?: string;
  db_password?: string;
  db_name?: string;
  ssl_link?: boolean;
  ssl_mode?: 'require' | 'verify-ca' | 'verify-full';
  ssl_cert_key?: string;
  kafka_security_config?: Record<string, unknown>;
}

/** Temporary files for the uploaded material (each client reads files), removed by `close()`. */
export class MaterialFiles {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'cc-reference-'));
  private count = 0;

  /** Writes the bytes a job carries as base64 to a file of their own and returns its path. */
  write(base64: string, name: string): string {
    const file = path.join(this.dir, `${this.count++}-${name}`);
    writeFileSync(file, Buffer.from(base64, 'base64'), { mode: 0o600 });
    return file;
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Kafka: the Java AdminClient

const SOURCE = fileURLToPath(new URL('../../reference/KafkaAdminCheck.java', import.meta.url));

/** The jars of the running test broker: listed in the endpoints file, else where test/services caches them. */
function kafkaLibs(kafka: KafkaEndpoint): string {
  const cache = process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return kafka.libs ?? path.join(cache, 'conncheck', `kafka-${kafka.version}`, 'libs');
}

/**
 * The compiled reference client: cached in ${XDG_CACHE_HOME:-~/.cache}/conncheck/ by the hash of its source and the
 * Kafka version it is compiled against, like test/services' other caches; compiled (1-2 s) when missing.
 */
async function compiledKafkaClient(kafka: KafkaEndpoint): Promise<string> {
  const libs = kafkaLibs(kafka);
  const source = readFileSync(SOURCE);
  const key = createHash('sha256').update(source).update(`kafka ${kafka.version}`).digest('hex').slice(0, 16);
  const base = path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'conncheck');
  const dir = path.join(base, `reference-kafka-${key}`);
  if (existsSync(path.join(dir, 'KafkaAdminCheck.class'))) return dir;
  mkdirSync(base, { recursive: true });
  const work = mkdtempSync(path.join(base, '.reference-kafka-'));
  try {
    await run('javac', ['-nowarn', '-encoding', 'UTF-8', '-d', work, '-cp', `${libs}/*`, SOURCE], {}, 120_000).then(({ code, stderr }) => {
      if (code !== 0) throw new Error(`javac failed (exit ${code}; test/services installs default-jdk-headless): ${stderr}`);
    });
    try {
      renameSync(work, dir);
    } catch (err) {
      // Another run compiled it meanwhile: theirs is as good.
      if (!existsSync(path.join(dir, 'KafkaAdminCheck.class'))) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

/** What the Java client reports, in conncheck's stage names. */
const JAVA_VERDICTS: Record<string, Verdict> = {
  success: 'success',
  tcp: 'tcp',
  tls: 'tls',
  auth: 'auth',
  // Metadata came from the bootstrap server, but a broker it lists could not be reached: conncheck's probe stage.
  broker: 'probe',
  timeout: 'probe',
  // After the TCP connection, before any Kafka answer (conncheck's probe stage): the bootstrap server hung up (a TLS or
  // SASL listener given plain Kafka requests), answered with no Kafka response, or never answered.
  disconnected: 'probe',
  garbage: 'probe',
};

/**
 * The client properties a Java client would use for the job: bootstrap.servers, security.protocol, SASL with a JAAS
 * line, trust and key stores as files of the same bytes (their type from those bytes), endpoint identification.
 */
export function kafkaClientProperties(job: Job, files: MaterialFiles): Record<string, string> {
  const config = job.kafka_security_config ?? {};
  const text = (name: string): string | undefined => (typeof config[name] === 'string' && config[name] !== '' ? config[name] : undefined);
  const protocol = text('type') ?? 'PLAINTEXT';
  const props: Record<string, string> = { 'bootstrap.servers': job.ip, 'security.protocol': protocol };
  if (protocol.startsWith('SASL_')) {
    const mechanism = text('sasl_mechanism') ?? 'PLAIN';
    const module =
      mechanism === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule';
    const quoted = (value: string | undefined): string => JSON.stringify(value ?? '');
    props['sasl.mechanism'] = mechanism;
    props['sasl.jaas.config'] = `${module} required username=${quoted(job.db_user)} password=${quoted(job.db_password)};`;
  }
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const trustStore = text('trust_store_key');
    if (trustStore) {
      props['ssl.truststore.location'] = files.write(trustStore, 'truststore');
      props['ssl.truststore.type'] = storeType(trustStore);
      const password = text('trust_store_password');
      if (password) props['ssl.truststore.password'] = password;
    }
    const algorithm = config['endpoint_algorithm'];
    if (typeof algorithm === 'string') props['ssl.endpoint.identification.algorithm'] = algorithm;
    const keyStore = text('key_store_key');
    if (config['enable_key_store'] === true && keyStore) {
      props['ssl.keystore.location'] = files.write(keyStore, 'keystore');
      props['ssl.keystore.type'] = storeType(keyStore);
      const password = text('key_store_password');
      if (password) props['ssl.keystore.password'] = password;
      const keyPassword = text('key_store_key_password') ?? text('key_password');
      if (keyPassword) props['ssl.key.password'] = keyPassword;
    }
  }
  return props;
}

/** The ssl.*.type a user sets for the file: JKS (magic FEEDFEED), PEM (text), else PKCS12. */
function storeType(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0xfeedfeed) return 'JKS';
  return bytes.subarray(0, 4096).toString('latin1').includes('-----BEGIN ') ? 'PEM' : 'PKCS12';
}

/**
 * Runs every case in one JVM (in parallel, each its own AdminClient and describeCluster, each bounded to a few seconds:
 * see KafkaAdminCheck.java) and returns the verdicts by case id.
 */
export async function kafkaAdminClient(kafka: KafkaEndpoint, cases: Map<string, Record<string, string>>): Promise<Map<string, ReferenceVerdict>> {
  const classes = await compiledKafkaClient(kafka);
  const input = [...cases].flatMap(([id, props]) => Object.entries(props).map(([key, value]) => `${id}\t${key}\t${value}\n`)).join('');
  const { code, stdout, stderr } = await run(
    'java',
    ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx256m', '-cp', `${classes}${path.delimiter}${kafkaLibs(kafka)}/*`, 'KafkaAdminCheck'],
    { input },
    90_000,
  );
  if (code !== 0) throw new Error(`KafkaAdminCheck exited ${code}: ${stderr.slice(-2000)}`);
  const verdicts = new Map<string, ReferenceVerdict>();
  for (const line of stdout.split('\n').filter(Boolean)) {
    const [id = '', verdict = '', detail = ''] = line.split('\t');
    verdicts.set(id, { verdict: JAVA_VERDICTS[verdict] ?? 'unclassified', detail: `${verdict}: ${detail}` });
  }
  return verdicts;
}

// ---------------------------------------------------------------------------------------------------------------
// MySQL / MariaDB: the mariadb client; PostgreSQL: psql

/** The mode conncheck applies to a job with ssl_link (security-settings.ts defaultSslMode): given, else by the CA. */
function sslMode(job: Job): 'require' | 'verify-ca' | 'verify-full' {
  return job.ssl_mode ?? (job.ssl_cert_key ? 'verify-full' : 'require');
}

/**
 * `mariadb` with the job's settings: no TLS is --skip-ssl, require is --ssl, verify-ca is --ssl-ca (the 10.11 client
 * verifies the chain once it has a CA), verify-full adds --ssl-verify-server-cert. The password goes in MYSQL_PWD,
 * no option file is read.
 */
export async function mariadbClient(job: Job, files: MaterialFiles): Promise<ReferenceVerdict> {
  const args = ['--no-defaults', '--protocol=TCP', `--host=${job.ip}`, `--port=${job.db_port}`, `--user=${job.db_user ?? ''}`, '--connect-timeout=5'];
  if (job.db_name) args.push(`--database=${job.db_name}`);
  if (!job.ssl_link) args.push('--skip-ssl');
  else if (sslMode(job) === 'require') args.push('--ssl');
  else {
    args.push(`--ssl-ca=${files.write(job.ssl_cert_key ?? '', 'ca.pem')}`);
    if (sslMode(job) === 'verify-full') args.push('--ssl-verify-server-cert');
  }
  args.push('--batch', '--skip-column-names', '--execute=SELECT 1');
  const { code, stdout, stderr } = await run('mariadb', args, { env: { MYSQL_PWD: job.db_password ?? '' } }, 20_000);
  const detail = oneLine(stderr || stdout);
  if (code === 0 && stdout.trim() === '1') return { verdict: 'success', detail };
  const error = Number(/^ERROR (\d+)/m.exec(stderr)?.[1]);
  return { verdict: MARIADB_ERRORS[error] ?? 'unclassified', detail };
}

/** The client's error numbers, by the stage they belong to. */
const MARIADB_ERRORS: Record<number, Verdict> = {
  2005: 'dns', // CR_UNKNOWN_HOST
  2002: 'tcp', // CR_CONNECTION_ERROR
  2003: 'tcp', // CR_CONN_HOST_ERROR
  2026: 'tls', // CR_SSL_CONNECTION_ERROR: verification failed, or TLS required and not offered
  1045: 'auth', // ER_ACCESS_DENIED_ERROR
  1044: 'auth', // ER_DBACCESS_DENIED_ERROR: at login, for the database named
  1049: 'auth', // ER_BAD_DB_ERROR: at login, for the database named
  1130: 'auth', // ER_HOST_NOT_PRIVILEGED
  1698: 'auth', // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
};

/**
 * `psql` with the job's settings: sslmode disable (no ssl_link), require, verify-ca or verify-full with the CA as
 * sslrootcert. It runs with an empty HOME (no ~/.pgpass, ~/.postgresql/root.crt or psqlrc) and the password in
 * PGPASSWORD.
 */
export async function psqlClient(job: Job, files: MaterialFiles): Promise<ReferenceVerdict> {
  const mode = job.ssl_link ? sslMode(job) : 'disable';
  const params: Record<string, string> = {
    host: job.ip,
    port: String(job.db_port),
    user: job.db_user ?? '',
    dbname: job.db_name ?? 'postgres',
    sslmode: mode,
    connect_timeout: '5',
  };
  if (mode === 'verify-ca' || mode === 'verify-full') params['sslrootcert'] = files.write(job.ssl_cert_key ?? '', 'root.crt');
  const conninfo = Object.entries(params)
    .map(([key, value]) => `${key}='${value.replace(/['\\]/g, '\\$&')}'`)
    .join(' ');
  const home = path.join(files.dir, 'home');
  mkdirSync(home, { recursive: true });
  const { code, stdout, stderr } = await run(
    'psql',
    ['--no-psqlrc', '--no-password', '--tuples-only', '--no-align', '--command=SELECT 1', conninfo],
    { env: { PGPASSWORD: job.db_password ?? '', HOME: home, LC_ALL: 'C' } },
    20_000,
  );
  const detail = oneLine(stderr || stdout);
  if (code === 0 && stdout.trim() === '1') return { verdict: 'success', detail };
  const verdict = PSQL_ERRORS.find(([pattern]) => pattern.test(stderr))?.[1] ?? 'unclassified';
  return { verdict, detail };
}

/** libpq's messages, by the stage they belong to (in the C locale). */
const PSQL_ERRORS: [RegExp, Verdict][] = [
  [/could not translate host name/, 'dns'],
  [/Connection refused|timeout expired/, 'tcp'],
  [/SSL|certificate|does not match host name/, 'tls'],
  [/password authentication failed|pg_hba\.conf|authentication failed|database ".*" does not exist|permission denied for database/, 'auth'],
];

// ---------------------------------------------------------------------------------------------------------------

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Runs a command with only PATH (plus `env`) in its environment; never rejects for a non-zero exit. */
function run(
  command: string,
  args: string[],
  { input, env = {} }: { input?: string; env?: Record<string, string> },
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const options = { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 };
  if (input === undefined) {
    return new Promise((resolve, reject) => {
      execFile(command, args, options, (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(new Error(`${command}: ${err.message}`));
        else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      });
    });
  }
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new Error(`${command}: ${err.message}`)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
