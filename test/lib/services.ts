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
    /** cc_tls_only: REQUIRE SSL, all privileges on ccdb. Without TLS MariaDB answers 1045, exactly as for a wrong password. */
    tlsOnly: Credentials;
  };
  /** The main server serves tls.server (SAN localhost only), with the test CA as --ssl-ca. */
  tls: { cert: 'server' };
  /** A second MariaDB serving tls.expired; root and users.main work there (same passwords). */
  expired: TlsInstance;
  /** A third MariaDB with TLS off (--skip-ssl); root and users.main work there. */
  plain: Instance;
}

export interface Instance {
  host: string;
  port: number;
}

export interface TlsInstance extends Instance {
  tls: { cert: 'expired' };
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
    /** cc_tls_only: pg_hba.conf has `hostssl … scram-sha-256` and `hostnossl … reject` for it. */
    tlsOnly: Credentials;
  };
  /** The main cluster serves tls.server (SAN localhost only; ssl_ca_file = the test CA). */
  tls: { cert: 'server' };
  /** A second cluster serving tls.expired; superuser and users.scram work there (owner of ccdb). */
  expired: TlsInstance;
  /** A third cluster with ssl = off; superuser and users.scram work there. */
  plain: Instance;
}

/**
 * FerretDB v1 (SQLite backend, built by test/services.d/ferretdb.mjs) with SCRAM authentication. Its `hello` names
 * replica set `repl_set_name` with one member, this server's plain-text address.
 */
export interface MongoEndpoint {
  host: string;
  port: number;
  /** TLS only (no client certificate asked), serving tls.server: SAN DNS:localhost only. */
  tls_port: number;
  product: 'FerretDB';
  /** e.g. "1.24.2", as buildInfo's ferretdbVersion reports it */
  version: string;
  backend: 'sqlite';
  /** where users.main is defined */
  auth_database: 'admin';
  /** "rs0" */
  repl_set_name: string;
  users: {
    /** cc_root, defined in admin (FerretDB's setup user) */
    main: Credentials;
  };
}

/** A certificate and its private key, PEM files. */
export interface CertPair {
  cert: string;
  key: string;
}

/**
 * Test certificates made by test/services.d/certs.mjs for every started set (ECDSA P-256; all values are file
 * paths except the passwords, which are fresh per start). Leaf certificates are valid for 365 days from the start.
 */
export interface TestCerts {
  dir: string;
  /** The test CA: PEM, DER, and truststores holding it (ca.p12 made by keytool, ca.jks); one password for both. */
  ca: { pem: string; der: string; p12: string; p12_password: string; jks: string; jks_password: string };
  /** An unrelated CA: trusting it instead of `ca` is the wrong-CA case. */
  other_ca: { pem: string };
  /** Signed by ca, SAN DNS:localhost ONLY: by 127.0.0.1 it is a hostname mismatch, by localhost a match. */
  server: CertPair & { names: ['localhost'] };
  /** Signed by ca, SAN DNS:localhost and IP:127.0.0.1. */
  server_ip: CertPair & { names: ['localhost', '127.0.0.1'] };
  /** Signed by ca, SAN DNS:wrong.example. */
  wrong_name: CertPair & { names: ['wrong.example'] };
  /** Signed by ca, SAN localhost + 127.0.0.1, valid 2020-01-01 … 2021-01-01. */
  expired: CertPair;
  /** Self-signed leaf, SAN localhost + 127.0.0.1. */
  self_signed: CertPair;
  /** Signed by ca (extendedKeyUsage clientAuth, CN=cc_client) for mutual TLS; client.p12 is OpenSSL-made with the CA in its chain. */
  client: CertPair & { p12: string; p12_password: string; jks: string; jks_password: string };
  /** server_ip's certificate (with the CA) and key as JKS and OpenSSL-made PKCS#12, for Java servers (Kafka). */
  server_keystore: { jks: string; p12: string; password: string };
}

/** One Kafka listener on 127.0.0.1 (each is `listener.name.<name>` in the broker's server.properties). */
export interface KafkaListener {
  port: number;
  security_protocol: 'PLAINTEXT' | 'SASL_PLAINTEXT' | 'SSL' | 'SASL_SSL';
  /** SASL listeners: the mechanisms enabled there. */
  mechanisms?: ('PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512')[];
  /** bad_advertised only: the port it advertises, where nothing listens. */
  advertised_port?: number;
}

/**
 * Apache Kafka (test/services.d/kafka.mjs): one KRaft node, broker and controller, node id 1, every listener on
 * 127.0.0.1 and advertising its own address, except bad_advertised.
 */
