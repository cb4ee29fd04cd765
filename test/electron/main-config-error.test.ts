/**
 * Calm under failure: a bad config file does not crash the desktop app. The gateway stays down
 * with the reason in a dialog and the tray; after the file is fixed, "Start Gateway Again" works.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fake, FakeTray } from './fake-electron';
import { loadMain, type Harness } from './main-harness';

let h: Harness;
beforeAll(async () => {
  h = await loadMain({ configYaml: 'server:\n  logLevel: error\n  hots: 127.0.0.1\n' });
}, 120_000);
afterAll(async () => {
  if (fake.app.exitCode === undefined) {
    fake.app.quit();
    await vi.waitFor(() => expect(fake.app.exitCode).toBe(0), { timeout: 30_000 });
  }
  h.cleanup();
}, 60_000);

const tray = () => FakeTray.all[0];

describe('desktop main process with a bad config file', () => {
  it('shows why the gateway did not start, in a dialog and the tray', async () => {
    await vi.waitFor(() => expect(fake.messages.length).toBe(1), { timeout: 60_000 });
    const msg = fake.messages[0] as { message: string; detail: string };
    expect(msg.message).toBe('The gateway could not start.');
    expect(msg.detail).toContain('server.hots');
    await vi.waitFor(() => expect(tray()?.tooltip).toContain('gateway not running'));
    expect(tray().tooltip).toContain('server.hots');
    expect(tray().image).toMatchObject({ path: expect.stringMatching(/tray-down/) });
    expect(fake.app.exitCode).toBeUndefined();
  });

  it('starts once the file is fixed', async () => {
    writeFileSync(path.join(h.userData, 'config.yaml'), 'server:\n  logLevel: error\n');
    tray().click('Start Gateway Again');
    await vi.waitFor(() => expect(tray().tooltip).toMatch(/http:\/\/127\.0\.0\.1:\d+\/v1/), { timeout: 60_000, interval: 100 });
  }, 90_000);
});
