import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonProgramFile, MasterGateway, MemorySink, Programs, type LoggedTransaction, type ProgramEvent, type WriteEvent } from '../../src/gateway/index.js';
import { simulatorFactory } from '../../src/sim.js';
import type { GatewayError } from '../../src/shared/index.js';
import { waitUntil } from '../helpers/wait.js';

const REPLY_TIMEOUT_MS = 200;
/** The simulator's default capacity (EtOH 15mba): 6817 mg/min. */
const CAPACITY = 6817;

const running: { gw: MasterGateway; programs: Programs; sims: ReturnType<typeof simulatorFactory> }[] = [];

async function start(port = 'sim://?nodes=3,5') {
  const sims = simulatorFactory();
  const sink = new MemorySink(100_000);
  const gw = new MasterGateway(
    { buses: [{ name: 'main', port, bus: { replyTimeoutMs: REPLY_TIMEOUT_MS } }], poll: { parameters: ['fMeasure', 'fSetpoint'], intervalMs: 200 } },
    { simulator: sims, sink },
  );
  const programs = new Programs(gw);
  running.push({ gw, programs, sims });
  await gw.start();
  await gw.discover();
  const sim = [...sims.simulators.values()][0]!;
  const events: ProgramEvent[] = [];
  gw.events.on('program', (e) => void events.push(e));
  return { gw, sink, sim, programs, events };
}

afterEach(async () => {
  for (const { gw, programs, sims } of running.splice(0)) {
    await programs.close();
    await gw.close();
    for (const s of sims.simulators.values()) await s.close();
  }
});

/** Accepted writes of one parameter to one node, in wire order: value and the time the request went out. */
function writesOf(sink: MemorySink, node: number, key: string): { at: number; value: number; t: LoggedTransaction }[] {
  return sink
    .list({ limit: 100_000 })
    .filter((t) => t.purpose === 'write' && t.node === node && t.outcome === 'ok')
    .flatMap((t) => t.params.filter((p) => p.key === key).map((p) => ({ at: t.startedAt, value: Number(p.value), t })))
    .sort((a, b) => a.at - b.at);
}

async function ended(programs: Programs, id: string, timeoutMs = 15_000) {
  return waitUntil(() => {
    const v = programs.get(id);
    // A failed or aborted program has ended once its safe state is done.
    return v.state === 'completed' || (['failed', 'aborted'].includes(v.state) && v.safe) ? v : undefined;
  }, { timeoutMs, what: `program ${id} to end` });
}

