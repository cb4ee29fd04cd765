#!/usr/bin/env node
/**
 * `npm run serve -- [flags]`: builds the headless gateway when its sources changed
 * (bin/serve-build.mjs), then runs the compiled dist/cli/serve.mjs in this very process. No
 * TypeScript loader at run time and no shell in between: npm's signals (SIGINT, SIGTERM) reach
 * the gateway directly, relay.pid names this process, the parent watch sees npm, and the exit
 * code is the gateway's. `--build-only` builds (if needed) and exits.
 */
import { pathToFileURL } from 'node:url';
import { ensureServeBuild } from './serve-build.mjs';

let bundle;
try {
  bundle = await ensureServeBuild();
} catch (e) {
  process.stderr.write(`Cannot build the gateway: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
if (process.argv[2] === '--build-only') process.exit(0);
await import(pathToFileURL(bundle).href);
