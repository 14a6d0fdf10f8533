// Owns: turning what a user hands `conncheck submit` (a JSON batch body, or one target a line: host:port or a URL)
// into the batch request's jobs, with the source line of each. Must not: talk to the API or print; it throws CliError.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type BatchJob, type BatchRequest, isKafkaSecurityProtocol, isTlsProtocol } from '@conncheck/core';
import { CliError } from './exit-codes.js';

/** The API's limit on a job id (RequestLimits.idLength); a longer line is cut to it. */
const ID_LENGTH = 128;

export interface ParsedInput {
  body: BatchRequest;
  /** For a target list: the 1-based line of each job, to name it in the API's `jobs[N]` messages. Empty for JSON. */
  lines: number[];
}

/** A JSON batch body (`{jobs:[...]}`) when the text starts with `{`, else a target list. */
export function parseInput(text: string): ParsedInput {
  const trimmed = text.trim();
  if (trimmed === '') throw new CliError('the input is empty: give a JSON batch body or one target a line');
  if (trimmed.startsWith('{')) {
    let body: unknown;
    try {
      body = JSON.parse(trimmed);
    } catch (err) {
      throw new CliError(`the input starts with "{" but is not JSON: ${(err as Error).message}`);
    }
    const jobs = (body as { jobs?: unknown }).jobs;
    if (!Array.isArray(jobs) || jobs.length === 0) throw new CliError('the JSON input has no "jobs" array with at least one job');
    return { body: body as BatchRequest, lines: [] };
  }
  const jobs: BatchJob[] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    try {
      jobs.push(parseTarget(line));
    } catch (err) {
      if (err instanceof CliError) throw new CliError(`line ${index + 1}: ${err.message}`);
      throw err;
    }
    lines.push(index + 1);
  });
  if (jobs.length === 0) throw new CliError('the input has no targets (only blank lines and # comments)');
  return { body: { jobs }, lines };
}

const SCHEMES: Record<string, BatchJob['db_type']> = {
  tcp: 'tcp',
  mysql: 'mysql',
  postgres: 'postgresql',
  postgresql: 'postgresql',
  mongodb: 'mongodb',
  kafka: 'kafka',
};

/** MongoDB client options that change how a driver behaves, not whether it can connect: accepted and not used. */
const MONGODB_CLIENT_OPTIONS = new Set(['replicaSet', 'retryWrites', 'w', 'appName', 'readPreference']);

/**
 * One target: `host:port` / `[v6]:port` (tcp), or a URL `scheme://[user[:password]@]host[:port][,host:port…][/db][?…]`.
 * Credentials are URL-decoded; the job id is the line without its password.
 */
