// MongoDB-compatible server for the tests: FerretDB v1 (SQLite backend), built once per machine from the Go module
// proxy and cached outside the repo. Must not: touch the Go caches of the user, or fetch anything but Go modules.
//
// Why FerretDB v1: it is a real server speaking the MongoDB wire protocol (OP_QUERY/OP_MSG, SCRAM-SHA-1/256
// authentication, TLS, `hello` with a replica-set name), it is a Go module (so the Go module proxy is a source we
// may use), and v1 runs on SQLite with no other database beside it. MongoDB itself is in no registry we may use.
//
// Why the build is not `go install …@v1.24.2`: FerretDB embeds build/version/version.txt, which its release process
// generates and the module does not contain, and panics at start without it. So we download the module, copy it,
// write that file and build ./cmd/ferretdb there (with ferretdb_no_postgresql: only the SQLite backend is used).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FatalError, HOST, exec, execOk, freePorts, newPassword, say, secs, spawnServer, waitReady, which } from './common.mjs';

export const FERRETDB_VERSION = 'v1.24.2';
const MODULE = 'github.com/FerretDB/FerretDB';
const REPL_SET_NAME = 'rs0';

/** ${XDG_CACHE_HOME:-~/.cache}/conncheck: outside the repo, so a fresh clone (CI) reuses the binary. */
function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'conncheck');
}

const binaryPath = () => path.join(cacheRoot(), `ferretdb-${FERRETDB_VERSION}`, 'ferretdb');

/**
 * Go's environment for the build: module and build caches of our own under the cache root (writable, so the
 * whole cache dir can be deleted with rm -rf), no toolchain download, no VCS stamping, no cgo (SQLite is the
 * pure-Go modernc.org/sqlite).
 */
function goEnv() {
  const root = path.join(cacheRoot(), 'go');
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(GO|CGO_)/.test(key) && key !== 'GOPROXY' && key !== 'GONOSUMDB' && key !== 'GONOPROXY' && key !== 'GOPRIVATE' && key !== 'GOSUMDB') continue;
    env[key] = value;
  }
  return {
    ...env,
    GOPATH: path.join(root, 'path'),
    GOMODCACHE: path.join(root, 'mod'),
    GOCACHE: path.join(root, 'build'),
    GOFLAGS: '-modcacherw -buildvcs=false',
    GOTOOLCHAIN: 'local',
    GOTELEMETRY: 'off',
    CGO_ENABLED: '0',
  };
}

