// `preserve`: build the dashboard when it is missing (a fresh clone), so /ui/ works after
// `npm install && npm run serve`. A no-op when dist/renderer/index.html exists. Never fails the
// start: a failed build is reported and the gateway starts anyway (/ui/ then answers 503).
// Writes only to stderr: stdout of `npm run serve` is the single "relay listening" line.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// RELAY_RENDERER_OUT: build somewhere else (tests; the default is what the gateway serves).
const outDir = process.env.RELAY_RENDERER_OUT ? resolve(process.env.RELAY_RENDERER_OUT) : join(root, 'dist', 'renderer');

function main() {
  if (existsSync(join(outDir, 'index.html'))) return;
  let viteBin;
  try {
    const pkgPath = createRequire(join(root, 'package.json')).resolve('vite/package.json');
    viteBin = join(dirname(pkgPath), 'bin', 'vite.js');
    if (!existsSync(viteBin)) throw new Error(`${viteBin} is missing`);
  } catch (e) {
    process.stderr.write(`dashboard not built and Vite is not installed (${firstLine(e)}); /ui/ will be unavailable. Run \`npm install\` then \`npm run build:renderer\`.\n`);
    return;
  }
  process.stderr.write('dashboard not built yet: building it once with Vite (npm run build:renderer)...\n');
  const r = spawnSync(process.execPath, [viteBin, 'build', '--logLevel', 'warn', '--outDir', outDir, '--emptyOutDir'], {
    cwd: root,
    // Vite's output goes to stderr too.
    stdio: ['ignore', process.stderr.fd, process.stderr.fd],
    timeout: 10 * 60_000,
  });
  if (r.error || r.status !== 0 || !existsSync(join(outDir, 'index.html'))) {
    const why = r.error ? firstLine(r.error) : r.signal ? `killed by ${r.signal}` : r.status !== 0 ? `vite exited with code ${r.status}` : 'no index.html was written';
    process.stderr.write(`dashboard build failed (${why}); starting without it: /ui/ will be unavailable. Retry with \`npm run build:renderer\`.\n`);
  }
}

function firstLine(e) {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}

try {
  main();
} catch (e) {
  process.stderr.write(`dashboard check failed (${firstLine(e)}); starting anyway.\n`);
}
process.exitCode = 0;
