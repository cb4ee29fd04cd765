/**
 * The ledger worker when running from TypeScript source (vitest, `tsx`): registers tsx's loader
 * in this worker thread, then loads ./worker.ts. Bundled builds start the emitted
 * ledger-worker.mjs / ledger-worker.cjs instead and never load this file.
 */
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
