/**
 * The gateway process's Node/V8 flags: the one place they are written down. The launcher
 * (bin/serve.mjs) starts dist/cli/serve.mjs with them; the bench (test/bench/) starts the relay
 * with the same ones. They must be given on the command line: V8 reads `--max-semi-space-size` when
 * the heap is set up (`v8.setFlagsFromString` at run time was measured to have no effect on it).
 * `--max-semi-space-size=2` (MB): a small young generation, so an idle or lightly loaded gateway
 * stays small; the bench's "idle RSS" and soak rows measure the trade.
 * `--v8-pool-size=1`: one V8 platform worker thread (GC helpers, background compiles) instead of
 * four; each of those threads keeps a malloc arena of its own. Measured on the 2-core machine in
 * alternating quick bench runs (docs/perf-issue-14.md, "V8 flags on a quiet machine"): idle RSS
 * ~5 MB lower, RSS after load lower, throughput and c=1 latency within the run-to-run spread.
 * `--heap-growing-percent=50`: after each full collection V8 lets the old generation grow by half
 * of what survived before the next one, instead of its own factor (up to 4× under load). With the
 * small young generation most of a burst's garbage is promoted, so the old generation's limit is
 * what RSS follows under load. Measured (docs/perf-issue-14.md, "Heap growing factor"): RSS after
 * 9 s at 32 connections 174–181 → 118–126 MB, the slow-client rise with the inspector off
 * 84 → 38 MB; main-thread GC time per request +3 µs (full collections 1 → 4 µs; scavenges,
 * ~80 µs, unchanged).
 */

/** @type {readonly string[]} */
export const GATEWAY_NODE_FLAGS = Object.freeze(['--max-semi-space-size=2', '--heap-growing-percent=50', '--v8-pool-size=1']);

/**
 * The environment variable through which the launcher tells the gateway its pid: the gateway
 * follows that process's lifetime (src-main/cli/serve.ts), even if the launcher dies before the
 * gateway has looked at its parent.
 */
export const LAUNCHER_PID_ENV = 'RELAY_LAUNCHER_PID';

/**
 * GATEWAY_NODE_FLAGS less those NODE_OPTIONS sets itself: command-line flags win over
 * NODE_OPTIONS, so a flag the user chose there (`NODE_OPTIONS=--max-semi-space-size=16`) would
 * otherwise be overridden by ours. The rest of NODE_OPTIONS reaches the gateway through its
 * environment unchanged.
 * @param {string | undefined} nodeOptions
 * @returns {string[]}
 */
export function gatewayNodeFlags(nodeOptions) {
  const name = (flag) => flag.split('=')[0].replace(/_/g, '-');
  const given = new Set((nodeOptions ?? '').split(/\s+/).filter((w) => w.startsWith('--')).map(name));
  return GATEWAY_NODE_FLAGS.filter((f) => !given.has(name(f)));
}
