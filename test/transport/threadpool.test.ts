import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, read, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serialOpener, Transport } from '../../src/transport/index.js';
import { ptyPair } from '../bridge/helpers.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * serialport reads and writes a port with fs.read and fs.write, on libuv's thread pool (four
 * threads). Anything else that holds the pool (DNS lookups, file reads, zlib, crypto) then holds
 * the port too, and every chunk the bridge forwards waits for a pool thread twice. Our serial
 * ports read and write the non-blocking descriptor on the event loop: bytes flow both ways while
 * every pool thread is stuck.
 */
describe.skipIf(!SOCAT)('a serial port with the thread pool held', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-pool-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and writes while every thread of the pool waits on a FIFO', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const pair = await ptyPair(a, b);
    const t = new Transport(`serial://${a}`, serialOpener(a, 38400));
    // The far end, read and written without the pool (synchronous calls on a non-blocking descriptor).
    const far = openSync(b, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // O_RDWR: opening does not wait for a writer, and each read waits for a byte in a pool thread.
    const hold = openSync(fifo, constants.O_RDWR);
    const stuck = 16;
    let released = 0;
    try {
      await t.start();
      expect(t.state).toBe('open');
      const got: number[] = [];
      t.on('data', (chunk) => got.push(...chunk));
      for (let i = 0; i < stuck; i++) read(hold, Buffer.alloc(1), 0, 1, null, () => released++);
      writeSync(far, Buffer.from('ping'));
      await waitUntil(() => got.length >= 4 || undefined, { timeoutMs: 3000, what: 'the bytes written on the far end, read with the pool held' });
      expect(Buffer.from(got).toString()).toBe('ping');
      await Promise.race([t.write(Buffer.from('pong')), new Promise((_, reject) => setTimeout(() => reject(new Error('the write did not finish with the pool held')), 3000))]);
      const back = Buffer.alloc(16);
      const n = await waitUntil(
        () => {
          try {
            return readSync(far, back, 0, back.length, null) || undefined;
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 3000, what: 'the bytes written by the transport, at the far end' },
      );
      expect(back.subarray(0, n).toString()).toBe('pong');
      expect(released).toBe(0);
    } finally {
      writeSync(hold, Buffer.alloc(stuck));
      await waitUntil(() => released === stuck || undefined, { timeoutMs: 3000, what: 'the pool released' });
      closeSync(hold);
      closeSync(far);
      await t.close();
      await pair.close();
    }
  });
});
