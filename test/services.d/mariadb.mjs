// MariaDB: mariadb-install-db + mariadbd (Debian packages mariadb-server, mariadb-client).
import fs from 'node:fs';
import path from 'node:path';
import { AbortedError, HOST, IS_ROOT, cleanEnv, exec, execOk, freePorts, lit, mustWhich, newPassword, spawnServer, waitReady, which } from './common.mjs';

export const mariadb = {
  name: 'mariadb',
  missing() {
    const ok = which('mariadbd', 'mysqld') && which('mariadb-install-db', 'mysql_install_db') && which('mariadb', 'mysql');
    return ok ? [] : ['mariadb-server', 'mariadb-client'];
  },

  async start(ctx, port) {
    // Three servers from one binary, started in parallel: the main one (TLS with tls.server, SAN localhost only),
    // one serving the expired certificate, and one with TLS off. The extra two have root and cc_user only, with the
    // main server's passwords.
    const [expiredPort, plainPort] = await freePorts(2);
    const pw = { root: newPassword(), main: newPassword(), limited: newPassword(), hostDenied: newPassword(), tlsOnly: newPassword() };
    const mainUsers = [
      // May log in, but has no privilege on ccdb: "access denied to database ccdb".
      `CREATE USER 'cc_limited'@'%' IDENTIFIED BY ${lit(pw.limited)};`,
      // Only allowed from an address that is never ours: logging in from 127.0.0.1 is refused.
      `CREATE USER 'cc_local_only'@'10.255.255.1' IDENTIFIED BY ${lit(pw.hostDenied)};`,
      `GRANT ALL PRIVILEGES ON ccdb.* TO 'cc_local_only'@'10.255.255.1';`,
      // Logs in over TLS only.
      `CREATE USER 'cc_tls_only'@'%' IDENTIFIED BY ${lit(pw.tlsOnly)} REQUIRE SSL;`,
      `GRANT ALL PRIVILEGES ON ccdb.* TO 'cc_tls_only'@'%';`,
    ];
    const [version] = await Promise.all([
      startInstance(ctx, 'mariadb', port, pw, { tls: ctx.tls.server, extraSql: mainUsers }),
      startInstance(ctx, 'mariadb-expired', expiredPort, pw, { tls: ctx.tls.expired, small: true }),
      startInstance(ctx, 'mariadb-plain', plainPort, pw, { tls: null, small: true }),
    ]);

    return {
      host: HOST,
      port,
      version,
      database: 'ccdb',
      root: { user: 'root', password: pw.root },
      users: {
        main: { user: 'cc_user', password: pw.main },
        limited: { user: 'cc_limited', password: pw.limited },
        hostDenied: { user: 'cc_local_only', password: pw.hostDenied },
        tlsOnly: { user: 'cc_tls_only', password: pw.tlsOnly },
      },
      tls: { cert: 'server' },
      expired: { host: HOST, port: expiredPort, tls: { cert: 'expired' } },
      plain: { host: HOST, port: plainPort },
    };
  },
};

/**
 * One MariaDB server in <ctx.dir>/<name>: fresh datadir, root with a password over TCP, cc_user on ccdb, `extraSql`.
 * `tls`: {cert, key} to serve, or null for a server without TLS; `small`: minimal buffers. Resolves to SELECT VERSION()
 * over TCP.
 */
