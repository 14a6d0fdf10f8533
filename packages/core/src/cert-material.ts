// Owns: reading certificate material users upload (base64 of PEM, DER, PKCS#12, JKS) into PEM certificates and keys,
// with a typed reason when it cannot. Must not: open connections, log, or put a password or key byte in an error message.

import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import jks from 'jks-js';
import { ApiErrorCode } from './error-codes.js';

export type CertMaterialReason = 'not_base64' | 'unreadable' | 'wrong_password' | 'no_certificate' | 'no_private_key';

/** The API code of a submission refused for each reason: each needs a different fix. */
export const CERT_MATERIAL_API_CODES: Record<CertMaterialReason, ApiErrorCode> = {
  not_base64: ApiErrorCode.CERT_NOT_BASE64,
  unreadable: ApiErrorCode.CERT_UNREADABLE,
  no_certificate: ApiErrorCode.CERT_UNREADABLE,
  no_private_key: ApiErrorCode.CERT_UNREADABLE,
  wrong_password: ApiErrorCode.CERT_PASSWORD_WRONG,
};

/** Why uploaded material cannot be used. The message names the problem, never a password or the bytes. */
export class CertMaterialError extends Error {
  constructor(
    readonly reason: CertMaterialReason,
    message: string,
  ) {
    super(message);
    this.name = 'CertMaterialError';
  }
}

export type CertFormat = 'pem' | 'der' | 'pkcs12' | 'jks';

export interface CertBundle {
  /** Every certificate found, one PEM block each, in the order the material holds them. */
  pems: string[];
  format: CertFormat;
  /**
   * Present only when Java clients would trust less of this material than conncheck does: the certificates of `pems`
   * they take as trust anchors (possibly none).
   */
  javaAnchors?: string[];
}

export interface KeyPair {
  /** The certificate that matches the key, then the rest of its chain (PEM blocks, concatenated). */
  certPem: string;
  /** The private key, unencrypted PKCS#8 PEM. Lives only in memory. */
  keyPem: string;
  format: CertFormat;
}

/**
 * A CA certificate bundle for `ssl_cert_key`: PEM (one or many certificates), DER (one certificate) or PKCS#12
 * (opened with `password`; certificates only, a key in it is ignored).
 */
export function parseCaBundle(base64: string, password?: string): CertBundle {
  const bytes = decodeBase64(base64);
  if (looksLikePem(bytes)) return { pems: pemCertificates(bytes.toString('latin1')), format: 'pem' };
  const der = derCertificate(bytes);
  if (der) return { pems: [der], format: 'der' };
  if (!isPkcs12(bytes)) throw unreadable('is neither a PEM or DER certificate nor a PKCS#12 (.p12/.pfx) file');
  const { certs, javaAnchors } = openPkcs12(bytes, password);
  if (certs.length === 0) throw new CertMaterialError('no_certificate', 'the PKCS#12 file holds no certificate');
  return withJavaAnchors({ pems: certs, format: 'pkcs12' }, javaAnchors);
}

/**
 * A truststore (Kafka `trust_store_key`), recognised by its bytes: JKS (magic FEEDFEED), PKCS#12 (Java- or
 * OpenSSL-made) or PEM. Every certificate in it is trusted, as Java does (key entries contribute their certificate).
 * A JKS opened without a password is read without checking its integrity, as Java's keytool does.
 */
export function parseTrustStore(base64: string, password?: string): CertBundle {
  const bytes = decodeBase64(base64);
  if (isJks(bytes)) {
    const entries = readJks(bytes, password);
    const pems = entries.flatMap((entry) => ('cert' in entry ? [derToPem(entry.cert.value)] : entry.chain.map((c) => derToPem(c.value))));
    if (pems.length === 0) throw new CertMaterialError('no_certificate', 'the JKS truststore holds no certificate');
    // Java trusts a certificate entry, and of a key entry its own certificate only (the first of its chain).
    const anchors = entries.flatMap((entry) => ('cert' in entry ? [derToPem(entry.cert.value)] : entry.chain.slice(0, 1).map((c) => derToPem(c.value))));
    return withJavaAnchors({ pems: unique(pems), format: 'jks' }, anchors);
  }
  if (isPkcs12(bytes)) {
    const { certs, javaAnchors } = openPkcs12(bytes, password);
    if (certs.length === 0) throw new CertMaterialError('no_certificate', 'the PKCS#12 truststore holds no certificate');
    return withJavaAnchors({ pems: certs, format: 'pkcs12' }, javaAnchors);
  }
  if (looksLikePem(bytes)) return { pems: pemCertificates(bytes.toString('latin1')), format: 'pem' };
  const der = derCertificate(bytes);
  if (der) return { pems: [der], format: 'der' };
  throw unreadable(
    bytes[0] === 0xce && bytes[1] === 0xce
      ? 'is a JCEKS store, which is not supported; convert it to PKCS#12 with keytool -importkeystore'
      : 'is neither a JKS, a PKCS#12 nor a PEM truststore',
  );
}

