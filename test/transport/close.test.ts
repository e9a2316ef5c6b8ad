import { readdirSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serialOpener, Transport } from '../../src/transport/index.js';
import { ptyPair } from '../bridge/helpers.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe.skipIf(!SOCAT || process.platform !== 'linux')('closing a transport on a serial port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-close-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('closes the port: opening and closing many times leaves no file descriptor behind', async () => {
    const a = join(dir, 'a');
    const pair = await ptyPair(a, join(dir, 'b'));
    try {
      const warm = new Transport(`serial://${a}`, serialOpener(a, 38400));
      await warm.start();
      await warm.close();
      const before = openFds();
      for (let i = 0; i < 20; i++) {
        const t = new Transport(`serial://${a}`, serialOpener(a, 38400));
        await t.start();
        expect(t.state).toBe('open');
        await t.close();
      }
      expect(openFds() - before).toBeLessThanOrEqual(1);
    } finally {
      await pair.close();
    }
  });

  it('a dropped link (a reopen) releases the port, so that it can be opened again at once', async () => {
    const a = join(dir, 'c');
    const pair = await ptyPair(a, join(dir, 'd'));
    const t = new Transport(`serial://${a}`, serialOpener(a, 38400), { initialDelayMs: 20 });
    try {
      await t.start();
      for (let i = 1; i <= 3; i++) {
        t.drop('reopen asked');
        await waitUntil(() => t.state === 'open' || undefined, { timeoutMs: 3000, what: `open again (${i})` });
        expect(t.status().reconnects).toBe(i);
      }
    } finally {
      await t.close();
      await pair.close();
    }
  });
});
