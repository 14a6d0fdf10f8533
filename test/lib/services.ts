// Endpoints of the private test servers started by `test/services` (see test/SERVICES.md).
// The JSON file named by $CONNCHECK_TEST_SERVICES is written by test/services with exactly this shape;
// passwords are generated freshly for every started set.
import { readFileSync } from 'node:fs';

export const SERVICES_ENV_VAR = 'CONNCHECK_TEST_SERVICES';

export interface Credentials {
  user: string;
  password: string;
}

export interface RedisEndpoint {
  /** redis://127.0.0.1:PORT (no password) */
  url: string;
  host: string;
  port: number;
}

export interface MariaDbEndpoint {
  host: string;
  port: number;
  /** SELECT VERSION(), e.g. "10.11.19-MariaDB-0+deb12u1" */
  version: string;
  /** "ccdb" */
  database: string;
  /** root@127.0.0.1 and root@localhost, all privileges */
  root: Credentials;
  users: {
    /** cc_user: all privileges on ccdb.*, from 127.0.0.1, localhost and % */
    main: Credentials;
    /** cc_limited: may log in, but has no rights on ccdb (ER_DBACCESS_DENIED_ERROR 1044 for ccdb) */
    limited: Credentials;
    /**
     * cc_local_only: only allowed from host 10.255.255.1, so a login from 127.0.0.1 is refused.
     * MariaDB reports this as ER_ACCESS_DENIED_ERROR 1045 "Access denied for user
     * 'cc_local_only'@'127.0.0.1'" (1130 "Host … is not allowed" is only sent when no account
     * at all matches the client host, and other accounts here do match 127.0.0.1).
     */
    hostDenied: Credentials;
  };
}

export interface PostgresEndpoint {
  host: string;
  port: number;
  /** SHOW server_version, e.g. "15.18 (Debian 15.18-0+deb12u1)" */
  version: string;
  /** "ccdb", owned by cc_scram */
  database: string;
  /** postgres (superuser, password stored as SCRAM) */
  superuser: Credentials;
  users: {
    /** cc_scram: password stored as SCRAM-SHA-256, owner of ccdb */
    scram: Credentials;
    /** cc_md5: password stored as MD5 */
    md5: Credentials;
    /** cc_reject: a valid role, but pg_hba.conf has `reject` for it on 127.0.0.1 */
    rejected: Credentials;
  };
}

export interface TestServices {
  redis: RedisEndpoint;
  mariadb: MariaDbEndpoint;
  postgresql: PostgresEndpoint;
}

let cached: { file: string; services: TestServices } | undefined;

/**
 * The endpoints of the running test servers, read from the file named by $CONNCHECK_TEST_SERVICES.
 * Throws when the tests were not started through `npm test` / `test/services run -- …`.
 */
export function loadServices(): TestServices {
  const file = process.env[SERVICES_ENV_VAR];
  if (!file) {
    throw new Error(
      `${SERVICES_ENV_VAR} is not set: run the tests through \`npm test\` or \`test/services run -- …\` ` +
        '(or `test/services start` and export the line `test/services env` prints)',
    );
  }
  if (cached?.file === file) return cached.services;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read ${SERVICES_ENV_VAR}=${file} (${(err as Error).message}); are the test servers still running? ` +
        'run the tests through `npm test` or `test/services run -- …`',
    );
  }
  const services = JSON.parse(text) as TestServices;
  for (const name of ['redis', 'mariadb', 'postgresql'] as const) {
    if (!services[name]?.port) throw new Error(`${file} has no ${name} endpoint; restart with \`test/services stop\``);
  }
  cached = { file, services };
  return services;
}
