// Types for the undici modules ./undici.ts loads one by one (the package's own types describe its
// index only): each is the index's export of the same name.
declare module 'undici/lib/dispatcher/dispatcher.js' {
  import { Dispatcher } from 'undici';
  export default Dispatcher;
}
declare module 'undici/lib/dispatcher/pool.js' {
  import { Pool } from 'undici';
  export default Pool;
}
declare module 'undici/lib/api/index.js' {
  const api: Record<'request' | 'stream' | 'pipeline' | 'upgrade' | 'connect', (...args: never[]) => unknown>;
  export default api;
}
declare module 'undici/lib/global.js' {
  export { getGlobalDispatcher, setGlobalDispatcher } from 'undici';
}