export function parseTarget(line: string): BatchJob {
  const url = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(line);
  if (!url) {
    if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]@]+):\d+$/.test(line)) {
      throw new CliError(`"${line}" is neither host:port nor a URL (tcp://, mysql://, postgres://, mongodb://, kafka://)`);
    }
    return { id: cut(line), db_type: 'tcp', ip: line };
  }
  const scheme = url[1]!;
  const dbType = SCHEMES[scheme.toLowerCase()];
  if (scheme.toLowerCase() === 'mongodb+srv')
    throw new CliError('mongodb+srv:// needs a DNS SRV lookup, which conncheck does not do: list the hosts in a mongodb:// URL');
  if (!dbType)
    throw new CliError(
      `unknown scheme "${scheme}://": expected one of ${Object.keys(SCHEMES)
        .map((s) => `${s}://`)
        .join(', ')}`,
    );

  const rest = url[2]!;
  const authorityEnd = rest.search(/[/?]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  const queryStart = tail.indexOf('?');
  const path = queryStart < 0 ? tail : tail.slice(0, queryStart);
  const query = new URLSearchParams(queryStart < 0 ? '' : tail.slice(queryStart + 1));

  const at = authority.lastIndexOf('@');
  const hosts = at < 0 ? authority : authority.slice(at + 1);
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const colon = userinfo?.indexOf(':') ?? -1;
  const rawUser = userinfo === undefined ? undefined : colon < 0 ? userinfo : userinfo.slice(0, colon);
  const user = rawUser === undefined ? undefined : decode(rawUser, 'user name');
  const password = userinfo === undefined || colon < 0 ? undefined : decode(userinfo.slice(colon + 1), 'password');
  if (hosts === '') throw new CliError(`"${redact(scheme, rawUser, hosts, tail)}" names no host`);
  if (user === '') throw new CliError('the user name before "@" is empty');
  if (path.slice(1).includes('/')) throw new CliError(`the path "${path}" has more than one segment; only /database is understood`);
  const dbName = path.length > 1 ? decode(path.slice(1), 'database name') : undefined;

  const job: BatchJob = { id: cut(redact(scheme, rawUser, hosts, tail)), db_type: dbType, ip: hosts };
  const used = new Set<string>();
  const param = (...names: string[]): string | undefined => {
    for (const name of names) {
      const value = query.get(name);
      if (value !== null) {
        used.add(name);
        return value;
      }
    }
    return undefined;
  };

  switch (dbType) {
    case 'tcp':
      if (userinfo !== undefined || tail !== '') throw new CliError('a tcp:// URL is tcp://host:port, with no user, path or parameters');
      if (!/:\d+$/.test(hosts)) throw new CliError(`tcp://${hosts} has no port`);
      break;
    case 'mysql':
    case 'postgresql':
      if (user === undefined) throw new CliError(`a ${scheme}:// URL needs a user: ${scheme}://user:password@host/database`);
      job.db_user = user;
      job.db_password = password ?? '';
      if (dbName !== undefined) job.db_name = dbName;
      applyTls(job, param('sslmode', 'ssl-mode'), param('sslrootcert', 'ssl-ca'));
      break;
    case 'mongodb':
      if (user !== undefined) {
        job.db_user = user;
        job.db_password = password ?? '';
      }
      {
        const authSource = param('authSource');
        if (authSource !== undefined || dbName !== undefined) job.db_name = authSource ?? dbName;
        const tls = param('tls', 'ssl');
        if (tls !== undefined && !['true', 'false'].includes(tls)) throw new CliError(`tls=${tls}: expected true or false`);
        applyTls(job, tls === 'true' ? 'tls' : undefined, param('tlsCAFile'));
        for (const name of query.keys()) if (MONGODB_CLIENT_OPTIONS.has(name)) used.add(name);
      }
      break;
    case 'kafka': {
      if (dbName !== undefined) throw new CliError('a kafka:// URL has no database path');
      const protocol = param('security.protocol');
      const mechanism = param('sasl.mechanism');
      if (user !== undefined) {
        if (protocol === undefined) throw new CliError('a kafka:// URL with a user needs ?security.protocol=SASL_PLAINTEXT or SASL_SSL (and sasl.mechanism)');
        job.db_user = user;
        job.db_password = password ?? '';
      }
      if (protocol !== undefined) {
        const type = protocol.toUpperCase();
        if (!isKafkaSecurityProtocol(type)) throw new CliError(`security.protocol=${protocol}: expected PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL`);
        job.kafka_security_config = { type };
        if (mechanism !== undefined) job.kafka_security_config.sasl_mechanism = mechanism.toUpperCase();
        const truststore = param('ssl.truststore.location');
        if (truststore !== undefined) {
          if (!isTlsProtocol(type)) throw new CliError(`ssl.truststore.location needs security.protocol SSL or SASL_SSL, not ${type}`);
          const password = param('ssl.truststore.password');
          Object.assign(job.kafka_security_config, {
            trust_store_key: readFile(truststore, 'truststore').toString('base64'),
            trust_store_key_name: basename(truststore),
            ...(password === undefined ? {} : { trust_store_password: password }),
          });
        }
      } else if (mechanism !== undefined) {
        throw new CliError('sasl.mechanism needs security.protocol');
      }
      break;
    }
  }
  const unknown = [...new Set(query.keys())].filter((name) => !used.has(name));
  if (unknown.length > 0) {
    throw new CliError(
      `unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} in a ${scheme}:// URL (understood: ${PARAMS[dbType]}); write a JSON batch body for anything else`,
    );
  }
  return job;
}

const PARAMS: Record<string, string> = {
  tcp: 'none',
  mysql: 'ssl-mode or sslmode, ssl-ca or sslrootcert',
  postgresql: 'sslmode, sslrootcert',
  mongodb: 'authSource, tls or ssl, tlsCAFile',
  kafka: 'security.protocol, sasl.mechanism, ssl.truststore.location (a PEM, PKCS#12 or JKS file), ssl.truststore.password',
};

/**
 * libpq's sslmode names and MySQL's ssl-mode names, mapped to ssl_link/ssl_mode. `prefer`/`allow` are refused: a
 * check that falls back silently would not say which of the two it checked.
 */
function applyTls(job: BatchJob, mode: string | undefined, caFile: string | undefined): void {
  if (mode !== undefined) {
    const m = mode.toLowerCase().replaceAll('_', '-');
    if (m === 'disable' || m === 'disabled') job.ssl_link = false;
    else if (m === 'tls') job.ssl_link = true;
    else if (m === 'require' || m === 'required') Object.assign(job, { ssl_link: true, ssl_mode: 'require' });
    else if (m === 'verify-ca') Object.assign(job, { ssl_link: true, ssl_mode: 'verify-ca' });
    else if (m === 'verify-full' || m === 'verify-identity') Object.assign(job, { ssl_link: true, ssl_mode: 'verify-full' });
    else if (['prefer', 'preferred', 'allow'].includes(m))
      throw new CliError(`ssl mode "${mode}" may or may not use TLS; a check must know which: use disable, require, verify-ca or verify-full`);
    else throw new CliError(`ssl mode "${mode}": expected disable, require, verify-ca or verify-full`);
  }
  if (caFile !== undefined) {
    if (!job.ssl_link) throw new CliError('a CA file is given, but TLS is not on: add sslmode=verify-full (or tls=true)');
    job.ssl_cert_key = readFile(caFile, 'CA file').toString('base64');
    job.ssl_cert_name = basename(caFile);
  }
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new CliError(`the ${what} has a bad %-escape (URL-encode "%" as %25)`);
  }
}

/** The line as written, without `:password`: what the job is called in results and tables. */
function redact(scheme: string, rawUser: string | undefined, hosts: string, tail: string): string {
  return `${scheme}://${rawUser === undefined ? '' : `${rawUser}@`}${hosts}${tail}`;
}

function cut(id: string): string {
  return id.length <= ID_LENGTH ? id : `${id.slice(0, ID_LENGTH - 1)}…`;
}