/** `go version` → [major, minor], or null. */
async function goVersion(go) {
  const res = await exec(go, ['version'], { timeoutMs: 20_000 });
  const m = /go(\d+)\.(\d+)/.exec(res.stdout);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Builds the binary into the cache unless it is there (a second run costs one stat). */
async function ensureBinary() {
  const bin = binaryPath();
  if (fs.existsSync(bin)) return bin;
  const go = which('go');
  if (!go) {
    throw new FatalError(
      `FerretDB ${FERRETDB_VERSION} is built from source for the MongoDB tests and needs Go 1.24 or newer on PATH; install Go and run this again`,
    );
  }
  const version = await goVersion(go);
  if (!version || version[0] < 1 || (version[0] === 1 && version[1] < 24)) {
    throw new FatalError(`FerretDB ${FERRETDB_VERSION} needs Go 1.24 or newer to build; ${go} is ${version ? `go${version.join('.')}` : 'of unknown version'}`);
  }
  const started = Date.now();
  say(`building FerretDB ${FERRETDB_VERSION} (SQLite backend) from its Go module into ${path.dirname(bin)} — once per machine, about 2 minutes on 2 cores…`);
  fs.mkdirSync(cacheRoot(), { recursive: true });
  // A private work dir, renamed into place at the end: two concurrent builds both succeed, the last rename wins.
  const work = fs.mkdtempSync(path.join(cacheRoot(), 'ferretdb-build-'));
  const log = path.join(work, 'build.log');
  const env = goEnv();
  try {
    const json = await execOk('go mod download', go, ['mod', 'download', '-json', `${MODULE}@${FERRETDB_VERSION}`], {
      env,
      cwd: work,
      timeoutMs: 10 * 60_000,
      logFile: log,
    });
    const moduleDir = JSON.parse(json).Dir;
    if (typeof moduleDir !== 'string' || !fs.existsSync(path.join(moduleDir, 'cmd', 'ferretdb'))) {
      throw new FatalError(`go mod download ${MODULE}@${FERRETDB_VERSION} gave no module directory:\n${json.slice(0, 500)}`);
    }
    const src = path.join(work, 'src');
    fs.cpSync(moduleDir, src, { recursive: true });
    // The files FerretDB's release process generates (see build/version/version.go in the module).
    fs.writeFileSync(path.join(src, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
    fs.writeFileSync(path.join(src, 'build', 'version', 'package.txt'), 'conncheck-test\n');
    const out = path.join(work, 'ferretdb');
    await execOk('go build ./cmd/ferretdb', go, ['build', '-trimpath', '-tags=ferretdb_no_postgresql', '-ldflags=-s -w', '-o', out, './cmd/ferretdb'], {
      env,
      cwd: src,
      timeoutMs: 30 * 60_000,
      logFile: log,
    });
    const printed = await execOk('ferretdb --version', out, ['--version'], { timeoutMs: 20_000 });
    if (!printed.includes(`version: ${FERRETDB_VERSION}`)) throw new FatalError(`the built FerretDB reports:\n${printed}`);
    fs.mkdirSync(path.dirname(bin), { recursive: true });
    fs.renameSync(out, bin);
  } catch (err) {
    if (err instanceof FatalError) throw new FatalError(`building FerretDB failed (log: ${log}):\n${err.message}`);
    throw err;
  }
  fs.rmSync(work, { recursive: true, force: true });
  say(`built FerretDB ${FERRETDB_VERSION} in ${secs(Date.now() - started)}`);
  return bin;
}

export const ferretdb = {
  /** Its part of services.json is `mongodb`: what the tests check is the MongoDB wire protocol. */
  name: 'mongodb',
  /** Nothing from Debian: the server is built from its Go module in prepare(). */
  missing: () => [],
  /** Runs before the parallel start, outside its ready timeout: the first build takes minutes. */
  prepare: ensureBinary,

  async start(ctx, port) {
    const bin = await ensureBinary();
    const base = path.join(ctx.dir, 'ferretdb');
    const data = path.join(base, 'data');
    fs.mkdirSync(data, { recursive: true, mode: 0o700 });
    const password = newPassword();
    const tls = ctx.tls?.server; // from test/services.d/certs.mjs: SAN DNS:localhost only
    const [tlsPort] = tls ? await freePorts(1) : [null];
    // FERRETDB_* variables would override our flags; DO_NOT_TRACK backs up --telemetry=disable.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('FERRETDB_')));
    const proc = spawnServer(
      ctx,
      'ferretdb',
      bin,
      [
        '--handler=sqlite',
        `--sqlite-url=file:${data}/`,
        `--state-dir=${base}`,
        `--listen-addr=${HOST}:${port}`,
        ...(tls ? [`--listen-tls=${HOST}:${tlsPort}`, `--listen-tls-cert-file=${tls.cert}`, `--listen-tls-key-file=${tls.key}`] : []),
        // No debug HTTP listener (its default is a fixed port), no telemetry.
        '--debug-addr=-',
        '--telemetry=disable',
        // SCRAM-SHA-1/SHA-256 users stored in admin.system.users, with one user made at setup.
        '--test-enable-new-auth',
        '--setup-database=admin',
        '--setup-username=cc_root',
        `--setup-password=${password}`,
        // `hello` then names a replica set and its one member (this server), so replica-set reporting is exercised.
        `--repl-set-name=${REPL_SET_NAME}`,
        '--log-level=warn',
        '--log-format=text',
      ],
      { cwd: base, env: { ...env, DO_NOT_TRACK: '1' } },
    );

    // FerretDB creates the setup user before it listens, so an answered ping means the login is there too.
    await waitReady(ctx, proc, 'ping over TCP', () => mongoPing(port));
    if (tlsPort) await waitReady(ctx, proc, 'TLS port', () => portOpen(tlsPort));
    const version = FERRETDB_VERSION.replace(/^v/, '');
    return {
      host: HOST,
      port,
      tls_port: tlsPort,
      product: 'FerretDB',
      version,
      backend: 'sqlite',
      auth_database: 'admin',
      repl_set_name: REPL_SET_NAME,
      users: { main: { user: 'cc_root', password } },
      ...(tls ? { tls: { cert: 'server' } } : {}),
    };
  },
};

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// ---------------------------------------------------------------------------------------------
// a dependency-free `ping` over OP_MSG: enough BSON to write {ping: 1, $db: "admin"} and find `ok` in the reply

function bsonDoc(fields) {
  const parts = [];
  for (const [key, value] of Object.entries(fields)) {
    const name = Buffer.from(`${key}\0`, 'utf8');
    if (typeof value === 'number') {
      const v = Buffer.alloc(4);
      v.writeInt32LE(value);
      parts.push(Buffer.from([0x10]), name, v);
    } else {
      const s = Buffer.from(`${value}\0`, 'utf8');
      const len = Buffer.alloc(4);
      len.writeInt32LE(s.length);
      parts.push(Buffer.from([0x02]), name, len, s);
    }
  }
  const body = Buffer.concat([...parts, Buffer.from([0])]);
  const size = Buffer.alloc(4);
  size.writeInt32LE(body.length + 4);
  return Buffer.concat([size, body]);
}

/** The top-level `ok` of a BSON reply (double, int32 or int64), or undefined. */
function bsonOk(doc) {
  let offset = 4;
  while (offset < doc.length - 1) {
    const type = doc[offset];
    const end = doc.indexOf(0, offset + 1);
    if (end < 0) return undefined;
    const key = doc.toString('utf8', offset + 1, end);
    let at = end + 1;
    if (key === 'ok') {
      if (type === 0x01) return doc.readDoubleLE(at);
      if (type === 0x10) return doc.readInt32LE(at);
      if (type === 0x12) return Number(doc.readBigInt64LE(at));
      return undefined;
    }
    switch (type) {
      case 0x01:
      case 0x09:
      case 0x11:
      case 0x12:
        at += 8;
        break;
      case 0x02:
      case 0x0d:
      case 0x0e:
        at += 4 + doc.readInt32LE(at);
        break;
      case 0x03:
      case 0x04:
        at += doc.readInt32LE(at);
        break;
      case 0x05:
        at += 5 + doc.readInt32LE(at);
        break;
      case 0x07:
        at += 12;
        break;
      case 0x08:
        at += 1;
        break;
      case 0x10:
        at += 4;
        break;
      case 0x0a:
        break;
      default:
        return undefined;
    }
    offset = at;
  }
  return undefined;
}

function mongoPing(port) {
  return new Promise((resolve, reject) => {
    const body = Buffer.concat([Buffer.alloc(4), Buffer.from([0]), bsonDoc({ ping: 1, $db: 'admin' })]); // flags, section kind 0
    const header = Buffer.alloc(16);
    header.writeInt32LE(16 + body.length, 0);
    header.writeInt32LE(1, 4); // requestID
    header.writeInt32LE(2013, 12); // OP_MSG
    const socket = net.connect({ host: HOST, port });
    let data = Buffer.alloc(0);
    socket.setTimeout(2000, () => {
      socket.destroy();
      reject(new Error('ping timed out'));
    });
    socket.once('error', reject);
    socket.once('connect', () => socket.write(Buffer.concat([header, body])));
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 4 || data.length < data.readInt32LE(0)) return;
      socket.destroy();
      if (data.readInt32LE(12) !== 2013 || data[20] !== 0) return reject(new Error('not an OP_MSG reply'));
      const ok = bsonOk(data.subarray(21));
      if (ok === 1) resolve(true);
      else reject(new Error(`ping answered ok: ${ok}`));
    });
  });
}
