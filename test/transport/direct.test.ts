import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectForwarding, serialOpener, Transport, type DirectHandlers } from '../../src/transport/index.js';
import { ptyPair, type PtyPair } from '../bridge/helpers.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Two serial transports joined by forwarding threads (issue 14, part 5), on real ptys: while the
 * threads read, serialport reads nothing; once they stop, by a stop or by a thread failing on
 * its own, the transports read again and nothing is left silent.
 */
describe.skipIf(!SOCAT)('forwarding threads between two serial transports', () => {
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of closers.reverse()) await c();
    closers.length = 0;
  });

  async function setup() {
    const dir = mkdtempSync(join(tmpdir(), 'flowbus-direct-'));
    const pairs: PtyPair[] = [await ptyPair(join(dir, 'a'), join(dir, 'a.far')), await ptyPair(join(dir, 'b'), join(dir, 'b.far'))];
    const ts = [new Transport('a', serialOpener(join(dir, 'a'), 38400)), new Transport('b', serialOpener(join(dir, 'b'), 38400))] as const;
    for (const t of ts) await t.start();
    const far = [join(dir, 'a.far'), join(dir, 'b.far')].map((p) => openSync(p, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK)) as [number, number];
    const seen: [number[], number[]] = [[], []];
    ts.forEach((t, i) => t.on('data', (c) => seen[i]?.push(...c)));
    const calls = { chunks: [] as { from: number; text: string }[], failed: [] as number[], broken: [] as string[] };
    const handlers: DirectHandlers = {
      chunk: (from, bytes) => calls.chunks.push({ from, text: Buffer.from(bytes).toString() }),
      skipped: () => undefined,
      failed: (side) => calls.failed.push(side),
      broken: (reason) => calls.broken.push(reason),
    };
    closers.push(async () => {
      for (const fd of far) closeSync(fd);
      for (const t of ts) await t.close();
      for (const p of pairs) await p.close();
      rmSync(dir, { recursive: true, force: true });
    });
    return { ts, pairs, far, seen, calls, handlers };
  }

  const readAll = (fd: number): string => {
    const buf = Buffer.alloc(4096);
    try {
      return buf.subarray(0, readSync(fd, buf, 0, buf.length, null)).toString();
    } catch {
      return '';
    }
  };

  it('forwards both ways in the threads while serialport reads nothing, and hands serialport the reading back at stop', async () => {
    const { ts, far, seen, calls, handlers } = await setup();
    const direct = DirectForwarding.start(ts, handlers);
    expect(direct).toBeDefined();
    closers.push(() => direct?.stop());
    writeSync(far[0], 'ping');
    let got = '';
    await waitUntil(() => (got += readAll(far[1])) === 'ping' || undefined, { timeoutMs: 3000, what: 'a -> b through the threads' });
    writeSync(far[1], 'pong');
    got = '';
    await waitUntil(() => (got += readAll(far[0])) === 'pong' || undefined, { timeoutMs: 3000, what: 'b -> a through the threads' });
    direct?.drain();
    expect(calls.chunks.map((c) => `${c.from}:${c.text}`).join(' ')).toBe('0:ping 1:pong');
    expect(seen.map((s) => s.length)).toEqual([0, 0]);
    expect([ts[0].status().bytesIn, ts[1].status().bytesOut, ts[1].status().bytesIn, ts[0].status().bytesOut]).toEqual([4, 4, 4, 4]);

    await direct?.stop();
    writeSync(far[0], 'back');
    await waitUntil(() => Buffer.from(seen[0]).toString() === 'back' || undefined, { timeoutMs: 3000, what: 'serialport reading again' });
    expect(readAll(far[1])).toBe('');
    expect(calls.failed).toEqual([]);
    expect(calls.broken).toEqual([]);
  });

  it('a thread that ends by itself stops both and says so: the ports stay open and serialport reads them again', async () => {
    const { ts, far, seen, calls, handlers } = await setup();
    const direct = DirectForwarding.start(ts, handlers);
    closers.push(() => direct?.stop());
    await direct?.threads[1]?.terminate();
    await waitUntil(() => calls.broken[0], { timeoutMs: 3000, what: 'the failure reported' });
    expect(calls.broken[0]).toMatch(/ended by itself/);
    expect(ts.map((t) => t.state)).toEqual(['open', 'open']);
    writeSync(far[1], 'still');
    await waitUntil(() => Buffer.from(seen[1]).toString() === 'still' || undefined, { timeoutMs: 3000, what: 'serialport reading side b again' });
    expect(calls.failed).toEqual([]);
  });

  it('a device that hangs up under a thread: that side fails, its transport sees the disconnect, and the other stays open', async () => {
    const { ts, pairs, calls, handlers } = await setup();
    const direct = DirectForwarding.start(ts, handlers);
    closers.push(() => direct?.stop());
    await pairs[1]?.close(); // socat goes: b's pty is hung up under its thread
    await waitUntil(() => calls.failed.length > 0 || undefined, { timeoutMs: 3000, what: 'the hang-up reported' });
    expect(calls.failed).toEqual([1]);
    await waitUntil(() => ts[1].state !== 'open' || undefined, { timeoutMs: 3000, what: 'side b down' });
    expect(ts[1].status().lastError).toMatch(/hung up|disconnected|closed/);
    expect(ts[0].state).toBe('open');
    expect(calls.broken).toEqual([]);
  });
});
