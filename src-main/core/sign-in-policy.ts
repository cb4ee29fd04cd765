/**
 * SECURITY: the one place that decides where a sign-in may go and where credentials may be typed
 * (lingma-protocol.md §5). Both login drivers (headless `cli/playwright-login.ts`, desktop
 * `electron/login-window.ts`) and the login coordinator ask a `SignInPolicy` built here; nothing
 * else compares origins for the sign-in.
 *
 * - Credentials go only into a document whose origin is https and one of the official sign-in
 *   origins (`*.alibabacloud.com`, `*.aliyun.com`, `*.alibaba.com`), the account's own https
 *   dedicated domain, or an origin the user listed in `lingma.login.allowedOrigins`.
 * - The sign-in's top window may go only to those origins and the instance's own
 *   loopback `/auth/callback`. Anything else stops the automation and hands the login to a person.
 * - The login URL the runtime returns is held to the same rule: it is not trusted because it came
 *   from the runtime (an endpoint can be switched to any server).
 *
 * Origins are compared on parsed parts (scheme, host, port), never by string prefix, so
 * `https://lingma.alibabacloud.com.evil.example` and `https://evilalibabacloud.com` do not match.
 * Pure: no I/O, no electron.
 */
import type { SignInPolicy } from './ports';

export type { SignInNavigation, SignInPolicy } from './ports';

/** Registrable domains whose https hosts (the domain and every subdomain) are official sign-in origins. */
export const OFFICIAL_SIGNIN_DOMAINS: readonly string[] = ['alibabacloud.com', 'aliyun.com', 'alibaba.com'];

/** The config key the extra origins come from (named in every error about them). */
export const ALLOWED_ORIGINS_KEY = 'lingma.login.allowedOrigins';

/** One parsed `lingma.login.allowedOrigins` entry. `port` undefined = the scheme's default port, `*` = any. */
export interface OriginPattern {
  scheme: 'http' | 'https';
  host: string;
  port?: string;
}

const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443' };

// A host name (labels of letters, digits, `-`), an IPv4 address, or a bracketed IPv6 address.
const HOST = String.raw`(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)`;
const ORIGIN_RE = new RegExp(String.raw`^(https?)://${HOST}(?::(\d{1,5}|\*))?$`, 'i');

/**
 * Parses an allowed-origin entry (`scheme://host[:port]`, port `*` = any port). Throws an Error
 * whose message says what is wrong (without the key: callers name it).
 */
export function parseOriginPattern(entry: unknown): OriginPattern {
  if (typeof entry !== 'string' || entry.trim() === '') throw new Error('expected an origin such as https://login.example.com or http://127.0.0.1:*');
  const s = entry.trim();
  const m = ORIGIN_RE.exec(s);
  if (!m) {
    const why = /\*/.test(s.replace(/:\*$/, ''))
      ? 'only the port may be a wildcard (`:*`); hosts are named in full'
      : /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/./i.test(s) || /^[a-z][a-z0-9+.-]*:\/\/[^/]+\/$/i.test(s)
        ? 'an origin has no path (not even a trailing /)'
        : /^https?:\/\//i.test(s)
          ? 'not a valid host or port'
          : 'the scheme must be http or https';
    throw new Error(`expected an origin scheme://host[:port] (${why}), got ${JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s)}`);
  }
  const port = m[3];
  if (port !== undefined && port !== '*' && (Number(port) < 1 || Number(port) > 65535)) {
    throw new Error(`expected a port from 1 to 65535 or *, got ${JSON.stringify(s)}`);
  }
  return { scheme: m[1].toLowerCase() as 'http' | 'https', host: m[2].toLowerCase(), port };
}

/** Config-load check: one issue per malformed entry, each naming the key (`lingma.login.allowedOrigins[1]: ...`). */
export function allowedOriginsIssues(entries: readonly unknown[], key = ALLOWED_ORIGINS_KEY): string[] {
  const out: string[] = [];
  entries.forEach((e, i) => {
    try {
      parseOriginPattern(e);
    } catch (err) {
      out.push(`${key}[${i}]: ${(err as Error).message}`);
    }
  });
  return out;
}

