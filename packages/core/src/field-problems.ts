// Owns: the list of problems found in a request, each naming its field, its code and its message.
// Must not: decide what is a problem; the validators do.

import type { ApiErrorCode } from './error-codes.js';

export interface FieldProblem {
  /** Path in the request, e.g. `jobs[2].db_port`. */
  field: string;
  error_code: ApiErrorCode;
  error_msg: string;
}

export class ProblemList {
  readonly problems: FieldProblem[] = [];
  add(field: string, error_code: ApiErrorCode, error_msg: string): void {
    this.problems.push({ field, error_code, error_msg: `${field}: ${error_msg}` });
  }
}
