// Owns: tests of cert-material.ts on real files — test/services' certificates and stores (OpenSSL- and keytool-made)
// plus a few made here with openssl (legacy PKCS#12, RSA, encrypted PEM keys). Must not: mock node-forge or jks-js.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CertMaterialError, javaTrustWarning, parseCaBundle, parseKeyStore, parseTrustStore } from '../src/index.js';
import { FIXTURE_CA_PEM, base64 } from './fixture-cert.js';

interface Certs {
  ca: { pem: string; der: string; p12: string; p12_password: string; jks: string; jks_password: string };
  other_ca: { pem: string };
  server: { cert: string; key: string };
  client: { cert: string; key: string; p12: string; p12_password: string; jks: string; jks_password: string };
  server_keystore: { jks: string; p12: string; password: string };
}

const file = process.env['CONNCHECK_TEST_SERVICES'];
const certs = file ? (JSON.parse(readFileSync(file, 'utf8')) as { tls: Certs }).tls : undefined;
const NO_SERVICES = 'CONNCHECK_TEST_SERVICES is not set: run through `test/services run -- …`';
const b64 = (p: string): string => readFileSync(p).toString('base64');
const subjectOf = (pem: string): string => new X509Certificate(pem).subject;

function fails(fn: () => unknown, reason: CertMaterialError['reason'], message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CertMaterialError, String(err));
    assert.deepEqual({ reason: err.reason, message: err.message }, { reason, message });
    return true;
  });
}

describe('parseCaBundle without the test servers', () => {
  it('reads PEM (one or several certificates) and DER', () => {
    assert.deepEqual(parseCaBundle(base64(FIXTURE_CA_PEM)), { pems: [FIXTURE_CA_PEM], format: 'pem' });
    assert.equal(parseCaBundle(base64(`junk before\n${FIXTURE_CA_PEM}${FIXTURE_CA_PEM}`)).pems.length, 2);
    const der = new X509Certificate(FIXTURE_CA_PEM).raw;
    assert.deepEqual(parseCaBundle(der.toString('base64')), { pems: [FIXTURE_CA_PEM], format: 'der' });
    // base64 with line breaks, as `base64` writes it, is fine too.
    assert.equal(parseCaBundle(base64(FIXTURE_CA_PEM).replace(/(.{76})/g, '$1\n')).format, 'pem');
  });

  it('refuses what is not base64, not a certificate, or a broken certificate, each with its reason', () => {
    fails(() => parseCaBundle('%%%'), 'not_base64', 'is not valid base64');
    fails(() => parseCaBundle(FIXTURE_CA_PEM), 'not_base64', 'is PEM text, not base64: send the base64 of the file (base64 -w0 file.pem)');
    fails(() => parseCaBundle(base64('hello world')), 'unreadable', 'the uploaded file is neither a PEM or DER certificate nor a PKCS#12 (.p12/.pfx) file');
    fails(
      () => parseCaBundle(base64('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')),
      'unreadable',
      'the uploaded file has a CERTIFICATE block (number 1) that is not a valid X.509 certificate',
    );
    fails(
      () => parseCaBundle(base64('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n')),
      'no_certificate',
      'the PEM file holds no CERTIFICATE block',
    );
  });
});

