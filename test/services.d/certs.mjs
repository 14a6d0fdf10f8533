// Test certificates for test/services: a CA, server certificates for the TLS cases (right name, IP, wrong name,
// expired, self-signed), a second CA, a client certificate, and JKS / PKCS#12 stores of them. Made fresh per start.
// Must not: start servers or cache anything (keys and store passwords are new every time). Uses openssl + keytool.
import fs from 'node:fs';
import path from 'node:path';
import { FatalError, exec, execOk, mustWhich, newPassword, which } from './common.mjs';

/** Debian packages providing what this module runs (keytool comes with any JRE). */
export function certToolsMissing() {
  return [...(which('openssl') ? [] : ['openssl']), ...(which('keytool') ? [] : ['default-jre-headless'])];
}

const DAYS = 365;

/**
 * Writes every certificate into <ctx.dir>/tls and returns the `tls` part of services.json (all paths; store
 * passwords in clear, since they are generated per start like the database passwords).
 *
 *   ca          CA certificate (PEM, DER) and truststores holding it (ca.p12 by keytool, so Java accepts it; ca.jks)
 *   other_ca    an unrelated CA: trusting it instead of `ca` is the "wrong CA" case
 *   server      signed by ca, SAN DNS:localhost ONLY — by 127.0.0.1 it is a hostname mismatch
 *   server_ip   signed by ca, SAN DNS:localhost + IP:127.0.0.1
 *   wrong_name  signed by ca, SAN DNS:wrong.example
 *   expired     signed by ca, SAN localhost + 127.0.0.1, valid 2020-01-01 … 2021-01-01
 *   self_signed its own issuer, SAN localhost + 127.0.0.1
 *   client      signed by ca, clientAuth, for mutual TLS; client.p12 (openssl, with the CA in its chain) and client.jks
 *   server_keystore  server_ip's cert + key (with the CA chain) as JKS and PKCS#12, for Java servers (Kafka)
 */
