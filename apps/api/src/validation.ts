// Owns: the API's JSON Schema validators (Ajv), the dry run's full validation, and reading a body before validation.
// Must not: decide HTTP answers (routes do) or format errors for a 4xx body (errors.ts does).

import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { BatchJob, BatchRequest, type FieldProblem, buildItems } from '@conncheck/core';
import { validationProblem } from './errors.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Bodies are validated strictly (no type coercion, unknown fields rejected, never silently dropped); query strings
 * and path parameters are text by nature and are coerced to their declared types. `allErrors` only for the dry run:
 * a submission stops at the first problem.
 */
export function makeAjv(coerce: boolean, allErrors = false): Ajv {
  const ajv = new Ajv({
    removeAdditional: false,
    useDefaults: true,
    coerceTypes: coerce ? 'array' : false,
    allErrors,
    verbose: true,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

let compiled: { request: ReturnType<Ajv['compile']>; job: ReturnType<Ajv['compile']> } | undefined;

/**
 * Every problem of a batch body that fails the schema: each schema violation (not only the first, as a submission
 * reports), plus the cross-field problems (certificates, ports, credentials, an unsupported db_type) of every job —
 * also of a job with schema violations, checked without the fields that failed (a placeholder stands in for a
 * required one, and what is found about placeholders is not reported). For `?dry_run=true`.
 */
export function dryRunProblems(body: unknown): { count: number; problems: FieldProblem[] } {
  compiled ??= (() => {
    const ajv = makeAjv(false, true);
    return { request: ajv.compile(BatchRequest), job: ajv.compile(BatchJob) };
  })();
  const copy = structuredClone(body);
  // Run for what it does to the copy (defaults and coercion); the problems are gathered per job below.
  void compiled.request(copy);
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  // Per job: the top-level fields with a schema violation (missing, wrong type, unknown …).
  const failed = new Map<number, Set<string>>();
  for (const error of compiled.request.errors ?? []) {
    const problem = validationProblem(error, 'body');
    const at = /^\/jobs\/(\d+)(?:\/([^/]+))?/.exec(error.instancePath);
    if (at) {
      const fields = failed.get(Number(at[1])) ?? new Set<string>();
      fields.add(at[2] ?? String(error.params.missingProperty ?? error.params.additionalProperty ?? ''));
      failed.set(Number(at[1]), fields);
    }
    if (seen.has(problem.error_msg)) continue;
    seen.add(problem.error_msg);
    problems.push(problem);
  }
  const jobs = Array.isArray((body as { jobs?: unknown } | null)?.jobs) ? (body as { jobs: unknown[] }).jobs : [];
  // A sparse array: buildItems walks it with forEach, which skips the holes and keeps each job's own index.
  const checkable: BatchJob[] = [];
  const placeholders = new Map<number, Set<string>>();
  jobs.forEach((job, index) => {
    if (job === null || typeof job !== 'object' || Array.isArray(job)) return;
    const one = structuredClone(job) as Record<string, unknown>;
    const bad = failed.get(index) ?? new Set<string>();
    for (const field of bad) delete one[field];
    const stood = new Set<string>();
    for (const [field, value] of Object.entries(PLACEHOLDERS)) {
      if (one[field] === undefined) {
        one[field] = value;
        stood.add(field);
      }
    }
    // A placeholder tcp job needs a port; a real db_type keeps its own default.
    if (stood.has('db_type') && one.db_port === undefined) {
      one.db_port = 1;
      stood.add('db_port');
    }
    if (!compiled!.job(one)) return;
    checkable[index] = one as BatchJob;
    placeholders.set(index, new Set([...bad, ...stood]));
  });
  for (const problem of buildItems(checkable).problems) {
    const at = /^jobs\[(\d+)\]\.([^.[]+)/.exec(problem.field);
    if (at && placeholders.get(Number(at[1]))?.has(at[2]!)) continue;
    problems.push(problem);
  }
  const indexOf = (p: FieldProblem): number => Number(/^jobs\[(\d+)\]/.exec(p.field)?.[1] ?? -1);
  return {
    count: jobs.length,
    problems: problems
      .map((p, order) => ({ p, order }))
      .sort((a, b) => indexOf(a.p) - indexOf(b.p) || a.order - b.order)
      .map(({ p }) => p),
  };
}

/**
 * The length of an array field of a body not yet validated (a preValidation hook's view), 0 when it is not an array:
 * an oversized batch is refused before the schema spends per-item work on it.
 */
export function unvalidatedLength(body: unknown, field: string): number {
  const value = body !== null && typeof body === 'object' ? (body as Record<string, unknown>)[field] : undefined;
  return Array.isArray(value) ? value.length : 0;
}

/** Stand-ins for required fields a job lacks, so that its other fields can still be checked. */
const PLACEHOLDERS: Record<string, unknown> = { id: 'placeholder', ip: '192.0.2.1', db_type: 'tcp' };
