// Test support: the Compose Specification's JSON schema, as compose-go (the reference implementation Docker Compose
// uses) ships it in its Go module, fetched from the Go module proxy once per machine into a cache outside the repo.
// Must not: commit a copy, or fetch anything but that Go module (the same Go caches test/services.d/ferretdb.mjs uses).

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** compose-go v2.16.2's go.mod asks for Go 1.24, as FerretDB's build does (README: Go ≥ 1.24); v2.17 asks for 1.26.11. */
export const COMPOSE_GO_MODULE = 'github.com/compose-spec/compose-go/v2';
export const COMPOSE_GO_VERSION = 'v2.16.2';

function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'conncheck');
}

/** Go's environment of our own caches, as test/services.d/ferretdb.mjs sets it (writable, removable with rm -rf). */
function goEnv(): NodeJS.ProcessEnv {
  const root = join(cacheRoot(), 'go');
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(GO|CGO_)/.test(key) && !['GOPROXY', 'GONOSUMDB', 'GONOPROXY', 'GOPRIVATE', 'GOSUMDB'].includes(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    GOPATH: join(root, 'path'),
    GOMODCACHE: join(root, 'mod'),
    GOCACHE: join(root, 'build'),
    GOFLAGS: '-modcacherw',
    GOTOOLCHAIN: 'local',
    GOTELEMETRY: 'off',
  };
}

/** The schema file: from the cache, else `go mod download` of the module (about a second) and copied into the cache. */
export async function composeSchemaFile(): Promise<string> {
  const cached = join(cacheRoot(), `compose-spec-${COMPOSE_GO_VERSION}.json`);
  if (existsSync(cached)) return cached;
  mkdirSync(cacheRoot(), { recursive: true });
  // Outside any module, so `go mod download module@version` needs no go.mod of ours.
  const work = mkdtempSync(join(cacheRoot(), 'compose-spec-'));
  try {
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)('go', ['mod', 'download', '-json', `${COMPOSE_GO_MODULE}@${COMPOSE_GO_VERSION}`], {
        cwd: work,
        env: goEnv(),
        timeout: 300_000,
      }));
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
      if (e.code === 'ENOENT')
        throw new Error(`the Compose schema comes from the Go module ${COMPOSE_GO_MODULE}: this test needs Go on PATH (as the MongoDB tests do)`);
      throw new Error(`go mod download ${COMPOSE_GO_MODULE}@${COMPOSE_GO_VERSION} failed: ${e.stdout ?? ''}${e.stderr ?? e.message}`);
    }
    const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
    const file = dir && join(dir, 'schema', 'compose-spec.json');
    if (!file || !existsSync(file)) throw new Error(`go mod download gave no schema/compose-spec.json:\n${stdout.slice(0, 500)}`);
    const temp = join(work, 'compose-spec.json');
    writeFileSync(temp, readFileSync(file));
    renameSync(temp, cached);
    return cached;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
