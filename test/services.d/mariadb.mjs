// MariaDB: mariadb-install-db + mariadbd (Debian packages mariadb-server, mariadb-client).
import fs from 'node:fs';
import path from 'node:path';
import {
  AbortedError, HOST, IS_ROOT, cleanEnv, exec, execOk, lit, mustWhich, newPassword, spawnServer, waitReady, which,
} from './common.mjs';

export const mariadb = {
  name: 'mariadb',
  missing() {
    const ok = which('mariadbd', 'mysqld') && which('mariadb-install-db', 'mysql_install_db') && which('mariadb', 'mysql');
    return ok ? [] : ['mariadb-server', 'mariadb-client'];
  },

  async start(ctx, port) {
    const base = path.join(ctx.dir, 'mariadb');
    const data = path.join(base, 'data');
    const socket = path.join(ctx.dir, 'mysql.sock');
    fs.mkdirSync(path.join(base, 'tmp'), { recursive: true, mode: 0o700 });
    const userArgs = IS_ROOT ? ['--user=root'] : [];
    const client = mustWhich('mariadb', 'mysql');

    await execOk('mariadb-install-db', mustWhich('mariadb-install-db', 'mysql_install_db'), [
      '--no-defaults', `--datadir=${data}`, ...userArgs, '--auth-root-authentication-method=normal',
      '--skip-test-db', '--skip-name-resolve',
    ], { logFile: path.join(ctx.dir, 'mariadb-install.log'), cwd: base });
    if (ctx.aborted) throw new AbortedError();

    const proc = spawnServer(ctx, 'mariadb', mustWhich('mariadbd', 'mysqld'), [
      '--no-defaults', `--datadir=${data}`, `--socket=${socket}`, `--port=${port}`, `--bind-address=${HOST}`,
      '--skip-name-resolve', `--pid-file=${path.join(base, 'mariadbd.pid')}`, `--tmpdir=${path.join(base, 'tmp')}`,
      ...userArgs, '--innodb-buffer-pool-size=32M', '--innodb-flush-log-at-trx-commit=2',
      '--innodb-use-native-aio=0', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci',
    ]);

    // Fresh datadir: root@localhost has no password yet and is reachable through the private socket only.
    const viaSocket = (sql) => exec(client, ['--no-defaults', `--socket=${socket}`, '-uroot', '-N', '-B', '-e', sql], {
      env: cleanEnv(), timeoutMs: 10_000,
    });
    const extraAccounts = await waitReady(ctx, proc, 'root login on the unix socket', async () => {
      // mariadb-install-db also creates anonymous users and password-less root@<hostname>/root@::1.
      const res = await viaSocket("SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user " +
        "WHERE User = '' OR (User = 'root' AND Host <> 'localhost')");
      if (res.code !== 0) throw new Error(res.stderr);
      return { list: res.stdout.split('\n').filter(Boolean) };
    });

    const pw = { root: newPassword(), main: newPassword(), limited: newPassword(), hostDenied: newPassword() };
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
      // May log in, but has no privilege on ccdb: "access denied to database ccdb".
      `CREATE USER 'cc_limited'@'%' IDENTIFIED BY ${lit(pw.limited)};`,
      // Only allowed from an address that is never ours: logging in from 127.0.0.1 is refused.
      `CREATE USER 'cc_local_only'@'10.255.255.1' IDENTIFIED BY ${lit(pw.hostDenied)};`,
      `GRANT ALL PRIVILEGES ON ccdb.* TO 'cc_local_only'@'10.255.255.1';`,
      'FLUSH PRIVILEGES;',
    ].join('\n');
    await execOk('mariadb user setup', client, ['--no-defaults', `--socket=${socket}`, '-uroot'], {
      input: sql, env: cleanEnv(), timeoutMs: 20_000,
    });

    // The real check: root logs in over TCP with its new password.
    const version = (await execOk('mariadb root login over TCP', client, [
      '--no-defaults', '--protocol=TCP', `-h${HOST}`, `-P${port}`, '-uroot', '-N', '-B', '-e', 'SELECT VERSION()',
    ], { env: cleanEnv({ MYSQL_PWD: pw.root }), timeoutMs: 10_000 })).trim();

    return {
      host: HOST, port, version, database: 'ccdb',
      root: { user: 'root', password: pw.root },
      users: {
        main: { user: 'cc_user', password: pw.main },
        limited: { user: 'cc_limited', password: pw.limited },
        hostDenied: { user: 'cc_local_only', password: pw.hostDenied },
      },
    };
  },
};
