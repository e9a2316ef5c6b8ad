import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serialOpener, Transport } from '../../src/transport/index.js';
import { ptyPair } from '../bridge/helpers.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * The bridge holds a side's reading back while the other side has not taken its bytes (rather
 * than dropping them): the bytes wait in the tty's queue and arrive, all of them, on resume.
 */
describe.skipIf(!SOCAT)('a serial transport held back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-pause-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('takes no bytes while paused, and every byte after resumeReading()', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const pair = await ptyPair(a, b);
    const t = new Transport(`serial://${a}`, serialOpener(a, 38400));
    const far = openSync(b, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    try {
      await t.start();
      const got: number[] = [];
      t.on('data', (chunk) => got.push(...chunk));
      writeSync(far, Buffer.from('one'));
      await waitUntil(() => got.length >= 3 || undefined, { timeoutMs: 3000, what: 'the first bytes' });
      t.pauseReading();
      expect(t.paused).toBe(true);
      writeSync(far, Buffer.from('two'));
      await new Promise((r) => setTimeout(r, 300));
      expect(Buffer.from(got).toString()).toBe('one');
      t.resumeReading();
      await waitUntil(() => got.length >= 6 || undefined, { timeoutMs: 3000, what: 'the bytes held in the tty while paused' });
      expect(Buffer.from(got).toString()).toBe('onetwo');
    } finally {
      closeSync(far);
      await t.close();
      await pair.close();
    }
  });
});
