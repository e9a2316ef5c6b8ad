/**
 * Bridge mode's events on real pseudo-terminals: simulator <-pty-> bridge <-pty-> our master.
 * Every event is recorded and its payload checked; beside the recorders, a listener on every
 * event throws each time, and the wire, the pairing and the log are exactly as without it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../simulator/index.js';
import type { ParamClient, TransactionRecord } from '../../src/bus/index.js';
import {
  GatewayEvents,
  IDENTITY_PARAMS,
  MemorySink,
  type GatewayEventMap,
  type GatewayEventName,
  type InstrumentEvent,
  type InstrumentIdentity,
  type BridgeGateway,
  type LoggedTransaction,
} from '../../src/gateway/index.js';
import { paramByDde, resolveParam, type ParamDef } from '../../src/params/index.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';
import { expectPairedLikeTheMaster, expectStreamsIdentical, loggedAll, startBridgeRig, total, type BridgeRig, type RecordingTransport } from './helpers.js';

const IDENTITY: ParamDef[] = IDENTITY_PARAMS.map(([, dde]) => paramByDde(dde) as ParamDef);
const POLL = ['measure', 'setpoint', 'fMeasure', 'valveOutput', 'temperature', 'fluidName'].map((k) => resolveParam(k));
const NAMES: GatewayEventName[] = ['transaction', 'values', 'instrument', 'bus', 'store', 'bridge', 'write'];

/** A transaction sink that keeps everything and throws on the first write, after keeping it. */
class SinkThatThrowsOnce extends MemorySink {
  private thrown = false;
  override write(t: LoggedTransaction): void {
    super.write(t);
    if (!this.thrown) {
      this.thrown = true;
      throw new Error('sink hiccup');
    }
  }
}

