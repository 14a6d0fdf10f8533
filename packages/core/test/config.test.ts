import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/index.js';

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({});
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(config.redisUrlExplicit, false);
    assert.equal(config.authTokens, undefined);
    assert.equal(config.workerPool, 'default');
    assert.equal(config.retentionSeconds, 604800);
  });

  it('parses tokens', () => {
    const config = loadConfig({ CONNCHECK_AUTH_TOKENS: 'aaaaaaaaaaaaaaaa=projA,projB; bbbbbbbbbbbbbbbb=*' });
    assert.deepEqual(config.authTokens, [
      { token: 'aaaaaaaaaaaaaaaa', projects: ['projA', 'projB'] },
      { token: 'bbbbbbbbbbbbbbbb', projects: '*' },
    ]);
  });

  const bad: [Record<string, string>, string][] = [
    [{ PORT: 'eighty' }, 'PORT: must be a whole number, got "eighty"'],
    [{ PORT: '70000' }, 'PORT: must be between 0 and 65535, got 70000'],
    [{ HOST: 'my host' }, 'HOST: must be an IP address to bind to, got "my host"'],
    [{ HOST: '0.0.0.0' }, 'CONNCHECK_AUTH_TOKENS: is unset, and open mode only binds to loopback; HOST is 0.0.0.0. Set tokens or bind to 127.0.0.1'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL: must be a redis:// or rediss:// URL'],
    [{ CONNCHECK_AUTH_TOKENS: 'short=*' }, 'CONNCHECK_AUTH_TOKENS: every token must be at least 16 characters'],
    [{ CONNCHECK_AUTH_TOKENS: 'aaaaaaaaaaaaaaaa' }, 'CONNCHECK_AUTH_TOKENS: each entry must be token=project[,project…] or token=*'],
    [{ CONNCHECK_AUTH_TOKENS: 'aaaaaaaaaaaaaaaa=' }, 'CONNCHECK_AUTH_TOKENS: a token lists no project (use * for all)'],
    [{ CONNCHECK_SECRET_KEY: 'c2hvcnQ=' }, 'CONNCHECK_SECRET_KEY: must be base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`)'],
    [{ CONNCHECK_WORKER_CONCURRENCY: '0' }, 'CONNCHECK_WORKER_CONCURRENCY: must be between 1 and 100000, got 0'],
    [{ CONNCHECK_WORKER_POOL: 'zone a' }, 'CONNCHECK_WORKER_POOL: may hold only letters, digits, _ and - (at most 64)'],
    [{ CONNCHECK_MAX_ITEMS: '-1' }, 'CONNCHECK_MAX_ITEMS: must be a whole number, got "-1"'],
    [{ CONNCHECK_LOG_LEVEL: 'verbose' }, 'CONNCHECK_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ CONNCHECK_RETENTION_SECONDS: '0' }, 'CONNCHECK_RETENTION_SECONDS: must be between 1 and 31622400, got 0'],
  ];
  for (const [env, message] of bad) {
    it(`rejects ${JSON.stringify(env)}`, () => {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.message === message,
      );
    });
  }
});
