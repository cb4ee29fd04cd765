/**
 * Keys derived from the cluster secret (`cluster.secret`, RELAY_CLUSTER_SECRET), one per purpose:
 * scrypt stretches the secret once, HKDF-SHA256 splits it into the key that encrypts stored
 * passwords (AES-256-GCM, the field name bound in as associated data so a value cannot be moved
 * to another field) and the key that signs node-to-node requests (HMAC-SHA256).
 *
 * SECURITY: the secret and the derived keys never leave this module's closures; a value that
 * does not decrypt (another secret, tampering) is an error naming the field only.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const SALT = 'lingma-relay/cluster/v1';
const VERSION = 'v1';

export interface ClusterCrypto {
  encrypt(field: string, plain: string): string;
  /** Throws when the value was sealed with another secret or altered. */
  decrypt(field: string, sealed: string): string;
  /** Hex HMAC-SHA256 of `text` under the node-auth key. */
  sign(text: string): string;
  /** Constant-time check of a signature made by `sign`. */
  verify(text: string, signature: string): boolean;
}

export function clusterCrypto(secret: string): ClusterCrypto {
  if (typeof secret !== 'string' || secret.length < 16) throw new Error('cluster.secret must be at least 16 characters');
  const root = scryptSync(secret, SALT, 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
  const derive = (purpose: string): Buffer => Buffer.from(hkdfSync('sha256', root, SALT, purpose, 32));
  const encKey = derive('password-encryption');
  const macKey = derive('node-auth');
  root.fill(0);
  return {
    encrypt(field, plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', encKey, iv);
      c.setAAD(Buffer.from(field, 'utf8'));
      const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return `${VERSION}:${Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64')}`;
    },
    decrypt(field, sealed) {
      const [v, b64] = String(sealed).split(':', 2);
      const raw = v === VERSION && b64 ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
      if (raw.length < 28) throw new Error(`The stored value of ${field} is not a sealed value`);
      try {
        const d = createDecipheriv('aes-256-gcm', encKey, raw.subarray(0, 12));
        d.setAAD(Buffer.from(field, 'utf8'));
        d.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
      } catch {
        throw new Error(`The stored value of ${field} does not decrypt: was it written with another cluster.secret?`);
      }
    },
    sign(text) {
      return createHmac('sha256', macKey).update(text, 'utf8').digest('hex');
    },
    verify(text, signature) {
      if (typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return false;
      return timingSafeEqual(createHmac('sha256', macKey).update(text, 'utf8').digest(), Buffer.from(signature, 'hex'));
    },
  };
}