describe.skipIf(!SOCAT)('bridge mode events, with a listener that throws on every event', () => {
  const events = new GatewayEvents();
  const got: { [K in GatewayEventName]: GatewayEventMap[K][] } = { transaction: [], values: [], instrument: [], bus: [], store: [], bridge: [], write: [], program: [], alarm: [], counter: [] };
  let rig: BridgeRig;
  let sim: Simulator;
  let simRecord: BridgeRig['simRecord'];
  let bridge: BridgeGateway;
  let transport: RecordingTransport;
  let client: ParamClient;
  const sink = new SinkThatThrowsOnce(100_000);
  let masterLog: TransactionRecord[];
  let thrown = 0;

  beforeAll(async () => {
    for (const name of NAMES) {
      events.on(name, () => {
        thrown++;
        throw new Error(`listener of ${name} fails`);
      });
      events.on(name, (e) => void (got[name] as unknown[]).push(e));
    }
    rig = await startBridgeRig({
      bridge: (dir) => ({
        replyTimeoutMs: 300,
        masterSilenceMs: 300,
        // A directory that does not exist: the capture fails at once, forwarding goes on.
        capture: join(dir, 'no-such-dir', 'capture.log'),
      }),
      deps: { sink, events },
    });
    ({ sim, simRecord, bridge, transport, client, masterLog } = rig);
  });

  afterAll(async () => {
    await rig?.close();
  });

  const instrumentEvents = (node: number): InstrumentEvent[] => got.instrument.filter((e) => e.node === node);

  it('says each side opened (bus state, bridge open) and that the capture failed', async () => {
    await events.settled();
    for (const side of ['instrument', 'master'] as const) {
      const states = got.bus.filter((e) => e.side === side).map((e) => [e.bus, e.kind, e.state]);
      expect(states, side).toEqual([
        ['tap', 'state', 'opening'],
        ['tap', 'state', 'open'],
      ]);
      const open = got.bridge.find((e) => e.side === side && e.kind === 'open');
      expect(open, side).toMatchObject({ bus: 'tap', side, kind: 'open', sideState: { side, state: 'open' } });
      expect(open?.reason).toContain(side === 'instrument' ? rig.instPath : rig.bridgeMasterPath);
    }
    const capture = got.bridge.find((e) => e.kind === 'capture-failed');
    expect(capture).toMatchObject({ bus: 'tap', side: 'capture' });
    expect(capture?.reason).toMatch(/cannot write capture .*no-such-dir.*forwarding goes on/);
    expect(capture?.sideState).toBeUndefined();
  });

  it('emits each transaction as logged, the values observed, found and identity; the wire and the log as without the throwing listener', async () => {
    for (const node of [3, 5]) await client.read(node, IDENTITY, { purpose: 'scan' });
    for (let i = 0; i < 10; i++) await Promise.all([client.read(3, POLL), client.read(5, POLL)]);
    await client.read(128, [paramByDde(2) as ParamDef]); // 128 is node 3
    await client.write(5, [{ param: resolveParam('setpoint'), value: 16000 }]);
    await expectStreamsIdentical(simRecord, transport);
    const rows = await loggedAll(masterLog, sink);
    expectPairedLikeTheMaster(masterLog, rows);
    await events.settled();

    // transaction: each one exactly as the log got it, in the same order.
    expect(got.transaction).toEqual(rows);
    expect(got.transaction.length).toBe(sink.count);
    // The sink threw once: a decode-error event, and the log still got every transaction.
    expect(got.bridge.filter((e) => e.kind === 'decode-error')).toMatchObject([{ bus: 'tap', side: 'decoder', reason: expect.stringMatching(/sink hiccup.*forwarding is not affected/) }]);

    // values: source observed, for the node they belong to, with the time seen (the reply's).
    expect(got.values.length).toBeGreaterThan(20);
    // Replies that arrive in one read share their time (pipelining): a values event matches one of them.
    const byReplyTime = new Map<string, LoggedTransaction[]>();
    for (const t of rows.filter((r) => r.replyBytes)) {
      const key = `${t.node}|${new Date(t.endedAt).toISOString()}`;
      byReplyTime.set(key, [...(byReplyTime.get(key) ?? []), t]);
    }
    const loggedValues = (t: LoggedTransaction) => Object.fromEntries(t.params.filter((p) => p.key !== undefined && p.value !== undefined).map((p) => [p.key, p.value]));
    for (const v of got.values) {
      expect(v).toMatchObject({ bus: 'tap', source: 'observed', instrument: `tap:${v.node}` });
      const time = v.values[0]!.time;
      expect(v.values.every((x) => x.time === time)).toBe(true);
      // 128 reads go to node 3, the real node that answers there.
      const candidates = [...(byReplyTime.get(`${v.node}|${time}`) ?? []), ...(byReplyTime.get(`128|${time}`) ?? [])];
      expect(candidates.length, `a transaction at ${time} for ${v.node}`).toBeGreaterThan(0);
      const shown = Object.fromEntries(v.values.map((x) => [x.key, x.value]));
      expect(candidates.map(loggedValues), `the values of a transaction at ${time} for ${v.node}`).toContainEqual(shown);
    }
    const written = got.values.filter((v) => v.node === 5 && v.values.some((x) => x.key === 'setpoint' && x.value === 16000));
    expect(written.length).toBeGreaterThan(0);
    expect(got.values.some((v) => v.node === 3 && v.values.some((x) => x.key === 'primaryNodeAddress' && x.value === 3))).toBe(true);
    const measure = got.values.find((v) => v.node === 3 && v.values.some((x) => x.key === 'fMeasure'))!.values.find((x) => x.key === 'fMeasure')!;
    expect(measure.unit).toBe(sim.instruments.get(3)!.get('capacityUnit'));

    // instrument: found once per node (never 128), then identity as it is learned.
    for (const node of [3, 5]) {
      const list = instrumentEvents(node);
      expect(list[0]).toMatchObject({ kind: 'found', instrument: `tap:${node}`, bus: 'tap', node, online: true });
      expect(list.filter((e) => e.kind === 'found')).toHaveLength(1);
      let identity: InstrumentIdentity = list[0]!.identity;
      for (const e of list.slice(1).filter((x) => x.kind === 'identity')) {
        expect(e.previous).toEqual(identity);
        expect(e.changed!.length).toBeGreaterThan(0);
        for (const f of e.changed!) expect(e.identity[f]).not.toEqual(identity[f]);
        identity = e.identity;
      }
      expect(identity).toEqual(bridge.instrument(String(node)).identity);
      expect(identity.serial).toBe(sim.instruments.get(node)!.get('serialNumber'));
    }
    expect(instrumentEvents(128)).toEqual([]);

    // The listener that throws was called on every event, and changed nothing.
    const failed = events.stats().filter((s) => s.failed > 0);
    expect(new Set(failed.map((s) => s.event))).toEqual(new Set(['transaction', 'values', 'instrument', 'bus', 'bridge']));
    expect(thrown).toBe(events.stats().reduce((n, s) => n + s.failed, 0));
    expect(bridge.details().directions['>'].forwarded).toBe(total(transport.sent));
  });

  it('an identity parameter observed with a new value says what changed and what it was', async () => {
    const before = instrumentEvents(5).length;
    const tag = await client.read(5, [resolveParam('userTag')]);
    expect(tag[0]?.ok).toBe(true);
    await client.write(5, [{ param: resolveParam('userTag'), value: 'LINE-7' }]);
    await waitUntil(() => instrumentEvents(5).slice(before).find((e) => e.kind === 'identity' && e.identity.userTag === 'LINE-7'), { timeoutMs: 3000, what: 'identity event' });
    const e = instrumentEvents(5).slice(before).find((x) => x.kind === 'identity' && x.identity.userTag === 'LINE-7')!;
    expect(e.changed).toEqual(['userTag']);
    expect(e.previous?.userTag).toBe(tag[0]?.ok ? tag[0].reading.value : undefined);
    expect(e.previous?.userTag).not.toBe('LINE-7');
    expect({ ...e.previous, userTag: 'LINE-7' }).toEqual(e.identity);
  });

  it('refused writes are write events with the source and the code; the value asked is bounded', async () => {
    await expect(bridge.writeParam('3', 'setpoint', 5, { source: '10.0.0.9:5000' })).rejects.toMatchObject({ code: 'BRIDGE_READ_ONLY' });
    await expect(bridge.writeParam('7', 'capacity', 'x'.repeat(10_000), { source: 'mqtt' })).rejects.toMatchObject({ code: 'BRIDGE_READ_ONLY' });
    await events.settled();
    expect(got.write).toHaveLength(2);
    expect(got.write[0]).toMatchObject({ instrument: 'tap:3', param: 'setpoint', dde: 9, value: 5, source: '10.0.0.9:5000', result: 'refused', code: 'BRIDGE_READ_ONLY' });
    expect(got.write[0]?.message).toMatch(/passive bridge/);
    expect(got.write[1]).toMatchObject({ instrument: '7', param: 'capacity', dde: 21, source: 'mqtt', result: 'refused', code: 'BRIDGE_READ_ONLY' });
    expect(String(got.write[1]?.value).length).toBeLessThan(300);
    expect(String(got.write[1]?.value)).toMatch(/^x{200}\.\.\. \(9800 more characters\)$/);
  });

  it('a silent master and instruments not seen are bridge and instrument events; both come back when the master polls again', async () => {
    // Both instruments seen just now, the master active.
    await Promise.all([client.read(3, POLL), client.read(5, POLL)]);
    await waitUntil(() => !bridge.details().masterSilent && bridge.instruments().every((i) => i.online) || undefined, { timeoutMs: 3000, what: 'master active, both online' });
    await events.settled();
    const from = { bridge: got.bridge.length, instrument: got.instrument.length };
    // Online window: max(masterSilenceMs 300, 3 x replyTimeoutMs 300) = 900 ms, checked once a second.
    await waitUntil(() => got.instrument.slice(from.instrument).filter((e) => e.kind === 'offline').length >= 2 || undefined, { timeoutMs: 4000, what: 'both offline' });
    const silent = got.bridge.slice(from.bridge).find((e) => e.kind === 'master-silent');
    expect(silent).toMatchObject({ bus: 'tap', side: 'master', sideState: { side: 'master', state: 'open' } });
    expect(silent?.reason).toMatch(/the master has sent nothing for \d+ s \(over masterSilenceMs 300\)/);
    const offline = got.instrument.slice(from.instrument).filter((e) => e.kind === 'offline');
    expect(offline.map((e) => e.node).sort()).toEqual([3, 5]);
    for (const e of offline) {
      expect(e).toMatchObject({ online: false, reason: { code: 'BRIDGE_STALE' } });
      expect(e.reason?.message).toMatch(/not seen on the wire for \d+ ms, longer than 900 ms/);
      expect(bridge.instrument(String(e.node)).online).toBe(false);
    }
    const mid = { bridge: got.bridge.length, instrument: got.instrument.length };
    await client.read(3, POLL);
    await waitUntil(() => got.bridge.slice(mid.bridge).find((e) => e.kind === 'master-resumed'), { timeoutMs: 3000, what: 'master resumed' });
    await waitUntil(() => got.instrument.slice(mid.instrument).find((e) => e.kind === 'online'), { timeoutMs: 3000, what: 'node 3 online' });
    expect(got.instrument.slice(mid.instrument).filter((e) => e.kind === 'online' || e.kind === 'offline')).toMatchObject([{ kind: 'online', node: 3, online: true, instrument: 'tap:3' }]);
    expect(bridge.instrument('3').online).toBe(true);
  });

  it('the instrument side going down: bus state and bridge down events, and its instruments offline at once', async () => {
    const from = { bridge: got.bridge.length, instrument: got.instrument.length, bus: got.bus.length };
    await client.read(3, POLL);
    await rig.unplug('instrument');
    await waitUntil(() => got.bridge.slice(from.bridge).find((e) => e.kind === 'down'), { timeoutMs: 5000, what: 'down event' });
    const down = got.bridge.slice(from.bridge).find((e) => e.kind === 'down')!;
    expect(down).toMatchObject({ bus: 'tap', side: 'instrument', sideState: { side: 'instrument', state: 'waiting' } });
    expect(down.reason).toMatch(/instrument port .* is down: .+; reopening with backoff/);
    const waiting = got.bus.slice(from.bus).find((e) => e.state === 'waiting');
    expect(waiting).toMatchObject({ bus: 'tap', kind: 'state', side: 'instrument', state: 'waiting' });
    expect(waiting?.reason).toBeTruthy();
    expect(Date.parse(waiting!.retryAt!)).toBeGreaterThan(0);
    await waitUntil(() => got.instrument.slice(from.instrument).find((e) => e.kind === 'offline' && e.node === 3), { timeoutMs: 2000, what: 'node 3 offline' });
    expect(got.instrument.slice(from.instrument).find((e) => e.kind === 'offline' && e.node === 3)).toMatchObject({
      online: false,
      reason: { code: 'TRANSPORT_UNAVAILABLE', message: expect.stringContaining(rig.instPath) },
    });

    await rig.replug('instrument');
    await waitUntil(() => got.bridge.slice(from.bridge).find((e) => e.kind === 'reopened'), { timeoutMs: 10_000, what: 'reopened event' });
    expect(got.bridge.slice(from.bridge).find((e) => e.kind === 'reopened')).toMatchObject({ side: 'instrument', sideState: { side: 'instrument', state: 'open' } });
    expect(got.bus.slice(from.bus).filter((e) => e.side === 'instrument').at(-1)).toMatchObject({ state: 'open', reconnects: 1 });
    // Every link event recorded for GET /bus was also an event, in the same order.
    await events.settled();
    expect(got.bridge.map(({ bus: _bus, sideState: _state, ...e }) => e)).toEqual(bridge.details().events);
  });
});
