// Owns: sealing item secrets with AES-256-GCM before they reach Redis, and opening them in a worker.
// Must not: log, cache or return plaintext anywhere but to the caller that opens it.

import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('conncheck-key-id').update(key).digest('hex').slice(0, 12);
}

/** Parses CONNCHECK_SECRET_KEY: base64 of exactly 32 bytes. */
export function parseSecretKey(base64: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32 || key.toString('base64') !== base64.trim().replace(/\s+/g, '')) {
    throw new SecretBoxError('must be base64 of exactly 32 random bytes (e.g. `openssl rand -base64 32`)');
  }
  return key;
}

/**
 * Seals JSON-able values with AES-256-GCM. The additional data binds a sealed value to its place (check id and
 * item index), so a blob copied to another item does not open. The key id (a hash prefix of the key, not the key)
 * travels with the blob so a worker with another key says so instead of failing obscurely.
 */
export class SecretBox {
  readonly keyId: string;
  /** Earlier keys by id: they still open what they sealed while a key is rotated, and never seal. */
  private readonly previous = new Map<string, Buffer>();

  constructor(
    private readonly key: Buffer,
    previousKeys: Buffer[] = [],
  ) {
    if (key.length !== 32) throw new SecretBoxError('key must be 32 bytes');
    this.keyId = keyIdOf(key);
    for (const old of previousKeys) if (keyIdOf(old) !== this.keyId) this.previous.set(keyIdOf(old), old);
  }

  /** Whether `sealed` was sealed with an earlier key (to be sealed again with the current one). */
  sealedWithPreviousKey(sealed: string): boolean {
    return this.previous.has(sealed.split('.')[1] ?? '');
  }

  /**
   * A keyed digest (HMAC-SHA256 under a key derived from this one): lets Redis hold a value's fingerprint — an
   * Idempotency-Key, a request body with its passwords — that nobody without the key can test guesses against.
   */
  digest(value: string): string {
    this.digestKey ??= createHash('sha256').update('conncheck-digest-key').update(this.key).digest();
    return createHmac('sha256', this.digestKey).update(value).digest('base64url');
  }

  private digestKey: Buffer | undefined;

  static random(): SecretBox {
    return new SecretBox(randomBytes(32));
  }

  seal(value: unknown, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.keyId, iv.toString('base64'), tag.toString('base64'), body.toString('base64')].join('.');
  }

  open<T>(sealed: string, aad: string): T {
    const [version, keyId, iv, tag, body] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || body === undefined) throw new SecretBoxError('sealed value is malformed');
    const key = keyId === this.keyId ? this.key : this.previous.get(keyId ?? '');
    if (!key) {
      const known = [this.keyId, ...this.previous.keys()].join(', ');
      throw new SecretBoxError(`sealed with key ${keyId}, this process has key${this.previous.size > 0 ? 's' : ''} ${known}`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      const text = Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
      return JSON.parse(text) as T;
    } catch {
      throw new SecretBoxError('sealed value failed authentication');
    }
  }
}
