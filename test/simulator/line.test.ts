import { afterEach, describe, expect, it } from 'vitest';
import { WireType, buildRequest, encodeMessage, encodePacket, frameToPacket, type Frame } from '../../src/codec/index.js';
import { BUFFER_FULL_ERROR, createSimulator, type Simulator, type SimulatorOptions } from '../../simulator/index.js';
import { Master, harness, type Harness } from './helpers.js';

let h: Harness | undefined;
const extra: Simulator[] = [];
afterEach(async () => {
  await h?.sim.close();
  h = undefined;
  for (const s of extra.splice(0)) await s.close();
});

const ID_READ = buildRequest([
  { process: 0, fbnr: 0, wireType: WireType.String, stringLength: 0 },
  { process: 113, fbnr: 2, wireType: WireType.String, stringLength: 0 },
  { process: 113, fbnr: 3, wireType: WireType.String, stringLength: 0 },
  { process: 113, fbnr: 6, wireType: WireType.String, stringLength: 16 },
  { process: 1, fbnr: 17, wireType: WireType.String, stringLength: 10 },
]);

describe('pacing at 38400 baud', () => {
  it('delivers a reply after request wire time + turnaround + reply wire time', async () => {
    h = harness({ baud: 38400, turnaroundMs: 10 });
    const reqBytes = encodePacket({ seq: 1, node: 3, message: ID_READ }, 'binary').length;
    const t0 = performance.now();
    h.master.send(3, ID_READ, 1);
    await h.master.waitFrames(1);
    const elapsed = h.master.frames[0]!.at - t0;
    const replyBytes = h.master.frames[0]!.raw.length;
    const expected = ((reqBytes + replyBytes) * 10 * 1000) / 38400 + 10;
    expect(replyBytes).toBeGreaterThan(60);
    // Timers may fire a little early and the simulator schedules from ideal times: 10% slack (unpaced is about 1 ms).
    expect(elapsed).toBeGreaterThanOrEqual(expected * 0.9);
    expect(elapsed).toBeLessThan(expected + 100);
  });

  it('sends pipelined replies back to back on the line', async () => {
    h = harness({ baud: 38400 });
    for (let i = 1; i <= 4; i++) h.master.send(3, ID_READ, i);
    await h.master.waitFrames(4);
    const wire = (h.master.frames[0]!.raw.length * 10 * 1000) / 38400;
    const span = h.master.frames[3]!.at - h.master.frames[0]!.at;
    // Replies leave on an ideal timeline; a timer can fire late (never early), so the first reply may
    // arrive a few ms late on a loaded machine. Unpaced, the span would be about 0; paced it is 3 wire times.
    expect(span).toBeGreaterThanOrEqual(3 * wire - 10);
    expect(h.master.frames.map((f) => f.frame.seq)).toEqual([1, 2, 3, 4]);
  });
});

describe('receive buffers', () => {
  it('queues 5 requests, answers them in order, and refuses more with error frame 8', async () => {
    h = harness({ turnaroundMs: 20 });
    const req = buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }]);
    for (let i = 1; i <= 8; i++) h.master.send(3, req, i);
    const frames = await h.master.waitFrames(8);
    const errors = frames.filter((f): f is Extract<Frame, { kind: 'error' }> => f.kind === 'error');
    expect(errors.map((f) => [f.seq, f.code])).toEqual([6, 7, 8].map((s) => [s, BUFFER_FULL_ERROR]));
    expect(frames.filter((f) => f.kind === 'data').map((f) => f.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(h.sim.stats.overflows).toBe(3);
  });
});

describe('faults', () => {
  async function run(options: SimulatorOptions, n: number): Promise<{ sim: Simulator; master: Master; outcomes: string[] }> {
    const sim = createSimulator({ now: () => 0, ...options });
    extra.push(sim);
    const master = new Master(sim.stream);
    const outcomes: string[] = [];
    sim.on('transaction', (t) => outcomes.push(t.faults.join('+') || 'ok'));
    const req = buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }]);
    for (let i = 1; i <= n; i++) master.send(3, req, i);
    await new Promise((r) => setTimeout(r, 100));
    return { sim, master, outcomes };
  }

  it('is deterministic for a seed and differs for another', async () => {
    const faults = { dropReply: 0.2, garble: 0.2, split: 0.3, statusError: 0.2, delay: 0.1, delayMs: 20 };
    const a = await run({ faults: { ...faults, seed: 42 }, bufferSize: 100 }, 40);
    const b = await run({ faults: { ...faults, seed: 42 }, bufferSize: 100 }, 40);
    const c = await run({ faults: { ...faults, seed: 43 }, bufferSize: 100 }, 40);
    expect(a.outcomes).toHaveLength(40);
    expect(a.outcomes).toEqual(b.outcomes);
    expect(a.outcomes).not.toEqual(c.outcomes);
    expect(new Set(a.outcomes).size).toBeGreaterThan(3);
    expect(a.sim.stats.faults).toEqual(b.sim.stats.faults);
  });

  it('drops, replaces with a status error, garbles and splits as asked', async () => {
    const drop = await run({ faults: { dropReply: 1 } }, 3);
    expect(drop.master.frames).toHaveLength(0);
    const status = await run({ faults: { statusError: 1 } }, 1);
    expect(frameToPacket(status.master.frames[0]!.frame).message).toEqual({ kind: 'status', status: 0x0c, index: 0 });
    const split = await run({ faults: { split: 1 } }, 1);
    expect(split.master.chunks.length).toBe(2);
    expect(split.master.frames[0]!.frame.kind).toBe('data');
    const garble = await run({ faults: { garble: 1 }, seed: 5 }, 5);
    const clean = await run({}, 5);
    const bytes = (m: Master): string => m.chunks.map((c) => Buffer.from(c.bytes).toString('hex')).join('');
    expect(bytes(garble.master)).not.toBe(bytes(clean.master));
  });

  it('delays a reply by delayMs', async () => {
    h = harness({ faults: { delay: 1, delayMs: 60 } });
    const t0 = performance.now();
    h.master.send(3, buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }]));
    await h.master.waitFrames(1);
    // The simulator schedules from ideal line times, and timers may fire a little early: allow
    // some slack; without the fault the reply comes in about 1 ms.
    expect(h.master.frames[0]!.at - t0).toBeGreaterThanOrEqual(50);
    expect(encodeMessage({ kind: 'status', status: 0, index: 0 })).toHaveLength(3);
  });
});
