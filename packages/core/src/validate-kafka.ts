// Owns: the submission-time rules for a Kafka job's kafka_security_config.
// Must not: open connections; it only judges what the request carries.

import type { BatchJob } from './batch-request.js';
import { ApiErrorCode } from './error-codes.js';
import type { ProblemList } from './field-problems.js';

export function validateKafka(job: BatchJob, dbType: string, at: (field: string) => string, out: ProblemList): void {
  if (job.kafka_security_config && dbType !== 'kafka') {
    out.add(at('kafka_security_config'), ApiErrorCode.INVALID_PARAMETER, 'is only valid with db_type kafka');
  }
}
