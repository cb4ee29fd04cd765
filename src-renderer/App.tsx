import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import type { AdminSnapshot } from '../src-main/core/admin/api-types';
import { AdminClient, ApiError } from './api/client';
import { desktop, pageOrigin, resolveEndpoint, storeToken, type AdminEndpoint } from './api/connection';
import { LiveSocket } from './api/socket';
import { isUsable } from './components/ui';
import { RequestDrawer } from './components/RequestDetail/RequestDrawer';
import { AliasesBanner } from './components/Manage/AliasesBanner';
import { CommandPalette, commandsFor, usePaletteShortcut } from './components/CommandPalette';
import { ConnectionBanner, useOffline } from './components/ConnectionBanner';
import { ThemeSwitch } from './components/ThemeSwitch';
import { Connect } from './screens/Connect';
import { Aliases } from './screens/Aliases';
import { Instances } from './screens/Instances';
import { Live } from './screens/Live';
import { Logs } from './screens/Logs';
import { Overview } from './screens/Overview';
import { Settings } from './screens/Settings';
import { Usage } from './screens/Usage';
import { refreshSnapshot, useDash } from './store';

export const ROUTES = ['overview', 'connect', 'live', 'instances', 'aliases', 'usage', 'logs', 'settings'] as const;
export type Route = (typeof ROUTES)[number];
const TITLES: Record<Route, string> = {
  overview: 'Overview', connect: 'Connect a client', live: 'Live requests', instances: 'Accounts', aliases: 'Aliases', usage: 'Usage', logs: 'Logs', settings: 'Settings',
};

const ICONS: Record<Route, ReactNode> = {
  overview: <path d="M4 13h6V4H4zm0 7h6v-5H4zm10 0h6v-9h-6zm0-16v5h6V4z" />,
  connect: <path d="M9 3v5m6-5v5M6 8h12v3a6 6 0 0 1-12 0zm6 9v4" fill="none" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />,
  live: <path d="M3 12h4l3-7 4 14 3-7h4" fill="none" strokeWidth="1.8" strokeLinejoin="round" strokeLinecap="round" />,
  instances: <path d="M4 5h16v5H4zm0 9h16v5H4zm3-6.5h2m-2 9h2" fill="none" strokeWidth="1.8" strokeLinecap="round" />,
  aliases: <path d="M5 7h9m0 0-3-3m3 3-3 3M19 17h-9m0 0 3-3m-3 3 3 3" fill="none" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />,
  usage: <path d="M5 20V10m7 10V4m7 16v-7" fill="none" strokeWidth="2.2" strokeLinecap="round" />,
  logs: <path d="M5 6h14M5 10h14M5 14h10M5 18h7" fill="none" strokeWidth="1.8" strokeLinecap="round" />,
  settings: <path d="M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm7.4-3a7.4 7.4 0 0 0-.1-1.2l2-1.6-2-3.4-2.4 1a7.5 7.5 0 0 0-2-1.2L14.5 3h-5l-.4 2.6a7.5 7.5 0 0 0-2 1.2l-2.4-1-2 3.4 2 1.6a7.4 7.4 0 0 0 0 2.4l-2 1.6 2 3.4 2.4-1a7.5 7.5 0 0 0 2 1.2l.4 2.6h5l.4-2.6a7.5 7.5 0 0 0 2-1.2l2.4 1 2-3.4-2-1.6c.1-.4.1-.8.1-1.2z" fill="none" strokeWidth="1.5" strokeLinejoin="round" />,
};

export function routeFromHash(hash: string): Route {
  const r = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  // Accounts and instances are one table now; old links to #/accounts land there.
  if (r === 'accounts') return 'instances';
  // A request's detail (`#/requests/<id>`) opens over Live.
  if (r === 'requests') return 'live';
  return (ROUTES as readonly string[]).includes(r) ? (r as Route) : 'overview';
}

