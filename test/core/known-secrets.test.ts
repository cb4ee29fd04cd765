/** The secrets the inspector masks include team mode's: the cluster secret and the passwords in the Redis/PostgreSQL URLs. */
import { describe, expect, it } from 'vitest';
import { validateConfig as parseConfig } from '../../src-main/core/config/validate';
import { knownSecrets } from '../../src-main/core/relay/secrets';
import { redactSecrets } from '../../src-main/core/redact';

describe('knownSecrets', () => {
  it('lists the cluster secret and the URL passwords (encoded ones decoded), so captures never hold them', () => {
    const config = parseConfig({
      cluster: { redisUrl: 'redis://:r3dis-pass-xyz@10.0.0.5:6379', postgresUrl: 'postgres://relay:pg%40pass-123@db:5432/relay', secret: 'cluster-secret-0123456789' },
    });
    const secrets = knownSecrets(config, 'admin-token-abcdefgh', undefined);
    expect(secrets).toEqual(expect.arrayContaining(['cluster-secret-0123456789', 'r3dis-pass-xyz', 'pg@pass-123']));
    const masked = redactSecrets('redis said r3dis-pass-xyz; pg said pg@pass-123; node cluster-secret-0123456789', secrets);
    expect(masked).not.toMatch(/r3dis-pass-xyz|pg@pass-123|cluster-secret-0123456789/);
  });

  it('adds nothing for URLs without a password', () => {
    const config = parseConfig({ cluster: { redisUrl: 'redis://10.0.0.5:6379', postgresUrl: 'postgres://db/relay' } });
    expect(knownSecrets(config, 'admin-token-abcdefgh', undefined)).toEqual(['admin-token-abcdefgh']);
  });
});
