import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulator } from '../../simulator/index.js';
import { MasterGateway, MemorySink, type MasterOptions } from '../../src/gateway/index.js';
import { simulatorFactory } from '../../src/sim.js';
import { type GatewayError } from '../../src/shared/index.js';

const running: { gw: MasterGateway; sims: ReturnType<typeof simulatorFactory> }[] = [];

async function start(port = 'sim://?nodes=3,5,7', extra: Partial<MasterOptions> = {}) {
  const sims = simulatorFactory();
  const sink = new MemorySink(10_000);
  const gw = new MasterGateway({
    buses: [{ name: 'main', port, bus: { replyTimeoutMs: 200 } }],
    poll: { parameters: ['fMeasure', 'fSetpoint', 'measure', 'setpoint', 'valveOutput', 'alarmInfo'], intervalMs: 100 },
    simulator: sims,
    sink,
    ...extra,
  });
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

async function until<T>(fn: () => T | undefined, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

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
    const inst = await until(() => {
      const i = gw.instrument('5');
      return Object.keys(i.values).length === 6 ? i : undefined;
    });
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
    await until(() => {
      const v = gw.instrument('3').values.fMeasure?.value;
      return typeof v === 'number' && Math.abs(v - 3408.5) < 60 ? v : undefined;
    });
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
      logger,
    });
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
      simulator: () => port,
      logger,
      discoveryRetryMs: 40,
    });
    try {
      await gw.start();
      await until(() => (gw.buses()[0]!.transactions.timeout ?? 0) >= 20 || undefined, 10_000);
      const silentWarnings = lines.filter((l) => /no instrument answers at node 128/.test(l.msg));
      expect(silentWarnings).toEqual([{ level: 'warn', msg: 'discovery: no instrument answers at node 128; trying again every 0.04 s' }]);
      expect(gw.instruments()).toEqual([]);
      // Switched on.
      line = sim.connect();
      line.on('data', (d: Buffer) => port.push(d));
      await until(() => gw.instruments().find((i) => i.node === 3 && i.online), 10_000);
      expect(lines.some((l) => l.level === 'info' && /an instrument answers at node 128 again/.test(l.msg))).toBe(true);
    } finally {
      await gw.close();
      await sim.close();
    }
  });

  it('does not poll a backed-off node: no log rows for polls that never went on the wire', async () => {
    // Node 9 is configured but not on the bus: its polls fail until it is backed off.
    const { gw, sink } = await start('sim://?nodes=3,5', { instruments: [{ node: 9 }] });
    await until(() => gw.buses()[0]!.nodesBackedOff.includes(9) || undefined, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    const rows = sink.list({ limit: 10_000 });
    expect(rows.filter((t) => t.node === 9 && t.outcome === 'node-backoff')).toEqual([]);
    expect(rows.filter((t) => t.node === 9 && t.outcome !== 'ok').length).toBeGreaterThan(0);
    // The healthy nodes kept being polled meanwhile.
    expect(rows.filter((t) => t.node === 3 && t.outcome === 'ok' && t.purpose === 'poll').length).toBeGreaterThan(5);
  });
});
