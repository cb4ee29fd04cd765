/**
 * The tray: a pure model (snapshots + the relay's one status per instance + flags → state, icon,
 * tooltip, menu) and a thin binder that applies it to a real `Tray`, refreshing on hub `instance`
 * events (throttled). Each instance's status is the availability answer's `display`
 * (core/pool/status.ts), the same value `/healthz` and the dashboard show.
 */
import type { Menu, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import type { InstanceSnapshot } from '../core/backends/types';
import { availabilityOf } from '../core/pool/availability';
import type { AvailabilityView, StatusDisplay } from '../core/state-types';

/** `login` = some account needs a person (a captcha, a refused password, not signed in). */
export type TrayState = 'ready' | 'degraded' | 'down' | 'login' | 'credits' | 'paused';

export type TrayAction =
  | 'open-dashboard'
  | 'copy-endpoint'
  | 'copy-api-key'
  | 'login-all'
  | 'toggle-pause'
  | 'toggle-start-at-login'
  | 'toggle-notifications'
  /** Opens the sign-in for the account in `instance` (captcha, not signed in). */
  | 'sign-in'
  /** Opens the dashboard's edit of the account in `instance`, password field focused. */
  | 'fix-password'
  | 'quit';

export interface TrayMenuItem {
  id: TrayAction | 'status' | 'separator' | 'instance-status';
  label: string;
  type?: 'normal' | 'checkbox' | 'separator';
  checked?: boolean;
  enabled?: boolean;
  /** The account an item acts on (`sign-in`, `fix-password`). */
  instance?: string;
}

export interface TrayInput {
  instances: readonly InstanceSnapshot[];
  paused: boolean;
  startAtLogin: boolean;
  /** Desktop notifications on (the `notifications` setting). */
  notifications?: boolean;
  /** `http://127.0.0.1:8420/v1` */
  endpointUrl: string;
  /** Is there an API key to copy? */
  hasApiKey: boolean;
  /** Set when the gateway is not running because it failed to start (client-safe text). */
  gatewayError?: string;
  /** The relay's one availability answer per instance (core/pool/availability.ts), when running. */
  availability?: (instance: string) => AvailabilityView | undefined;
  /** For countdowns (tests pass a fixed time). */
  now?: number;
}

/** One instance's status as the tray shows it: the relay's `display`, the same value as the dashboard's. */
export interface TrayInstanceStatus {
  name: string;
  display: StatusDisplay;
}

export interface TrayModel {
  state: TrayState;
  /** Base name of the icon in assets/tray (`tray-ready` → tray-ready.png / tray-readyTemplate.png). */
  icon: string;
  tooltip: string;
  menu: TrayMenuItem[];
  /** Per instance, for the desktop notifications (./notify.ts). */
  statuses: TrayInstanceStatus[];
}

type AvailabilityOf = TrayInput['availability'];

/**
 * The relay's answer; without a running relay the same pure function over the snapshot (no
 * health or cool-down known then).
 */
function displayOf(s: InstanceSnapshot, availability: AvailabilityOf, now: number): StatusDisplay {
  const a = availability?.(s.name);
  if (a?.display) return a.display;
  return availabilityOf({ name: s.name, state: s.state, stateReason: s.reason, login: s.login, quota: s.quota, now }).display;
}

export function trayStatuses(instances: readonly InstanceSnapshot[], availability?: AvailabilityOf, now = Date.now()): TrayInstanceStatus[] {
  return instances.map((s) => ({ name: s.name, display: displayOf(s, availability, now) }));
}

/**
 * One truthful state: `paused` when the gateway is paused; `login` when some account needs a
 * person; `credits` when some account is out of credits; `ready` when every instance serves;
 * `down` when none does (or there are none); `degraded` otherwise (some cannot serve).
 */
export function trayState(instances: readonly InstanceSnapshot[], paused: boolean, availability?: AvailabilityOf, now = Date.now()): TrayState {
  return stateOf(trayStatuses(instances, availability, now), paused);
}

function stateOf(statuses: readonly TrayInstanceStatus[], paused: boolean): TrayState {
  if (paused) return 'paused';
  if (statuses.some((s) => s.display.kind === 'needs_person')) return 'login';
  if (statuses.some((s) => s.display.kind === 'out_of_credits')) return 'credits';
  const ready = statuses.filter((s) => s.display.kind === 'serving').length;
  if (statuses.length === 0 || ready === 0) return 'down';
  return ready === statuses.length ? 'ready' : 'degraded';
}

/** `2h 5m`, `4m`, `30s`. */
export function fmtLeft(ms: number): string {
  const sec = Math.max(0, Math.ceil(ms / 1000));
  if (sec < 60) return `${sec}s`;
  const min = Math.ceil(sec / 60);
  return min >= 60 ? `${Math.floor(min / 60)}h ${min % 60}m` : `${min}m`;
}

/** `resets in 2h 5m` for the earliest reset among accounts out of credits. */
function nextReset(statuses: readonly TrayInstanceStatus[], now: number): string | undefined {
  const times = statuses.filter((s) => s.display.kind === 'out_of_credits' && s.display.until !== undefined && s.display.until > now).map((s) => s.display.until!);
  if (!times.length) return undefined;
  return `resets in ${fmtLeft(Math.min(...times) - now)}`;
}

const STATE_TEXT: Record<TrayState, string> = {
  ready: 'all backends ready',
  degraded: 'some backends unavailable',
  down: 'no backend available',
  login: 'an account needs a person',
  credits: 'an account is out of credits',
  paused: 'gateway paused',
};

/** The menu line of an instance that does not serve, and what clicking it does. */
function instanceItem(s: TrayInstanceStatus, now: number, running: boolean): TrayMenuItem {
  const d = s.display;
  if (d.kind === 'needs_person') {
    if (d.action === 'fix_password') return { id: 'fix-password', label: `Fix Password of ${s.name}…`, instance: s.name };
    if (d.action === 'finish_sign_in') return { id: 'sign-in', label: `Finish Sign-in as ${s.name}…`, instance: s.name, enabled: running };
    return { id: 'sign-in', label: `Sign In ${s.name}`, instance: s.name, enabled: running };
  }
  const left = d.until !== undefined && d.until > now ? fmtLeft(d.until - now) : undefined;
  const when = d.kind === 'out_of_credits' ? (left ? `, resets in ${left}` : '') : d.kind === 'cooling_down' && left ? `, retry in ${left}` : '';
  return { id: 'instance-status', label: `${s.name}: ${d.label.toLowerCase()}${when}`, enabled: false, instance: s.name };
}

/** At most this many accounts are listed in the menu (the not-serving ones, people first). */
const MAX_LISTED = 6;
const ORDER: Record<StatusDisplay['kind'], number> = { needs_person: 0, out_of_credits: 1, cooling_down: 2, stopped: 3, starting: 4, serving: 5 };

export function buildTrayModel(input: TrayInput): TrayModel {
  const now = input.now ?? Date.now();
  const statuses = trayStatuses(input.instances, input.availability, now);
  const failed = !input.paused && !!input.gatewayError;
  const state = failed ? 'down' : stateOf(statuses, input.paused);
  const count = (k: StatusDisplay['kind']) => statuses.filter((s) => s.display.kind === k).length;
  const ready = count('serving');
  const people = count('needs_person');
  const credits = count('out_of_credits');
  const lines = [failed ? 'Lingma Relay: gateway not running' : `Lingma Relay: ${STATE_TEXT[state]}`];
  if (failed) lines.push(input.gatewayError!.slice(0, 80));
  else {
    if (statuses.length > 0) lines.push(`${ready}/${statuses.length} serving`);
    const attached = input.instances.find((s) => s.extra?.attached === true);
    if (attached) lines.push(`attached to the ${String(attached.extra?.appName ?? 'Lingma')} app`);
    if (people > 0) lines.push(`${people} need${people === 1 ? 's' : ''} a person`);
    if (credits > 0) {
      const reset = nextReset(statuses, now);
      lines.push(`${credits} out of credits${reset ? `, ${reset}` : ''}`);
    }
    if (!input.paused) lines.push(input.endpointUrl);
  }
  const running = !input.paused && !failed;
  const hasLoginable = input.instances.some((s) => s.login.state !== 'not_applicable');
  const listed = input.paused || failed
    ? []
    : statuses.filter((s) => s.display.kind !== 'serving').sort((a, b) => ORDER[a.display.kind] - ORDER[b.display.kind]).slice(0, MAX_LISTED);
  const menu: TrayMenuItem[] = [
    { id: 'status', label: lines.slice(0, 2).join(' · '), enabled: false },
    ...listed.map((s) => instanceItem(s, now, running)),
    { id: 'separator', label: '', type: 'separator' },
    { id: 'open-dashboard', label: 'Open Dashboard' },
    { id: 'copy-endpoint', label: 'Copy Endpoint URL', enabled: running },
    { id: 'copy-api-key', label: 'Copy API Key', enabled: input.hasApiKey },
    { id: 'login-all', label: 'Sign In All Accounts', enabled: running && hasLoginable },
    { id: 'separator', label: '', type: 'separator' },
    { id: 'toggle-pause', label: input.paused ? 'Resume Gateway' : failed ? 'Start Gateway Again' : 'Pause Gateway' },
    { id: 'toggle-start-at-login', label: 'Start at Login', type: 'checkbox', checked: input.startAtLogin },
    { id: 'toggle-notifications', label: 'Notify When an Account Needs Me', type: 'checkbox', checked: input.notifications !== false },
    { id: 'separator', label: '', type: 'separator' },
    { id: 'quit', label: 'Quit Lingma Relay' },
  ];
  // Windows caps tray tooltips at 127 characters.
  return { state, icon: `tray-${state}`, tooltip: lines.join('\n').slice(0, 127), menu, statuses };
}

/** Turns the model's menu into Electron menu options, routing clicks to one handler. */
export function toMenuTemplate(items: readonly TrayMenuItem[], onAction: (a: TrayAction, instance?: string) => void): MenuItemConstructorOptions[] {
  return items.map((it): MenuItemConstructorOptions => {
    if (it.type === 'separator') return { type: 'separator' };
    const opts: MenuItemConstructorOptions = { label: it.label, type: it.type ?? 'normal', enabled: it.enabled ?? true };
    if (it.type === 'checkbox') opts.checked = !!it.checked;
    if (it.id !== 'status' && it.id !== 'separator' && it.id !== 'instance-status') {
      const id = it.id;
      const instance = it.instance;
      opts.click = () => (instance === undefined ? onAction(id) : onAction(id, instance));
    }
    return opts;
  });
}

export interface TrayBinderDeps {
  tray: Pick<Tray, 'setImage' | 'setToolTip' | 'setContextMenu'>;
  buildMenu(template: MenuItemConstructorOptions[]): Menu;
  /** Icon for a model icon name (platform picks template images on macOS). */
  image(name: string): NativeImage | string;
  input(): TrayInput;
  onAction(a: TrayAction, instance?: string): void;
  /** Every refresh's per-instance statuses (the desktop notifications watch them). */
  onStatuses?(statuses: readonly TrayInstanceStatus[]): void;
  /** Minimum gap between two refreshes caused by events. */
  throttleMs?: number;
}

/**
 * Applies the model to a real tray. `schedule()` is called on every hub `instance` event; bursts
 * collapse into at most one refresh per `throttleMs`.
 */
export class TrayBinder {
  private timer: NodeJS.Timeout | undefined;
  private lastIcon: string | undefined;
  private lastAt = 0;
  private disposed = false;
  current: TrayModel | undefined;

  constructor(private readonly deps: TrayBinderDeps) {}

  refresh(): TrayModel {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastAt = Date.now();
    const model = buildTrayModel(this.deps.input());
    this.current = model;
    if (this.disposed) return model;
    if (model.icon !== this.lastIcon) {
      this.deps.tray.setImage(this.deps.image(model.icon));
      this.lastIcon = model.icon;
    }
    this.deps.tray.setToolTip(model.tooltip);
    this.deps.tray.setContextMenu(this.deps.buildMenu(toMenuTemplate(model.menu, (a, instance) => this.deps.onAction(a, instance))));
    this.deps.onStatuses?.(model.statuses);
    return model;
  }

  schedule(): void {
    if (this.disposed || this.timer) return;
    const gap = this.deps.throttleMs ?? 250;
    const wait = Math.max(0, this.lastAt + gap - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, wait);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
