import { afterEach, describe, expect, it } from 'vitest';
import { MasterGateway, MemorySink } from '../../src/gateway/index.js';
import { createSimulator, type FaultOptions, type Simulator } from '../../simulator/index.js';
import type { GatewayError } from '../../src/shared/index.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function start(faults: FaultOptions) {
  const sim: Simulator = createSimulator({ nodes: [3, 5, 7], faults: { seed: 11, ...faults }, seed: 5 });
  const sink = new MemorySink(100_000);
  const gw = new MasterGateway({
    buses: [{ name: 'main', port: 'sim://faulty', bus: { replyTimeoutMs: 120, retries: 1, backoffAfterFailures: 50 } }],
    poll: { parameters: ['fMeasure', 'measure', 'setpoint', 'alarmInfo'], intervalMs: 50 },
    simulator: () => sim.connect(),
    sink,
  });
  cleanup.push(async () => {
    await gw.close();
    await sim.close();
  });
  await gw.start();
  return { gw, sim, sink };
}

/** Reads that identify their node in the answer: PNA must equal the node, the serial must be that instrument's. */
async function hammer(gw: MasterGateway, sim: Simulator, rounds: number) {
  type Result = { node: number; ok: boolean; right: boolean; code?: string };
  // Sequential per node (identical concurrent reads would share one transaction), the three nodes in parallel.
  const perNode = async (node: number): Promise<Result[]> => {
    const out: Result[] = [];
    for (let i = 0; i < rounds; i++) {
      const names = i % 2 === 0 ? ['primaryNodeAddress', 'serialNumber'] : ['serialNumber', 'primaryNodeAddress', 'capacity'];
      out.push(
        await gw.readParams(String(node), names, {}).then(
          (r) => {
            const byKey = Object.fromEntries(r.values.map((v) => [v.key, 'value' in v ? v.value : undefined]));
            const answered = r.values.every((v) => 'value' in v);
            const right = byKey.primaryNodeAddress === node && byKey.serialNumber === sim.instruments.get(node)!.get('serialNumber');
            return { node, ok: answered, right: answered ? right : true };
          },
          (e: GatewayError) => ({ node, ok: false, right: true, code: e.code }),
        ),
      );
    }
    return out;
  };
  // Nothing may hang: every call settles well within this bound.
  const settled = await Promise.race([
    Promise.all([3, 5, 7].map(perNode)).then((r) => r.flat()),
    new Promise<null>((r) => setTimeout(() => r(null), 25_000)),
  ]);
  expect(settled, 'some requests never settled').not.toBeNull();
  return settled!;
}

describe('master mode under injected faults', () => {
  it('drops, delays past the timeout, split replies and status errors: every answer is its own, every failure precise', async () => {
    const { gw, sim, sink } = await start({ dropReply: 0.1, delay: 0.08, delayMs: 250, split: 0.3, statusError: 0.05 });
    await gw.discover();
    const results = await hammer(gw, sim, 40);
    const wrong = results.filter((r) => !r.right);
    expect(wrong, 'a reply was attributed to the wrong request').toEqual([]);
    const failed = results.filter((r) => !r.ok);
    for (const f of failed) expect(['BUS_TIMEOUT', 'BUS_STATUS', undefined]).toContain(f.code);
    expect(results.filter((r) => r.ok).length).toBeGreaterThan(results.length / 2);
    expect(sim.stats.faults.dropped + sim.stats.faults.delayed).toBeGreaterThan(5);
    const stats = gw.bus().bus.stats();
    expect(stats.lateReplies).toBeGreaterThan(0);
    // The poller keeps going through all of it.
    const before = sink.list({ limit: 100_000 }).filter((t) => t.purpose === 'poll' && t.outcome === 'ok').length;
    await new Promise((r) => setTimeout(r, 600));
    const after = sink.list({ limit: 100_000 }).filter((t) => t.purpose === 'poll' && t.outcome === 'ok').length;
    expect(after).toBeGreaterThan(before);
  });

  it('garbled bytes: nothing hangs or crashes, nothing is misattributed; ProPar has no checksum, so only a garbled value byte can give a wrong value', async () => {
    const { gw, sim } = await start({ garble: 0.15, split: 0.2 });
    await gw.discover();
    const results = await hammer(gw, sim, 40);
    const wrong = results.filter((r) => !r.right).length;
    // A wrong value can only come from a reply whose value bytes the simulator garbled.
    expect(wrong).toBeLessThanOrEqual(sim.stats.faults.garbled);
    expect(sim.stats.faults.garbled).toBeGreaterThan(5);
    expect(results.filter((r) => r.ok).length).toBeGreaterThan(results.length / 2);
    const stats = gw.bus().bus.stats();
    expect(stats.discards + stats.unsolicited + stats.implausible + stats.outcomes.timeout).toBeGreaterThan(0);
    expect(gw.instrument('3').online).toBe(true);
  });
});
