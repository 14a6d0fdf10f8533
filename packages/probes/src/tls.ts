// Owns: TLS for every probe — connect options per ssl_mode, verifying the peer after the handshake (chain, expiry,
// name), the TlsReport, expiry warnings, and mapping TLS errors to item codes. Must not: speak any database protocol.

import { X509Certificate } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import tls, { type ConnectionOptions, type TLSSocket } from 'node:tls';
import { ItemErrorCode } from '@conncheck/core';
import { errorCode, fromNodeError } from './node-errors.js';
import { ProbeFailure } from './probe-result.js';
import { abortable } from './step-context.js';
import type { ProbeContext, ProbeTls, TlsReport } from './types.js';

/** Warn when the server certificate expires within this many days, unless ProbeTls says otherwise. */
export const DEFAULT_EXPIRY_WARNING_DAYS = 30;

const DAY_MS = 86_400_000;

export interface TlsSession {
  socket: TLSSocket;
  report: TlsReport;
  /** Expiry soon, or what `require` mode did not verify. */
  warnings: string[];
}

/**
 * Options for `tls.connect` (or a driver's `ssl` object) for `host` as the user named it. Node is told to verify
 * nothing: every mode is checked by `verifyPeer` once the handshake is done, so that a failure is reported with the
 * certificate the server presented, and before a driver sends a byte of its own over the connection.
 */
export function tlsConnectOptions(host: string, options: ProbeTls): ConnectionOptions {
  return {
    // SNI carries a name, never an address (RFC 6066); the socket itself goes to the address dial.ts checked.
    ...(isIP(host) ? {} : { servername: host }),
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.key ? { key: options.key } : {}),
    ...(options.passphrase ? { passphrase: options.passphrase } : {}),
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  };
}

/**
 * Upgrades a connected socket to TLS, verifies the peer per `options.mode` and reports it. Begins the `tls` stage
 * unless the caller already has it open (PostgreSQL opens it for its SSLRequest) and ends it ok; on failure it
 * throws a ProbeFailure and leaves the stage for the probe's failureResult to close.
 */
export async function upgradeToTls(socket: Socket, host: string, options: ProbeTls, ctx: ProbeContext, extra: ConnectionOptions = {}): Promise<TlsSession> {
  if (ctx.stages.current !== 'tls') ctx.stages.begin('tls');
  let secure: TLSSocket;
  try {
    secure = tls.connect({ ...tlsConnectOptions(host, options), ...extra, socket });
  } catch (err) {
    // Only our own client material can make tls.connect throw; it was checked at submission.
    throw new ProbeFailure(ItemErrorCode.TLS_HANDSHAKE_FAILED, `the client certificate or key cannot be used (${errorCode(err) ?? 'invalid'})`);
  }
  ctx.track(secure);
  const established = new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', () => {
      secure.off('error', reject);
      resolve();
    });
    secure.once('error', reject);
  });
  await abortable(established, ctx.signal).catch((err: unknown) => {
    throw ctx.signal.aborted ? err : fromTlsError(err);
  });
  let session: ReturnType<typeof verifyPeer>;
  try {
    session = verifyPeer(secure, host, options);
  } catch (err) {
    secure.destroy(); // before the TCP socket under it (see run-probe.ts)
    throw err;
  }
  ctx.stages.ok(`${session.report.protocol} ${session.report.cipher}`);
  return { socket: secure, ...session };
}

/**
 * Judges an established TLS connection: `verify-ca` needs a chain to a trusted CA (`options.ca`, else the system
 * store) and valid dates, `verify-full` also the host name (or IP) in the certificate, `require` nothing. Throws a
 * ProbeFailure (with the report attached) or returns the report and warnings.
 */
