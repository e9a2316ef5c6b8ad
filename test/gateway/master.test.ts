import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { serveTcp, type TcpServer } from '../../simulator/cli.js';
import { requestParams } from '../../src/codec/index.js';
import { MasterGateway, MemorySink, type MasterOptionsInput } from '../../src/gateway/index.js';
import { simulatorFactory } from '../../src/sim.js';
import { type GatewayError } from '../../src/shared/index.js';
import { waitUntil } from '../helpers/wait.js';

const running: { gw: MasterGateway; sims: ReturnType<typeof simulatorFactory> }[] = [];

async function start(port = 'sim://?nodes=3,5,7', extra: Partial<MasterOptionsInput> = {}) {
  const sims = simulatorFactory();
  const sink = new MemorySink(10_000);
  const gw = new MasterGateway({
    buses: [{ name: 'main', port, bus: { replyTimeoutMs: 200 } }],
    poll: { parameters: ['fMeasure', 'fSetpoint', 'measure', 'setpoint', 'valveOutput', 'alarmInfo'], intervalMs: 100 },
    ...extra,
  }, { simulator: sims, sink });
  running.push({ gw, sims });
  await gw.start();
  await gw.discover();
  const sim = [...sims.simulators.values()][0]!;
  return { gw, sink, sim };
}

afterEach(async () => {
  for (const { gw, sims } of running.splice(0)) {
    await gw.close();
    for (const s of sims.simulators.values()) await s.close();
  }
});

