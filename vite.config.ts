/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

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
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report feeds .ci/run's closing summary line.
    reporters: ['default', 'json'],
    outputFile: { json: `${here}test-artifacts/vitest.json` },
  },
});
