/**
 * The tray: a pure model (snapshots + flags → state, icon, tooltip, menu) and a thin binder that
 * applies it to a real `Tray`, refreshing on hub `instance` events (throttled).
 */
import type { Menu, MenuItemConstructorOptions, NativeImage, Tray } from 'electron';
import type { InstanceSnapshot } from '../core/backends/types';
import type { AvailabilityView } from '../core/state-types';

export type TrayState = 'ready' | 'degraded' | 'down' | 'login' | 'credits' | 'paused';

export type TrayAction =
  | 'open-dashboard'
  | 'copy-endpoint'
  | 'copy-api-key'
  | 'login-all'
  | 'toggle-pause'
  | 'toggle-start-at-login'
  | 'quit';

export interface TrayMenuItem {
  id: TrayAction | 'status' | 'separator';
  label: string;
  type?: 'normal' | 'checkbox' | 'separator';
  checked?: boolean;
  enabled?: boolean;
}

export interface TrayInput {
  instances: readonly InstanceSnapshot[];
  paused: boolean;
  startAtLogin: boolean;
  /** `http://127.0.0.1:8420/v1` */
  endpointUrl: string;
  /** Is there an API key to copy? */
  hasApiKey: boolean;
  /** Set when the gateway is not running because it failed to start (client-safe text). */
  gatewayError?: string;
  /** The relay's one availability answer per instance (core/pool/availability.ts), when running. */
  availability?: (instance: string) => AvailabilityView | undefined;
}

export interface TrayModel {
  state: TrayState;
  /** Base name of the icon in assets/tray (`tray-ready` → tray-ready.png / tray-readyTemplate.png). */
  icon: string;
  tooltip: string;
  menu: TrayMenuItem[];
}

const needsLogin = (s: InstanceSnapshot) =>
  s.login.state === 'logged_out' || s.login.state === 'needs_manual' || s.login.state === 'failed';

type AvailabilityOf = TrayInput['availability'];

/** Serving per the relay's one answer; without it (no relay yet), ready. */
const serving = (s: InstanceSnapshot, availability: AvailabilityOf): boolean => {
  const a = availability?.(s.name);
  return a ? a.serving : s.state === 'ready';
};
const outOfCredits = (s: InstanceSnapshot, availability: AvailabilityOf): boolean => availability?.(s.name)?.status === 'out_of_credits';

/**
 * `paused` when the gateway is paused; `login` when some account needs a sign-in; `credits` when
 * some account is out of credits (the relay's availability status); `ready` when every instance
 * serves; `down` when none does; `degraded` otherwise. No instances at all is `down` (nothing can
 * serve a request).
 */
export function trayState(instances: readonly InstanceSnapshot[], paused: boolean, availability?: AvailabilityOf): TrayState {
  if (paused) return 'paused';
  if (instances.some(needsLogin)) return 'login';
  if (instances.some((s) => outOfCredits(s, availability))) return 'credits';
  const ready = instances.filter((s) => serving(s, availability)).length;
  if (instances.length === 0 || ready === 0) return 'down';
  return ready === instances.length ? 'ready' : 'degraded';
}

/** `resets in 2h 5m` for the earliest reset among accounts out of credits. */
function nextReset(instances: readonly InstanceSnapshot[], availability: AvailabilityOf, now: number): string | undefined {
  const times = instances.map((s) => availability?.(s.name)).filter((a) => a?.status === 'out_of_credits' && a.until !== undefined && a.until > now).map((a) => a!.until!);
  if (!times.length) return undefined;
  const min = Math.ceil((Math.min(...times) - now) / 60_000);
  return min >= 60 ? `resets in ${Math.floor(min / 60)}h ${min % 60}m` : `resets in ${min}m`;
}

const STATE_TEXT: Record<TrayState, string> = {
  ready: 'all backends ready',
  degraded: 'some backends unavailable',
  down: 'no backend available',
  login: 'an account needs to sign in',
  credits: 'an account is out of credits',
  paused: 'gateway paused',
};

export function buildTrayModel(input: TrayInput): TrayModel {
  const failed = !input.paused && !!input.gatewayError;
  const state = failed ? 'down' : trayState(input.instances, input.paused, input.availability);
  const ready = input.instances.filter((s) => serving(s, input.availability)).length;
  const loginCount = input.instances.filter(needsLogin).length;
  const creditCount = input.instances.filter((s) => outOfCredits(s, input.availability)).length;
  const lines = [failed ? 'Lingma Relay: gateway not running' : `Lingma Relay: ${STATE_TEXT[state]}`];
  if (failed) lines.push(input.gatewayError!.slice(0, 80));
  else {
    if (input.instances.length > 0) lines.push(`${ready}/${input.instances.length} ready`);
    const attached = input.instances.find((s) => s.extra?.attached === true);
    if (attached) lines.push(`attached to the ${String(attached.extra?.appName ?? 'Lingma')} app`);
    if (loginCount > 0) lines.push(`${loginCount} need${loginCount === 1 ? 's' : ''} sign-in`);
    if (creditCount > 0) {
      const reset = nextReset(input.instances, input.availability, Date.now());
      lines.push(`${creditCount} out of credits${reset ? `, ${reset}` : ''}`);
    }
    if (!input.paused) lines.push(input.endpointUrl);
  }
  const running = !input.paused && !failed;
  const hasLoginable = input.instances.some((s) => s.login.state !== 'not_applicable');
  const menu: TrayMenuItem[] = [
    { id: 'status', label: lines.slice(0, 2).join(' · '), enabled: false },
    { id: 'separator', label: '', type: 'separator' },
    { id: 'open-dashboard', label: 'Open Dashboard' },
    { id: 'copy-endpoint', label: 'Copy Endpoint URL', enabled: running },
    { id: 'copy-api-key', label: 'Copy API Key', enabled: input.hasApiKey },
    { id: 'login-all', label: 'Log In All Accounts', enabled: running && hasLoginable },
    { id: 'separator', label: '', type: 'separator' },
    { id: 'toggle-pause', label: input.paused ? 'Resume Gateway' : failed ? 'Start Gateway Again' : 'Pause Gateway' },
    { id: 'toggle-start-at-login', label: 'Start at Login', type: 'checkbox', checked: input.startAtLogin },
    { id: 'separator', label: '', type: 'separator' },
    { id: 'quit', label: 'Quit Lingma Relay' },
  ];
  // Windows caps tray tooltips at 127 characters.
  return { state, icon: `tray-${state}`, tooltip: lines.join('\n').slice(0, 127), menu };
}

/** Turns the model's menu into Electron menu options, routing clicks to one handler. */
export function toMenuTemplate(items: readonly TrayMenuItem[], onAction: (a: TrayAction) => void): MenuItemConstructorOptions[] {
  return items.map((it): MenuItemConstructorOptions => {
    if (it.type === 'separator') return { type: 'separator' };
    const opts: MenuItemConstructorOptions = { label: it.label, type: it.type ?? 'normal', enabled: it.enabled ?? true };
    if (it.type === 'checkbox') opts.checked = !!it.checked;
    if (it.id !== 'status' && it.id !== 'separator') {
      const id = it.id;
      opts.click = () => onAction(id);
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
  onAction(a: TrayAction): void;
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
    this.deps.tray.setContextMenu(this.deps.buildMenu(toMenuTemplate(model.menu, (a) => this.deps.onAction(a))));
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
