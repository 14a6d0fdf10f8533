// docker-compose.yml and Dockerfile, checked without a Docker engine (none runs on this project's machines): the
// compose file against the Compose Specification's JSON schema (from compose-go's Go module) after interpolation as
// Compose does it, the properties the README promises, and the targets profile's Kafka scripts run for real here
// against the test services' Apache Kafka jars. Must not: claim more than that; nothing here starts a container.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { composeSchemaFile } from './lib/compose-schema.js';
import { waitFor } from './lib/harness.js';
import { type Pipeline, startPipeline } from './lib/pipeline.js';
import { freePort, repoRoot } from './lib/processes.js';
import { loadServices } from './lib/services.js';

type Json = any;

/**
 * Compose's interpolation of every string value: `$$` is a `$`; `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}` and `${VAR?error}` as the Compose Specification defines them. Throws on a required variable.
 */
function interpolate(value: Json, env: Record<string, string>): Json {
  if (typeof value === 'string') {
    return value.replace(
      /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}/g,
      (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
        if (whole === '$$') return '$';
        const set = name! in env;
        const value = env[name!];
        const missing = op?.startsWith(':') ? !set || value === '' : !set;
        if (op?.endsWith('?') && missing) throw new Error(`required variable ${name} is missing a value: ${arg}`);
        if (op?.endsWith('-') && missing) return arg ?? '';
        return value ?? '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)]));
  return value;
}

const ENV = { CONNCHECK_SECRET_KEY: 'c2VjcmV0LWtleS1vZi0zMi1ieXRlcy1mb3ItdGhlLXRlc3Q=', CONNCHECK_AUTH_TOKENS: '0123456789abcdef0123=*' };

describe('docker-compose.yml', () => {
  const text = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8');
  // YAML merge keys (`<<: *anchor`) are YAML 1.1, which Compose supports; the yaml package needs them asked for.
  const raw: Json = parse(text, { merge: true });
  const compose: Json = interpolate(raw, ENV);
  const services: Json = compose.services;

  it('is valid against the Compose Specification schema (compose-go ' + '`schema/compose-spec.json`)', async () => {
    const schema = JSON.parse(readFileSync(await composeSchemaFile(), 'utf8'));
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema', 'the schema declares draft 2020-12: Ajv2020 is the validator for it');
    // strict: false because the schema is not written for Ajv's strict mode (it fails strictTypes: `properties`
    // without `type: object`); every keyword is still applied.
    const ajv = new Ajv2020.default({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
    // And the schema does catch a mistake in this file's shape: a worker with a misspelt key fails.
    const broken: Json = structuredClone(compose);
    broken.services.worker.healthchek = broken.services.worker.healthcheck;
    assert.equal(validate(broken), false, 'an unknown service key is refused');
  });

  it('needs a secret key and tokens from the user, and shares the one key between API and workers', () => {
    assert.throws(
      () => interpolate(raw, { CONNCHECK_AUTH_TOKENS: ENV.CONNCHECK_AUTH_TOKENS }),
      /required variable CONNCHECK_SECRET_KEY is missing a value: set CONNCHECK_SECRET_KEY/,
    );
    assert.throws(() => interpolate(raw, { CONNCHECK_SECRET_KEY: ENV.CONNCHECK_SECRET_KEY }), /required variable CONNCHECK_AUTH_TOKENS/);
    assert.equal(services.api.environment.CONNCHECK_SECRET_KEY, ENV.CONNCHECK_SECRET_KEY);
    assert.equal(services.worker.environment.CONNCHECK_SECRET_KEY, ENV.CONNCHECK_SECRET_KEY);
    assert.equal(services.api.environment.REDIS_URL, 'redis://redis:6379');
    assert.equal(services.worker.environment.REDIS_URL, 'redis://redis:6379');
  });

  it('runs Redis with AOF and noeviction, with a health check and a volume', () => {
    const command: string[] = services.redis.command;
    const after = (flag: string) => command[command.indexOf(flag) + 1];
    assert.equal(after('--appendonly'), 'yes');
    assert.equal(after('--maxmemory-policy'), 'noeviction');
    assert.match(services.redis.image, /^redis:\d/);
    assert.ok(services.redis.healthcheck.test.includes('ping'));
    assert.ok(services.redis.volumes.some((v: string) => v.endsWith(':/data')));
  });

  it("runs the API and workers from the repo's bins, with health checks, and workers that --scale", () => {
    const bins = {
      ...JSON.parse(readFileSync(join(repoRoot, 'apps/api/package.json'), 'utf8')).bin,
      ...JSON.parse(readFileSync(join(repoRoot, 'apps/worker/package.json'), 'utf8')).bin,
    };
    assert.deepEqual(services.api.command, ['node_modules/.bin/conncheck-api']);
    assert.deepEqual(services.worker.command, ['node_modules/.bin/conncheck-worker']);
    assert.ok(bins['conncheck-api'] && bins['conncheck-worker'], 'both commands are package bins');
    assert.equal(services.api.build, '.');
    assert.equal(services.worker.image, services.api.image, 'one image for both');
    for (const name of ['api', 'worker']) {
      assert.equal(services[name].depends_on.redis.condition, 'service_healthy', `${name} waits for Redis`);
      assert.equal(services[name].profiles, undefined, `${name} runs without a profile`);
    }
    assert.equal(services.worker.container_name, undefined, 'a fixed container name would stop --scale');
    assert.equal(services.worker.ports, undefined, 'a published port would clash between scaled workers');
    assert.equal(services.api.environment.HOST, '0.0.0.0');
    assert.match(services.api.healthcheck.test.join(' '), /fetch\('http:\/\/127\.0\.0\.1:8080\/healthz'\)/);
    const metricsPort = services.worker.environment.CONNCHECK_WORKER_METRICS_PORT;
    assert.match(services.worker.healthcheck.test.join(' '), new RegExp(`fetch\\('http://127\\.0\\.0\\.1:${metricsPort}/healthz'\\)`));
    assert.ok(!services.worker.healthcheck.test.join(' ').includes('curl'), 'the node image has no curl');
  });

  it('has a targets profile with MySQL, PostgreSQL, MongoDB and Kafka from their official images', () => {
    const targets = Object.entries(services)
      .filter(([, s]: [string, Json]) => s.profiles?.includes('targets'))
      .map(([name]) => name);
    assert.deepEqual(targets.sort(), ['kafka', 'kafka-certs', 'mongo', 'mysql', 'postgres']);
    // Docker Official Images (docker.io/library/…), and Kafka's own project image (there is no library/kafka).
    assert.match(services.mysql.image, /^mysql:\d/);
    assert.match(services.postgres.image, /^postgres:\d/);
    assert.match(services.mongo.image, /^mongo:\d/);
    assert.match(services.kafka.image, /^apache\/kafka:\d/);
    for (const name of targets) assert.equal(services[name].ports, undefined, `${name} is not published to the host`);
    assert.equal(services.kafka.depends_on['kafka-certs'].condition, 'service_completed_successfully');
    for (const name of ['kafka', 'kafka-certs']) {
      const script = services[name].entrypoint[1].replace('/deploy/', 'deploy/kafka/');
      assert.ok(existsSync(join(repoRoot, script)), `${name} runs ${script}, which is in the repo`);
    }
  });

  it('builds the image as a clone is built, without local state or secrets', () => {
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM node:20/m);
    assert.match(dockerfile, /^RUN npm ci .*&& npm run build$/m);
    const ignored = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.env', '.git']) assert.ok(ignored.includes(entry), entry);
  });
});

describe("the targets profile's Kafka scripts, run here on the stock Kafka jars", () => {
  let pipeline: Pipeline;
  let broker: ChildProcess;
  let dir: string;
  let output = '';
  const ports = { plaintext: 0, saslSsl: 0 };
  const password = 'try-conncheck';

  before(async () => {
    const services = loadServices(['redis', 'kafka']);
    const libs = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'conncheck', `kafka-${services.kafka.version}`, 'libs');
    assert.ok(existsSync(libs), `${libs}: test/services fetched the Kafka jars`);
    dir = mkdtempSync(join(tmpdir(), 'conncheck-compose-kafka-'));
    const env = { PATH: process.env.PATH ?? '', CERTS_DIR: join(dir, 'certs'), KAFKA_HOST: 'localhost' };
    await promisify(execFile)('sh', [join(repoRoot, 'deploy/kafka/make-certs.sh')], { env, timeout: 60_000 });
    [ports.plaintext, ports.saslSsl] = [await freePort(), await freePort()];
    broker = spawn('sh', [join(repoRoot, 'deploy/kafka/start.sh')], {
      env: {
        ...env,
        KAFKA_LIBS: libs,
        KAFKA_DATA: join(dir, 'data'),
        KAFKA_BIND: '127.0.0.1',
        KAFKA_PLAINTEXT_PORT: String(ports.plaintext),
        KAFKA_SASL_SSL_PORT: String(ports.saslSsl),
        KAFKA_CONTROLLER_PORT: String(await freePort()),
        KAFKA_PASSWORD: password,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    broker.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    broker.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    pipeline = await startPipeline();
  });

  after(async () => {
    try {
      process.kill(-broker.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
    await pipeline?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('make-certs.sh is idempotent and start.sh serves SASL_SSL (SCRAM-SHA-512, PLAIN) that conncheck checks', async () => {
    const again = await promisify(execFile)('sh', [join(repoRoot, 'deploy/kafka/make-certs.sh')], {
      env: { PATH: process.env.PATH ?? '', CERTS_DIR: join(dir, 'certs') },
    });
    assert.match(again.stdout, /certificates already in/);
    const ca = readFileSync(join(dir, 'certs', 'ca.pem')).toString('base64');
    const sasl = (id: string, mechanism: string, pass: string) => ({
      id,
      db_type: 'kafka',
      ip: `localhost:${ports.saslSsl}`,
      db_user: 'app',
      db_password: pass,
      kafka_security_config: { type: 'SASL_SSL', sasl_mechanism: mechanism, trust_store_key: ca, trust_store_key_name: 'ca.pem' },
    });
    const jobs = [
      { id: 'plaintext', db_type: 'kafka', ip: `localhost:${ports.plaintext}` },
      sasl('scram', 'SCRAM-SHA-512', password),
      sasl('plain', 'PLAIN', password),
      sasl('wrong-password', 'SCRAM-SHA-512', 'not-it'),
    ];
    // The broker takes a few seconds to start: retry the whole batch until the plaintext item connects.
    const task = await waitFor(
      async () => {
        if (broker.exitCode !== null) throw new Error(`start.sh exited with ${broker.exitCode}:\n${output}`);
        const t = await pipeline.finished(await pipeline.submit(jobs));
        return t.check_items.find((i) => i.id === 'plaintext')?.success ? t : undefined;
      },
      60_000,
      `the broker of deploy/kafka/start.sh; it said:\n${output}`,
    );
    const byId = Object.fromEntries(task.check_items.map((i) => [i.id, i]));
    assert.equal(byId.scram!.success, true, JSON.stringify(byId.scram));
    assert.equal(byId.plain!.success, true, JSON.stringify(byId.plain));
    assert.equal(byId['wrong-password']!.error_code, 'AUTH_FAILED');
    assert.match(byId.scram!.tls!.subject_alt_names.join(','), /DNS:localhost/);
    assert.match(byId.scram!.tls!.issuer, /CN=conncheck targets CA/);
    assert.deepEqual(byId.scram!.server, { product: 'Apache Kafka', version: byId.plaintext!.server!.version });
  });
});
