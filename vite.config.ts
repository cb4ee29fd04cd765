/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const ISOLATED = ['test/electron/**/*.test.ts', 'test/renderer/screens.test.tsx'];

// One config for the renderer build (Vite) and the whole test suite (Vitest).
export default defineConfig({
  root: `${here}src-renderer`,
  // Relative base: the same build is served at /ui/ by the gateway and through the desktop app's custom protocol.
  base: './',
  plugins: [react()],
  build: {
    outDir: `${here}dist/renderer`,
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  test: {
    root: here,
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Three workers on two cores: most of the suite waits on sockets, child processes and
    // Chromium rather than computing.
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        // Files that replace modules (`vi.mock`) or load the Electron main process into the
        // worker with a fake `electron`: each gets a fresh module graph.
        test: { name: 'isolated', include: ISOLATED, isolate: true },
      },
      {
        extends: true,
        // The rest share their worker's modules (fastify, undici, SQLite... are loaded once per
        // worker instead of once per file): no test may depend on module state another file left.
        test: { name: 'shared', setupFiles: ['test/setup/tokenizer.ts'], include: ['test/**/*.test.ts', 'test/**/*.test.tsx'], exclude: ISOLATED, isolate: false },
      },
    ],
    // The JSON report feeds .ci/run's closing summary line.
    reporters: ['default', 'json'],
    outputFile: { json: `${here}test-artifacts/vitest.json` },
  },
});