/** Who reads the field's material in Java, as the warning names them. */
const JAVA_CLIENTS: Record<'trust_store_key' | 'ssl_cert_key', string> = {
  trust_store_key: "Kafka's own tools, Kafka Connect, most migration tools",
  ssl_cert_key: 'JDBC drivers, most migration tools',
};

/**
 * The warning for material Java clients would trust less of than conncheck does (`bundle.javaAnchors`), else
 * undefined: which certificates they skip, why, and how to make a store they accept. Java's PKCS12 KeyStore takes a
 * certificate bag as a trusted entry only with its trusted-key-usage attribute (which OpenSSL does not write), and its
 * trust managers take of a key entry only its own certificate, not the rest of its chain.
 */
export function javaTrustWarning(bundle: CertBundle, field: 'trust_store_key' | 'ssl_cert_key'): string | undefined {
  const anchors = bundle.javaAnchors;
  if (!anchors) return undefined;
  const store = field === 'trust_store_key' ? 'truststore' : 'file';
  const clients = `Java clients (${JAVA_CLIENTS[field]})`;
  if (anchors.length === 0) {
    return (
      `${field}: ${clients} find no trust anchor in this PKCS#12 ${store} and fail the TLS handshake: its certificates lack ` +
      `Java's trusted-certificate attribute (OID ${JAVA_TRUSTED_KEY_USAGE}), as in one made by openssl pkcs12 -export. ` +
      'Make one they accept with keytool -importcert -storetype PKCS12 -keystore truststore.p12 -alias ca -file ca.crt, ' +
      `or send the CA as ${field === 'trust_store_key' ? 'a PEM truststore' : 'PEM'}`
    );
  }
  const skipped = bundle.pems.filter((pem) => !anchors.includes(pem));
  const first = oneLineDn(new X509Certificate(skipped[0]!).subject);
  const named = skipped.length > 1 ? `${first} (and ${skipped.length - 1} more)` : first;
  return (
    `${field}: ${clients} do not trust ${named} from this ${store} and fail the TLS handshake where the server's chain needs ` +
    `it: they take a PKCS#12 certificate as trusted only with Java's trusted-certificate attribute (OID ${JAVA_TRUSTED_KEY_USAGE}), ` +
    `and of a key entry only its own certificate. Add it with keytool -importcert -storetype PKCS12, or send ${field === 'trust_store_key' ? 'a PEM truststore' : 'the CA as PEM'}`
  );
}

/**
 * A keystore with one private key and its certificate, for mutual TLS (Kafka `key_store_key`): JKS (first
 * PrivateKeyEntry), PKCS#12, or PEM holding a certificate and a private key (an encrypted PEM key is opened with
 * `keyPassword`, else `storePassword`). `keyPassword` defaults to `storePassword`.
 */
export function parseKeyStore(base64: string, storePassword?: string, keyPassword?: string): KeyPair {
  const bytes = decodeBase64(base64);
  const keyPw = keyPassword ?? storePassword;
  if (isJks(bytes)) {
    const entry = readJks(bytes, storePassword).find((e) => 'protectedPrivateKey' in e);
    if (!entry || !('protectedPrivateKey' in entry)) throw new CertMaterialError('no_private_key', 'the JKS keystore holds no private key entry');
    let keyPem: string;
    try {
      keyPem = jks.decrypt(entry.protectedPrivateKey, keyPw ?? '');
    } catch (err) {
      if (/cannot recover key/i.test(errorText(err))) {
        throw new CertMaterialError('wrong_password', 'the private key in the JKS keystore cannot be opened with the password given (key password)');
      }
      throw unreadable(`has a private key entry that cannot be read (${errorText(err)})`);
    }
    const key = privateKey(keyPem);
    if (entry.chain.length === 0) throw new CertMaterialError('no_certificate', 'the JKS key entry has no certificate');
    return { certPem: entry.chain.map((c) => derToPem(c.value)).join(''), keyPem: exportKey(key), format: 'jks' };
  }
  if (isPkcs12(bytes)) {
    const { certs, keys } = openPkcs12(bytes, storePassword);
    const key = keys[0];
    if (!key) throw new CertMaterialError('no_private_key', 'the PKCS#12 keystore holds no private key');
    return { certPem: chainFor(key, certs, 'PKCS#12 keystore'), keyPem: exportKey(key), format: 'pkcs12' };
  }
  if (looksLikePem(bytes)) {
    const text = bytes.toString('latin1');
    const certs = pemCertificates(text);
    const block = /-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/.exec(text);
    if (!block) throw new CertMaterialError('no_private_key', 'the PEM keystore holds no private key block');
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPw === undefined ? { key: block[0] } : { key: block[0], passphrase: keyPw });
    } catch (err) {
      const encrypted = block[1] === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block[0]);
      if (encrypted) {
        throw new CertMaterialError(
          'wrong_password',
          keyPw === undefined
            ? 'the PEM private key is encrypted and no key password was given'
            : 'the PEM private key cannot be opened with the password given',
        );
      }
      throw unreadable(`has a private key block that cannot be read (${errorCodeOf(err)})`);
    }
    return { certPem: chainFor(key, certs, 'PEM keystore'), keyPem: exportKey(key), format: 'pem' };
  }
  throw unreadable('is neither a JKS, a PKCS#12 nor a PEM keystore');
}

