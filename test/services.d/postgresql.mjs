// PostgreSQL: initdb + postgres from the newest /usr/lib/postgresql/<v>/bin (Debian package postgresql).
import fs from 'node:fs';
import path from 'node:path';
import {
  AbortedError,
  FatalError,
  HOST,
  IS_ROOT,
  cleanEnv,
  exec,
  execOk,
  freePorts,
  lit,
  mustWhich,
  newPassword,
  spawnServer,
  waitReady,
  which,
} from './common.mjs';

/** The newest PostgreSQL server bin dir: /usr/lib/postgresql/<v>/bin (Debian), else initdb's dir on PATH. */
function pgBinDir() {
  const has = (dir) => ['postgres', 'initdb', 'psql'].every((bin) => fs.existsSync(path.join(dir, bin)));
  try {
    const versions = fs
      .readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = path.join('/usr/lib/postgresql', v, 'bin');
      if (has(dir)) return dir;
    }
  } catch {
    /* not Debian-style */
  }
  const initdb = which('initdb');
  return initdb && has(path.dirname(initdb)) ? path.dirname(initdb) : null;
}

function lookupUser(name) {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [user, , uid, gid] = line.split(':');
      if (user === name) return { name, uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    /* no /etc/passwd */
  }
  return null;
}

/** PostgreSQL refuses to run as root: as root, run it as `postgres` (or a system user we create). */
async function pgOsUser() {
  if (!IS_ROOT) return { uid: undefined, gid: undefined };
  const existing = lookupUser('postgres') ?? lookupUser('conncheck-pg');
  if (existing) return existing;
  const useradd = mustWhich('useradd');
  const res = await exec(useradd, [
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    'conncheck-pg',
  ]);
  const created = lookupUser('conncheck-pg'); // a parallel start may have created it first
  if (!created) throw new FatalError(`useradd conncheck-pg failed: ${res.stderr.trim()}`);
  return created;
}

export const postgresql = {
  name: 'postgresql',
  // psql is the differential suite's reference client (Debian's postgresql depends on it; a server found elsewhere may not).
  missing: () => [...(pgBinDir() ? [] : ['postgresql']), ...(which('psql') ? [] : ['postgresql-client'])],

  async start(ctx, port) {
    const bin = pgBinDir();
    if (!bin) throw new FatalError('cannot find the PostgreSQL server binaries');
    const { uid, gid } = await pgOsUser();
    if (uid !== undefined) {
      for (let dir = path.dirname(ctx.dir); ; dir = path.dirname(dir)) {
        if ((fs.statSync(dir).mode & 0o001) === 0) {
          throw new FatalError(`the PostgreSQL server user cannot reach ${ctx.dir} (${dir} is not world-searchable); set TMPDIR=/tmp`);
        }
        if (dir === path.dirname(dir)) break;
      }
    }
    const [expiredPort, plainPort] = await freePorts(2);
    const pw = { superuser: newPassword(), scram: newPassword(), md5: newPassword(), rejected: newPassword(), tlsOnly: newPassword() };
    const server = { bin, uid, gid, pw };
    // Three clusters in parallel: the main one (TLS with tls.server, SAN localhost only), one serving the expired
    // certificate, and one with TLS off. The extra two have the superuser and cc_scram (owner of ccdb) only.
    const [version] = await Promise.all([
      startCluster(ctx, 'postgresql', port, server, {
        tls: ctx.tls.server,
        hba: [
          'host  all cc_reject 127.0.0.1/32 reject',
          // Only over TLS; without it pg_hba.conf refuses the connection ("… no encryption").
          'hostssl   all cc_tls_only 127.0.0.1/32 scram-sha-256',
          'hostnossl all cc_tls_only 127.0.0.1/32 reject',
        ],
        sql: [
          `CREATE ROLE cc_reject LOGIN PASSWORD ${lit(pw.rejected)};`,
          `CREATE ROLE cc_tls_only LOGIN PASSWORD ${lit(pw.tlsOnly)};`,
          "SET password_encryption = 'md5';",
          `CREATE ROLE cc_md5 LOGIN PASSWORD ${lit(pw.md5)};`,
          'RESET password_encryption;',
        ],
      }),
      startCluster(ctx, 'postgresql-expired', expiredPort, server, { tls: ctx.tls.expired }),
      startCluster(ctx, 'postgresql-plain', plainPort, server, { tls: null }),
    ]);

    return {
      host: HOST,
      port,
      version,
      database: 'ccdb',
      superuser: { user: 'postgres', password: pw.superuser },
      users: {
        scram: { user: 'cc_scram', password: pw.scram },
        md5: { user: 'cc_md5', password: pw.md5 },
        rejected: { user: 'cc_reject', password: pw.rejected },
        tlsOnly: { user: 'cc_tls_only', password: pw.tlsOnly },
      },
      tls: { cert: 'server' },
      expired: { host: HOST, port: expiredPort, tls: { cert: 'expired' } },
      plain: { host: HOST, port: plainPort },
    };
  },
};

