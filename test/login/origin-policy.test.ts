/** SECURITY: the one sign-in origin policy, its config key, and the https-only dedicated domain. */
import { describe, expect, it } from 'vitest';
import { parseAccount } from '../../src-main/core/admin/validate';
import { RelayError } from '../../src-main/core/errors';
import {
  allowedOriginsIssues,
  createSignInPolicy,
  isHttpsDedicatedDomain,
  parseOriginPattern,
} from '../../src-main/core/sign-in-policy';
import { ConfigError, validateConfig } from '../../src-main/core/config/validate';

const CALLBACK = 'http://127.0.0.1:37510/auth/callback';
const official = createSignInPolicy({ callbackUrl: CALLBACK });

describe('official sign-in origins', () => {
  it.each([
    'https://lingma.alibabacloud.com/lingma/login?nonce=1',
    'https://devops.aliyun.com/lingma/login',
    'https://signin.alibabacloud.com/login.htm',
    'https://passport.alibabacloud.com/mini_login.htm',
    'https://account.aliyun.com/login/login.htm',
    'https://login.alibaba.com/',
    'https://a.b.alibaba.com/x',
    'https://aliyun.com/',
    'https://lingma.alibabacloud.com:443/x',
  ])('allows %s for navigation and credentials', (u) => {
    expect(official.navigation(u)).toBe('allow');
    expect(official.credentialsAllowed(u)).toBe(true);
  });

  it('recognises the callback (with query) and nothing like it', () => {
    expect(official.navigation('http://127.0.0.1:37510/auth/callback?state=a&auth=b&token=c')).toBe('callback');
    expect(official.credentialsAllowed('http://127.0.0.1:37510/auth/callback')).toBe(false);
    expect(official.navigation('http://127.0.0.1:37511/auth/callback')).toBe('deny');
    expect(official.navigation('http://127.0.0.1:37510/other')).toBe('deny');
    expect(official.navigation('https://127.0.0.1:37510/auth/callback')).toBe('deny');
    expect(official.navigation('http://evil.com/auth/callback')).toBe('deny');
  });

  it.each([
    'https://lingma.alibabacloud.com.evil.com/',
    'https://evilalibabacloud.com/',
    'https://alibabacloud.com.evil.com/',
    'https://x.aliyun.com.cn/',
    'http://lingma.alibabacloud.com/',
    'https://lingma.alibabacloud.com:8443/',
    'https://user:pw@lingma.alibabacloud.com/',
    'javascript:alert(1)',
    'file:///etc/passwd',
    'data:text/html,x',
    'about:blank',
    '',
    'not a url',
  ])('denies %s', (u) => {
    expect(official.navigation(u)).toBe('deny');
    expect(official.credentialsAllowed(u)).toBe(false);
  });

  it('sub-frames: https and blank frames, plus allowed origins', () => {
    expect(official.subframeAllowed('https://g.alicdn.com/captcha')).toBe(true);
    expect(official.subframeAllowed('about:blank')).toBe(true);
    expect(official.subframeAllowed('javascript:alert(1)')).toBe(false);
    expect(official.subframeAllowed('http://example.com/')).toBe(false);
    expect(official.subframeAllowed('file:///x')).toBe(false);
    expect(createSignInPolicy({ callbackUrl: CALLBACK, allowedOrigins: ['http://127.0.0.1:*'] }).subframeAllowed('http://127.0.0.1:9/x')).toBe(true);
  });

  it('a refusal names the origin only, never the path or query', () => {
    const r = official.refusal('http://collector.example:8080/signin?state=secret-state&nonce=n');
    expect(r).toContain('http://collector.example:8080');
    expect(r).not.toMatch(/secret-state|nonce|signin\?/);
    expect(r).toContain('lingma.login.allowedOrigins');
  });
});

