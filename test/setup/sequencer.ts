/**
 * Longest files first. On two cores the run is as long as its last worker: a long file that starts
 * late ends the run alone. Durations come from the last run's JSON report
 * (test-artifacts/vitest.json, written by every `vitest run`); files it does not know (new, or no
 * report yet) are ranked by size, bytes standing in for milliseconds at BYTES_PER_MS, which puts a
 * big unknown file early and a small one late. Vitest's own cache does the same only when it has
 * results for both files of a comparison, and it lives in node_modules/.vite (shared by worktrees).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
// Types only: vite.config.ts imports this file, and `vite build` need not load Vitest.
import type { TestSequencer, TestSpecification, Vitest } from 'vitest/node';

/** A rough exchange rate for unknown files: a 10 kB file counts as ~2 s. */
const BYTES_PER_MS = 5;

function lastDurations(root: string): Map<string, number> {
  const out = new Map<string, number>();
  try {
    const report = JSON.parse(readFileSync(join(root, 'test-artifacts', 'vitest.json'), 'utf8')) as {
      testResults?: { name: string; startTime?: number; endTime?: number }[];
    };
    for (const r of report.testResults ?? []) {
      if (typeof r.startTime === 'number' && typeof r.endTime === 'number') out.set(r.name, r.endTime - r.startTime);
    }
  } catch {
    /* no report yet (a fresh clone) or an unreadable one: sizes only */
  }
  return out;
}

export default class LongestFirstSequencer implements TestSequencer {
  constructor(private readonly ctx: Vitest) {}

  /** `--shard`: Vitest's own split (loaded only then). */
  async shard(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { BaseSequencer } = await import('vitest/node');
    return new BaseSequencer(this.ctx).shard(files);
  }

  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = lastDurations(this.ctx.config.root);
    const weight = new Map<string, number>();
    const weigh = (f: TestSpecification): number => {
      let w = weight.get(f.moduleId);
      if (w === undefined) {
        w = known.get(f.moduleId);
        if (w === undefined) {
          try {
            w = statSync(f.moduleId).size / BYTES_PER_MS;
          } catch {
            w = 0;
          }
        }
        weight.set(f.moduleId, w);
      }
      return w;
    };
    return [...files].sort((a, b) => {
      const byGroup = a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder;
      if (byGroup !== 0) return byGroup;
      return weigh(b) - weigh(a) || (a.moduleId < b.moduleId ? -1 : 1);
    });
  }
}