export interface KafkaEndpoint {
  host: string;
  /** The PLAINTEXT listener's port (also listeners.plaintext.port). */
  port: number;
  /** The Apache Kafka release from Maven Central, e.g. "4.3.1". */
  version: string;
  cluster_id: string;
  /**
   * The directory of Kafka's jars (kafka-clients among them), cached by test/services; the differential suite's
   * reference client runs on them. Absent in a set started before it was listed (see kafkaLibs in reference-clients.ts).
   */
  libs?: string;
  listeners: {
    plaintext: KafkaListener;
    /** PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. */
    sasl_plaintext: KafkaListener;
    /** PLAIN only: a SCRAM mechanism is UNSUPPORTED_SASL_MECHANISM there. */
    sasl_plain_only: KafkaListener;
    /** tls.server_keystore (server_ip: SAN localhost + 127.0.0.1); no client certificate asked. */
    ssl: KafkaListener;
    /** As ssl, with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. */
    sasl_ssl: KafkaListener;
    /** As ssl, but a client certificate signed by tls.ca is required (mutual TLS). */
    ssl_mtls: KafkaListener;
    /** tls.server (SAN DNS:localhost only), advertised as 127.0.0.1: a hostname mismatch when the name is verified. */
    ssl_localhost: KafkaListener;
    /** PLAINTEXT, but advertises 127.0.0.1:<advertised_port>, where nothing listens. */
    bad_advertised: KafkaListener;
  };
  users: {
    /** A PLAIN user (JAAS config of the SASL listeners). */
    plain: Credentials;
    /** A SCRAM-SHA-256 credential only. */
    scram256: Credentials;
    /** A SCRAM-SHA-512 credential only. */
    scram512: Credentials;
  };
}

/** One node of the Redis Cluster; what restartNode() (test/lib/cluster-control.ts) needs to start it again. */
export interface RedisClusterNode {
  host: string;
  port: number;
  /** Its cluster bus port (--cluster-port; not port + 10000, which may not exist). */
  busPort: number;
  /** Its --dir: nodes.conf (its node id and epoch) and redis.pid. */
  dir: string;
  /** Where the node writes its pid; `test/services stop` also stops the pid found there (a restarted node). */
  pidFile: string;
  /** Its log, <tmp>/rediscluster-<port>.log. */
  log: string;
  /** redis-server arguments that start this node again as itself, daemonized, writing pidFile and appending to log. */
  restartArgs: string[];
}

/**
 * A Redis Cluster (test/services.d/redis-cluster.mjs): six redis-server on 127.0.0.1, 3 masters with one replica each,
 * all 16384 slots covered, no password, no persistence, cluster-node-timeout nodeTimeoutMs, so a crashed master's
 * replica takes over within a few seconds. `masters`, `replicas` and `shards` are the roles at start: a failover test
 * swaps them (find the current master of a key with masterOf() from test/lib/cluster-control.ts).
 */
export interface RedisClusterEndpoint {
  /** The first node (also nodes[0]). */
  host: string;
  port: number;
  /** All six nodes. */
  nodes: RedisClusterNode[];
  /** The masters' ports at start, ordered by their first slot (0, 5461, 10923). */
  masters: number[];
  /** The replicas' ports at start, replicas[i] replicating masters[i]. */
  replicas: number[];
  /** The same pairs, [{ master, replica }]. */
  shards: { master: number; replica: number }[];
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3": the first three nodes, as a seed list for a cluster client. */
  seeds: string;
  /** cluster-node-timeout: 1500 */
  nodeTimeoutMs: number;
  /** The redis-server binary the nodes run. */
  redisServer: string;
}

export interface TestServices {
  redis: RedisEndpoint;
  rediscluster: RedisClusterEndpoint;
  mariadb: MariaDbEndpoint;
  postgresql: PostgresEndpoint;
  mongodb: MongoEndpoint;
  kafka: KafkaEndpoint;
  tls: TestCerts;
}

let cached: { file: string; services: TestServices } | undefined;

/**
 * The endpoints of the running test servers, read from the file named by $CONNCHECK_TEST_SERVICES.
 * Throws when the tests were not started through `npm test` / `test/services run -- …`.
 */
export type ServiceName = 'redis' | 'rediscluster' | 'mariadb' | 'postgresql' | 'mongodb' | 'kafka';
const ALL_SERVICES: readonly ServiceName[] = ['redis', 'rediscluster', 'mariadb', 'postgresql', 'mongodb', 'kafka'];

/** The started set's endpoints; `required` names the services the caller needs (all, unless a subset was started). */
export function loadServices(required: readonly ServiceName[] = ALL_SERVICES): TestServices {
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
  for (const name of required) {
    const endpoint = services[name] as { port?: number; seeds?: string } | undefined;
    if (!endpoint?.port && !endpoint?.seeds) throw new Error(`${file} has no ${name} endpoint; restart with \`test/services stop\``);
  }
  if (!services.tls?.ca) throw new Error(`${file} has no tls section; restart with \`test/services stop\``);
  cached = { file, services };
  return services;
}