describe('dedicated domain', () => {
  it('its https origin is a sign-in origin for that account only', () => {
    const p = createSignInPolicy({ callbackUrl: CALLBACK, dedicatedDomain: 'https://lingma.corp.example/some/path' });
    expect(p.credentialsAllowed('https://lingma.corp.example/login')).toBe(true);
    expect(p.credentialsAllowed('https://lingma.corp.example:8443/login')).toBe(false);
    expect(p.credentialsAllowed('https://other.corp.example/login')).toBe(false);
    expect(official.credentialsAllowed('https://lingma.corp.example/login')).toBe(false);
  });

  it('plain http grants nothing', () => {
    const p = createSignInPolicy({ callbackUrl: CALLBACK, dedicatedDomain: 'http://lingma.corp.example' });
    expect(p.credentialsAllowed('http://lingma.corp.example/login')).toBe(false);
    expect(p.navigation('http://lingma.corp.example/login')).toBe('deny');
    expect(isHttpsDedicatedDomain('http://lingma.corp.example')).toBe(false);
    expect(isHttpsDedicatedDomain('https://user:pw@lingma.corp.example')).toBe(false);
    expect(isHttpsDedicatedDomain('https://lingma.corp.example')).toBe(true);
  });

  it('config refuses a non-https dedicatedDomain naming the key', () => {
    expect(() => validateConfig({ lingma: { accounts: [{ username: 'a', dedicatedDomain: 'http://lingma.corp.example' }] } })).toThrow(
      /lingma\.accounts\[0\]\.dedicatedDomain: expected an https URL/,
    );
    expect(validateConfig({ lingma: { accounts: [{ username: 'a', dedicatedDomain: 'https://lingma.corp.example' }] } }).lingma.accounts[0].dedicatedDomain).toBe(
      'https://lingma.corp.example',
    );
  });

  it('the admin API answers 400 naming the field', () => {
    let err: unknown;
    try {
      parseAccount({ username: 'a', password: 'pw', dedicatedDomain: 'http://collector.example' }, false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RelayError);
    expect((err as RelayError).status).toBe(400);
    expect((err as RelayError).message).toMatch(/dedicatedDomain: must be an https URL/);
    expect(parseAccount({ username: 'a', password: 'pw', dedicatedDomain: 'https://lingma.corp.example' }, false).dedicatedDomain).toBe('https://lingma.corp.example');
  });
});

describe('lingma.login.allowedOrigins', () => {
  it('entries are origins; port * matches any port; no port means the default port', () => {
    const p = createSignInPolicy({ callbackUrl: CALLBACK, allowedOrigins: ['http://127.0.0.1:*', 'https://sso.corp.example', 'http://localhost:8080'] });
    expect(p.credentialsAllowed('http://127.0.0.1:1234/signin')).toBe(true);
    expect(p.credentialsAllowed('http://127.0.0.1/signin')).toBe(true);
    expect(p.credentialsAllowed('https://127.0.0.1:1234/signin')).toBe(false);
    expect(p.credentialsAllowed('http://127.0.0.2:1234/signin')).toBe(false);
    expect(p.credentialsAllowed('https://sso.corp.example/x')).toBe(true);
    expect(p.credentialsAllowed('https://sso.corp.example:444/x')).toBe(false);
    expect(p.credentialsAllowed('https://a.sso.corp.example/x')).toBe(false);
    expect(p.credentialsAllowed('http://localhost:8080/x')).toBe(true);
    expect(p.credentialsAllowed('http://localhost:8081/x')).toBe(false);
  });

  it.each([
    ['https://*.example.com', /only the port may be a wildcard/],
    ['https://example.com/', /no path/],
    ['https://example.com/login', /no path/],
    ['ftp://example.com', /scheme must be http or https/],
    ['example.com', /scheme must be http or https/],
    ['http://127.0.0.1:99999', /port from 1 to 65535/],
    ['http://exa mple.com', /not a valid host or port/],
    ['', /expected an origin/],
  ])('refuses %j', (entry, why) => {
    expect(() => parseOriginPattern(entry)).toThrow(why);
  });

  it('config load refuses malformed entries with an error naming the key', () => {
    expect(allowedOriginsIssues(['http://127.0.0.1:*', 'https://x.example/path'])).toEqual([
      expect.stringMatching(/^lingma\.login\.allowedOrigins\[1\]: expected an origin/),
    ]);
    let err: unknown;
    try {
      validateConfig({ lingma: { login: { allowedOrigins: ['https://ok.example', 'https://*.bad.example'] } } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([expect.stringMatching(/^lingma\.login\.allowedOrigins\[1\]: .*wildcard/)]);
    expect(validateConfig({ lingma: { login: { allowedOrigins: ['http://127.0.0.1:*'] } } }).lingma.login.allowedOrigins).toEqual(['http://127.0.0.1:*']);
  });
});
