// Owns: the ordered stage list of one probe run (dns, tcp, tls, auth, probe) and each stage's duration.
// Must not: decide error codes or own timers; it only measures with performance.now().

import { performance } from 'node:perf_hooks';
import { STAGE_NAMES } from '@conncheck/core';
import type { Stage, StageName, StageRecorder } from './types.js';

/** One decimal of a millisecond: enough to compare loopback stages, short enough to read. */
export function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** The stages a probe plans, in core's order: tls only with TLS, auth and probe unless the probe says it has none. */
export function plannedStages(uses: { tls: boolean; auth?: boolean; probe?: boolean }): StageName[] {
  const used: Record<StageName, boolean> = { dns: true, tcp: true, tls: uses.tls, auth: uses.auth ?? true, probe: uses.probe ?? true };
  return STAGE_NAMES.filter((name) => used[name]);
}

export function createStageRecorder(now: () => number = () => performance.now()): StageRecorder {
  const stages: Stage[] = [];
  let planned: readonly StageName[] = [];
  let open: { name: StageName; started: number } | undefined;
  let frozen: Stage[] | undefined;

  const close = (status: 'ok' | 'failed', detail: string | undefined): void => {
    if (frozen || !open) return;
    stages.push(withDetail({ name: open.name, status, duration_ms: roundMs(now() - open.started) }, detail));
    open = undefined;
  };

  return {
    plan(names) {
      planned = [...names];
    },
    begin(name) {
      if (frozen) return;
      if (open) throw new Error(`stage "${name}" begun while "${open.name}" is still in progress`);
      open = { name, started: now() };
    },
    ok(detail) {
      close('ok', detail);
    },
    fail(detail) {
      close('failed', detail);
    },
    skip(name, detail) {
      if (frozen) return;
      stages.push(withDetail({ name, status: 'skipped', duration_ms: 0 }, detail));
    },
    get current() {
      return frozen ? undefined : open?.name;
    },
    finish() {
      if (frozen) return frozen;
      close('failed', undefined);
      const seen = new Set(stages.map((stage) => stage.name));
      for (const name of planned) {
        if (!seen.has(name)) stages.push({ name, status: 'skipped', duration_ms: 0 });
      }
      frozen = stages;
      return frozen;
    },
  };
}

function withDetail(stage: Stage, detail: string | undefined): Stage {
  return detail === undefined ? stage : { ...stage, detail };
}
