/**
 * SECURITY: keeps authorization structural. `installRouteGuard(app)` (first thing in
 * `buildGateway`) checks every route as it is registered, in any scope:
 * - a route under `/admin` must sit in the admin scope (`guardScope(scope, 'admin')`);
 * - a route under `/v1` must sit in an API-key scope (`guardScope(scope, 'apiKey')`);
 * - a route under `/cluster` (team mode, node to node) must sit in the cluster scope
 *   (`guardScope(scope, 'cluster')`: the cluster secret's signature).
 * Anything else makes `buildGateway` throw at startup, naming the route, so a new route cannot
 * reintroduce an unguarded path. The first path segment is compared case-insensitively.
 * `routeTable(app)` lists what was registered (method, url, guard), for tests and diagnostics.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { scopeGuardOf, type ScopeGuard } from './auth';

export interface RouteEntry {
  method: string;
  url: string;
  guard: ScopeGuard | undefined;
}

/** Which guard routes under a path need (by its first segment), if any. */
export function requiredGuard(url: string): ScopeGuard | undefined {
  const first = url.split('/')[1]?.toLowerCase();
  if (first === 'admin') return 'admin';
  if (first === 'v1') return 'apiKey';
  if (first === 'cluster') return 'cluster';
  return undefined;
}

const tables = new WeakMap<FastifyInstance, RouteEntry[]>();

export function installRouteGuard(app: FastifyInstance): void {
  const table: RouteEntry[] = [];
  tables.set(app, table);
  app.addHook('onRoute', function check(this: FastifyInstance, route: RouteOptions) {
    const guard = scopeGuardOf(this);
    const need = requiredGuard(route.url);
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (need && guard !== need) {
      const where = need === 'admin' ? 'inside the admin scope (guardScope(scope, \'admin\'))' : need === 'cluster' ? 'in the cluster scope (guardScope(scope, \'cluster\'))' : 'in an API-key scope (guardScope(scope, \'apiKey\'))';
      const prefix = need === 'admin' ? 'admin' : need === 'cluster' ? 'cluster' : 'v1';
      throw new Error(
        `Route ${methods.join(',')} ${route.url} is registered ${guard ? `in a '${guard}' scope` : 'without a guard'}; routes under /${prefix} must be registered ${where}.`,
      );
    }
    for (const m of methods) table.push({ method: String(m), url: route.url, guard });
  });
}

/** Every route registered on `app` since `installRouteGuard`, with the guard of its scope. */
export function routeTable(app: FastifyInstance): readonly RouteEntry[] {
  return tables.get(app) ?? [];
}
