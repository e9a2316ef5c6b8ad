/**
 * The bridge's decoding side gives the forwarding the loop between transactions (issue 14, part
 * 5): a log that is slow on the main thread delays what it logs, not the bytes the bridge
 * forwards. In process (the simulator as the instrument, the master on a duplex pair); only the
 * order of what happened is checked, never a time.
 */
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createSimulator } from '../../simulator/index.js';
import { buildRequest, createDeframer, encodeFrame, encodeMessage } from '../../src/codec/index.js';
import { BridgeGateway, type LoggedTransaction } from '../../src/gateway/index.js';
import { SliceQueue } from '../../src/gateway/bridge/slices.js';
import { resolveParam } from '../../src/params/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { waitUntil } from '../helpers/wait.js';

const measure = resolveParam('measure');
const request = (seq: number) => encodeFrame({ kind: 'data', seq, node: 3, data: encodeMessage(buildRequest([{ process: measure.process, fbnr: measure.fbnr, wireType: measure.wireType }])) }, 'binary');

/** Busy for `ms` on the main thread, as a slow synchronous consumer would be. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe('SliceQueue', () => {
  it('handles items in order, one turn of the loop for each item that outlasts the budget', async () => {
    const seen: string[] = [];
    const q = new SliceQueue<number>((n) => {
      seen.push(`item ${n}`);
      // What is scheduled for the next turn while an item runs.
      setImmediate(() => seen.push(`between ${n}`));
      busy(1);
    }, 0.1);
    for (let i = 1; i <= 3; i++) q.push(i);
    expect(seen).toEqual([]);
    await waitUntil(() => seen.length === 6 || undefined, { what: 'three items' });
    expect(seen).toEqual(['item 1', 'between 1', 'item 2', 'between 2', 'item 3', 'between 3']);
  });

  it('flush handles what waits at once, in order; an item that throws does not stop the others', () => {
    const seen: number[] = [];
    const q = new SliceQueue<number>((n) => {
      if (n === 2) throw new Error('boom');
      seen.push(n);
    }, 0.1);
    for (let i = 1; i <= 4; i++) q.push(i);
    q.flush();
    expect(seen).toEqual([1, 3, 4]);
    expect(q.waiting).toBe(0);
  });
});

describe('the bridge forwards between the transactions it logs', () => {
  it('a chunk the master sends while a slow log handles the first of five transactions is forwarded before the second is logged', async () => {
    const sim = createSimulator({ nodes: [3] });
    const [bridgeEnd, masterEnd] = duplexPair();
    const order: string[] = [];
    let instrument: Duplex | undefined;
    // The instrument side as the simulator's stream, with what the bridge writes to it noted (DLE STX SEQ ...).
    const openInstrument = async (): Promise<Duplex> => {
      const link = sim.connect();
      const write = link.write.bind(link) as (chunk: Uint8Array, ...rest: unknown[]) => boolean;
      link.write = ((chunk: Uint8Array, ...rest: unknown[]) => {
        if (chunk[2] === 0x26) order.push('forwarded SEQ 0x26');
        return write(chunk, ...rest);
      }) as Duplex['write'];
      instrument = link;
      return link;
    };
    let logged = 0;
    const sink = {
      write(t: LoggedTransaction) {
        logged++;
        order.push(`logged SEQ 0x${(t.seq ?? 0).toString(16)}`);
        // While the first is being logged, the master asks again (in a later turn of the loop).
        if (logged === 1) setImmediate(() => masterEnd.write(request(0x26)));
        busy(2);
      },
    };
    const bridge = new BridgeGateway({ instrumentPort: 'sim://', masterPort: 'in-process', name: 'tap' }, { sink, openers: { instrument: openInstrument, master: async () => bridgeEnd } });
    const deframer = createDeframer('binary');
    let replies = 0;
    masterEnd.on('data', (c: Buffer) => {
      for (const ev of deframer.push(c)) if (ev.kind === 'frame') replies++;
    });
    try {
      await bridge.start();
      await waitUntil(() => (bridge.ready() && instrument !== undefined) || undefined, { what: 'both sides open' });
      // Five requests at once: their replies are one burst, paired into five transactions in one go.
      masterEnd.write(Buffer.concat([0x21, 0x22, 0x23, 0x24, 0x25].map((s) => request(s))));
      await waitUntil(() => replies >= 6 || undefined, { timeoutMs: 5000, what: 'the six replies' });
      await waitUntil(() => logged >= 5 || undefined, { timeoutMs: 5000, what: 'the five transactions logged' });
      expect(order.slice(0, 3)).toEqual(['logged SEQ 0x21', 'forwarded SEQ 0x26', 'logged SEQ 0x22']);
    } finally {
      await bridge.close();
      await sim.close();
    }
  });
});