/** A URL with `username:password@` or that does not parse is never allowed. */
function parse(raw: unknown): URL | undefined {
  if (typeof raw !== 'string' || raw.length > 16384) return undefined;
  try {
    const u = new URL(raw);
    return u.username || u.password ? undefined : u;
  } catch {
    return undefined;
  }
}

const portOf = (u: URL): string => u.port || DEFAULT_PORT[u.protocol] || '';

export function patternMatches(p: OriginPattern, u: URL): boolean {
  if (u.protocol !== `${p.scheme}:`) return false;
  if (u.hostname.toLowerCase() !== p.host) return false;
  if (p.port === '*') return true;
  return portOf(u) === (p.port ?? DEFAULT_PORT[u.protocol]);
}

function isOfficial(u: URL): boolean {
  if (u.protocol !== 'https:' || portOf(u) !== '443') return false;
  const h = u.hostname.toLowerCase();
  return OFFICIAL_SIGNIN_DOMAINS.some((d) => h === d || h.endsWith(`.${d}`));
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The account's dedicated domain as an origin pattern, or an Error for one that is not an https
 * origin (such an account is refused at config load and by the admin API; this guards the rest).
 */
export function dedicatedDomainPattern(domain: string | undefined): OriginPattern | Error | undefined {
  if (domain === undefined || domain === '') return undefined;
  const u = parse(domain);
  if (!u || u.protocol !== 'https:') return new Error('dedicatedDomain must be an https URL');
  return { scheme: 'https', host: u.hostname.toLowerCase(), port: u.port || undefined };
}

/** Is `value` an acceptable dedicated domain (an https URL without credentials)? */
export function isHttpsDedicatedDomain(value: string): boolean {
  const p = dedicatedDomainPattern(value);
  return !!p && !(p instanceof Error);
}

export interface SignInPolicyOptions {
  /** `lingma.login.allowedOrigins`; malformed entries throw (they are refused at config load). */
  allowedOrigins?: readonly string[];
  /** The account's dedicated domain (https only; anything else is ignored and reported by `problems`). */
  dedicatedDomain?: string;
  /** The instance's `http://127.0.0.1:<httpPort>/auth/callback`. */
  callbackUrl: string;
}

/** The origin of a URL for logs and reasons (never the path or query: login URLs carry nonces). */
export function originOf(raw: string): string {
  try {
    const u = new URL(raw);
    return u.origin === 'null' ? u.protocol : u.origin;
  } catch {
    return '(invalid url)';
  }
}

export function createSignInPolicy(opts: SignInPolicyOptions): SignInPolicy {
  const extra = (opts.allowedOrigins ?? []).map((e, i) => {
    try {
      return parseOriginPattern(e);
    } catch (err) {
      throw new Error(`${ALLOWED_ORIGINS_KEY}[${i}]: ${(err as Error).message}`);
    }
  });
  const dd = dedicatedDomainPattern(opts.dedicatedDomain);
  const dedicated = dd instanceof Error ? undefined : dd;
  const cb = parse(opts.callbackUrl);

  const allowed = (u: URL): boolean => isOfficial(u) || (!!dedicated && patternMatches(dedicated, u)) || extra.some((p) => patternMatches(p, u));

  return {
    credentialsAllowed(raw) {
      const u = parse(raw);
      return !!u && allowed(u);
    },
    navigation(raw) {
      const u = parse(raw);
      if (!u) return 'deny';
      if (cb && u.protocol === 'http:' && LOOPBACK.has(u.hostname) && u.host === cb.host && u.pathname === cb.pathname) return 'callback';
      return allowed(u) ? 'allow' : 'deny';
    },
    subframeAllowed(raw) {
      if (raw === 'about:blank' || raw === 'about:srcdoc') return true;
      const u = parse(raw);
      return !!u && (u.protocol === 'https:' || allowed(u));
    },
    refusal(raw) {
      return (
        `The sign-in went to ${originOf(raw)}, which is not an official sign-in origin ` +
        `(https *.alibabacloud.com, *.aliyun.com, *.alibaba.com, the account's dedicated domain) or listed in ${ALLOWED_ORIGINS_KEY}; ` +
        'the password was not typed there. Finish the login by hand if you trust that page.'
      );
    },
  };
}
