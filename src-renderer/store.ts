/**
 * The dashboard's state: the last snapshot, patched by live events. `reduce` is pure (tested
 * directly); the zustand store wraps it with connection status and toasts.
 */
import { create } from 'zustand';
import type {
  AdminAlias, AdminEvent, AdminInstance, AdminLiveRequest, AdminSnapshot, LoginState,
} from '../src-main/core/admin/api-types';
import type { AdminClient } from './api/client';
import type { SocketStatus } from './api/socket';

/** Live requests are keyed by their unique id; `requestId` comes from the client and may repeat. */
export const liveKey = (r: AdminLiveRequest): string => r.id;

export const MAX_LOGS = 2000;
export const MAX_COUNTERS = 120;
export const MAX_FINISHED = 25;

export interface LiveData {
  snap?: AdminSnapshot;
  /** Recently finished requests, newest first (the Live screen shows them fading out). */
  finished: AdminLiveRequest[];
  /** Set by a `config` event: the app refetches `/admin/state`. */
  stale: boolean;
}

function retarget(aliases: AdminAlias[], instances: AdminInstance[]): AdminAlias[] {
  return aliases.map((a) => ({
    ...a,
    targets: a.targets.map((t) => {
      const mine = instances.filter((i) => i.provider === t.provider);
      if (!mine.length) return t;
      const ready = mine.filter((i) => i.availability?.serving === true).length;
      return { ...t, ready, total: mine.length, status: ready === mine.length ? 'ok' : ready > 0 ? 'degraded' : 'down' };
    }),
  }));
}

function withInstances(snap: AdminSnapshot, instances: AdminInstance[]): AdminSnapshot {
  return { ...snap, instances, aliases: retarget(snap.aliases, instances) };
}

/** The finished requests the dashboard knows, with a snapshot's (after a reload), newest first, bounded. */
export function mergeFinished(mine: AdminLiveRequest[], theirs: AdminLiveRequest[]): AdminLiveRequest[] {
  const seen = new Set(mine.map(liveKey));
  return [...mine, ...theirs.filter((r) => !seen.has(liveKey(r)))]
    .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
    .slice(0, MAX_FINISHED);
}

export function reduce(data: LiveData, ev: AdminEvent): LiveData {
  if (ev.type === 'snapshot') return { snap: ev.snapshot, finished: mergeFinished(data.finished, ev.snapshot.finished ?? []), stale: false };
  const snap = data.snap;
  if (!snap) return data;
  switch (ev.type) {
    case 'instance': {
      const i = snap.instances.findIndex((x) => x.name === ev.instance.name);
      const next = [...snap.instances];
      if (i >= 0) next[i] = { ...ev.instance, health: ev.instance.health ?? snap.instances[i].health };
      else next.push(ev.instance);
      return { ...data, snap: withInstances(snap, next) };
    }
    case 'health': {
      const next = snap.instances.map((x) => (x.name === ev.health.instance ? { ...x, health: ev.health } : x));
      return { ...data, snap: withInstances(snap, next) };
    }
    case 'log': {
      const logs = snap.logs.length >= MAX_LOGS ? [...snap.logs.slice(snap.logs.length - MAX_LOGS + 1), ev.line] : [...snap.logs, ev.line];
      return { ...data, snap: { ...snap, logs } };
    }
    case 'request': {
      const r = ev.request;
      const others = snap.live.filter((x) => liveKey(x) !== liveKey(r));
      if (ev.phase === 'end') {
        const finished = [{ ...r, finishedAt: r.finishedAt ?? Date.now() }, ...data.finished.filter((x) => liveKey(x) !== liveKey(r))].slice(0, MAX_FINISHED);
        return { ...data, finished, snap: { ...snap, live: others } };
      }
      return { ...data, snap: { ...snap, live: [...others, r].sort((a, b) => a.startedAt - b.startedAt) } };
    }
    case 'aliases':
      return {
        ...data,
        snap: { ...snap, aliases: retarget(ev.aliases, snap.instances), aliasesReload: ev.outcome ?? snap.aliasesReload },
      };
    case 'config':
      return { ...data, stale: true };
    case 'tick': {
      const counters = [...snap.counters, ev.counters].slice(-MAX_COUNTERS);
      const per = ev.inFlight;
      const instances = per ? snap.instances.map((i) => (per[i.name] !== undefined && per[i.name] !== i.inFlight ? { ...i, inFlight: per[i.name] } : i)) : snap.instances;
      return {
        ...data,
        snap: {
          ...snap,
          counters,
          instances,
          sessionCache: ev.sessionCache ? { ...snap.sessionCache, ...ev.sessionCache } : snap.sessionCache,
          admission: { ...snap.admission, inFlight: ev.counters.inFlight, queued: ev.counters.queued },
        },
      };
    }
    default:
      return data;
  }
}