describe('master mode against the simulator', () => {
  it('discovery walks the ring and reads every identity', async () => {
    const { gw, sim } = await start();
    const list = gw.instruments();
    expect(list.map((i) => i.node)).toEqual([3, 5, 7]);
    for (const i of list) {
      const handle = sim.instruments.get(i.node)!;
      expect(i.identity.serial).toBe(handle.get('serialNumber'));
      expect(i.identity.model).toBe('F-201EV-ABD');
      expect(i.identity.deviceType).toBe('DMFC');
      expect(i.identity.fluidName).toBe('EtOH 15mba');
      expect(i.identity.capacity).toBe(6817);
      expect(i.identity.capacityUnit).toBe('mg/min');
      expect(i.identity.channels).toBe(1);
      // The identification string's first byte is the device type code (7 = DMFC), not text.
      expect(i.identity.identificationNumber).toBe(7);
      expect(i.identity.idString).toBe(`SN${handle.get('serialNumber') as string}`);
      expect(i.identity.idString).toMatch(/^[\x20-\x7e]+$/);
      expect(i.online).toBe(true);
    }
    expect(new Set(list.map((i) => i.identity.serial)).size).toBe(3);
  });

  it('polls every instrument and keeps the latest values with their time', async () => {
    const { gw, sink } = await start();
    const inst = await waitUntil(() => {
      const i = gw.instrument('5');
      return Object.keys(i.values).length === 6 ? i : undefined;
    }, { timeoutMs: 3000 });
    expect(inst.values.fMeasure?.unit).toBe('mg/min');
    expect(Date.parse(inst.values.measure!.time)).toBeGreaterThan(Date.now() - 5000);
    const polls = sink.list({ limit: 10_000 }).filter((t) => t.purpose === 'poll');
    // Six parameters in one chained request per poll.
    expect(polls.length).toBeGreaterThan(0);
    expect(polls[0]?.params.map((p) => p.key).sort()).toEqual(['alarmInfo', 'fMeasure', 'fSetpoint', 'measure', 'setpoint', 'valveOutput']);
    expect(polls[0]?.outcome).toBe('ok');
  });

  it('reads parameters by key, name or DDE number in one chained read', async () => {
    const { gw, sink } = await start();
    const before = sink.count;
    const r = await gw.readParams('3', ['fluidName', 'Capacity Unit', '21', 'fmeasure'], {});
    expect(r.values.map((v) => ('value' in v ? v.value : v.error.code))).toEqual(['EtOH 15mba', 'mg/min', 6817, expect.any(Number)]);
    const reads = sink.list({ limit: 100 }).filter((t) => t.purpose === 'read');
    expect(sink.count - before).toBeGreaterThanOrEqual(1);
    expect(reads[0]?.params).toHaveLength(4);
  });

  it('writes a setpoint, validated and read back, and the flow follows', async () => {
    const { gw, sim } = await start();
    const w = await gw.writeParam('3', 'fSetpoint', 3408.5, { source: 'test' });
    expect(w.status).toEqual({ code: 0, name: 'OK' });
    expect(w.readBack?.value).toBeCloseTo(3408.5, 1);
    expect(sim.instruments.get(3)!.get('setpoint')).toBe(16000);
    await waitUntil(() => {
      const v = gw.instrument('3').values.fMeasure?.value;
      return typeof v === 'number' && Math.abs(v - 3408.5) < 60 ? v : undefined;
    }, { timeoutMs: 3000 });
  });

  it('accepts enumeration names and refuses bad values before anything goes on the wire', async () => {
    const { gw, sim, sink } = await start();
    const w = await gw.writeParam('3', 'controlMode', 'valve closed', { source: 'test' });
    expect(w.written).toBe(3);
    expect(sim.instruments.get(3)!.get('controlMode')).toBe(3);
    const sent = sink.count;
    const tooBig = (await gw.writeParam('3', 'setpoint', 40000, { source: 'test' }).catch((e: unknown) => e)) as GatewayError;
    expect(tooBig.code).toBe('PARAM_INVALID_VALUE');
    expect(tooBig.message).toMatch(/32767/);
    const badEnum = (await gw.writeParam('3', 'controlMode', 'fly to the moon', { source: 'test' }).catch((e: unknown) => e)) as GatewayError;
    expect(['PARAM_BAD_ENUM', 'PARAM_INVALID_VALUE']).toContain(badEnum.code);
    // fSetpoint's database range is any float; the instrument's capacity (6817 mg/min) sets the real one.
    const overCapacity = (await gw.writeParam('3', 'fSetpoint', 99999, { source: 'test' }).catch((e: unknown) => e)) as GatewayError;
    expect(overCapacity.code).toBe('PARAM_INVALID_VALUE');
    expect(overCapacity.message).toMatch(/99999 is outside 0\.\.6980\.39 mg\/min/);
    const ro = (await gw.writeParam('3', 'fMeasure', 1, { source: 'test' }).catch((e: unknown) => e)) as GatewayError;
    expect(ro.code).toBe('PARAM_READ_ONLY');
    const unknown = (await gw.writeParam('3', 'warpFactor', 1, { source: 'test' }).catch((e: unknown) => e)) as GatewayError;
    expect(unknown.code).toBe('PARAM_UNKNOWN');
    // None of the refused writes reached the bus (polls may have).
    expect(sink.list({ limit: 10_000 }).slice(0, sink.count - sent).filter((t) => t.purpose === 'write')).toHaveLength(0);
  });

  it('refuses secured parameters unless the config allows them, then writes inside Init Reset 64 ... 82', async () => {
    const locked = await start();
    const e = (await locked.gw.writeParam('3', 'capacity', 5000, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
    expect(e.code).toBe('PARAM_SECURED');
    expect(e.message).toMatch(/secured: true/);
    const open = await start('sim://?nodes=3', { secured: true });
    const w = await open.gw.writeParam('3', 'capacity', 5000, { source: 'test' });
    expect(w.readBack?.value).toBe(5000);
    expect(open.sim.instruments.get(3)!.get('initReset')).toBe(82);
    const write = open.sink.list({ limit: 1000 }).find((t) => t.purpose === 'write');
    expect(write?.params.map((p) => [p.key, p.value])).toEqual([
      ['initReset', 64],
      ['capacity', 5000],
      ['initReset', 82],
    ]);
  });

  it('never writes initReset on its own, even with secured: true', async () => {
    for (const secured of [false, true]) {
      const { gw, sim, sink } = await start('sim://?nodes=3', { secured, poll: { parameters: [], intervalMs: 1000 } });
      for (const value of [64, 82, 'unlock']) {
        const e = (await gw.writeParam('3', 'initReset', value, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
        expect(e.code, `secured ${secured}, ${value}`).toBe('PARAM_SECURED');
        expect(e.message).toMatch(/never written on its own.*unlocks and locks again itself/);
      }
      expect(sim.instruments.get(3)!.get('initReset')).toBe(82);
      expect(sink.list({ limit: 1000 }).filter((t) => t.purpose === 'write')).toHaveLength(0);
    }
  });

  it('refuses enumeration numbers the database does not list, before the wire', async () => {
    const { gw, sim, sink } = await start('sim://?nodes=3', { poll: { parameters: [], intervalMs: 1000 } });
    for (const [key, value] of [['controlMode', 99], ['controlMode', 255], ['valveSafeState', 9]] as const) {
      const e = (await gw.writeParam('3', key, value, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
      expect(e.code, `${key} ${value}`).toBe('PARAM_BAD_ENUM');
      expect(e.details.allowed).toContainEqual(expect.objectContaining({ value: 0 }));
    }
    expect(sim.instruments.get(3)!.get('controlMode')).toBe(0);
    expect(sink.list({ limit: 1000 }).filter((t) => t.purpose === 'write')).toHaveLength(0);
    expect((await gw.writeParam('3', 'valveSafeState', 2, { source: 'test' })).readBack?.value).toBe(2);
  });

  it('refuses text longer than the parameter takes, naming the maximum, before the wire', async () => {
    const { gw, sink } = await start('sim://?nodes=3', { secured: true, poll: { parameters: [], intervalMs: 1000 } });
    const tag = (await gw.writeParam('3', 'userTag', 'x'.repeat(300), { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
    expect(tag.code).toBe('PARAM_INVALID_VALUE');
    expect(tag.message).toContain('at most 16 characters');
    expect(tag.details.length).toBe(16);
    // A variable-length string without a known instrument limit: what one write within maxRequestBytes (64) carries,
    // here inside Init Reset 64 ... 82 (customerModel is secured).
    const model = (await gw.writeParam('3', 'customerModel', 'x'.repeat(60), { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
    expect(model.code).toBe('PARAM_INVALID_VALUE');
    expect(model.message).toMatch(/at most 53 characters \(what one write within the bus's maxRequestBytes \(64\) carries\)/);
    expect(sink.list({ limit: 1000 }).filter((t) => t.purpose === 'write')).toHaveLength(0);
    const ok = await gw.writeParam('3', 'customerModel', 'x'.repeat(53), { source: 'test' });
    expect(ok.readBack?.value).toBe('x'.repeat(53));
    expect(sink.list({ limit: 1000 }).find((t) => t.purpose === 'write')?.requestBytes?.length).toBeLessThanOrEqual(64 + 8);
  });

  it('one range for a setpoint, the instrument\'s, in the type error and the range error alike', async () => {
    const { gw } = await start('sim://?nodes=3', { poll: { parameters: [], intervalMs: 1000 } });
    const type = (await gw.writeParam('3', 'fSetpoint', 'abc', { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
    const range = (await gw.writeParam('3', 'fSetpoint', 99999, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
    for (const e of [type, range]) {
      expect(e.code).toBe('PARAM_INVALID_VALUE');
      expect(e.message).toContain('0..6980.39 mg/min');
      expect(e.message).not.toContain('3.40282');
      expect(e.details).toMatchObject({ min: 0, max: 6980.39 });
    }
  });

  it('maps an instrument status error, and an unknown node', async () => {
    const { gw } = await start();
    const e = (await gw.writeParam('3', 'fluidsetIndex', 8, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
    expect(e.code).toBe('BUS_STATUS');
    expect(e.details.statusName).toBe('PARM_VALUE');
    expect(e.message).toBe('node 3 refused fluidsetIndex = 8: status 6 PARM_VALUE (parameter value error)');
    const n = (await gw.readParams('9', ['fMeasure'], {}).catch((x: unknown) => x)) as GatewayError;
    expect(n.code).toBe('GATEWAY_NODE_UNKNOWN');
    expect(gw.instrument('128').node).toBe(3);
    expect(gw.instrument('main:7').node).toBe(7);
  });

  it('a write to an identity parameter refreshes the identity before the write answers', async () => {
    const { gw, sim } = await start('sim://?nodes=3', { poll: { parameters: ['fMeasure'], intervalMs: 100 } });
    expect(gw.instrument('3').identity.userTag).toBe('USERTAG');
    await gw.writeParam('3', 'userTag', 'REACTOR2', { source: 'test' });
    expect(gw.instrument('3').identity.userTag).toBe('REACTOR2');
    // Another fluidset: fluid name and capacity follow it, and the capacity bounds the setpoint at once.
    await gw.writeParam('3', 'fluidsetIndex', 4, { source: 'test' });
    expect(sim.instruments.get(3)!.get('fluidName')).toBe('Ar');
    const identity = gw.instrument('3').identity;
    expect([identity.fluidName, identity.capacity, identity.capacityUnit]).toEqual(['Ar', 140, 'mg/min']);
    const e = (await gw.writeParam('3', 'fSetpoint', 1000, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
    expect(e.code).toBe('PARAM_INVALID_VALUE');
    expect(e.message).toMatch(/1000 is outside 0\.\.143\.356 mg\/min \(0\.\.102\.4 %: this instrument's capacity is 140 mg\/min/);
  });

  it('a change made at the instrument (front panel, another master) is adopted from polls once two reads agree', async () => {
    const { gw, sim } = await start('sim://?nodes=3', { poll: { parameters: ['fMeasure', 'capacity'], intervalMs: 50 } });
    expect(gw.instrument('3').identity.capacity).toBe(6817);
    sim.instruments.get(3)!.set('fluidsetIndex', 7);
    // The polled capacity changes; the fluid name, which is not polled, is read again with it.
    const identity = await waitUntil(() => {
      const i = gw.instrument('3').identity;
      return i.capacity === 74 && i.fluidName === 'CO2' ? i : undefined;
    }, { timeoutMs: 3000 });
    expect(identity.capacityUnit).toBe('mg/min');
  });

  it('serves maxAge reads from the cache without a bus transaction', async () => {
    const { gw, sink } = await start('sim://?nodes=3', { poll: { parameters: [], intervalMs: 1000 } });
    await gw.readParams('3', ['fluidName'], {});
    const n = sink.count;
    const r = await gw.readParams('3', ['fluidName'], { maxAge: 60_000 });
    expect(sink.count).toBe(n);
    expect('cached' in r.values[0]! && r.values[0].cached).toBe(true);
  });
});

describe('master mode with the port down from the start', () => {
  it('answers BUS_UNAVAILABLE (not "unknown node") while the bus has never opened', async () => {
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'tcp://127.0.0.1:1' }],
      poll: { parameters: ['fMeasure'], intervalMs: 1000 },
      reconnect: { initialDelayMs: 5000 },
    });
    await gw.start();
    try {
      const e = (await gw.readParams('3', ['fMeasure'], {}).catch((x: unknown) => x)) as GatewayError;
      expect(e.code).toBe('BUS_UNAVAILABLE');
      expect(e.message).toMatch(/bus main \(tcp:\/\/127\.0\.0\.1:1\) is unavailable/);
      expect(gw.ready()).toBe(false);
    } finally {
      await gw.close();
    }
  });
});

describe('a bus that stays down', () => {
  it('is logged once, not on every reconnect attempt', async () => {
    const warnings: string[] = [];
    const logger = {
      error() {},
      warn(_o: object | string, msg?: string) {
        warnings.push(msg ?? '');
      },
      info() {},
      debug() {},
      child() {
        return logger;
      },
    };
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'tcp://127.0.0.1:1' }],
      poll: { parameters: [], intervalMs: 1000 },
      reconnect: { initialDelayMs: 10, maxDelayMs: 20 },
    }, { logger });
    await gw.start();
    await new Promise((r) => setTimeout(r, 400));
    const attempts = gw.buses()[0]!.transport;
    await gw.close();
    expect(attempts.state).not.toBe('open');
    expect(warnings.filter((w) => w.startsWith('bus main'))).toEqual(['bus main unavailable; reopening with backoff']);
  });

  it('an instrument that is switched off: warned once, not on every discovery retry, and found when it answers', async () => {
    const lines: { level: string; msg: string }[] = [];
    const logger = {
      error: (_o: unknown, msg?: string) => void lines.push({ level: 'error', msg: msg ?? '' }),
      warn: (_o: unknown, msg?: string) => void lines.push({ level: 'warn', msg: msg ?? '' }),
      info: (_o: unknown, msg?: string) => void lines.push({ level: 'info', msg: msg ?? '' }),
      debug() {},
      child() {
        return logger;
      },
    };
    // The port is open but nothing answers, until the instrument is switched on.
    const sim = createSimulator({ nodes: [3] });
    let line: Duplex | undefined;
    const port = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        line?.write(chunk);
        cb();
      },
    });
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'sim://', bus: { replyTimeoutMs: 30, retries: 0 } }],
      poll: { parameters: ['fMeasure'], intervalMs: 100 },
      discoveryRetryMs: 40,
    }, { simulator: () => port, logger });
    try {
      await gw.start();
      await waitUntil(() => (gw.buses()[0]!.transactions.timeout ?? 0) >= 20 || undefined, { timeoutMs: 10_000 });
      const silentWarnings = lines.filter((l) => /no instrument answers at node 128/.test(l.msg));
      expect(silentWarnings).toEqual([{ level: 'warn', msg: 'discovery: no instrument answers at node 128; trying again every 0.04 s' }]);
      expect(gw.instruments()).toEqual([]);
      // Switched on.
      line = sim.connect();
      line.on('data', (d: Buffer) => port.push(d));
      await waitUntil(() => gw.instruments().find((i) => i.node === 3 && i.online), { timeoutMs: 10_000 });
      expect(lines.some((l) => l.level === 'info' && /an instrument answers at node 128 again/.test(l.msg))).toBe(true);
    } finally {
      await gw.close();
      await sim.close();
    }
  });

  it('a TCP converter that comes back after a long outage is used again within 2 s, with the default backoff, and the outage is not logged per attempt', async () => {
    const warnings: string[] = [];
    const logger = {
      error() {},
      warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? ''),
      info() {},
      debug() {},
      child() {
        return logger;
      },
    };
    const sim = createSimulator({ nodes: [3] });
    let tcp: TcpServer | undefined = await serveTcp(sim, '127.0.0.1', 0);
    const port = tcp.port;
    const gw = new MasterGateway({ buses: [{ name: 'main', port: `tcp://127.0.0.1:${port}` }], poll: { parameters: ['fMeasure'], intervalMs: 200 } }, { logger });
    try {
      await gw.start();
      await waitUntil(() => gw.instruments().find((i) => i.online), { timeoutMs: 5000 });
      await tcp.close();
      tcp = undefined;
      await waitUntil(() => gw.buses()[0]!.transport.state !== 'open' || undefined, { timeoutMs: 5000 });
      // Longer than the backoff takes to grow to its 10 s maximum (250 ms doubling: 0.25 + 0.5 + ... + 8 s).
      await new Promise((r) => setTimeout(r, 12_000));
      const waits = gw.buses()[0]!.transport;
      tcp = await serveTcp(sim, '127.0.0.1', port);
      const back = Date.now();
      await waitUntil(() => gw.buses()[0]!.transport.state === 'open' || undefined, { timeoutMs: 15_000 });
      const tookMs = Date.now() - back;
      expect(tookMs, `reopened ${tookMs} ms after the converter returned (next attempt was due ${waits.retryAt})`).toBeLessThan(2000);
      await waitUntil(() => gw.instruments().find((i) => i.online), { timeoutMs: 5000 });
      // Logged when it went, and once more when the reason changed (closed, then refused): not per attempt.
      expect(warnings.filter((w) => w.startsWith('bus main'))).toEqual(['bus main unavailable; reopening with backoff', 'bus main still unavailable']);
    } finally {
      await gw.close();
      await tcp?.close();
      await sim.close();
    }
  }, 25_000);

  it('does not poll a backed-off node: no log rows for polls that never went on the wire', async () => {
    // Node 9 is configured but not on the bus: its polls fail until it is backed off.
    const { gw, sink } = await start('sim://?nodes=3,5', { instruments: [{ node: 9 }] });
    await waitUntil(() => gw.buses()[0]!.nodesBackedOff.includes(9) || undefined, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const rows = sink.list({ limit: 10_000 });
    expect(rows.filter((t) => t.node === 9 && t.outcome === 'node-backoff')).toEqual([]);
    expect(rows.filter((t) => t.node === 9 && t.outcome !== 'ok').length).toBeGreaterThan(0);
    // The healthy nodes kept being polled meanwhile.
    expect(rows.filter((t) => t.node === 3 && t.outcome === 'ok' && t.purpose === 'poll').length).toBeGreaterThan(5);
  });
});

describe('setpoints when the capacity is not known', () => {
  /** One instrument whose capacity replies are lost (never answered) while `lose.capacity` is true. */
  async function startLosingCapacity(lose: { capacity: boolean }) {
    const sim: Simulator = createSimulator({ nodes: [3] });
    sim.instruments.get(3)!.defineBehavior({
      name: 'lose-capacity',
      onMessage: (ctx) =>
        lose.capacity && ctx.message?.kind === 'request' && requestParams(ctx.message).some((p) => p.process === 1 && p.fbnr === 13) ? { silent: true } : undefined,
    });
    let first = true;
    const factory = (): Duplex => {
      if (!first) return sim.connect();
      first = false;
      return sim.stream;
    };
    const sink = new MemorySink(10_000);
    const gw = new MasterGateway({
      buses: [{ name: 'main', port: 'sim://?nodes=3', bus: { replyTimeoutMs: 50, retries: 0 } }],
      poll: { parameters: [], intervalMs: 1000 },
    }, { simulator: factory, sink });
    running.push({ gw, sims: Object.assign(() => sim.connect(), { simulators: new Map([['x', sim]]) }) });
    await gw.start();
    await gw.discover();
    return { gw, sim, sink };
  }

  it('reads the capacity before the first setpoint when discovery lost it, and checks against it', async () => {
    const lose = { capacity: true };
    const { gw, sim } = await startLosingCapacity(lose);
    expect(gw.instrument('3').identity.capacity).toBeUndefined();
    expect(gw.instrument('3').identity.serial).toBeDefined();
    lose.capacity = false;
    for (const value of [100000, -500]) {
      const e = (await gw.writeParam('3', 'fSetpoint', value, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
      expect(e.code, String(value)).toBe('PARAM_INVALID_VALUE');
      expect(e.message).toContain(`${value} is outside 0..6980.39 mg/min`);
    }
    expect(sim.instruments.get(3)!.get('setpoint')).toBe(0);
    expect(gw.instrument('3').identity.capacity).toBe(6817);
    expect((await gw.writeParam('3', 'fSetpoint', 3408.5, { source: 'test' })).written).toBe(3408.5);
  });

  it('refuses with PARAM_CAPACITY_UNKNOWN when the capacity cannot be read, and writes nothing', async () => {
    const { gw, sim, sink } = await startLosingCapacity({ capacity: true });
    for (const value of [100000, -500, 10]) {
      const e = (await gw.writeParam('3', 'fSetpoint', value, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
      expect(e.code, String(value)).toBe('PARAM_CAPACITY_UNKNOWN');
      expect(e.message).toMatch(/capacity, which is not known \(reading it failed: .*\)/);
    }
    expect(sim.instruments.get(3)!.get('setpoint')).toBe(0);
    expect(sink.list({ limit: 1000 }).filter((t) => t.purpose === 'write')).toHaveLength(0);
  });

  it('reads the capacity again after a new fluid set is selected', async () => {
    const { gw } = await startLosingCapacity({ capacity: false });
    expect(gw.instrument('3').identity.capacity).toBe(6817);
    await gw.writeParam('3', 'fluidsetIndex', 0, { source: 'test' }); // N2, 100 mg/min
    expect(gw.instrument('3').identity.capacity).toBe(100);
    const e = (await gw.writeParam('3', 'fSetpoint', 500, { source: 'test' }).catch((x: unknown) => x)) as GatewayError;
    expect(e.code).toBe('PARAM_INVALID_VALUE');
    expect(e.message).toContain('0..102.397');
  });
});
