/**
 * The layer order of src-main (ARCHITECTURE.md), enforced in `npm test` by
 * test/tooling/layers.test.ts:
 *
 *   base (chat, config, errors, ports, …) ← backends, routing, pool, ledger, events ← dispatch
 *     ← frontends ← gateway, admin ← relay ← hosts (cli, electron)
 *
 * A module may import its own layer and the layers below it, never one above. Type-only imports
 * count (they couple the same way). Core never imports electron.
 */
const CORE = '^src-main/core/';

/** Bottom to top. A file belongs to the first layer whose `path` matches it. */
const LAYERS = [
  {
    name: 'base',
    comment: 'the neutral chat model, config, errors, ports, shared state shapes, and the cross-cutting security rules (names, safe paths, child environment, sign-in origins)',
    path: `${CORE}(chat/|config/|(errors|ports|redact|state-types|caller|metrics-port|names|safe-path|child-env|sign-in-policy|abort|fs-atomic|backoff)\\.ts$)`,
  },
  {
    name: 'services',
    // events.ts: the hub carries the services' snapshots (instances, health, reloads), so it sits with them.
    comment: 'backends, routing, pool, ledger, client settings writers, team mode\'s shared state (cluster/) and the event hub',
    path: `${CORE}((backends|routing|pool|ledger|clients|cluster)/|events\\.ts$)`,
  },
  {
    name: 'dispatch',
    comment: 'admission, the dispatcher (chain walk, execution, request outcome, trace), the ChatService seam and the request inspector that observes it',
    path: `${CORE}(dispatch|inspector)/`,
  },
  {
    name: 'frontends',
    comment: 'protocol front ends and the HTTP helpers they share (SSE writer, error mapping, the auth hooks and guardScope) that still live in gateway/',
    path: `${CORE}(frontends/|gateway/plugins/(errors|auth)\\.ts$)`,
  },
  { name: 'gateway', comment: 'the fastify server, its plugins and metrics; the admin API', path: `${CORE}(gateway|admin)/` },
  { name: 'relay', comment: 'the engine wiring', path: `${CORE}relay(\\.ts$|/)` },
  { name: 'hosts', comment: 'headless CLI and Electron main process', path: '^src-main/(cli|electron)/' },
];

/**
 * Known upward imports in files other engineers are rewriting right now; each is listed exactly
 * (importer → imported), so any new upward import still fails. Remove an entry when its file
 * takes the port instead (`core/metrics-port.ts`: PoolMetrics for the pool).
 */
const EXCEPTIONS = [
];

const escape = (file) => `^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;
const layerOf = (file) => LAYERS.findIndex((l) => new RegExp(l.path).test(file));

/** Files of layer i: its path minus the paths of the layers below (first match wins). */
const within = (i) => ({ path: LAYERS[i].path, pathNot: LAYERS.slice(0, i).map((l) => l.path) });

const forbidden = [
  {
    name: 'core-not-to-electron',
    comment: 'core runs in plain Node (headless host) too: it never imports electron',
    severity: 'error',
    from: { path: CORE },
    to: { path: '^(node_modules/)?electron(/|$)' },
  },
];

// Every source file is in a layer: a new folder must be placed in the order before it is used.
const layered = LAYERS.map((l) => l.path);
forbidden.push(
  {
    name: 'every-file-in-a-layer',
    comment: 'this file is in no layer: add its path to LAYERS in .dependency-cruiser.cjs',
    severity: 'error',
    from: { path: '^src-main/', pathNot: layered },
    to: {},
  },
  {
    name: 'every-file-in-a-layer',
    comment: 'the imported file is in no layer: add its path to LAYERS in .dependency-cruiser.cjs',
    severity: 'error',
    from: { path: '^src-main/' },
    to: { path: '^src-main/', pathNot: layered },
  },
);

for (let i = 0; i < LAYERS.length - 1; i++) {
  const above = LAYERS.slice(i + 1).map((l) => l.path);
  // Upward targets are files of a higher layer that are not in this layer or below.
  const to = { path: above, pathNot: LAYERS.slice(0, i + 1).map((l) => l.path) };
  const exceptions = EXCEPTIONS.filter((e) => layerOf(e.from) === i);
  const from = within(i);
  forbidden.push({
    name: `${LAYERS[i].name}-not-upward`,
    comment: `${LAYERS[i].name} (${LAYERS[i].comment}) must not import ${LAYERS.slice(i + 1).map((l) => l.name).join(', ')}`,
    severity: 'error',
    from: { ...from, pathNot: [...from.pathNot, ...exceptions.map((e) => escape(e.from))] },
    to,
  });
  // An excepted file is still held to the rule for every other import.
  for (const file of new Set(exceptions.map((e) => e.from))) {
    const allowed = exceptions.filter((e) => e.from === file).map((e) => escape(e.to));
    forbidden.push({
      name: `${LAYERS[i].name}-not-upward`,
      comment: `${file}: only the listed exceptions may point upward`,
      severity: 'error',
      from: { path: escape(file) },
      to: { path: above, pathNot: [...to.pathNot, ...allowed] },
    });
  }
}

module.exports = {
  forbidden,
  options: {
    includeOnly: { path: ['^src-main/', '^(node_modules/)?electron(/|$)'] },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exoticRequireStrings: [],
  },
};