function useRoute(): Route {
  const [route, setRoute] = useState<Route>(routeFromHash(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(routeFromHash(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function TokenGate({ onToken, error }: { onToken: (t: string) => void; error?: string }) {
  const [token, setToken] = useState('');
  return (
    <div className="gate" data-testid="token-gate">
      <form className="gate-card" onSubmit={(e) => { e.preventDefault(); if (token.trim()) onToken(token.trim()); }}>
        <Logo />
        <h1>Lingma Relay</h1>
        <p>Enter the admin token to open the dashboard.</p>
        <div className={`field ${error ? 'field-error' : ''}`}>
          <label htmlFor="admin-token">Admin token</label>
          <input id="admin-token" type="password" value={token} onChange={(e) => setToken(e.target.value)} autoFocus autoComplete="off" spellCheck={false} />
          {error && <div className="field-msg" role="alert">{error}</div>}
        </div>
        <button type="submit" className="btn btn-primary btn-block" disabled={!token.trim()}>Open dashboard</button>
        <p className="muted small">
          The token is in the file <span className="mono">admin-token</span> in the Lingma Relay data folder
          (<span className="mono">~/.config/lingma-relay</span> on Linux, <span className="mono">~/Library/Application Support/Lingma Relay</span> on macOS,
          <span className="mono"> %APPDATA%\Lingma Relay</span> on Windows), or <span className="mono">server.adminToken</span> in your config file.
          It was also printed once when Lingma Relay first started. It is kept only for this browser tab.
        </p>
      </form>
    </div>
  );
}

function Logo() {
  return (
    <svg className="logo" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
      <rect x="2" y="2" width="28" height="28" rx="8" className="logo-bg" />
      <path d="M10 9v14h12" className="logo-fg" fill="none" strokeWidth="3" strokeLinecap="round" strokeLinejoin="round" />
      <circle cx="21" cy="11" r="3" className="logo-dot" />
    </svg>
  );
}

function Toasts() {
  const toasts = useDash((s) => s.toasts);
  const dismiss = useDash((s) => s.dismiss);
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'}>
          <span>{t.text}</span>
          <button type="button" className="toast-x" aria-label="Dismiss" onClick={() => dismiss(t.id)}>×</button>
        </div>
      ))}
    </div>
  );
}

function ConnPill() {
  const s = useDash((st) => st.socket);
  const label = s === 'open' ? 'Live' : s === 'connecting' ? 'Connecting…' : s === 'reconnecting' ? 'Reconnecting…' : 'Offline';
  return <span className={`pill pill-${s === 'open' ? 'ok' : s === 'closed' ? 'bad' : 'warn'}`} data-testid="conn">{label}</span>;
}

export function Shell({ snap, route }: { snap: AdminSnapshot; route: Route }) {
  const finished = useDash((s) => s.finished);
  const needPerson = snap.instances.filter((i) => i.availability?.display.kind === 'needs_person').length;
  const ready = snap.instances.filter(isUsable).length;
  // A badge is drawn inside the link but hidden from assistive tech; the link's name says it in
  // words instead ("Live requests, 2 in flight"), so the name always contains the visible label.
  const counts: Partial<Record<Route, { badge: ReactNode; says: string }>> = {
    live: snap.live.length ? { badge: <span className="nav-count" aria-hidden="true">{snap.live.length}</span>, says: `${snap.live.length} in flight` } : undefined,
    instances: needPerson ? { badge: <span className="nav-count nav-warn" aria-hidden="true" title="need a person">{needPerson}</span>, says: `${needPerson} need a person` } : undefined,
  };
  const offline = useOffline();
  const [palette, setPalette] = useState(false);
  const togglePalette = useCallback(() => setPalette((p) => !p), []);
  usePaletteShortcut(togglePalette);
  return (
    <div className={`app ${offline ? 'app-offline' : ''}`}>
      <nav className="side" aria-label="Sections">
        <div className="brand"><Logo /><span>Lingma Relay</span></div>
        <ul>
          {ROUTES.map((r) => (
            <li key={r}>
              <a href={`#/${r}`} className={`nav ${route === r ? 'nav-on' : ''}`} aria-current={route === r ? 'page' : undefined} aria-label={counts[r] ? `${TITLES[r]}, ${counts[r].says}` : TITLES[r]} title={TITLES[r]} data-testid={`nav-${r}`}>
                <svg viewBox="0 0 24 24" width="18" height="18" className="nav-icon" aria-hidden="true">{ICONS[r]}</svg>
                <span className="nav-label">{TITLES[r]}</span>
                {counts[r]?.badge}
              </a>
            </li>
          ))}
        </ul>
        <div className="side-foot">
          <span className={`health-dot ${snap.instances.length === 0 ? 'hd-muted' : ready === snap.instances.length ? 'hd-ok' : ready ? 'hd-warn' : 'hd-bad'}`} aria-hidden="true" />
          <span className="small">{ready}/{snap.instances.length} serving</span>
        </div>
      </nav>
      <main className="main">
        <ConnectionBanner />
        <header className="top">
          <h1>{TITLES[route]}</h1>
          <span className="spacer" />
          <button type="button" className="btn btn-small btn-ghost" aria-keyshortcuts="Control+K Meta+K" title="Command palette (⌘K / Ctrl+K)" data-testid="open-palette" onClick={togglePalette}>⌘K<span className="sr-only"> Command palette</span></button>
          <ThemeSwitch />
          <ConnPill />
        </header>
        {/* Offline: the data is dimmed and every action below is disabled until the relay is back. */}
        <fieldset className="content" disabled={offline} aria-busy={offline || undefined} data-testid="content">
          {route !== 'aliases' && <AliasesBanner snap={snap} />}
          {route === 'overview' && <Overview snap={snap} />}
          {route === 'connect' && <Connect snap={snap} />}
          {route === 'live' && <Live snap={snap} finished={finished} />}
          {route === 'instances' && <Instances snap={snap} />}
          {route === 'aliases' && <Aliases snap={snap} />}
          {route === 'usage' && <Usage snap={snap} />}
          {route === 'logs' && <Logs snap={snap} />}
          {route === 'settings' && <Settings snap={snap} />}
        </fieldset>
      </main>
      <RequestDrawer />
      {palette && <CommandPalette commands={commandsFor(snap, ROUTES.map((id) => ({ id, title: TITLES[id] })), (id) => { window.location.hash = `#/${id}`; })} onClose={() => setPalette(false)} />}
      <Toasts />
    </div>
  );
}

export function App() {
  const route = useRoute();
  const snap = useDash((s) => s.snap);
  const auth = useDash((s) => s.auth);
  const authError = useDash((s) => s.authError);
  const stale = useDash((s) => s.stale);
  const client = useDash((s) => s.client);
  const socket = useRef<LiveSocket>(undefined);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let cancelled = false;
    const st = useDash.getState();
    (async () => {
      let ep: AdminEndpoint | undefined;
      try {
        ep = await resolveEndpoint();
      } catch {
        st.setAuth('needed', 'The desktop app did not provide the admin connection.');
        return;
      }
      if (!ep) { st.setAuth('needed'); return; }
      const c = new AdminClient(ep);
      try {
        const s = await c.state();
        if (cancelled) return;
        st.setClient(c);
        st.setSnapshot(s);
        st.setAuth('ok');
        socket.current = new LiveSocket(ep, { onEvent: (e) => useDash.getState().apply(e), onStatus: (x) => useDash.getState().setSocket(x) });
        socket.current.start();
      } catch (e) {
        if (cancelled) return;
        if (e instanceof ApiError && e.status === 401) {
          if (!desktop()) storeToken(undefined);
          st.setAuth('needed', 'That token was not accepted. Check it and try again.');
        } else {
          st.setAuth('needed', e instanceof Error ? e.message : String(e));
        }
      }
    })();
    return () => {
      cancelled = true;
      socket.current?.stop();
      socket.current = undefined;
    };
  }, [attempt]);

  // Accounts, keys or settings changed: take a fresh snapshot.
  useEffect(() => {
    if (!stale || !client) return;
    const t = setTimeout(() => {
      refreshSnapshot(client).catch(() => undefined);
    }, 150);
    return () => clearTimeout(t);
  }, [stale, client]);

  if (auth === 'needed') {
    return <TokenGate error={authError} onToken={(t) => { storeToken(t); useDash.getState().setAuth('checking'); setAttempt((n) => n + 1); }} />;
  }
  if (!snap) {
    return <div className="loading" data-testid="loading"><div className="spinner" aria-hidden="true" /> Connecting to {desktop() ? 'Lingma Relay' : pageOrigin()}…</div>;
  }
  return <Shell snap={snap} route={route} />;
}