export interface Toast {
  id: number;
  kind: 'ok' | 'error' | 'info';
  text: string;
}

export type AuthState = 'checking' | 'needed' | 'ok';

export interface DashStore extends LiveData {
  client?: AdminClient;
  auth: AuthState;
  authError?: string;
  socket: SocketStatus;
  toasts: Toast[];
  setClient(c: AdminClient | undefined): void;
  setAuth(a: AuthState, error?: string): void;
  setSocket(s: SocketStatus): void;
  /** A snapshot, then `later`: the events that came while it was being fetched (`refreshSnapshot`). */
  setSnapshot(s: AdminSnapshot, later?: AdminEvent[]): void;
  apply(ev: AdminEvent): void;
  toast(kind: Toast['kind'], text: string): void;
  dismiss(id: number): void;
}

let toastId = 0;

/** The snapshots being fetched, each with the events that came meanwhile (`refreshSnapshot`). */
const fetching = new Set<AdminEvent[]>();
/**
 * The events socket's own snapshot: the server sends it once built, and relays events from the
 * moment the socket joined, so events can arrive first and the snapshot can be older than them.
 * From the socket's `open` to its snapshot, events are kept the same way.
 */
let socketLater: AdminEvent[] | undefined;

/**
 * Takes a fresh snapshot (`/admin/state`). The server builds it some time before its answer
 * lands, and events keep coming over the socket meanwhile: an account that signed in (or an
 * instance that became ready) while the answer was on its way would be set back by it, and no
 * later event would correct the screen. So the instance and health events that came during the
 * fetch are laid over the snapshot again (each carries the whole instance, so the last one is
 * the newest), and a `config` event that came meanwhile means another snapshot.
 */
export async function refreshSnapshot(client: AdminClient): Promise<void> {
  for (;;) {
    const later: AdminEvent[] = [];
    fetching.add(later);
    let s: AdminSnapshot;
    try {
      s = await client.state();
    } finally {
      fetching.delete(later);
    }
    useDash.getState().setSnapshot(s, later.filter((e) => e.type !== 'config'));
    if (!later.some((e) => e.type === 'config')) return;
  }
}

export const useDash = create<DashStore>((set) => ({
  finished: [],
  stale: false,
  auth: 'checking',
  socket: 'closed',
  toasts: [],
  setClient: (client) => set({ client }),
  setAuth: (auth, authError) => set({ auth, authError }),
  setSocket: (socket) => {
    if (socketLater) fetching.delete(socketLater);
    socketLater = socket === 'open' ? [] : undefined;
    if (socketLater) fetching.add(socketLater);
    set({ socket });
  },
  setSnapshot: (s, later = []) => {
    set((st) => later.reduce(reduce, reduce(st, { type: 'snapshot', snapshot: s })));
    for (const i of useDash.getState().snap?.instances ?? []) settleSignIn(i);
  },
  apply: (ev) => {
    if (ev.type === 'snapshot' && socketLater) {
      const later = socketLater;
      fetching.delete(later);
      socketLater = undefined;
      useDash.getState().setSnapshot(ev.snapshot, later.filter((e) => e.type !== 'config'));
      const client = useDash.getState().client;
      if (client && later.some((e) => e.type === 'config')) void refreshSnapshot(client).catch(() => undefined);
      return;
    }
    if (ev.type === 'instance' || ev.type === 'health' || ev.type === 'config') for (const later of fetching) later.push(ev);
    set((st) => reduce(st, ev));
    if (ev.type === 'instance') settleSignIn(ev.instance);
  },
  toast: (kind, text) => {
    const id = ++toastId;
    set((st) => ({ toasts: [...st.toasts.slice(-3), { id, kind, text }] }));
    setTimeout(() => set((st) => ({ toasts: st.toasts.filter((t) => t.id !== id) })), kind === 'error' ? 8000 : 4000);
  },
  dismiss: (id) => set((st) => ({ toasts: st.toasts.filter((t) => t.id !== id) })),
}));

