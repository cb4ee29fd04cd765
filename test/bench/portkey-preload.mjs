/**
 * Preloaded into the Portkey gateway the bench runs as its peer (`node --import`): on Node 20
 * its streaming path appends `x-portkey-*` headers to the upstream fetch Response, whose headers
 * are immutable, and answers 500 (Portkey-AI/gateway#1389, #1550). This gives fetch responses a
 * mutable copy of their headers; the body stream is passed through untouched.
 */
const realFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const res = await realFetch(...args);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
};
