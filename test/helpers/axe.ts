/** axe-core (node_modules/axe-core) in a Playwright page: its serious and critical findings. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

export const AXE = join(fileURLToPath(new URL('../../', import.meta.url)), 'node_modules/axe-core/axe.min.js');

export interface Finding {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/** axe on the page as it is now (the context must bypass the dashboard's CSP to inject it). */
export async function audit(page: Page): Promise<Finding[]> {
  if (!(await page.evaluate("'axe' in window"))) await page.addScriptTag({ path: AXE });
  // A string, evaluated in the page (test files are type-checked without the DOM library).
  return page.evaluate(`(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' :: ' + (n.failureSummary || '').split('\\n').slice(1, 2).join('').trim()) }));
  })()`) as Promise<Finding[]>;
}
