// Owns: the vocabulary of one check's result — the endpoint checked, stage names, the TLS report, the server, and the
// outcome a worker hands the store — as schemas (the API serves them) and the types derived from them. Must not: know
// how a result is produced (packages/probes), stored (packages/store) or shown; it imports nothing that needs Node.

import Type from 'typebox';
import type { ItemErrorCode } from './error-codes.js';

/** The stages of a check, in the order they happen; a probe plans the ones that apply to it. */
export const STAGE_NAMES = ['dns', 'tcp', 'tls', 'auth', 'probe'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export const STAGE_STATUSES = ['ok', 'failed', 'skipped'] as const;
export type StageStatus = (typeof STAGE_STATUSES)[number];

export const EndpointView = Type.Object({ host: Type.String(), port: Type.Integer() });
/** One host:port to check; a MongoDB seed list or Kafka bootstrap list has several. */
export type Endpoint = Type.Static<typeof EndpointView>;

export const StageView = Type.Object({
  name: Type.Enum([...STAGE_NAMES]),
  status: Type.Enum([...STAGE_STATUSES]),
  duration_ms: Type.Number(),
  /** Short detail, e.g. the address connected to. Never a secret. */
  detail: Type.Optional(Type.String()),
});
export type Stage = Type.Static<typeof StageView>;

export const TlsReportView = Type.Object(
  {
    protocol: Type.String(),
    cipher: Type.String(),
    /** The peer certificate's subject and issuer as one-line DNs, most specific first. */
    subject: Type.String(),
    issuer: Type.String(),
    subject_alt_names: Type.Array(Type.String()),
    /** ISO-8601. */
    not_before: Type.String(),
    not_after: Type.String(),
    days_to_expiry: Type.Number(),
  },
  { description: 'The TLS session and the peer certificate, when the check used TLS.' },
);
/** What the TLS handshake showed. */
export type TlsReport = Type.Static<typeof TlsReportView>;

export const ServerInfoView = Type.Object({ product: Type.String(), version: Type.String() });
/** The server software a check met, e.g. MariaDB 10.11.6. */
export type ServerInfo = Type.Static<typeof ServerInfoView>;

/** What one check found, success or not. A failing target is a result, never an exception. */
export interface CheckResult {
  success: boolean;
  error_code?: ItemErrorCode;
  error_msg?: string;
  stages: Stage[];
  /** The address actually connected to (after resolution and policy), e.g. `127.0.0.1:5432`. */
  address?: string;
  server?: ServerInfo;
  tls?: TlsReport;
  /** Type-specific facts worth showing: Kafka cluster id, controller and brokers; MongoDB replica set and members. */
  cluster?: Record<string, unknown>;
  warnings?: string[];
}

/** A finished check as a worker hands it to the store: the result and how long it took. */
export interface ItemOutcome extends CheckResult {
  duration_ms: number;
}

/** `host:port`, with brackets around an IPv6 address (the only hosts with a colon), for messages and displays. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