describe('certificate material from test/services', { skip: certs ? false : NO_SERVICES }, () => {
  let dir: string;
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cc-certs-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const caSubject = () => subjectOf(readFileSync(certs!.ca.pem, 'utf8'));

  it('parseCaBundle: the CA as PEM, DER, keytool PKCS#12 and OpenSSL PKCS#12 (current and legacy encryption)', () => {
    const c = certs!;
    const pem = readFileSync(c.ca.pem, 'utf8');
    assert.deepEqual(parseCaBundle(b64(c.ca.pem)), { pems: [pem], format: 'pem' });
    assert.deepEqual(parseCaBundle(b64(c.ca.der)), { pems: [pem], format: 'der' });
    assert.deepEqual(parseCaBundle(b64(c.ca.p12), c.ca.p12_password), { pems: [pem], format: 'pkcs12' });
    openssl('pkcs12', '-export', '-nokeys', '-in', c.ca.pem, '-passout', 'pass:pw', '-out', 'ca-openssl.p12');
    openssl('pkcs12', '-export', '-legacy', '-nokeys', '-in', c.ca.pem, '-passout', 'pass:pw', '-out', 'ca-legacy.p12');
    // OpenSSL writes no Java trusted-certificate attribute: Java clients would take none of it as a trust anchor.
    assert.deepEqual(parseCaBundle(b64(path.join(dir, 'ca-openssl.p12')), 'pw'), { pems: [pem], format: 'pkcs12', javaAnchors: [] });
    assert.deepEqual(parseCaBundle(b64(path.join(dir, 'ca-legacy.p12')), 'pw'), { pems: [pem], format: 'pkcs12', javaAnchors: [] });
    // A key store works as a CA bundle too: its certificates are taken, its key ignored.
    assert.deepEqual(parseCaBundle(b64(c.client.p12), c.client.p12_password).pems.map(subjectOf), [
      subjectOf(readFileSync(c.client.cert, 'utf8')),
      caSubject(),
    ]);
  });

  it('parseCaBundle: a wrong or missing PKCS#12 password is wrong_password', () => {
    fails(() => parseCaBundle(b64(certs!.ca.p12), 'not-the-password'), 'wrong_password', 'the PKCS#12 file cannot be opened with the password given');
    fails(() => parseCaBundle(b64(certs!.ca.p12)), 'wrong_password', 'the PKCS#12 file needs a password, and none was given');
  });

  it('parseTrustStore: JKS (with and without its password), PKCS#12, PEM', () => {
    const c = certs!;
    const pem = readFileSync(c.ca.pem, 'utf8');
    assert.deepEqual(parseTrustStore(b64(c.ca.jks), c.ca.jks_password), { pems: [pem], format: 'jks' });
    assert.deepEqual(parseTrustStore(b64(c.ca.jks)), { pems: [pem], format: 'jks' });
    assert.deepEqual(parseTrustStore(b64(c.ca.p12), c.ca.p12_password), { pems: [pem], format: 'pkcs12' });
    assert.deepEqual(parseTrustStore(b64(c.ca.pem)), { pems: [pem], format: 'pem' });
    fails(
      () => parseTrustStore(b64(c.ca.jks), 'not-the-password'),
      'wrong_password',
      'the JKS store cannot be opened with the password given (its integrity check fails)',
    );
    fails(() => parseTrustStore(base64('garbage!')), 'unreadable', 'the uploaded file is neither a JKS, a PKCS#12 nor a PEM truststore');
  });

  it('javaAnchors: what Java clients take as trust anchors, given only where it is less than what conncheck trusts', () => {
    const c = certs!;
    const pem = readFileSync(c.ca.pem, 'utf8');
    // OpenSSL writes no Java trusted-certificate attribute (OID 2.16.840.1.113894.746875.1.1): Java trusts none of it.
    openssl('pkcs12', '-export', '-nokeys', '-in', c.ca.pem, '-passout', 'pass:pw', '-out', 'ca-no-java-trust.p12');
    const opensslMade = parseTrustStore(b64(path.join(dir, 'ca-no-java-trust.p12')), 'pw');
    assert.deepEqual(opensslMade, { pems: [pem], format: 'pkcs12', javaAnchors: [] });
    assert.deepEqual(parseCaBundle(b64(path.join(dir, 'ca-no-java-trust.p12')), 'pw').javaAnchors, []);
    // keytool marks its certificate entries trusted; JKS certificate entries and PEM are trusted by Java as they are.
    for (const bundle of [
      parseTrustStore(b64(c.ca.p12), c.ca.p12_password),
      parseCaBundle(b64(c.ca.p12), c.ca.p12_password),
      parseTrustStore(b64(c.ca.jks), c.ca.jks_password),
      parseTrustStore(b64(c.ca.pem)),
    ]) {
      assert.equal(bundle.javaAnchors, undefined, bundle.format);
    }
    // A key store given as a truststore: Java trusts a key entry's own certificate, not the rest of its chain.
    const leaf = new X509Certificate(parseKeyStore(b64(c.server_keystore.p12), c.server_keystore.password).certPem).toString();
    for (const store of [c.server_keystore.p12, c.server_keystore.jks]) {
      const bundle = parseTrustStore(b64(store), c.server_keystore.password);
      assert.deepEqual(bundle.pems.map(subjectOf), [subjectOf(leaf), caSubject()], store);
      assert.deepEqual(bundle.javaAnchors, [leaf], store);
    }
  });

  it('javaTrustWarning: names the clients, the missing attribute and the fix; none where Java trusts it all', () => {
    const c = certs!;
    openssl('pkcs12', '-export', '-nokeys', '-in', c.ca.pem, '-passout', 'pass:pw', '-out', 'ca-no-java-trust.p12');
    const opensslMade = parseTrustStore(b64(path.join(dir, 'ca-no-java-trust.p12')), 'pw');
    assert.equal(
      javaTrustWarning(opensslMade, 'trust_store_key'),
      "trust_store_key: Java clients (Kafka's own tools, Kafka Connect, most migration tools) find no trust anchor in this " +
        "PKCS#12 truststore and fail the TLS handshake: its certificates lack Java's trusted-certificate attribute (OID " +
        '2.16.840.1.113894.746875.1.1), as in one made by openssl pkcs12 -export. Make one they accept with keytool ' +
        '-importcert -storetype PKCS12 -keystore truststore.p12 -alias ca -file ca.crt, or send the CA as a PEM truststore',
    );
    assert.match(
      javaTrustWarning(parseCaBundle(b64(path.join(dir, 'ca-no-java-trust.p12')), 'pw'), 'ssl_cert_key') ?? '',
      /^ssl_cert_key: Java clients \(JDBC drivers, most migration tools\) find no trust anchor/,
    );
    const keystore = parseTrustStore(b64(c.server_keystore.p12), c.server_keystore.password);
    assert.equal(
      javaTrustWarning(keystore, 'trust_store_key'),
      "trust_store_key: Java clients (Kafka's own tools, Kafka Connect, most migration tools) do not trust " +
        `${caSubject().split('\n').reverse().join(', ')} from this truststore and fail the TLS handshake where the server's chain needs it: ` +
        "they take a PKCS#12 certificate as trusted only with Java's trusted-certificate attribute (OID 2.16.840.1.113894.746875.1.1), " +
        'and of a key entry only its own certificate. Add it with keytool -importcert -storetype PKCS12, or send a PEM truststore',
    );
    assert.equal(javaTrustWarning(parseTrustStore(b64(c.ca.p12), c.ca.p12_password), 'trust_store_key'), undefined);
    assert.equal(javaTrustWarning(parseTrustStore(b64(c.ca.pem)), 'trust_store_key'), undefined);
  });

  it('parseKeyStore: JKS, OpenSSL PKCS#12 and PEM give the certificate that matches the key, then its chain', () => {
    const c = certs!;
    const leaf = subjectOf(readFileSync(c.client.cert, 'utf8'));
    for (const [what, pair] of [
      ['jks', parseKeyStore(b64(c.client.jks), c.client.jks_password)],
      ['pkcs12', parseKeyStore(b64(c.client.p12), c.client.p12_password)],
      ['pem', parseKeyStore(base64(readFileSync(c.client.key, 'utf8') + readFileSync(c.client.cert, 'utf8')))],
    ] as const) {
      assert.equal(pair.format, what);
      const certsIn = pair.certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
      assert.equal(subjectOf(certsIn[0]!), leaf, what);
      assert.match(pair.keyPem, /^-----BEGIN PRIVATE KEY-----\n/, what);
      // The key really is the certificate's.
      assert.ok(new X509Certificate(certsIn[0]!).checkPrivateKey(createPrivateKey(pair.keyPem)), what);
    }
    const server = parseKeyStore(b64(c.server_keystore.p12), c.server_keystore.password);
    assert.match(server.certPem, /BEGIN CERTIFICATE/);
  });

  it('parseKeyStore: wrong store password, wrong key password, no key, encrypted PEM keys', () => {
    const c = certs!;
    fails(
      () => parseKeyStore(b64(c.client.jks), 'not-the-password'),
      'wrong_password',
      'the JKS store cannot be opened with the password given (its integrity check fails)',
    );
    fails(
      () => parseKeyStore(b64(c.client.jks), c.client.jks_password, 'not-the-key-password'),
      'wrong_password',
      'the private key in the JKS keystore cannot be opened with the password given (key password)',
    );
    fails(() => parseKeyStore(b64(c.client.p12), 'not-the-password'), 'wrong_password', 'the PKCS#12 file cannot be opened with the password given');
    fails(() => parseKeyStore(b64(c.ca.jks), c.ca.jks_password), 'no_private_key', 'the JKS keystore holds no private key entry');
    fails(() => parseKeyStore(b64(c.ca.pem)), 'no_private_key', 'the PEM keystore holds no private key block');
    openssl('pkcs8', '-topk8', '-in', c.client.key, '-passout', 'pass:keypw', '-out', 'client-enc.key');
    const encrypted = readFileSync(path.join(dir, 'client-enc.key'), 'utf8') + readFileSync(c.client.cert, 'utf8');
    assert.equal(parseKeyStore(base64(encrypted), undefined, 'keypw').format, 'pem');
    fails(() => parseKeyStore(base64(encrypted)), 'wrong_password', 'the PEM private key is encrypted and no key password was given');
    fails(() => parseKeyStore(base64(encrypted), undefined, 'nope'), 'wrong_password', 'the PEM private key cannot be opened with the password given');
    fails(
      () => parseKeyStore(base64(readFileSync(c.client.key, 'utf8') + readFileSync(c.ca.pem, 'utf8'))),
      'no_certificate',
      'the PEM keystore holds no certificate for its private key',
    );
  });

  it("parseKeyStore: an RSA key in a legacy OpenSSL PKCS#12 (node-forge's own key type)", () => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-subj', '/CN=rsa client', '-days', '2', '-out', 'rsa.crt');
    openssl('pkcs12', '-export', '-legacy', '-in', 'rsa.crt', '-inkey', 'rsa.key', '-passout', 'pass:pw', '-out', 'rsa.p12');
    const pair = parseKeyStore(b64(path.join(dir, 'rsa.p12')), 'pw');
    assert.ok(new X509Certificate(pair.certPem).checkPrivateKey(createPrivateKey(pair.keyPem)));
  });

  it('never puts a password in a message', () => {
    const secret = 'Sup3r-Secret-Passw0rd';
    for (const fn of [
      () => parseCaBundle(b64(certs!.ca.p12), secret),
      () => parseTrustStore(b64(certs!.ca.jks), secret),
      () => parseKeyStore(b64(certs!.client.jks), certs!.client.jks_password, secret),
    ]) {
      assert.throws(fn, (err: Error) => !err.message.includes(secret));
    }
  });
});