describe('setpoint programs on the simulator', () => {
  it('a stepped ramp writes setpoints along the ideal line, each within one step of it', async () => {
    const { sink, programs } = await start();
    const seconds = 2;
    const rate = 10;
    const to = 3000;
    const p = await programs.start({ instruments: ['main:3'], ramp: 'stepped', rate, steps: [{ type: 'hold', seconds: 0, values: { 'main:3': 0 } }, { type: 'ramp', seconds, values: { 'main:3': to } }] }, 'test');
    const done = await ended(programs, p.id);
    expect(done.state).toBe('completed');
    const writes = writesOf(sink, 3, 'fSetpoint');
    // The hold's 0, then the ramp: its first write at 0 anchors the line.
    const ramp = writes.slice(1);
    const t0 = ramp[0]!.at;
    const step = to / (seconds * rate);
    const deviations = ramp.map((w) => Math.abs(w.value - Math.min(to, (to * (w.at - t0)) / (seconds * 1000))));
    // Tolerance: one step of the ramp (300 here).
    expect(Math.max(...deviations)).toBeLessThanOrEqual(step);
    expect(ramp.at(-1)!.value).toBe(to);
    // About rate x seconds writes (generous: a slow machine writes fewer, never more than one per tick).
    expect(ramp.length).toBeGreaterThanOrEqual(5);
    expect(ramp.length).toBeLessThanOrEqual(seconds * rate + 2);
    for (let i = 1; i < ramp.length; i++) expect(ramp[i]!.value).toBeGreaterThanOrEqual(ramp[i - 1]!.value);
  });

  it('hold then wait: completes once the measure is within tolerance for the time asked', async () => {
    const { gw, programs, events } = await start();
    const p = await programs.start(
      { instruments: ['main:3'], steps: [{ type: 'hold', seconds: 0.3, values: { 'main:3': 2000 } }, { type: 'wait', tolerance: 100, seconds: 0.5, timeout: 10 }] },
      'test',
    );
    const done = await ended(programs, p.id);
    expect(done.state).toBe('completed');
    expect(done.instruments[0]!.target).toBe(2000);
    const m = await gw.readParams('main:3', ['fMeasure'], {});
    expect(Math.abs((m.values[0] as { value: number }).value - 2000)).toBeLessThan(100);
    expect(events.map((e) => e.change)).toEqual(['started', 'step', 'completed']);
  });

  it('a wait that times out fails the program and puts every instrument into its safe state', async () => {
    const { gw, sim, programs, events } = await start();
    // Node 3 never reaches its setpoint: its measure is stuck at 0.
    sim.instruments.get(3)!.pin('fMeasure', 0);
    const p = await programs.start(
      {
        instruments: [{ ref: 'main:3' }, { ref: 'main:5', safe: 'valve-closed' }],
        steps: [{ type: 'hold', seconds: 0, values: { 'main:3': 1500, 'main:5': 700 } }, { type: 'wait', tolerance: 50, seconds: 0.2, timeout: 1 }],
      },
      'test',
    );
    const done = await ended(programs, p.id);
    expect(done.state).toBe('failed');
    expect(done.reason?.code).toBe('GATEWAY_PROGRAM_WAIT_TIMEOUT');
    expect(done.safe).toEqual({ applied: true, errors: [] });
    expect(sim.instruments.get(3)!.get('fSetpoint')).toBe(0);
    expect(sim.instruments.get(5)!.get('controlMode')).toBe(3);
    expect(events.at(-1)?.change).toBe('failed');
    expect(gw.instrument('main:5').online).toBe(true);
  });

  it('abort reaches the safe state within one bus transaction plus the reply timeout', async () => {
    const { sink, programs } = await start();
    const p = await programs.start({ instruments: ['main:3', 'main:5'], ramp: 'stepped', steps: [{ type: 'ramp', seconds: 30, values: { 'main:3': 5000, 'main:5': 4000 } }] }, 'test');
    await waitUntil(() => writesOf(sink, 5, 'fSetpoint').length >= 5, { what: 'the ramp under way' });
    const asked = performance.timeOrigin + performance.now();
    const view = await programs.abort(p.id, 'test');
    expect(view.state).toBe('aborted');
    expect(view.safe?.applied).toBe(true);
    const all = sink.list({ limit: 100_000 });
    const longest = Math.max(...all.map((t) => t.endedAt - t.startedAt));
    for (const node of [3, 5]) {
      const zero = writesOf(sink, node, 'fSetpoint').find((w) => w.at >= asked - longest && w.value === 0);
      expect(zero, `node ${node}: a write of 0 after the abort`).toBeDefined();
      // On the wire no later than the transaction in flight plus the reply timeout (plus scheduling slack).
      expect(zero!.at - asked).toBeLessThanOrEqual(longest + REPLY_TIMEOUT_MS + 100);
      // Nothing of the ramp after it.
      expect(writesOf(sink, node, 'fSetpoint').filter((w) => w.at > zero!.at)).toEqual([]);
    }
  });

  it('a follower writes its leader\'s setpoint times the ratio, in lock-step', async () => {
    const { sink, sim, programs } = await start();
    const p = await programs.start(
      {
        instruments: ['main:3', { ref: 'main:5', follow: { of: 'main:3', ratio: 0.1 } }],
        ramp: 'stepped',
        steps: [{ type: 'hold', seconds: 0.2, values: { 'main:3': 2000 } }, { type: 'ramp', seconds: 1, values: { 'main:3': 4000 } }],
      },
      'test',
    );
    expect((await ended(programs, p.id)).state).toBe('completed');
    const leader = writesOf(sink, 3, 'fSetpoint').map((w) => w.value);
    const follower = writesOf(sink, 5, 'fSetpoint').map((w) => w.value);
    expect(follower).toHaveLength(leader.length);
    follower.forEach((v, i) => expect(v).toBeCloseTo(leader[i]! * 0.1, 3));
    expect(sim.instruments.get(5)!.get('fSetpoint')).toBeCloseTo(400, 3);
  });

  it('ramps with the instrument\'s own setpoint slope where it gives the ramp, and reading back mid-ramp does not fail', async () => {
    const { gw, sink, sim, programs } = await start();
    const writes: WriteEvent[] = [];
    gw.events.on('write', (e) => void writes.push(e));
    const p = await programs.start({ instruments: ['main:3'], steps: [{ type: 'hold', seconds: 0, values: { 'main:3': 0 } }, { type: 'ramp', seconds: 2, values: { 'main:3': 3408.5 } }] }, 'test');
    await waitUntil(() => programs.get(p.id).step?.ramp === 'slope', { what: 'the slope ramp' });
    // Half of the capacity in 2 s: 4 s for 0..100 %, 40 x 0.1 s.
    await waitUntil(() => writesOf(sink, 3, 'setpointSlope').length > 0, { what: 'the slope write' });
    expect(writesOf(sink, 3, 'setpointSlope')[0]!.value).toBe(40);
    await new Promise((r) => setTimeout(r, 700));
    // The instrument reports the ramp's current value, not the final one; the write path took that as its read-back.
    const mid = sim.instruments.get(3)!.get('fSetpoint') as number;
    expect(mid).toBeGreaterThan(200);
    expect(mid).toBeLessThan(3300);
    expect((await ended(programs, p.id)).state).toBe('completed');
    expect(writesOf(sink, 3, 'fSetpoint').map((w) => w.value)).toEqual([0, 3408.5]);
    // The write of the final setpoint was accepted with the ramp's value read back, well short of 3408.5.
    const final = writes.find((w) => w.param === 'fSetpoint' && w.value === 3408.5);
    expect(final?.result).toBe('accepted');
    expect(Number(final?.readBack)).toBeLessThan(1000);
    // The slope is 0 again at the end, so that later setpoints take effect at once.
    expect(sim.instruments.get(3)!.get('setpointSlope')).toBe(0);
    expect(gw.instrument('main:3').online).toBe(true);
  });

  it('auto ramps stepped where the slope cannot give the ramp, and clears a slope found on the instrument', async () => {
    const { gw, sink, sim, programs } = await start();
    // Left on the instrument by someone: every setpoint of the program would ramp at it.
    await gw.writeParam('main:3', 'setpointSlope', 500, { source: 'test' });
    // 0 -> 2 mg/min in 1 s would need a slope of 34085 x 0.1 s for 0..100 %: more than 30000.
    const p = await programs.start({ instruments: ['main:3'], steps: [{ type: 'hold', seconds: 0, values: { 'main:3': 0 } }, { type: 'ramp', seconds: 1, values: { 'main:3': 2 } }] }, 'test');
    await waitUntil(() => programs.get(p.id).step?.ramp === 'stepped', { what: 'the stepped ramp' });
    expect((await ended(programs, p.id)).state).toBe('completed');
    expect(writesOf(sink, 3, 'setpointSlope').map((w) => w.value)).toEqual([500, 0]);
    expect(sim.instruments.get(3)!.get('setpointSlope')).toBe(0);
    expect(writesOf(sink, 3, 'fSetpoint').length).toBeGreaterThan(3);
  });

  it('an instrument going offline fails the program and puts the others into their safe state', async () => {
    const { sim, programs } = await start();
    const p = await programs.start({ instruments: ['main:3', 'main:5'], steps: [{ type: 'hold', seconds: 60, values: { 'main:3': 1000, 'main:5': 1000 } }] }, 'test');
    await waitUntil(() => sim.instruments.get(3)!.get('fSetpoint') === 1000 && sim.instruments.get(5)!.get('fSetpoint') === 1000, { what: 'the hold' });
    sim.instruments.get(5)!.defineBehavior({ name: 'mute', onMessage: () => ({ silent: true }) });
    const done = await ended(programs, p.id);
    expect(done.state).toBe('failed');
    expect(done.reason?.code).toBe('GATEWAY_PROGRAM_OFFLINE');
    expect(sim.instruments.get(3)!.get('fSetpoint')).toBe(0);
    expect(done.safe?.errors.map((e) => e.instrument)).toEqual(['main:5']);
  });

  it('pause stops the clock and the writes; resume continues', async () => {
    const { sink, programs } = await start();
    const p = await programs.start({ instruments: ['main:3'], ramp: 'stepped', steps: [{ type: 'ramp', seconds: 1, values: { 'main:3': 2000 } }] }, 'test');
    await waitUntil(() => writesOf(sink, 3, 'fSetpoint').length >= 3);
    const paused = programs.pause(p.id, 'test');
    expect(paused.state).toBe('paused');
    const n = writesOf(sink, 3, 'fSetpoint').length;
    await new Promise((r) => setTimeout(r, 400));
    // At most the write in flight when paused.
    expect(writesOf(sink, 3, 'fSetpoint').length).toBeLessThanOrEqual(n + 1);
    expect(() => programs.pause(p.id, 'test')).toThrow(expect.objectContaining({ code: 'GATEWAY_PROGRAM_STATE' }));
    programs.resume(p.id, 'test');
    expect((await ended(programs, p.id)).state).toBe('completed');
    expect(writesOf(sink, 3, 'fSetpoint').at(-1)!.value).toBe(2000);
  });

  describe('validation before anything is written', () => {
    const cases: [string, unknown, string, string?][] = [
      ['unknown field', { instruments: ['main:3'], steps: [{ type: 'hold', seconds: 1 }], colour: 1 }, 'GATEWAY_PROGRAM_INVALID', 'program.colour'],
      ['no steps', { instruments: ['main:3'], steps: [] }, 'GATEWAY_PROGRAM_INVALID', 'steps'],
      ['a ramp without its setpoint', { instruments: ['main:3'], steps: [{ type: 'ramp', seconds: 1 }] }, 'GATEWAY_PROGRAM_INVALID', 'steps[0].values'],
      ['a step too long', { instruments: ['main:3'], steps: [{ type: 'hold', seconds: 1e9, values: {} }] }, 'GATEWAY_PROGRAM_INVALID', 'steps[0].seconds'],
      ['too many steps', { instruments: ['main:3'], steps: Array.from({ length: 1001 }, () => ({ type: 'hold', seconds: 1 })) }, 'GATEWAY_PROGRAM_INVALID', 'steps'],
      ['a wait timeout below its time', { instruments: ['main:3'], steps: [{ type: 'wait', tolerance: 1, seconds: 5, timeout: 2 }] }, 'GATEWAY_PROGRAM_INVALID', 'steps[0].timeout'],
      ['a setpoint above the capacity', { instruments: ['main:3'], steps: [{ type: 'hold', seconds: 1, values: { 'main:3': CAPACITY * 1.1 } }] }, 'PARAM_INVALID_VALUE', 'steps[0].values.main:3'],
      [
        'a follower pushed above its capacity by the ratio',
        { instruments: ['main:3', { ref: 'main:5', follow: { of: 'main:3', ratio: 2 } }], steps: [{ type: 'hold', seconds: 1, values: { 'main:3': 4000 } }] },
        'PARAM_INVALID_VALUE',
        'steps[0].values.main:3',
      ],
      ['a follower given a value', { instruments: ['main:3', { ref: 'main:5', follow: { of: 'main:3', ratio: 1 } }], steps: [{ type: 'hold', seconds: 1, values: { 'main:5': 1 } }] }, 'GATEWAY_PROGRAM_INVALID', 'steps[0].values.main:5'],
      ['an unknown instrument', { instruments: ['main:9'], steps: [{ type: 'hold', seconds: 1 }] }, 'GATEWAY_NODE_UNKNOWN'],
    ];
    it.each(cases)('%s', async (_what, body, code, field) => {
      const { sink, programs } = await start();
      const err = (await programs.start(body, 'test').catch((e: unknown) => e)) as GatewayError;
      expect(err.code).toBe(code);
      if (field) expect(err.details.field).toBe(field);
      expect(sink.list({ limit: 100_000 }).filter((t) => t.purpose === 'write')).toEqual([]);
      expect(programs.list()).toEqual([]);
    });

    it('an instrument already in a running program', async () => {
      const { programs } = await start();
      await programs.start({ instruments: ['main:3'], steps: [{ type: 'hold', seconds: 30, values: { 'main:3': 10 } }] }, 'test');
      await expect(programs.start({ instruments: ['3'], steps: [{ type: 'hold', seconds: 1 }] }, 'test')).rejects.toMatchObject({ code: 'GATEWAY_PROGRAM_BUSY' });
    });

    it('two programs started at once on the same instrument: one of them', async () => {
      const { programs } = await start();
      const body = { instruments: ['main:3'], steps: [{ type: 'hold', seconds: 30, values: { 'main:3': 10 } }] };
      const results = await Promise.allSettled([programs.start(body, 'a'), programs.start(body, 'b')]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ code: 'GATEWAY_PROGRAM_BUSY' });
    });

    it('an offline instrument', async () => {
      const { gw, sim, programs } = await start();
      sim.instruments.get(5)!.defineBehavior({ name: 'mute', onMessage: () => ({ silent: true }) });
      await waitUntil(() => !gw.instrument('main:5').online, { what: 'node 5 offline' });
      await expect(programs.start({ instruments: ['main:5'], steps: [{ type: 'hold', seconds: 1 }] }, 'test')).rejects.toMatchObject({ code: 'GATEWAY_PROGRAM_OFFLINE' });
    });
  });
});

describe('the programs state file', () => {
  it('is replaced atomically with each change, and an unreadable one is kept aside, not overwritten', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowbus-programs-file-'));
    try {
      const path = join(dir, 'programs.json');
      writeFileSync(path, '{ not json');
      const file = jsonProgramFile(path);
      await expect(file.load()).rejects.toThrow(/moved to/);
      expect(readdirSync(dir).filter((f) => f.startsWith('programs.json.unreadable-'))).toHaveLength(1);
      await file.save([]);
      expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ version: 1, programs: [] });
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
