/**
 * Bridge forwarding in threads (issue 14, part 5): with both sides serial ports, two threads that
 * block in read() forward, as socat does, and the event loop only decodes. Real ptys (socat),
 * opened through serialport by the bridge; the test holds the far ends of both pairs itself.
 */
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BridgeGateway } from '../../src/gateway/bridge/index.js';
import { MemorySink } from '../../src/gateway/index.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';
import { ptyPair, type PtyPair } from './helpers.js';

// A chained read of node 5 and the simulator's reply to it (SEQ 0x4c), as they went over a bridge.
const REQUEST = Buffer.from('10024c05170481a00120a101217101710aa1c02140472147724172411003', 'hex');
const REPLY = Buffer.from('10024c05250281a03e70a13e80710a45744f482031356d6261a1c04554d1774741a7c071724100598dc11003', 'hex');

/** Reads `fd` (non-blocking) without ever yielding to the event loop, until `n` bytes came or `ms` passed. */
function spinRead(fd: number, n: number, ms: number): Buffer {
  const parts: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  let got = 0;
  const end = performance.now() + ms;
  while (got < n && performance.now() < end) {
    try {
      const k = readSync(fd, buf, 0, buf.length, null);
      if (k > 0) {
        parts.push(Buffer.from(buf.subarray(0, k)));
        got += k;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
  return Buffer.concat(parts);
}

interface Rig {
  bridge: BridgeGateway;
  sink: MemorySink;
  /** The master's and the instrument's far ends, non-blocking. */
  master: number;
  instrument: number;
  close(): Promise<void>;
}

async function rig(options: { forwardThreads?: boolean } = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-threads-'));
  const pairs: PtyPair[] = [await ptyPair(join(dir, 'm'), join(dir, 'm.bridge')), await ptyPair(join(dir, 'i'), join(dir, 'i.bridge'))];
  const sink = new MemorySink(1000);
  const bridge = new BridgeGateway({ masterPort: join(dir, 'm.bridge'), instrumentPort: join(dir, 'i.bridge'), replyTimeoutMs: 400, ...options }, { sink });
  await bridge.start();
  await waitUntil(() => bridge.ready() || undefined, { timeoutMs: 5000, what: 'both sides open' });
  const far = (name: string) => openSync(join(dir, name), constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  const master = far('m');
  const instrument = far('i');
  return {
    bridge,
    sink,
    master,
    instrument,
    async close() {
      await bridge.close();
      closeSync(master);
      closeSync(instrument);
      for (const p of pairs) await p.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!SOCAT)('bridge forwarding in threads, on real ptys', () => {
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.close();
    r = undefined;
  });

  it('forwards a request and its reply while the event loop does not turn, and decodes and logs them afterwards', async () => {
    r = await rig();
    await waitUntil(() => r?.bridge.details().forwarding === 'threads' || undefined, { timeoutMs: 3000, what: 'forwarding in threads' });
    // Nothing below yields to the loop until both frames have crossed: only the threads can move them.
    writeSync(r.master, REQUEST);
    expect(spinRead(r.instrument, REQUEST.length, 3000).toString('hex')).toBe(REQUEST.toString('hex'));
    writeSync(r.instrument, REPLY);
    expect(spinRead(r.master, REPLY.length, 3000).toString('hex')).toBe(REPLY.toString('hex'));

    const sink = r.sink;
    await waitUntil(() => sink.list({ limit: 10 }).find((t) => t.outcome === 'ok') ?? undefined, { timeoutMs: 3000, what: 'the transaction logged' });
    const [t] = sink.list({ limit: 10 });
    expect([t?.node, t?.seq, t?.outcome]).toEqual([5, 0x4c, 'ok']);
    expect(Buffer.from(t?.requestBytes ?? []).toString('hex')).toBe(REQUEST.toString('hex'));
    expect(Buffer.from(t?.replyBytes ?? []).toString('hex')).toBe(REPLY.toString('hex'));
    const d = r.bridge.details();
    expect([d.directions['>'].bytes, d.directions['>'].forwarded, d.directions['<'].bytes, d.directions['<'].forwarded]).toEqual([REQUEST.length, REQUEST.length, REPLY.length, REPLY.length]);
    expect([d.directions['>'].frames, d.directions['<'].frames]).toEqual([1, 1]);
    expect(d.forwardLatency.count).toBe(2);
    expect(r.bridge.transport('master').status().bytesIn).toBe(REQUEST.length);
    expect(r.bridge.transport('instrument').status().bytesOut).toBe(REQUEST.length);
  });

  it('with forwardThreads false the loop forwards: nothing crosses while it does not turn', async () => {
    r = await rig({ forwardThreads: false });
    expect(r.bridge.details().forwarding).toBe('loop');
    writeSync(r.master, REQUEST);
    expect(spinRead(r.instrument, REQUEST.length, 300).length).toBe(0);
    const fd = r.instrument;
    await waitUntil(() => spinRead(fd, REQUEST.length, 5).length > 0 || undefined, { timeoutMs: 3000, what: 'the request forwarded once the loop turns' });
  });

  it('stops forwarding at close: the threads are gone and nothing crosses any more', async () => {
    r = await rig();
    await waitUntil(() => r?.bridge.details().forwarding === 'threads' || undefined, { timeoutMs: 3000, what: 'forwarding in threads' });
    await r.bridge.close();
    expect(r.bridge.details().forwarding).toBe('loop');
    writeSync(r.master, REQUEST);
    expect(spinRead(r.instrument, 1, 300).length).toBe(0);
  });
});