export function verifyPeer(socket: TLSSocket, host: string, options: ProbeTls, now = Date.now()): { report: TlsReport; warnings: string[] } {
  const peer = socket.getPeerX509Certificate();
  if (!peer) throw new ProbeFailure(ItemErrorCode.TLS_HANDSHAKE_FAILED, 'the server presented no certificate');
  const report = tlsReport(socket, peer, now);
  const warnings: string[] = [];
  // Set by Node when it could not verify the chain (or dates) against the CAs it was given; a string code.
  const chainError = socket.authorized ? undefined : String(socket.authorizationError ?? 'CERT_UNTRUSTED');
  if (options.mode === 'require') {
    if (chainError)
      warnings.push(`ssl_mode require: the server certificate was not verified (${describeChainError(chainError, peer, report, options).message})`);
  } else {
    if (chainError) throw withReport(describeChainError(chainError, peer, report, options), report);
    if (options.mode === 'verify-full') {
      // OpenSSL's RFC 6125 matching (X509_check_host / X509_check_ip): SANs first, the CN only without DNS SANs.
      const mismatch = isIP(host) ? peer.checkIP(host) === undefined : peer.checkHost(host) === undefined;
      if (mismatch) {
        const names = report.subject_alt_names.length ? report.subject_alt_names.join(', ') : `no subject alternative name (subject ${report.subject})`;
        throw withReport(new ProbeFailure(ItemErrorCode.TLS_HOSTNAME_MISMATCH, `the server certificate is for ${names}, not ${host}`), report);
      }
    }
  }
  if (options.mode !== 'require' && options.javaTrust && !reachesAnchor(peer, options.javaTrust.anchors)) {
    warnings.push(options.javaTrust.warning);
  }
  const threshold = options.expiryWarningDays ?? DEFAULT_EXPIRY_WARNING_DAYS;
  if (report.days_to_expiry >= 0 && report.days_to_expiry < threshold) {
    warnings.push(`the server certificate expires in ${report.days_to_expiry} days (${report.not_after})`);
  }
  return { report, warnings };
}

/**
 * Whether a Java client trusting only `anchors` (PEM) would accept the server's chain, as Java's PKIX validation does:
 * some certificate of the chain is an anchor, or is signed by one. The chain is walked by `issuerCertificate` (Node 20's
 * getPeerCertificate(true) answers {} once getPeerX509Certificate has been called).
 */
function reachesAnchor(peer: X509Certificate, anchors: string[]): boolean {
  const trusted = anchors.map((pem) => new X509Certificate(pem));
  const seen = new Set<string>();
  for (let cert: X509Certificate | undefined = peer; cert && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
    seen.add(cert.fingerprint256);
    const current = cert;
    if (trusted.some((anchor) => current.raw.equals(anchor.raw) || (current.checkIssued(anchor) && current.verify(anchor.publicKey)))) return true;
  }
  return false;
}