// ------------------------------------------------------------------------------------------------------------------

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(text: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact === '' || !BASE64.test(compact) || compact.length % 4 === 1) {
    const pemText = /-----BEGIN [A-Z0-9 ]+-----/.test(text);
    throw new CertMaterialError('not_base64', pemText ? 'is PEM text, not base64: send the base64 of the file (base64 -w0 file.pem)' : 'is not valid base64');
  }
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.length === 0) throw new CertMaterialError('not_base64', 'decodes to nothing');
  return bytes;
}

function unreadable(what: string): CertMaterialError {
  return new CertMaterialError('unreadable', `the uploaded file ${what}`);
}

function looksLikePem(bytes: Buffer): boolean {
  return bytes
    .subarray(0, 64 * 1024)
    .toString('latin1')
    .includes('-----BEGIN ');
}

const isJks = (bytes: Buffer): boolean => bytes.length >= 8 && bytes.readUInt32BE(0) === 0xfeedfeed;

/** PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, … }; a certificate starts SEQUENCE { SEQUENCE. */
function isPkcs12(bytes: Buffer): boolean {
  if (bytes[0] !== 0x30) return false;
  const lengthBytes = (bytes[1] ?? 0) & 0x80 ? (bytes[1] ?? 0) & 0x7f : 0;
  const at = 2 + lengthBytes;
  return bytes[at] === 0x02 && bytes[at + 1] === 0x01 && bytes[at + 2] === 0x03;
}

function pemCertificates(text: string): string[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    throw new CertMaterialError('no_certificate', 'the PEM file holds no CERTIFICATE block');
  }
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block).toString();
    } catch {
      throw unreadable(`has a CERTIFICATE block (number ${i + 1}) that is not a valid X.509 certificate`);
    }
  });
}

function derCertificate(bytes: Buffer): string | undefined {
  if (bytes[0] !== 0x30) return undefined;
  try {
    return new X509Certificate(bytes).toString();
  } catch {
    return undefined;
  }
}

function derToPem(der: Buffer): string {
  try {
    return new X509Certificate(der).toString();
  } catch {
    throw unreadable('holds a certificate that is not a valid X.509 certificate');
  }
}

function unique(pems: string[]): string[] {
  return [...new Set(pems)];
}

/** The bundle, with `javaAnchors` only when Java would not trust every certificate conncheck trusts. */
function withJavaAnchors(bundle: CertBundle, anchors: string[]): CertBundle {
  const trusted = unique(anchors);
  return bundle.pems.every((pem) => trusted.includes(pem)) ? bundle : { ...bundle, javaAnchors: bundle.pems.filter((pem) => trusted.includes(pem)) };
}

/** Node's multi-line DN ("O=x\nCN=y") as one line, most specific first ("CN=y, O=x"), as the TLS report shows it. */
function oneLineDn(dn: string): string {
  return dn.split('\n').filter(Boolean).reverse().join(', ');
}

type JksEntry = ReturnType<typeof jks.parseJks>[number];

function readJks(bytes: Buffer, password: string | undefined): JksEntry[] {
  try {
    return jks.parseJks(bytes, password ?? '');
  } catch (err) {
    // jks-js has no error codes; its integrity check is the keyed SHA-1 over the whole store, as in Java.
    if (/password verification failed/i.test(errorText(err))) {
      throw new CertMaterialError('wrong_password', 'the JKS store cannot be opened with the password given (its integrity check fails)');
    }
    throw unreadable(`is a JKS store that cannot be read (${errorText(err)})`);
  }
}

/**
 * Oracle's trustedKeyUsage bag attribute, which Java's PKCS12 KeyStore writes on (and requires of) a trusted certificate
 * entry; its value is the key purposes trusted for (keytool writes anyExtendedKeyUsage, 2.5.29.37.0). Registered with
 * node-forge, which otherwise drops bag attributes it has no name for.
 */
