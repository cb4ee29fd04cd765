/** Typed calls to the admin API. Errors carry the server's client-safe message. */
import type {
  AccountInput, AdminAccount, AdminSnapshot, ClientPlanView, ClientRestoreView, ClientsView, CreateKeyInput, CreateKeyResult, DiscoveryView, SettingsPatch, TestInstanceResult, UsageGroup, UsageLatency,
  UsageRecent, UsageSeries, UsageTotals,
} from '../../src-main/core/admin/api-types';
import type { BackendTestResult, Capture, CaptureList, ReplayResult } from '../../src-main/core/inspector/types';
import type { ClusterView } from '../../src-main/core/cluster/view';
import type { AdminEndpoint } from './connection';

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string, readonly param?: string | null, readonly body?: unknown) {
    super(message);
    this.name = 'ApiError';
  }
}

export type Query = Record<string, string | number | undefined>;

function qs(q: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export class AdminClient {
  constructor(readonly endpoint: AdminEndpoint, private readonly fetchImpl: typeof fetch = (...a) => fetch(...a)) {}

  /** One admin call (more typed calls: `api/manage.ts`). */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(`${this.endpoint.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.endpoint.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError(0, 'Cannot reach Lingma Relay. Is it running?');
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (!res.ok) {
      const err = (data as { error?: { message?: string; code?: string; param?: string | null } } | undefined)?.error;
      throw new ApiError(res.status, err?.message ?? `Request failed (${res.status}).`, err?.code, err?.param, data);
    }
    return data as T;
  }

  state() { return this.call<AdminSnapshot>('GET', '/admin/state'); }
  /** Team mode only (404 otherwise). */
  cluster() { return this.call<ClusterView>('GET', '/admin/cluster'); }
  login(name: string) { return this.call<{ ok: true }>('POST', `/admin/instances/${encodeURIComponent(name)}/login`); }
  logout(name: string) { return this.call<{ ok: true }>('POST', `/admin/instances/${encodeURIComponent(name)}/logout`); }
  restart(name: string) { return this.call<{ ok: true }>('POST', `/admin/instances/${encodeURIComponent(name)}/restart`); }
  testInstance(name: string) { return this.call<TestInstanceResult>('POST', `/admin/instances/${encodeURIComponent(name)}/check`); }
  clearCooldown(name: string) { return this.call<{ ok: true }>('POST', `/admin/instances/${encodeURIComponent(name)}/clear-cooldown`); }
  loginAll() { return this.call<{ ok: true }>('POST', '/admin/instances/login-all'); }
  addAccount(a: AccountInput) { return this.call<{ ok: true; accounts: AdminAccount[] }>('POST', '/admin/accounts', a); }
  updateAccount(name: string, a: Partial<AccountInput>) {
    return this.call<{ ok: true; accounts: AdminAccount[] }>('PATCH', `/admin/accounts/${encodeURIComponent(name)}`, a);
  }
  removeAccount(name: string) { return this.call<{ ok: true }>('DELETE', `/admin/accounts/${encodeURIComponent(name)}`); }
  createKey(k: CreateKeyInput) { return this.call<CreateKeyResult>('POST', '/admin/keys', k); }
  revokeKey(id: string) { return this.call<{ ok: true }>('DELETE', `/admin/keys/${encodeURIComponent(id)}`); }
  updateSettings(p: SettingsPatch) { return this.call<{ ok: true }>('PATCH', '/admin/settings', p); }
  clients() { return this.call<ClientsView>('GET', '/admin/clients'); }
  planClient(id: string, model?: string) { return this.call<ClientPlanView>('POST', `/admin/clients/${encodeURIComponent(id)}/plan`, { model }); }
  applyClient(id: string, model?: string) { return this.call<ClientPlanView>('POST', `/admin/clients/${encodeURIComponent(id)}/apply`, { model }); }
  restoreClient(id: string) { return this.call<ClientRestoreView>('POST', `/admin/clients/${encodeURIComponent(id)}/restore`); }
  scanDiscovery() { return this.call<DiscoveryView>('POST', '/admin/discovery/scan', {}); }
  useDiscovered(id: string) { return this.call<{ ok: true; message: string }>('POST', `/admin/discovery/${encodeURIComponent(id)}/use`, {}); }
  // The request inspector (core/admin/inspector-routes.ts).
  requests(q: Query = {}) { return this.call<CaptureList>('GET', `/admin/requests${qs(q)}`); }
  request(id: string) { return this.call<Capture>('GET', `/admin/requests/${encodeURIComponent(id)}`); }
  replay(id: string, change: { model?: string; body?: Record<string, unknown> }) { return this.call<ReplayResult>('POST', `/admin/requests/${encodeURIComponent(id)}/replay`, change); }
  testBackend(kind: 'instances' | 'providers', name: string) { return this.call<BackendTestResult>('POST', `/admin/${kind}/${encodeURIComponent(name)}/test`, {}); }
  usageTotals(q: Query & { group?: UsageGroup }) { return this.call<UsageTotals>('GET', `/admin/usage/totals${qs(q)}`); }
  usageSeries(q: Query & { bucket: 'hour' | 'day'; group?: UsageGroup; tz?: number }) { return this.call<UsageSeries>('GET', `/admin/usage/series${qs(q)}`); }
  usageLatency(q: Query) { return this.call<UsageLatency>('GET', `/admin/usage/latency${qs(q)}`); }
  usageRecent(q: Query) { return this.call<UsageRecent>('GET', `/admin/usage/recent${qs(q)}`); }
  /** CSV export needs the token header, so it is fetched and saved as a blob (no token in URLs). */
  async usageCsv(q: Query): Promise<Blob> {
    const res = await this.fetchImpl(`${this.endpoint.url}/admin/usage/export.csv${qs(q)}`, {
      headers: { authorization: `Bearer ${this.endpoint.token}` },
      cache: 'no-store',
    });
    if (!res.ok) {
      let msg = `Export failed (${res.status}).`;
      try {
        msg = ((await res.json()) as { error: { message: string } }).error.message;
      } catch {
        // keep the generic message
      }
      throw new ApiError(res.status, msg);
    }
    return res.blob();
  }
}