export async function makeTestCerts(ctx) {
  const openssl = mustWhich('openssl');
  const keytool = mustWhich('keytool');
  const dir = path.join(ctx.dir, 'tls');
  fs.mkdirSync(dir, { mode: 0o700 });
  const f = (name) => path.join(dir, name);
  const log = path.join(ctx.dir, 'certs.log');
  const ssl = (what, args) => execOk(`openssl ${what}`, openssl, args, { cwd: dir, logFile: log, timeoutMs: 20_000 });
  // A JVM start is most of a keytool run: the quick JIT tier, and fewer PKCS#12 PBKDF2 rounds (test material only).
  const jvm = [
    '-J-XX:TieredStopAtLevel=1',
    '-J-XX:+UseSerialGC',
    ...['certPbeIterationCount', 'keyPbeIterationCount', 'macIterationCount'].map((p) => `-J-Dkeystore.pkcs12.${p}=2048`),
  ];
  const kt = (what, args) => execOk(`keytool ${what}`, keytool, [...args, ...jvm], { cwd: dir, logFile: log, timeoutMs: 30_000 });

  // ECDSA P-256 keys: an RSA-2048 key takes 0.1-0.5 s to make, eight of them seconds on a 2-core machine. Every
  // server and client used here (MariaDB, PostgreSQL, Java/Kafka, Node) speaks ECDSA.
  const keys = ['ca', 'other_ca', 'server', 'server_ip', 'wrong_name', 'expired', 'self_signed', 'client'];
  await Promise.all(keys.map((k) => ssl(`genpkey ${k}`, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(`${k}.key`)])));
  for (const k of keys) fs.chmodSync(f(`${k}.key`), 0o600);

  const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  await Promise.all([
    ssl('req ca', [
      'req',
      '-x509',
      '-new',
      '-key',
      f('ca.key'),
      '-subj',
      '/O=conncheck tests/CN=conncheck test CA',
      '-days',
      String(DAYS * 2),
      '-sha256',
      ...caExt,
      '-out',
      f('ca.pem'),
    ]),
    ssl('req other_ca', [
      'req',
      '-x509',
      '-new',
      '-key',
      f('other_ca.key'),
      '-subj',
      '/O=somebody else/CN=unrelated test CA',
      '-days',
      String(DAYS * 2),
      '-sha256',
      ...caExt,
      '-out',
      f('other_ca.pem'),
    ]),
    ssl('req self_signed', [
      'req',
      '-x509',
      '-new',
      '-key',
      f('self_signed.key'),
      '-subj',
      '/O=conncheck tests/CN=localhost',
      '-days',
      String(DAYS),
      '-sha256',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'extendedKeyUsage=serverAuth',
      '-out',
      f('self_signed.crt'),
    ]),
  ]);

  const pw = { ca: newPassword(), client: newPassword(), serverKeystore: newPassword() };
  // Java truststores of the CA, made while the rest is signed. ca.p12 is made by keytool: OpenSSL 3.0 cannot mark
  // a certificate as trusted for Java, and a Java truststore without that mark is empty.
  const caStores = Promise.all([
    kt('ca.jks', ['-importcert', '-noprompt', '-alias', 'ca', '-file', f('ca.pem'), '-keystore', f('ca.jks'), '-storetype', 'JKS', '-storepass', pw.ca]),
    kt('ca.p12', ['-importcert', '-noprompt', '-alias', 'ca', '-file', f('ca.pem'), '-keystore', f('ca.p12'), '-storetype', 'PKCS12', '-storepass', pw.ca]),
  ]);
  caStores.catch(() => undefined); // awaited below; a failure must not be unhandled meanwhile

  const leaf = (san, usage = 'serverAuth') =>
    [
      '[v3]',
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      `extendedKeyUsage=${usage}`,
      ...(san ? [`subjectAltName=${san}`] : []),
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n');
  const signed = [
    ['server', 'localhost', 'DNS:localhost'],
    ['server_ip', 'localhost', 'DNS:localhost,IP:127.0.0.1'],
    ['wrong_name', 'wrong.example', 'DNS:wrong.example'],
    ['client', 'cc_client', undefined, 'clientAuth'],
  ];
  let serial = 0x1000;
  await Promise.all(
    signed.map(async ([name, cn, san, usage]) => {
      fs.writeFileSync(f(`${name}.ext`), leaf(san, usage));
      await ssl(`req ${name}`, ['req', '-new', '-key', f(`${name}.key`), '-subj', `/O=conncheck tests/CN=${cn}`, '-out', f(`${name}.csr`)]);
      await ssl(`x509 ${name}`, [
        'x509',
        '-req',
        '-in',
        f(`${name}.csr`),
        '-CA',
        f('ca.pem'),
        '-CAkey',
        f('ca.key'),
        '-set_serial',
        String(serial++),
        '-days',
        String(DAYS),
        '-sha256',
        '-extfile',
        f(`${name}.ext`),
        '-extensions',
        'v3',
        '-out',
        f(`${name}.crt`),
      ]);
    }),
  );

  // `openssl x509 -days` cannot go back in time (and OpenSSL 3.0 has no -not_after); `openssl ca` takes dates.
  fs.writeFileSync(f('expired.ext'), leaf('DNS:localhost,IP:127.0.0.1'));
  fs.writeFileSync(f('ca-index.txt'), '');
  fs.writeFileSync(
    f('ca.cnf'),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `dir = ${dir}`,
      'database = $dir/ca-index.txt',
      'new_certs_dir = $dir',
      'serial = $dir/ca-serial',
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      '[any]',
      'organizationName = optional',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(f('ca-serial'), '2000\n');
  await ssl('req expired', ['req', '-new', '-key', f('expired.key'), '-subj', '/O=conncheck tests/CN=localhost', '-out', f('expired.csr')]);
  await ssl('ca expired', [
    'ca',
    '-batch',
    '-config',
    f('ca.cnf'),
    '-cert',
    f('ca.pem'),
    '-keyfile',
    f('ca.key'),
    '-in',
    f('expired.csr'),
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20210101000000Z',
    '-extfile',
    f('expired.ext'),
    '-extensions',
    'v3',
    '-notext',
    '-out',
    f('expired.crt'),
  ]);
  const stillValid = await exec(openssl, ['x509', '-checkend', '0', '-noout', '-in', f('expired.crt')]);
  if (stillValid.code === 0) throw new FatalError('certs: the "expired" certificate is not expired');

  // DER form of the CA, and PKCS#12 key stores made by OpenSSL (with the CA in the chain).
  await Promise.all([
    ssl('x509 ca der', ['x509', '-in', f('ca.pem'), '-outform', 'DER', '-out', f('ca.der')]),
    ssl('pkcs12 client', [
      'pkcs12',
      '-export',
      '-in',
      f('client.crt'),
      '-inkey',
      f('client.key'),
      '-certfile',
      f('ca.pem'),
      '-name',
      'client',
      '-passout',
      `pass:${pw.client}`,
      '-out',
      f('client.p12'),
    ]),
    ssl('pkcs12 server', [
      'pkcs12',
      '-export',
      '-in',
      f('server_ip.crt'),
      '-inkey',
      f('server_ip.key'),
      '-certfile',
      f('ca.pem'),
      '-name',
      'server',
      '-passout',
      `pass:${pw.serverKeystore}`,
      '-out',
      f('server_keystore.p12'),
    ]),
  ]);
  // JKS key stores (one JVM each, in parallel).
  const jks = (from, fromPw, to, toPw) => [
    '-importkeystore',
    '-noprompt',
    '-srckeystore',
    f(from),
    '-srcstoretype',
    'PKCS12',
    '-srcstorepass',
    fromPw,
    '-destkeystore',
    f(to),
    '-deststoretype',
    'JKS',
    '-deststorepass',
    toPw,
    '-destkeypass',
    toPw,
  ];
  await Promise.all([
    caStores,
    kt('client.jks', jks('client.p12', pw.client, 'client.jks', pw.client)),
    kt('server_keystore.jks', jks('server_keystore.p12', pw.serverKeystore, 'server_keystore.jks', pw.serverKeystore)),
  ]);
  for (const name of fs.readdirSync(dir)) {
    if (/\.(csr|ext|cnf|txt|attr|old)$|^ca-serial|^[0-9A-F]+\.pem$/.test(name)) fs.rmSync(f(name), { force: true });
  }
  const pair = (name) => ({ cert: f(`${name}.crt`), key: f(`${name}.key`) });
  return {
    dir,
    ca: { pem: f('ca.pem'), der: f('ca.der'), p12: f('ca.p12'), p12_password: pw.ca, jks: f('ca.jks'), jks_password: pw.ca },
    other_ca: { pem: f('other_ca.pem') },
    server: { ...pair('server'), names: ['localhost'] },
    server_ip: { ...pair('server_ip'), names: ['localhost', '127.0.0.1'] },
    wrong_name: { ...pair('wrong_name'), names: ['wrong.example'] },
    expired: pair('expired'),
    self_signed: pair('self_signed'),
    client: { ...pair('client'), p12: f('client.p12'), p12_password: pw.client, jks: f('client.jks'), jks_password: pw.client },
    server_keystore: { jks: f('server_keystore.jks'), p12: f('server_keystore.p12'), password: pw.serverKeystore },
  };
}