/**
 * One cluster in <ctx.dir>/<name>: initdb, postgres superuser, cc_scram owning ccdb, then `sql`. `tls`: {cert, key}
 * to serve (copied into the cluster's dir, owned by the server's user, as PostgreSQL insists), or null for
 * ssl = off. `hba` lines come before the catch-all md5 line. Resolves to SHOW server_version.
 */
async function startCluster(ctx, name, port, { bin, uid, gid, pw }, { tls, hba = [], sql = [] }) {
  const base = path.join(ctx.dir, name);
  const data = path.join(base, 'data');
  fs.mkdirSync(base, { mode: 0o700 });
  if (uid !== undefined) fs.chownSync(base, uid, gid);
  const asPg = { uid, gid, cwd: base, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: base, LANG: 'C', LC_ALL: 'C' } };

  const pwfile = path.join(base, 'superuser.pw');
  fs.writeFileSync(pwfile, `${pw.superuser}\n`, { mode: 0o600 });
  if (uid !== undefined) fs.chownSync(pwfile, uid, gid);
  try {
    await execOk(
      `${name} initdb`,
      path.join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--encoding=UTF8', '--no-locale', '--no-sync'],
      { ...asPg, logFile: path.join(ctx.dir, `${name}-initdb.log`) },
    );
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  if (ctx.aborted) throw new AbortedError();

  let tlsConf = ['ssl = off'];
  if (tls) {
    for (const [from, to] of [
      [tls.cert, 'server.crt'],
      [tls.key, 'server.key'],
      [ctx.tls.ca.pem, 'ca.pem'],
    ]) {
      fs.copyFileSync(from, path.join(base, to));
      fs.chmodSync(path.join(base, to), 0o600);
      if (uid !== undefined) fs.chownSync(path.join(base, to), uid, gid);
    }
    tlsConf = [
      'ssl = on',
      `ssl_cert_file = '${path.join(base, 'server.crt')}'`,
      `ssl_key_file = '${path.join(base, 'server.key')}'`,
      `ssl_ca_file = '${path.join(base, 'ca.pem')}'`,
    ];
  }
  // initdb's files belong to the server's user; rewriting them in place keeps owner and mode.
  fs.appendFileSync(
    path.join(data, 'postgresql.conf'),
    [
      '',
      '# test/services',
      `listen_addresses = '${HOST}'`,
      `port = ${port}`,
      `unix_socket_directories = '${base}'`,
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      'shared_buffers = 16MB',
      'max_connections = 50',
      "password_encryption = 'scram-sha-256'",
      'logging_collector = off',
      "log_destination = 'stderr'",
      ...tlsConf,
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(data, 'pg_hba.conf'),
    [
      '# test/services — first match wins',
      'local all all                scram-sha-256',
      ...hba,
      '# md5 also does SCRAM for users whose password is stored as SCRAM',
      'host  all all       127.0.0.1/32 md5',
      '',
    ].join('\n'),
  );

  const proc = spawnServer(ctx, name, path.join(bin, 'postgres'), ['-D', data], { ...asPg, stopSignal: 'SIGINT' });

  const psql = (command, input = '') =>
    exec(
      path.join(bin, 'psql'),
      ['-X', '-q', '-h', HOST, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', ...(command ? ['-At', '-c', command] : [])],
      { input, env: cleanEnv({ PGPASSWORD: pw.superuser, PGCONNECT_TIMEOUT: '3', PGSSLMODE: tls ? 'require' : 'disable' }), timeoutMs: 20_000 },
    );

  const version = await waitReady(ctx, proc, 'superuser login over TCP', async () => {
    const res = await psql('SHOW server_version');
    if (res.code !== 0) throw new Error(res.stderr);
    return res.stdout.trim();
  });

  const setup = await psql(
    null,
    [
      "SET password_encryption = 'scram-sha-256';",
      `CREATE ROLE cc_scram LOGIN PASSWORD ${lit(pw.scram)};`,
      ...sql,
      'CREATE DATABASE ccdb OWNER cc_scram;',
      '',
    ].join('\n'),
  );
  if (setup.code !== 0) throw new FatalError(`${name} user setup failed: ${setup.stderr.trim()}`);
  return version;
}
