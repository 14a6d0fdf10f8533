// Owns: tests of the shared TLS helper (tls.ts) through the tcp probe with ssl_link, against real Node TLS servers
// serving test/services' certificates, plus its pure helpers. Must not: mock tls or sockets.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, describe, it } from 'node:test';
import { ItemErrorCode } from '@conncheck/core';
import { tcpProbe } from '../src/tcp.js';
import { oneLineDn, subjectAltNames } from '../src/tls.js';
import type { ProbeTls } from '../src/types.js';
import { assertNothingLeftOpen, expectedReport, fakeServer, loadServices, NO_SERVICES, pem, run, stageLine, target } from './helpers.js';

after(assertNothingLeftOpen);

describe('TLS helpers', () => {
  it('writes a DN on one line, most specific first', () => {
    assert.equal(oneLineDn('C=DE\nO=conncheck tests\nCN=localhost'), 'CN=localhost, O=conncheck tests, C=DE');
  });
  it('splits SANs, shortens "IP Address" and unquotes values with commas', () => {
    assert.deepEqual(subjectAltNames('DNS:localhost, IP Address:127.0.0.1, IP Address:::1'), ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
    assert.deepEqual(subjectAltNames('DNS:a.example, URI:"urn:x,y", DNS:b.example'), ['DNS:a.example', 'URI:urn:x,y', 'DNS:b.example']);
    assert.deepEqual(subjectAltNames(undefined), []);
  });
});

const services = loadServices();

/** A real TLS server on loopback serving one certificate (with the CA appended, as servers usually send it). */
async function tlsServer(pair: { cert: string; key: string }, options: tls.TlsOptions = {}): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: pem(pair.cert), key: pem(pair.key), ...options }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.resume();
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('TLS through the tcp probe, against Node TLS servers', { skip: services ? false : NO_SERVICES }, () => {
  // The callback runs only when the suite is not skipped, that is with the services.
  const certs = services!.tls;
  const check = async (pair: { cert: string; key: string }, host: string, tlsOptions: ProbeTls, timeoutMs = 5000) => {
    const server = await tlsServer(pair);
    try {
      return await run(tcpProbe, target('tcp', host, server.port, { tls: tlsOptions }), { timeoutMs });
    } finally {
      await server.close();
    }
  };

  it('verify-full by a name in the certificate: success with the full report', async () => {
    const result = await check(certs.server, 'localhost', { mode: 'verify-full', ca: [pem(certs.ca.pem)] });
    assert.equal(result.success, true, result.error_msg);
    assert.deepEqual(result.tls, expectedReport(certs.server.cert));
    assert.deepEqual(result.tls?.subject_alt_names, ['DNS:localhost']);
    assert.equal(result.tls?.subject, 'CN=localhost, O=conncheck tests');
    assert.equal(result.tls?.issuer, 'CN=conncheck test CA, O=conncheck tests');
    assert.equal(stageLine(result.stages), 'dns:ok tcp:ok tls:ok');
    assert.equal(result.stages[2]?.detail, 'TLSv1.3 TLS_AES_256_GCM_SHA384');
    assert.equal(result.warnings, undefined);
  });

  it('verify-full by an IP the certificate does not name: TLS_HOSTNAME_MISMATCH, with the report; verify-ca: success', async () => {
    const full = await check(certs.server, '127.0.0.1', { mode: 'verify-full', ca: [pem(certs.ca.pem)] });
    assert.equal(full.error_code, ItemErrorCode.TLS_HOSTNAME_MISMATCH);
    assert.equal(full.error_msg, 'the server certificate is for DNS:localhost, not 127.0.0.1');
    assert.deepEqual(full.tls, expectedReport(certs.server.cert));
    assert.equal(stageLine(full.stages), 'dns:skipped tcp:ok tls:failed');
    const ca = await check(certs.server, '127.0.0.1', { mode: 'verify-ca', ca: [pem(certs.ca.pem)] });
    assert.equal(ca.success, true, ca.error_msg);
  });

  it("verify-full by an IP in the certificate's IP SANs: success", async () => {
    const result = await check(certs.server_ip, '127.0.0.1', { mode: 'verify-full', ca: [pem(certs.ca.pem)] });
    assert.equal(result.success, true, result.error_msg);
    assert.deepEqual(result.tls?.subject_alt_names, ['DNS:localhost', 'IP:127.0.0.1']);
  });

  it('a certificate for another name: TLS_HOSTNAME_MISMATCH naming it', async () => {
    const result = await check(certs.wrong_name, 'localhost', { mode: 'verify-full', ca: [pem(certs.ca.pem)] });
    assert.equal(result.error_code, ItemErrorCode.TLS_HOSTNAME_MISMATCH);
    assert.equal(result.error_msg, 'the server certificate is for DNS:wrong.example, not localhost');
  });

  it('the wrong CA: TLS_CERT_UNTRUSTED', async () => {
    const result = await check(certs.server, 'localhost', { mode: 'verify-full', ca: [pem(certs.other_ca.pem)] });
    assert.equal(result.error_code, ItemErrorCode.TLS_CERT_UNTRUSTED);
    assert.equal(
      result.error_msg,
      'the server certificate (CN=localhost, O=conncheck tests, issuer CN=conncheck test CA, O=conncheck tests) is not signed by the CA given in ssl_cert_key (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    );
    assert.deepEqual(result.tls, expectedReport(certs.server.cert));
  });

  it('the server certificate uploaded instead of its CA: TLS_CERT_UNTRUSTED saying so', async () => {
    const result = await check(certs.server, 'localhost', { mode: 'verify-full', ca: [pem(certs.server.cert)] });
    assert.equal(result.error_code, ItemErrorCode.TLS_CERT_UNTRUSTED);
    assert.equal(
      result.error_msg,
      'ssl_cert_key holds the server certificate itself (CN=localhost, O=conncheck tests), not the CA that signed it (CN=conncheck test CA, O=conncheck tests): upload that CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    );
  });

  it('a self-signed certificate: TLS_CERT_UNTRUSTED; under require (no CA): success with a warning', async () => {
    const verified = await check(certs.self_signed, 'localhost', { mode: 'verify-ca', ca: [pem(certs.ca.pem)] });
    assert.equal(verified.error_code, ItemErrorCode.TLS_CERT_UNTRUSTED);
    assert.equal(
      verified.error_msg,
      'the server certificate (CN=localhost, O=conncheck tests) is self-signed and not trusted by the CA given in ssl_cert_key (DEPTH_ZERO_SELF_SIGNED_CERT)',
    );
    const required = await check(certs.self_signed, '127.0.0.1', { mode: 'require' });
    assert.equal(required.success, true, required.error_msg);
    assert.deepEqual(required.tls, expectedReport(certs.self_signed.cert));
    assert.deepEqual(required.warnings, [
      'ssl_mode require: the server certificate was not verified (the server certificate (CN=localhost, O=conncheck tests) is self-signed and not trusted by any CA in the system store (give the CA in ssl_cert_key) (DEPTH_ZERO_SELF_SIGNED_CERT))',
    ]);
  });

  it('verify-ca without a CA uses the system store, which does not hold the test CA: TLS_CERT_UNTRUSTED', async () => {
    const result = await check(certs.server, 'localhost', { mode: 'verify-ca' });
    assert.equal(result.error_code, ItemErrorCode.TLS_CERT_UNTRUSTED);
    assert.match(result.error_msg ?? '', /is not signed by any CA in the system store \(give the CA in ssl_cert_key\) \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
  });

  it('an expired certificate: TLS_CERT_EXPIRED with its date, even from the right CA', async () => {
    const result = await check(certs.expired, 'localhost', { mode: 'verify-full', ca: [pem(certs.ca.pem)] });
    assert.equal(result.error_code, ItemErrorCode.TLS_CERT_EXPIRED);
    assert.equal(result.error_msg, 'the server certificate (CN=localhost, O=conncheck tests) expired on 2021-01-01T00:00:00.000Z (CERT_HAS_EXPIRED)');
    assert.equal(result.tls?.not_after, '2021-01-01T00:00:00.000Z');
    assert.ok((result.tls?.days_to_expiry ?? 0) < -365);
  });

  it('a certificate expiring within the warning threshold: success with a warning', async () => {
    const report = expectedReport(certs.server.cert);
    const result = await check(certs.server, 'localhost', { mode: 'verify-full', ca: [pem(certs.ca.pem)], expiryWarningDays: 400 });
    assert.equal(result.success, true, result.error_msg);
    assert.deepEqual(result.warnings, [`the server certificate expires in ${report.days_to_expiry} days (${report.not_after})`]);
    const quiet = await check(certs.server, 'localhost', { mode: 'verify-full', ca: [pem(certs.ca.pem)], expiryWarningDays: 0 });
    assert.equal(quiet.warnings, undefined);
  });

  it("a server that does not speak TLS: TLS_HANDSHAKE_FAILED with OpenSSL's reason", async () => {
    const server = await fakeServer((socket) => socket.once('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n')));
    try {
      const result = await run(tcpProbe, target('tcp', '127.0.0.1', server.port, { tls: { mode: 'require' } }));
      assert.equal(result.error_code, ItemErrorCode.TLS_HANDSHAKE_FAILED);
      assert.equal(result.error_msg, 'TLS handshake failed: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)');
      assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok tls:failed');
    } finally {
      await server.close();
    }
  });

  it('a server that hangs up during the handshake: TLS_HANDSHAKE_FAILED', async () => {
    const server = await fakeServer((socket) => socket.once('data', () => socket.destroy()));
    try {
      const result = await run(tcpProbe, target('tcp', '127.0.0.1', server.port, { tls: { mode: 'require' } }));
      assert.equal(result.error_code, ItemErrorCode.TLS_HANDSHAKE_FAILED);
      assert.equal(result.error_msg, 'the server closed the connection during the TLS handshake (ECONNRESET)');
    } finally {
      await server.close();
    }
  });

  it('a server that never answers the ClientHello: TIMEOUT in the tls stage, at the deadline', async () => {
    const server = await fakeServer(() => undefined);
    try {
      const result = await run(tcpProbe, target('tcp', '127.0.0.1', server.port, { tls: { mode: 'require' } }), { timeoutMs: 500 });
      assert.equal(result.error_code, ItemErrorCode.TIMEOUT);
      assert.equal(result.error_msg, `connected to 127.0.0.1:${server.port}, but the tls stage did not finish within 500 ms`);
      assert.equal(stageLine(result.stages), 'dns:skipped tcp:ok tls:failed');
      assert.ok(result.elapsed < 1000, `elapsed ${result.elapsed}`);
    } finally {
      await server.close();
    }
  });

  it('a server that only speaks TLS 1.2 is reported as such', async () => {
    const server = await tlsServer(certs.server, { maxVersion: 'TLSv1.2' });
    try {
      const result = await run(tcpProbe, target('tcp', 'localhost', server.port, { tls: { mode: 'verify-full', ca: [pem(certs.ca.pem)] } }));
      assert.equal(result.success, true, result.error_msg);
      assert.equal(result.tls?.protocol, 'TLSv1.2');
      assert.equal(result.tls?.cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    } finally {
      await server.close();
    }
  });
});
