// Owns: the JSON Schema validators of the API (Ajv set-up) and the dry run's full validation of a body that fails the
// schema. Must not: decide HTTP answers (routes do) or format errors for a 4xx body (errors.ts does).

import { Ajv, type ErrorObject } from 'ajv';
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
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

let compiled: { request: ReturnType<Ajv['compile']>; job: ReturnType<Ajv['compile']> } | undefined;

/**
 * Every problem of a batch body that fails the schema: each schema violation (not only the first, as a submission
 * reports), plus the cross-field problems (certificates, ports, credentials) of the jobs that pass the schema on
 * their own, each under its own index. For `?dry_run=true`.
 */
export function dryRunProblems(body: unknown): { count: number; problems: FieldProblem[] } {
  compiled ??= (() => {
    const ajv = makeAjv(false, true);
    return { request: ajv.compile(BatchRequest), job: ajv.compile(BatchJob) };
  })();
  const copy = structuredClone(body);
  compiled.request(copy);
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  for (const error of (compiled.request.errors ?? []) as ErrorObject[]) {
    const problem = validationProblem(error, 'body');
    if (seen.has(problem.error_msg)) continue;
    seen.add(problem.error_msg);
    problems.push(problem);
  }
  const jobs = Array.isArray((body as { jobs?: unknown } | null)?.jobs) ? ((body as { jobs: unknown[] }).jobs) : [];
  // A sparse array: buildItems walks it with forEach, which skips the holes and keeps each job's own index.
  const valid: BatchJob[] = [];
  jobs.forEach((job, index) => {
    const one = structuredClone(job);
    if (compiled!.job(one)) valid[index] = one as BatchJob;
  });
  problems.push(...buildItems(valid).problems);
  const indexOf = (p: FieldProblem): number => Number(/^jobs\[(\d+)\]/.exec(p.field)?.[1] ?? -1);
  return { count: jobs.length, problems: problems.map((p, order) => ({ p, order })).sort((a, b) => indexOf(a.p) - indexOf(b.p) || a.order - b.order).map(({ p }) => p) };
}