const JAVA_TRUSTED_KEY_USAGE = '2.16.840.1.113894.746875.1.1';
forge.pki.oids[JAVA_TRUSTED_KEY_USAGE] = 'javaTrustedKeyUsage';
forge.pki.oids['javaTrustedKeyUsage'] = JAVA_TRUSTED_KEY_USAGE;

/**
 * Opens a PKCS#12 file: its certificates as PEM, its private keys as KeyObjects (RSA, EC, Ed25519 … alike), and the
 * certificates Java's KeyStore takes as trust anchors: those with the trusted-key-usage attribute, and each key's own
 * certificate (the one sharing its localKeyId).
 */
function openPkcs12(bytes: Buffer, password: string | undefined): { certs: string[]; keys: KeyObject[]; javaAnchors: string[] } {
  let asn1: forge.asn1.Asn1;
  try {
    asn1 = forge.asn1.fromDer(forge.util.createBuffer(bytes.toString('binary')), false);
  } catch {
    throw unreadable('is not a readable PKCS#12 file (bad ASN.1)');
  }
  let pfx: forge.pkcs12.Pkcs12Pfx | undefined;
  let failure: unknown;
  // A store made with an empty password is opened with "" by OpenSSL and with no password by some tools.
  for (const attempt of password === undefined || password === '' ? ['', null] : [password]) {
    try {
      pfx = forge.pkcs12.pkcs12FromAsn1(asn1, false, attempt as string);
      break;
    } catch (err) {
      failure ??= err;
    }
  }
  if (!pfx) {
    // node-forge has no error codes; these are its MAC check and its decryption failures.
    if (/MAC could not be verified|wrong password|Failed to decrypt|Invalid password/i.test(errorText(failure))) {
      throw new CertMaterialError(
        'wrong_password',
        password ? 'the PKCS#12 file cannot be opened with the password given' : 'the PKCS#12 file needs a password, and none was given',
      );
    }
    throw unreadable(`is a PKCS#12 file that cannot be read (${errorText(failure)})`);
  }
  const certs: string[] = [];
  const keys: KeyObject[] = [];
  const certBags: { pem: string; trusted: boolean; keyId: string | undefined }[] = [];
  const keyIds = new Set<string>();
  for (const { safeBags } of pfx.safeContents) {
    for (const bag of safeBags) {
      const attributes = bag.attributes as { javaTrustedKeyUsage?: unknown[]; localKeyId?: string[] } | undefined;
      const keyId = attributes?.localKeyId?.[0];
      if (bag.type === forge.pki.oids.certBag) {
        // node-forge parses RSA certificates only; others come back as bare ASN.1, which is all we need.
        const certAsn1 = bag.cert ? forge.pki.certificateToAsn1(bag.cert) : bag.asn1;
        const pem = derToPem(Buffer.from(forge.asn1.toDer(certAsn1).getBytes(), 'binary'));
        certs.push(pem);
        certBags.push({ pem, trusted: (attributes?.javaTrustedKeyUsage?.length ?? 0) > 0, keyId });
        continue;
      }
      if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
        if (keyId !== undefined) keyIds.add(keyId);
        const pem = bag.key ? forge.pki.privateKeyInfoToPem(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))) : undefined;
        keys.push(pem ? privateKey(pem) : privateKey(Buffer.from(forge.asn1.toDer(bag.asn1).getBytes(), 'binary')));
      }
    }
  }
  const javaAnchors = certBags.filter((c) => c.trusted || (c.keyId !== undefined && keyIds.has(c.keyId))).map((c) => c.pem);
  return { certs: unique(certs), keys, javaAnchors };
}

function privateKey(material: string | Buffer): KeyObject {
  try {
    return typeof material === 'string' ? createPrivateKey(material) : createPrivateKey({ key: material, format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw unreadable(`holds a private key that cannot be read (${errorCodeOf(err)})`);
  }
}

function exportKey(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The certificate whose public key is `key`'s, then the other certificates (the chain), as one PEM text. */
function chainFor(key: KeyObject, certs: string[], what: string): string {
  if (certs.length === 0) throw new CertMaterialError('no_certificate', `the ${what} holds a private key but no certificate`);
  const wanted = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const leaf = certs.findIndex((pem) => new X509Certificate(pem).publicKey.export({ format: 'der', type: 'spki' }).equals(wanted));
  if (leaf < 0) throw new CertMaterialError('no_certificate', `the ${what} holds no certificate for its private key`);
  return [certs[leaf]!, ...certs.filter((_, i) => i !== leaf)].join('');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** For Node crypto errors: the code only, since OpenSSL's text could quote input. */
function errorCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'invalid key';
}
