import { afterEach, describe, expect, it } from 'vitest';
import { MasterGateway, MemorySink } from '../../src/gateway/index.js';
import { createSimulator, type FaultOptions, type Simulator } from '../../simulator/index.js';
import type { GatewayError } from '../../src/shared/index.js';
import { waitUntil } from '../helpers/wait.js';

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
  }, { simulator: () => sim.connect(), sink });
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

describe('identity and discovery under garbled bytes', () => {
  /** What each simulated instrument really is, field by field, as the gateway's identity names it. */
  function truth(sim: Simulator, node: number): Record<string, unknown> {
    const h = sim.instruments.get(node)!;
    const text = (ref: string) => String(h.get(ref));
    // The identification string starts with the device type code byte (7 for a DMFC), shown on its own.
    const id = text('identificationString');
    return {
      identificationNumber: id.charCodeAt(0),
      idString: id.slice(1),
      deviceType: text('deviceType'),
      model: text('bhtModelNumber'),
      serial: text('serialNumber'),
      firmware: text('firmwareVersion'),
      userTag: text('userTag'),
      fluidName: text('fluidName'),
      capacity: Number(h.get('capacity')),
      capacityUnit: text('capacityUnit'),
      channels: Number(h.get('numberOfChannels')),
    };
  }

  it('60 walks at 5 % garbled replies: a node is listed only when confirmed, never a phantom', async () => {
    const sim: Simulator = createSimulator({ nodes: [3, 5, 7], faults: { seed: 8, garble: 0.05 }, seed: 5 });
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'sim://garbled', bus: { replyTimeoutMs: 40, retries: 1, backoffAfterFailures: 100 } }],
      poll: { parameters: [], intervalMs: 1000 },
    }, { simulator: () => sim.connect() });
    cleanup.push(async () => {
      await gw.close();
      await sim.close();
    });
    await gw.start();
    const phantoms: number[] = [];
    for (let walk = 0; walk < 60; walk++) {
      const listed = await gw.discover();
      phantoms.push(...listed.map((i) => i.node).filter((n) => ![3, 5, 7].includes(n)));
    }
    expect(sim.stats.faults.garbled, 'the fault was not injected').toBeGreaterThan(40);
    expect(phantoms, 'a node that is not on the bus was listed').toEqual([]);
    expect(gw.instruments().map((i) => i.node)).toEqual([3, 5, 7]);
  }, 60_000);

  it('many walks and polls at 5 % garbled replies: every identity field shown is the true one', async () => {
    const sim: Simulator = createSimulator({ nodes: [3, 5, 7], faults: { seed: 3, garble: 0.05 }, seed: 5 });
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'sim://garbled', bus: { replyTimeoutMs: 40, retries: 1, backoffAfterFailures: 100 } }],
      // Capacity, unit and fluid are polled too: a garbled poll reply must not change them.
      poll: { parameters: ['fMeasure', 'capacity', 'capacityUnit', 'fluidName'], intervalMs: 60 },
    }, { simulator: () => sim.connect() });
    cleanup.push(async () => {
      await gw.close();
      await sim.close();
    });
    await gw.start();
    const truths = new Map([3, 5, 7].map((n) => [n, truth(sim, n)]));
    const phantoms = new Map<number, number>();
    const wrong: string[] = [];
    const check = () => {
      for (const i of gw.instruments()) {
        const t = truths.get(i.node);
        if (!t) {
          phantoms.set(i.node, (phantoms.get(i.node) ?? 0) + 1);
          continue;
        }
        for (const [field, value] of Object.entries(i.identity)) if (value !== t[field]) wrong.push(`node ${i.node} ${field}=${JSON.stringify(value)}`);
      }
    };
    for (let walk = 0; walk < 40; walk++) {
      await gw.discover();
      check();
      // Polls in between: each may carry a garbled capacity, unit or fluid name.
      await new Promise((r) => setTimeout(r, 70));
      check();
    }
    expect(sim.stats.faults.garbled, 'the fault was not injected').toBeGreaterThan(30);
    expect([...phantoms.keys()], 'a node that is not on the bus was listed').toEqual([]);
    expect([...new Set(wrong)], 'an identity field differs from the instrument').toEqual([]);
    // Not by showing nothing: every instrument ends with its whole identity, confirmed.
    expect(gw.instruments().map((i) => i.node)).toEqual([3, 5, 7]);
    for (const i of gw.instruments()) expect(i.identity).toEqual(truths.get(i.node));
  }, 60_000);

  it('a transient status error is no answer: the fields it hit are read again from the poll loop until confirmed', async () => {
    // Status 12 (general communication error) on most replies; the instrument has every field.
    const sim: Simulator = createSimulator({ nodes: [3], faults: { seed: 4, statusError: 0.6, statusErrorCode: 12 }, seed: 5 });
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'sim://status', bus: { replyTimeoutMs: 40, retries: 1 } }],
      poll: { parameters: ['fMeasure'], intervalMs: 50 },
      identityRetryMs: 100,
    }, { simulator: () => sim.connect() });
    cleanup.push(async () => {
      await gw.close();
      await sim.close();
    });
    await gw.start();
    await gw.discover();
    // Every field of the truth (11 since the identification number has its own), not a count fixed by hand.
    const fields = Object.keys(truth(sim, 3)).length;
    await waitUntil(() => Object.keys(gw.instrument('3').identity).length >= fields, { timeoutMs: 15_000, intervalMs: 50, what: `all ${fields} identity fields read through the status errors` });
    expect(sim.stats.faults.statusErrors).toBeGreaterThan(10);
    expect(gw.instrument('3').identity).toEqual(truth(sim, 3));
  }, 30_000);

  it('a field the instrument does not have (status 4, twice) stays absent and is not asked for again and again', async () => {
    const sim: Simulator = createSimulator({ instruments: [{ node: 3, missing: { params: [[113, 6]] } }] });
    const sink = new MemorySink(10_000);
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'sim://', bus: { replyTimeoutMs: 100 } }],
      poll: { parameters: ['fMeasure'], intervalMs: 50 },
      identityRetryMs: 100,
    }, { simulator: () => sim.connect(), sink });
    cleanup.push(async () => {
      await gw.close();
      await sim.close();
    });
    await gw.start();
    await gw.discover();
    const { userTag: _, ...rest } = truth(sim, 3);
    expect(gw.instrument('3').identity).toEqual(rest);
    const scans = () => sink.list({ limit: 10_000 }).filter((t) => t.purpose === 'scan').length;
    const before = scans();
    await new Promise((r) => setTimeout(r, 800));
    expect(scans()).toBe(before);
  });
});