/** Error codes of OpenSSL's chain verification that mean "not signed by a CA we trust". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

function describeChainError(code: string, peer: X509Certificate, report: TlsReport, options: ProbeTls): ProbeFailure {
  const field = options.caField ?? 'ssl_cert_key';
  const store = (which: 'any' | 'a'): string => (options.ca ? `the CA given in ${field}` : `${which} CA in the system store (give the CA in ${field})`);
  const trusted = store('any');
  // A common mistake: uploading the server's own certificate instead of the CA that signed it.
  if (UNTRUSTED.has(code) && code !== 'DEPTH_ZERO_SELF_SIGNED_CERT' && options.ca?.some((pem) => sameCertificate(pem, peer))) {
    return new ProbeFailure(
      ItemErrorCode.TLS_CERT_UNTRUSTED,
      `${field} holds the server certificate itself (${report.subject}), not the CA that signed it (${report.issuer}): upload that CA (${code})`,
    );
  }
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return new ProbeFailure(
        ItemErrorCode.TLS_CERT_EXPIRED,
        report.days_to_expiry < 0
          ? `the server certificate (${report.subject}) expired on ${report.not_after} (CERT_HAS_EXPIRED)`
          : `a certificate in the server's chain has expired (CERT_HAS_EXPIRED)`,
      );
    case 'CERT_NOT_YET_VALID':
      return new ProbeFailure(
        ItemErrorCode.TLS_CERT_EXPIRED,
        `the server certificate (${report.subject}) is not valid before ${report.not_before} (CERT_NOT_YET_VALID)`,
      );
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return new ProbeFailure(
        ItemErrorCode.TLS_CERT_UNTRUSTED,
        `the server certificate (${report.subject}) is self-signed and not trusted by ${trusted} (${code})`,
      );
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return new ProbeFailure(ItemErrorCode.TLS_CERT_UNTRUSTED, `the server's chain ends in a CA that is not ${store('a')} (${code})`);
    default:
      // The other UNTRUSTED codes, and every other verification failure (bad signature, invalid CA, wrong purpose …):
      // the certificate cannot be trusted either way.
      return new ProbeFailure(
        ItemErrorCode.TLS_CERT_UNTRUSTED,
        `the server certificate (${report.subject}, issuer ${report.issuer}) is not signed by ${trusted} (${code})`,
      );
  }
}

/** Maps an error from the TLS handshake itself (before it completed). */
export function fromTlsError(err: unknown): ProbeFailure {
  if (err instanceof ProbeFailure) return err;
  const code = errorCode(err);
  if (code && EXPIRED.has(code)) return new ProbeFailure(ItemErrorCode.TLS_CERT_EXPIRED, `the server certificate has expired or is not yet valid (${code})`);
  if (code && UNTRUSTED.has(code)) return new ProbeFailure(ItemErrorCode.TLS_CERT_UNTRUSTED, `the server certificate is not trusted (${code})`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return new ProbeFailure(ItemErrorCode.TLS_HOSTNAME_MISMATCH, 'the server certificate does not name the host');
  const node = fromNodeError(err);
  if (node && (node.code === ItemErrorCode.CONNECTION_RESET || code === 'ECONNRESET')) {
    return new ProbeFailure(ItemErrorCode.TLS_HANDSHAKE_FAILED, `the server closed the connection during the TLS handshake (${code})`);
  }
  if (node) return node;
  // OpenSSL's reason ("wrong version number", "tlsv1 alert protocol version", "sslv3 alert handshake failure" …).
  const reason = (err as { reason?: unknown } | null)?.reason;
  const text = typeof reason === 'string' ? reason : err instanceof Error ? err.message : String(err);
  return new ProbeFailure(ItemErrorCode.TLS_HANDSHAKE_FAILED, `TLS handshake failed: ${text}${code ? ` (${code})` : ''}`);
}

/** The report of an established connection. */
export function tlsReport(socket: TLSSocket, peer: X509Certificate, now = Date.now()): TlsReport {
  const notAfter = new Date(peer.validTo);
  return {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: socket.getCipher()?.name ?? 'unknown',
    subject: oneLineDn(peer.subject),
    issuer: oneLineDn(peer.issuer),
    subject_alt_names: subjectAltNames(peer.subjectAltName),
    not_before: new Date(peer.validFrom).toISOString(),
    not_after: notAfter.toISOString(),
    days_to_expiry: Math.floor((notAfter.getTime() - now) / DAY_MS),
  };
}

/** Node's multi-line DN ("O=x\nCN=y", issuer order) as one RFC 4514-style line, most specific first: "CN=y, O=x". */
export function oneLineDn(dn: string): string {
  return dn.split('\n').filter(Boolean).reverse().join(', ');
}

/** "DNS:a, IP Address:1.2.3.4" (values with commas come JSON-quoted) → ["DNS:a", "IP:1.2.3.4"]. */
export function subjectAltNames(san: string | undefined): string[] {
  if (!san) return [];
  const out: string[] = [];
  for (const match of san.matchAll(/([A-Za-z][A-Za-z0-9 .:]*?):("(?:[^"\\]|\\.)*"|[^,]*)(?:,\s*|$)/g)) {
    const type = match[1] === 'IP Address' ? 'IP' : match[1];
    let value = match[2] ?? '';
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        /* keep as sent */
      }
    }
    out.push(`${type}:${value}`);
  }
  return out;
}

function sameCertificate(pem: string, peer: X509Certificate): boolean {
  try {
    return new X509Certificate(pem).fingerprint256 === peer.fingerprint256;
  } catch {
    return false;
  }
}

/** A certificate failure carries the report, so the item shows what the server presented. */
function withReport(failure: ProbeFailure, report: TlsReport): ProbeFailure {
  return new ProbeFailure(failure.code, failure.message, report);
}
