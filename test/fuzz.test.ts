// The API under a property-based fuzzer: schemathesis (PyPI) reads GET /openapi.json of a real API process (started
// as `npm run start:api`) and sends what the document allows and what it does not, with every check it has. The run
// must find nothing: no 5xx, no answer the document does not describe, no schema-valid request refused and no
// schema-violating one accepted — except where conncheck refuses by design, configured below with the reason.
//
// No worker runs: nothing the fuzzer writes into a batch (any address, any name) is ever connected to or resolved;
// the API itself never probes. The project id is pinned so requests get past authentication.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createRedis } from '@conncheck/store';
import { deleteKeys } from './lib/harness.js';
import { type Proc, freePort, startScript, waitUntilReady } from './lib/processes.js';
import { schemathesisCommand } from './lib/schemathesis.js';
import { loadServices } from './lib/services.js';

const PROJECT = 'fuzz';

/**
 * The by-design deviations. Each names the operation and the statuses its schema-valid requests may get beyond 2xx:
 * the rules that span fields, and the state a request depends on, are not expressible in the schema (they are
 * written in its descriptions), so a request can be valid by the schema and still be refused, with a 4xx naming why.
 */
const CONFIG = `
# A task's event stream stays open until the task ends, and no task ends in this run: read its first event only.
max-stream-events = 1

[parameters]
project_id = "${PROJECT}"

# Batches: cross-field rules (a port for tcp, credentials for mysql/postgresql, kafka_security_config only for kafka …).
# And ?dry_run=true answers 200 with every problem listed for a body that fails the schema: that is its purpose.
[[operations]]
include-name-regex = '^POST /v3/\\{project_id\\}/jobs/batch-connection$'
checks.positive_data_acceptance.expected-statuses = [202, 200, 400]
checks.negative_data_rejection.expected-statuses = [400, 401, 403, 404, 413, 415, 200]

# (Each entry names its operation by "METHOD path": schemathesis applies the first entry one of whose filters matches.)

# A task read may wait for its end (wait_ms, up to 30 s) and no task ends in this run: wait 100 ms at most. (Its range is
# checked by the API tests.)
# DELETE of a check cancels it: the task stays readable (Canceled, with its items) until its retention ends, so a read
# after a DELETE is a 200 by design, not the "deleted resource still available" of use_after_free (the stateful phase
# finds the check's Location header and follows it).
[[operations]]
include-name-regex = '^GET /v(1|3)/\\{project_id\\}/(checks|jobs/batch-connection)/\\{check_id\\}$'
parameters = { wait_ms = 100 }
checks.use_after_free.enabled = false
[[operations]]
include-name-regex = '^GET /v1/\\{project_id\\}/checks/\\{check_id\\}/events$'
checks.use_after_free.enabled = false

# A cursor is opaque: only one the API handed out is accepted.
[[operations]]
include-name-regex = '^GET /v1/\\{project_id\\}/checks$'
checks.positive_data_acceptance.expected-statuses = [200, 400]

# Synchronous checks: no worker serves any pool in this run (412 / the gateway's 404 APIG.3030 are their precondition),
# addresses must be hosts (host:port for the gateway) and a channel must exist, which the schema only describes.
[[operations]]
include-name-regex = '^POST .*/checkconnection$'
checks.positive_data_acceptance.expected-statuses = [200, 400, 412]
[[operations]]
include-name-regex = '^POST .*/backend/connectivity/check$'
checks.positive_data_acceptance.expected-statuses = [201, 400, 404]

# Channels and saved connections: a member's host, health-check timings and the destination's cross-field rules; a
# name is unique per instance or project; binding needs a connection that exists and at least one pool.
[[operations]]
include-name-regex = '^POST .*/vpc-channels$'
checks.positive_data_acceptance.expected-statuses = [201, 400]
[[operations]]
include-name-regex = '^POST .*/enhanced-connections$'
checks.positive_data_acceptance.expected-statuses = [201, 400, 409]
[[operations]]
include-name-regex = '^POST .*/enhanced-connections/.*/(associate-queue|disassociate-queue|check)$'
checks.positive_data_acceptance.expected-statuses = [200, 202, 400, 404]
`;

describe('the API under schemathesis', () => {
  const services = loadServices();
  const prefix = `fz${randomBytes(3).toString('hex')}`;
  const token = `fuzz-${randomBytes(12).toString('hex')}`;
  let api: Proc;
  let base: string;
  let dir: string;

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = startScript('start:api', {
      REDIS_URL: services.redis.url,
      PORT: String(port),
      CONNCHECK_SECRET_KEY: randomBytes(32).toString('base64'),
      CONNCHECK_REDIS_PREFIX: prefix,
      CONNCHECK_AUTH_TOKENS: `${token}=${PROJECT}`,
      CONNCHECK_LOG_LEVEL: 'warn',
      // The fuzzer is one client sending thousands of requests, and many with a wrong token on purpose.
      CONNCHECK_RATE_LIMIT_PER_MINUTE: '10000000',
      CONNCHECK_AUTH_FAILURES_PER_MINUTE: '1000000',
      CONNCHECK_MAX_PENDING_ITEMS: '10000000',
    });
    await waitUntilReady(base, api);
    dir = mkdtempSync(join(tmpdir(), 'conncheck-fuzz-'));
    writeFileSync(join(dir, 'schemathesis.toml'), CONFIG);
  });

  after(async () => {
    api.kill();
    rmSync(dir, { recursive: true, force: true });
    const redis = createRedis(services.redis.url, 'api', 'fuzz-cleanup');
    await redis.connect();
    await deleteKeys(redis, `${prefix}:*`);
    redis.disconnect();
  });

  it('finds no failure with every check, within a bounded number of examples', async (t) => {
    const st = await schemathesisCommand();
    let output = '';
    let code = 0;
    try {
      ({ stdout: output } = await promisify(execFile)(
        st,
        [
          '--config-file',
          join(dir, 'schemathesis.toml'),
          'run',
          `${base}/openapi.json`,
          '--checks',
          'all',
          '--max-examples',
          '25',
          // One worker: with two, schemathesis's coverage phase once failed inside CPython ("AST constructor recursion
          // depth mismatch", a thread-safety bug of the interpreter, not a finding); one is as fast here.
          '--workers',
          '1',
          '--seed',
          '1',
          '--no-color',
          '-H',
          `X-Auth-Token: ${token}`,
        ],
        { cwd: dir, timeout: 600_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_HOOKS: '' } },
      ));
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      code = e.code ?? 1;
      output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    }
    const summary = /^Test cases:\n(.*)$/m.exec(output)?.[1] ?? '';
    t.diagnostic(`schemathesis: ${summary.trim()}`);
    // What it found is at the end of its output, after the progress lines.
    assert.equal(code, 0, output.length > 16000 ? `${output.slice(0, 2000)}\n…\n${output.slice(-14000)}` : output);
    assert.match(output, /No issues found|0 failures|passed/);
    assert.equal(api.child.exitCode, null, 'the API is still up');
  });
});