/** Run an admin action with a toast for its outcome. Returns true on success. */
export async function act(label: string, fn: (c: AdminClient) => Promise<unknown>, okText?: string): Promise<boolean> {
  const { client, toast } = useDash.getState();
  if (!client) return false;
  try {
    await fn(client);
    if (okText) toast('ok', okText);
    return true;
  } catch (e) {
    toast('error', `${label}: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

/**
 * Sign-ins started from the dashboard, until they end: every outcome ends in a toast (signed in,
 * waiting for a person, password refused, failed). `saw`: the sign-in was seen under way, so a
 * later "signed out" means it stopped. `from`: the account's sign-in state when it was asked for;
 * until the sign-in is seen under way, an event still carrying that state is older than the
 * sign-in (the request returns before it starts, and an account edit's event may come after it)
 * and settles nothing: a refused password fixed and signed in again must not end in "refused".
 */
const pendingSignIns = new Map<string, { saw: boolean; from?: string }>();

function startSignIn(name: string): void {
  const login = useDash.getState().snap?.instances.find((i) => i.name === name)?.login;
  pendingSignIns.set(name, { saw: false, from: login && JSON.stringify(login) });
}

/** What a sign-in's end says, or undefined while it is still under way. */
export function signInOutcome(name: string, login: LoginState, saw: boolean): { kind: Toast['kind']; text: string } | undefined {
  switch (login.state) {
    case 'logged_in': return { kind: 'ok', text: `${name} is signed in${login.user && login.user !== name ? ` as ${login.user}` : ''}` };
    case 'needs_manual': return { kind: 'info', text: `${name}: finish the sign-in by hand (${login.reason})` };
    case 'failed': return login.rejected
      ? { kind: 'error', text: `${name}: the password was refused. Use Fix password, then sign in again.` }
      : { kind: 'error', text: `${name}: the sign-in failed (${login.reason})` };
    case 'not_applicable': return { kind: 'info', text: `${name} needs no sign-in` };
    case 'logged_out': return saw ? { kind: 'error', text: `${name}: the sign-in stopped before it finished` } : undefined;
    default: return undefined;
  }
}

function settleSignIn(i: AdminInstance): void {
  const p = pendingSignIns.get(i.name);
  if (!p) return;
  if (i.login.state === 'logging_in') {
    p.saw = true;
    return;
  }
  if (!p.saw && p.from !== undefined && JSON.stringify(i.login) === p.from) return;
  const out = signInOutcome(i.name, i.login, p.saw);
  if (!out) return;
  pendingSignIns.delete(i.name);
  useDash.getState().toast(out.kind, out.text);
}

/** Sign one account in; its outcome ends in a toast. */
export async function signIn(name: string): Promise<boolean> {
  startSignIn(name);
  const ok = await act(`Sign in ${name}`, (c) => c.login(name));
  if (!ok) pendingSignIns.delete(name);
  else useDash.getState().toast('info', `Signing in ${name}…`);
  return ok;
}

/** Accounts "Sign in all" would sign in: those that can and are not signed in or signing in. */
export function toSignIn(snap: AdminSnapshot): AdminInstance[] {
  return snap.instances.filter((i) => i.actions.login && i.login.state !== 'logged_in' && i.login.state !== 'logging_in' && i.login.state !== 'not_applicable');
}

/** "Sign in all": says so when there is nothing to sign in, instead of spinning. */
export async function signInAll(snap: AdminSnapshot): Promise<boolean> {
  const targets = toSignIn(snap);
  const { toast } = useDash.getState();
  if (!targets.length) {
    const any = snap.instances.some((i) => i.actions.login) || snap.accounts.length > 0;
    toast('info', any ? 'Every account is already signed in: there is nothing to sign in.' : 'There is nothing to sign in: add a Lingma account first.');
    return false;
  }
  for (const i of targets) startSignIn(i.name);
  const ok = await act('Sign in all', (c) => c.loginAll());
  if (!ok) for (const i of targets) pendingSignIns.delete(i.name);
  else toast('info', `Signing in ${targets.map((i) => i.name).join(', ')}…`);
  return ok;
}