async function startInstance(ctx, name, port, pw, { tls, extraSql = [], small = false }) {
  const base = path.join(ctx.dir, name);
  const data = path.join(base, 'data');
  const socket = path.join(base, 'mysql.sock');
  fs.mkdirSync(path.join(base, 'tmp'), { recursive: true, mode: 0o700 });
  const userArgs = IS_ROOT ? ['--user=root'] : [];
  const client = mustWhich('mariadb', 'mysql');

  await execOk(
    `${name} install-db`,
    mustWhich('mariadb-install-db', 'mysql_install_db'),
    [
      '--no-defaults',
      `--datadir=${data}`,
      ...userArgs,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
      `--tmpdir=${path.join(base, 'tmp')}`,
      // Each instance its own temp dir: bootstraps running in parallel in one TMPDIR can trip over each other.
    ],
    { logFile: path.join(ctx.dir, `${name}-install.log`), cwd: base, env: { ...process.env, TMPDIR: path.join(base, 'tmp') } },
  );
  if (ctx.aborted) throw new AbortedError();

  const tlsArgs = tls ? [`--ssl-cert=${tls.cert}`, `--ssl-key=${tls.key}`, `--ssl-ca=${ctx.tls.ca.pem}`] : ['--skip-ssl'];
  const proc = spawnServer(ctx, name, mustWhich('mariadbd', 'mysqld'), [
    '--no-defaults',
    `--datadir=${data}`,
    `--socket=${socket}`,
    `--port=${port}`,
    `--bind-address=${HOST}`,
    '--skip-name-resolve',
    `--pid-file=${path.join(base, 'mariadbd.pid')}`,
    `--tmpdir=${path.join(base, 'tmp')}`,
    ...userArgs,
    '--innodb-buffer-pool-size=32M',
    '--innodb-flush-log-at-trx-commit=2',
    '--innodb-use-native-aio=0',
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_unicode_ci',
    ...tlsArgs,
    // The extra servers only take a few logins: about 50 MB instead of 100.
    ...(small
      ? [
          '--innodb-buffer-pool-size=8M',
          '--aria-pagecache-buffer-size=1M',
          '--key-buffer-size=1M',
          '--innodb-log-buffer-size=1M',
          '--table-open-cache=64',
          '--max-connections=20',
        ]
      : []),
  ]);

  // Fresh datadir: root@localhost has no password yet and is reachable through the private socket only.
  const viaSocket = (sql) =>
    exec(client, ['--no-defaults', `--socket=${socket}`, '-uroot', '-N', '-B', '-e', sql], {
      env: cleanEnv(),
      timeoutMs: 10_000,
    });
  const extraAccounts = await waitReady(ctx, proc, 'root login on the unix socket', async () => {
    // mariadb-install-db also creates anonymous users and password-less root@<hostname>/root@::1.
    const res = await viaSocket("SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user " + "WHERE User = '' OR (User = 'root' AND Host <> 'localhost')");
    if (res.code !== 0) throw new Error(res.stderr);
    return { list: res.stdout.split('\n').filter(Boolean) };
  });

  const sql = [
    ...extraAccounts.list.map((account) => `DROP USER ${account};`),
    `ALTER USER 'root'@'localhost' IDENTIFIED BY ${lit(pw.root)};`,
    `CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY ${lit(pw.root)};`,
    `GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;`,
    'CREATE DATABASE ccdb CHARACTER SET utf8mb4;',
    ...['127.0.0.1', 'localhost', '%'].flatMap((host) => [
      `CREATE USER 'cc_user'@'${host}' IDENTIFIED BY ${lit(pw.main)};`,
      `GRANT ALL PRIVILEGES ON ccdb.* TO 'cc_user'@'${host}';`,
    ]),
    ...extraSql,
    'FLUSH PRIVILEGES;',
  ].join('\n');
  await execOk(`${name} user setup`, client, ['--no-defaults', `--socket=${socket}`, '-uroot'], {
    input: sql,
    env: cleanEnv(),
    timeoutMs: 20_000,
  });

  // The real check: root logs in over TCP with its new password (over TLS where the server has it).
  return (
    await execOk(
      `${name} root login over TCP`,
      client,
      ['--no-defaults', '--protocol=TCP', `-h${HOST}`, `-P${port}`, '-uroot', '-N', '-B', ...(tls ? ['--ssl'] : ['--skip-ssl']), '-e', 'SELECT VERSION()'],
      { env: cleanEnv({ MYSQL_PWD: pw.root }), timeoutMs: 10_000 },
    )
  ).trim();
}
