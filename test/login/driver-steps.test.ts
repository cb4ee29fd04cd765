/** The steps both login drivers share (core/backends/lingma/login/driver-steps.ts). */
import { describe, expect, it } from 'vitest';
import { asPageFacts, asRecipeResult, pageJudge, preflight, RECIPE_REASONS, UNKNOWN_STEP_LOOKS } from '../../src-main/core/backends/lingma/login/driver-steps';
import { LOGIN_REASONS, type PageFacts } from '../../src-main/core/backends/lingma/login/recipe';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import { createSignInPolicy } from '../../src-main/core/sign-in-policy';
import type { LoginRequest } from '../../src-main/core/ports';

const facts = (f: Partial<PageFacts>): PageFacts => ({ captcha: false, form: false, ...f });

function request(over: Partial<LoginRequest> = {}): LoginRequest {
  return {
    instance: 'a',
    loginUrl: 'https://lingma.alibabacloud.com/lingma/login?nonce=n',
    callbackUrl: 'http://127.0.0.1:1/auth/callback',
    credentials: { username: 'u', password: 'p' },
    recipe: DEFAULT_LOGIN_RECIPE,
    timeoutMs: 1000,
    isLoggedIn: async () => false,
    signal: new AbortController().signal,
    policy: createSignInPolicy({ callbackUrl: 'http://127.0.0.1:1/auth/callback' }),
    ...over,
  };
}

describe('login driver steps', () => {
  it('preflight: a broken recipe fails, a cancelled request is cancelled, a login URL off the policy goes to a person', () => {
    expect(preflight(request())).toBeUndefined();
    expect(preflight(request({ recipe: { ...DEFAULT_LOGIN_RECIPE, username: ' ' } }))).toMatchObject({ kind: 'failed', reason: expect.stringMatching(/recipe\.username/) });
    const ac = new AbortController();
    ac.abort();
    expect(preflight(request({ signal: ac.signal }))).toEqual({ kind: 'failed', reason: LOGIN_REASONS.cancelled });
    expect(preflight(request({ loginUrl: 'https://evil.example/login' }))).toEqual({ kind: 'manual', reason: LOGIN_REASONS.loginUrlOffPolicy, url: 'https://evil.example/login' });
  });

  it('reads script answers defensively', () => {
    expect(asRecipeResult({ status: 'captcha' })).toEqual({ status: 'captcha' });
    expect(asRecipeResult(undefined)).toEqual({ status: 'error', message: 'no answer from the sign-in frame' });
    expect(asRecipeResult({ status: 'bogus' }).status).toBe('error');
    expect(RECIPE_REASONS.form_not_found).toBe(LOGIN_REASONS.unknownPage);
    expect(asPageFacts({ captcha: false, form: true })).toEqual({ captcha: false, form: true });
    expect(asPageFacts(null)).toBeUndefined();
    expect(asPageFacts({ captcha: 'no' })).toBeUndefined();
  });

  it('before the submit only a human check counts', () => {
    const judge = pageJudge();
    expect(judge([facts({ error: 'wrong password' })], false)).toBe('wait');
    for (let i = 0; i < UNKNOWN_STEP_LOOKS + 2; i++) expect(judge([facts({})], false)).toBe('wait');
    expect(judge([facts({}), facts({ captcha: true })], false)).toBe('captcha');
  });

  it('after the submit: a check, then a refusal, then a form; no form for enough looks is an unknown step', () => {
    const judge = pageJudge();
    expect(judge([], true)).toBe('wait');
    expect(judge([facts({ error: 'x', captcha: true })], true)).toBe('captcha');
    expect(judge([facts({ error: 'x', form: true })], true)).toBe('rejected');
    expect(judge([facts({ form: true })], true)).toBe('form');
    for (let i = 1; i < UNKNOWN_STEP_LOOKS; i++) expect(judge([facts({})], true)).toBe('wait');
    // Navigating (nothing seen) does not count as a look.
    expect(judge([], true)).toBe('wait');
    expect(judge([facts({})], true)).toBe('unknown-step');
    // A form seen again starts the count over.
    expect(judge([facts({ form: true })], true)).toBe('form');
    expect(judge([facts({})], true)).toBe('wait');
  });
});
