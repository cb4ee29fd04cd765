/// <reference path="./undici-lib.d.ts" />
/**
 * The part of undici the gateway uses: the keep-alive `Pool` and `request()`. The package's index
 * loads all of undici (fetch, WebSocket, EventSource, caches, mocks: 110 modules, 4.6 MB of heap
 * kept for the process's life); these modules are 31 of them, 1.6 MB. What the index does with
 * them is done here the same way: the request API mixed into every dispatcher, and undici's Agent
 * installed as the global dispatcher (lib/global.js), which `fetch()` goes through too.
 */
import api from 'undici/lib/api/index.js';
import DispatcherBase from 'undici/lib/dispatcher/dispatcher.js';
import PoolImpl from 'undici/lib/dispatcher/pool.js';
import { getGlobalDispatcher } from 'undici/lib/global.js';
import type { Dispatcher } from 'undici';

Object.assign(DispatcherBase.prototype, api);

export const Pool = PoolImpl;
export type Pool = PoolImpl;
export type { Dispatcher };

/** undici's `request(url, options)`: through the global dispatcher. */
export function request(
  url: string | URL,
  options: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & Partial<Pick<Dispatcher.RequestOptions, 'method'>> = {},
): Promise<Dispatcher.ResponseData> {
  const u = new URL(url);
  return getGlobalDispatcher().request({ ...options, origin: u.origin, path: `${u.pathname}${u.search}`, method: options.method ?? (options.body ? 'PUT' : 'GET') });
}
