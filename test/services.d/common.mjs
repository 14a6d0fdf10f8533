// Shared helpers for test/services and its services (test/services.d/<service>.mjs).
// Node standard library only.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const HOST = '127.0.0.1';
export const READY_TIMEOUT_MS = Number(process.env.CONNCHECK_SERVICES_TIMEOUT_MS) || 60_000;
export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
/** Prefix of the mkdtemp() dirs under os.tmpdir() that hold one set of servers. */
export const TMP_PREFIX = 'conncheck-svc-';

/** An error whose message is the whole story: printed as one line (plus optional log tail), no stack. */
export class FatalError extends Error {}
export class AbortedError extends FatalError {
  constructor() {
    super('interrupted');
  }
}

export const say = (msg) => process.stderr.write(`test/services: ${msg}\n`);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** A fresh random password; base64url only, so it is safe inside SQL string literals and URLs. */
export const newPassword = () => randomBytes(18).toString('base64url');
/** SQL string literal for our own generated values (refuses anything outside [A-Za-z0-9_.-]). */
export function lit(value) {
  if (!/^[A-Za-z0-9_.-]+$/.test(value)) throw new Error(`refusing to quote ${JSON.stringify(value)}`);
  return `'${value}'`;
}

// ---------------------------------------------------------------------------------------------
// small helpers: binaries, child processes, ports, logs

const SEARCH_PATH = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].filter(
  Boolean,
);

/** Absolute path of the first of `names` found on PATH (plus the sbin dirs), or null. */
export function which(...names) {
  for (const name of names) {
    for (const dir of SEARCH_PATH) {
      const file = path.join(dir, name);
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) return file;
      } catch {
        /* not here */
      }
    }
  }
  return null;
}

export function mustWhich(...names) {
  const found = which(...names);
  if (!found) throw new FatalError(`cannot find ${names.join(' or ')} on PATH`);
  return found;
}

/** Environment without libpq/mysql client variables that could redirect our clients. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(PG|MYSQL_|MARIADB_)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Run a short-lived command; resolves { code, stdout, stderr } and never rejects. */
export function exec(cmd, args, { input = '', env = process.env, uid, gid, cwd, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let child;
    try {
      child = spawn(cmd, args, { env, uid, gid, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: -1, stdout, stderr: String(err.message) });
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err.message) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {
      /* child did not read its input */
    });
    child.stdin.end(input);
  });
}

/** Like exec() but throws a FatalError (with the command's output) unless it exits 0. */
export async function execOk(what, cmd, args, options = {}) {
  const res = await exec(cmd, args, options);
  if (options.logFile) {
    fs.appendFileSync(options.logFile, `$ ${cmd} ${args.join(' ')}\n${res.stdout}${res.stderr}`, { mode: 0o600 });
  }
  if (res.code !== 0) {
    const output = `${res.stdout}${res.stderr}`.trim().split('\n').slice(-25).join('\n');
    throw new FatalError(`${what} failed (exit ${res.code}${res.signal ? `, ${res.signal}` : ''}):\n${output}`);
  }
  return res.stdout;
}

/** `n` distinct free loopback ports (all held open together, then released). */
export async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, HOST, resolve);
      });
      servers.push(server);
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve()))));
  }
}

/** Does something accept TCP connections on HOST:port? */
export function portAnswers(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') || '(empty)';
  } catch {
    return '(no log)';
  }
}

/** Is `pid` alive (not a zombie) and, where /proc tells, still running `exe`? */
export function pidAlive(pid, exe) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (err.code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    if (exe && !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(exe)) return false; // pid reused
  } catch {
    /* no /proc (not Linux) or the process just vanished */
  }
  return true;
}

/**
 * The pid of a recorded server if it still runs: its own pid, or else the one in its `pidFile` (a server that a test
 * stopped and started again, daemonized, writes its new pid there; see redis-cluster.mjs). 0 when neither runs.
 */
export function livePid(proc) {
  if (pidAlive(proc.pid, proc.exe)) return proc.pid;
  if (!proc.pidFile) return 0;
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(proc.pidFile, 'utf8').trim());
  } catch {
    return 0;
  }
  return pidAlive(pid, proc.exe) ? pid : 0;
}

// ---------------------------------------------------------------------------------------------
// server processes

/**
 * Start a long-running server, detached (own process group, survives `start` exiting, is not hit by
 * the terminal's Ctrl-C) with stdout+stderr appended to <dir>/<name>.log. Registered in ctx.procs
 * so a failed start, `stop` and `run` can stop it. `pidFile`: where the server writes its pid; stop and the
 * health check also follow that file, for a server that may be restarted as another process (see livePid()).
 */
export function spawnServer(ctx, name, cmd, args, { uid, gid, cwd, env = process.env, stopSignal = 'SIGTERM', pidFile } = {}) {
  if (ctx.aborted) throw new AbortedError();
  const logFile = path.join(ctx.dir, `${name}.log`);
  const fd = fs.openSync(logFile, 'a', 0o600);
  let child;
  try {
    child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], uid, gid, cwd, env });
  } finally {
    fs.closeSync(fd);
  }
  const proc = { name, pid: child.pid, exe: path.basename(cmd), stopSignal, log: logFile, pidFile, exit: null };
  child.on('error', (err) => {
    proc.exit = `could not be started: ${err.message}`;
  });
  child.on('exit', (code, signal) => {
    proc.exit = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  });
  child.unref();
  if (proc.pid === undefined) throw new FatalError(`${name}: could not start ${cmd}`);
  ctx.procs.push(proc);
  return proc;
}

/**
 * Poll `check` (async, truthy = ready) until it succeeds, the server dies, the overall deadline
 * passes or the start is aborted. Failures carry the tail of the server's log.
 */
export async function waitReady(ctx, proc, what, check) {
  let last = '';
  for (;;) {
    if (ctx.aborted) throw new AbortedError();
    if (proc.exit) {
      await sleep(50); // let the log be flushed
      throw new FatalError(`${proc.name} ${proc.exit} before it was ready; last lines of ${proc.log}:\n${tail(proc.log)}`);
    }
    try {
      const result = await check();
      if (result) return result;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > ctx.deadline) {
      throw new FatalError(
        `${proc.name} not ready after ${secs(READY_TIMEOUT_MS)} (${what}${last ? `: ${last.trim().replace(/\s+/g, ' ').slice(0, 300)}` : ''});` +
          ` last lines of ${proc.log}:\n${tail(proc.log)}`,
      );
    }
    await sleep(100);
  }
}

/** Stop one recorded server: its stop signal, then SIGKILL to its process group after `graceMs`. */
export async function stopProc(proc, graceMs = 15_000) {
  const pid = livePid(proc);
  if (!pid) return;
  try {
    process.kill(pid, proc.stopSignal ?? 'SIGTERM');
  } catch {
    /* gone */
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!pidAlive(pid, proc.exe)) return;
    await sleep(50);
  }
  say(`${proc.name} (pid ${pid}) did not stop in ${secs(graceMs)}; killing it`);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* no group */
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  for (let i = 0; i < 40 && pidAlive(pid, proc.exe); i++) await sleep(50);
}

export function removeDir(dir) {
  // Only ever delete our own mkdtemp() dirs.
  if (dir && path.dirname(dir) === os.tmpdir() && path.basename(dir).startsWith(TMP_PREFIX)) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Stop every server of a state (or of a half-started ctx) and remove its temp dir. */
export async function teardown({ procs, dir }) {
  await Promise.all(procs.map((proc) => stopProc(proc)));
  removeDir(dir);
}
