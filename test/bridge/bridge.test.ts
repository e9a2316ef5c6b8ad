/**
 * The passive bridge end to end on real pseudo-terminals, opened with serialport:
 * simulator <-pty-> bridge <-pty-> the project's own master (Bus + ParamClient), scripted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../simulator/index.js';
import type { ParamClient, TransactionRecord } from '../../src/bus/index.js';
import { IDENTITY_PARAMS, MemorySink, type BridgeGateway } from '../../src/gateway/index.js';
import { decodeCapture } from '../../src/observe/index.js';
import { paramByDde, resolveParam, type ParamDef } from '../../src/params/index.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';
import { expectPairedLikeTheMaster, expectStreamsIdentical, loggedAll, recordingLogger, sleep, startBridgeRig, total, type BridgeRig, type RecordingTransport } from './helpers.js';

const IDENTITY: ParamDef[] = IDENTITY_PARAMS.map(([, dde]) => paramByDde(dde) as ParamDef);
const POLL = ['measure', 'setpoint', 'fMeasure', 'valveOutput', 'temperature', 'fluidName'].map((k) => resolveParam(k));

describe.skipIf(!SOCAT)('passive bridge between a simulator and a master, on real ptys', () => {
  const sink = new MemorySink(100_000);
  const logger = recordingLogger();
  let rig: BridgeRig;
  let capturePath: string;
  let sim: Simulator;
  let simRecord: BridgeRig['simRecord'];
  let bridge: BridgeGateway;
  let transport: RecordingTransport;
  let client: ParamClient;
  let masterLog: TransactionRecord[];

  beforeAll(async () => {
    rig = await startBridgeRig({
      bridge: (dir) => ({ replyTimeoutMs: 400, masterSilenceMs: 300, burstGapMs: 2, capture: (capturePath = join(dir, 'capture.log')) }),
      deps: { sink, logger },
    });
    ({ sim, simRecord, bridge, transport, client, masterLog } = rig);
  });

  afterAll(async () => {
    await rig?.close();
  });

  it('forwards both streams byte for byte, and logs every transaction paired and with the simulator\'s values', async () => {
    const before = masterLog.length;
    for (const node of [3, 5]) await client.read(node, IDENTITY, { purpose: 'scan' });
    // Two requests in flight at once (pipeline depth 2), SEQ marching on.
    for (let i = 0; i < 20; i++) await Promise.all([client.read(3, POLL), client.read(5, POLL)]);
    await client.read(128, [paramByDde(2) as ParamDef]);
    await client.read(9, [resolveParam('measure')], { retries: 0 }); // absent node: error frame
    await client.write(5, [{ param: resolveParam('setpoint'), value: 16000 }]);
    await client.read(5, [resolveParam('setpoint')]);
    await client.write(3, [{ param: resolveParam('fluidsetIndex'), value: 8 }]).catch(() => undefined); // refused: status 6
    await expectStreamsIdentical(simRecord, transport);
    const rows = await loggedAll(masterLog, sink);
    expect(masterLog.slice(before).filter((r) => r.replyBytes).length).toBeGreaterThan(45);
    expectPairedLikeTheMaster(masterLog, rows, before);
    expect(rows.filter((t) => ['orphan', 'undecodable', 'unanswered'].includes(t.outcome))).toEqual([]);
    expect(rows.every((t) => t.mode === 'bridge' && t.purpose === 'observed' && t.bus === 'tap')).toBe(true);
    expect(rows.some((t) => t.outcome === 'error-frame' && t.node === 9)).toBe(true);
    expect(rows.some((t) => t.outcome === 'status' && t.node === 3 && t.status === 6)).toBe(true);

    // Values in the log and in the API equal the simulator's.
    for (const node of [3, 5]) {
      const s = sim.instruments.get(node)!;
      const read = await bridge.readParams(String(node), ['serialNumber', 'fluidName', 'capacity', 'setpoint'], {});
      const byKey = Object.fromEntries(read.values.map((v) => [v.key, 'value' in v ? v.value : v.error.code]));
      expect(byKey.serialNumber).toBe(s.get('serialNumber'));
      expect(byKey.fluidName).toBe(s.get('fluidName'));
      expect(byKey.capacity).toBeCloseTo(Number(s.get('capacity')), 3);
      const logged = rows.filter((t) => t.node === node).flatMap((t) => t.params).filter((p) => p.key === 'serialNumber' && p.value !== undefined);
      expect(logged.length).toBeGreaterThan(0);
      expect(logged.every((p) => p.value === s.get('serialNumber'))).toBe(true);
    }
    expect((await bridge.readParams('5', ['setpoint'], {})).values[0]).toMatchObject({ value: 16000 });
    const list = bridge.instruments();
    expect(list.map((i) => i.node)).toEqual([3, 5]);
    expect(list.map((i) => i.identity.serial)).toEqual([sim.instruments.get(3)!.get('serialNumber'), sim.instruments.get(5)!.get('serialNumber')]);
    // 128 is node 3 (its PNA was observed): it is the same instrument.
    expect(bridge.instrument('128').node).toBe(3);
    await expect(bridge.readParams('3', ['alarmSetpointMode'], {})).rejects.toMatchObject({ code: 'BRIDGE_NOT_OBSERVED' });
    await sleep(30);
    await expect(bridge.readParams('3', ['serialNumber'], { maxAge: 1 })).rejects.toMatchObject({ code: 'BRIDGE_STALE' });
    await expect(bridge.writeParam('3', 'setpoint', 1, { source: 'test' })).rejects.toMatchObject({ code: 'BRIDGE_READ_ONLY' });

    const d = bridge.details();
    expect(d.directions['>'].bytes).toBe(total(transport.sent));
    expect(d.directions['<'].bytes).toBe(total(simRecord.sent));
    expect(d.directions['>'].forwarded).toBe(d.directions['>'].bytes);
    expect(d.directions['<'].frames).toBe(masterLog.filter((r) => r.replyBytes).length);
    expect(d.forwardLatency.count).toBeGreaterThan(0);
    expect(d.forwardLatency.p99Us).not.toBeNull();
  });

  it('garbage on either side is forwarded unchanged and decoded as discards, without disturbing the pairing around it', async () => {
    const before = masterLog.length;
    const logged = sink.count;
    const d0 = bridge.details().directions;
    const junkToInstrument = Buffer.from('hello from a confused PLC\r\n\xff\x00\x7f', 'latin1');
    const junkToMaster = Buffer.from('instrument boot banner v7.25\r\n\x00\xfe', 'latin1');
    for (let i = 0; i < 5; i++) {
      await transport.write(junkToInstrument);
      await client.read(3, POLL);
      rig.inst.inject(junkToMaster);
      await client.read(5, POLL);
      await Promise.all([client.read(3, POLL), (async () => void (await transport.write(junkToInstrument)))(), client.read(5, POLL)]);
    }
    await expectStreamsIdentical(simRecord, transport);
    const rows = (await loggedAll(masterLog, sink)).slice(logged);
    expectPairedLikeTheMaster(masterLog, rows, before);
    expect(rows.filter((t) => t.outcome !== 'ok')).toEqual([]);
    const d1 = bridge.details().directions;
    expect(d1['>'].discards - d0['>'].discards).toBeGreaterThanOrEqual(5);
    expect(d1['<'].discards - d0['<'].discards).toBeGreaterThanOrEqual(5);
    expect(d1['>'].discardedBytes - d0['>'].discardedBytes).toBe(10 * junkToInstrument.length);
    expect(d1['<'].discardedBytes - d0['<'].discardedBytes).toBe(5 * junkToMaster.length);
  });

  it('reports a master that stops polling, and when it comes back', async () => {
    await sleep(700);
    expect(bridge.details().masterSilent).toBe(true);
    await client.read(3, POLL);
    await waitUntil(() => !bridge.details().masterSilent, { timeoutMs: 3000, what: 'master resumed' });
    const kinds = bridge.details().events.map((e) => e.kind);
    expect(kinds).toContain('master-silent');
    expect(kinds).toContain('master-resumed');
  });

  it('each port disappears and returns in turn: the bridge recovers by itself and logs why', async () => {
    // The instrument side.
    await rig.unplug('instrument');
    await waitUntil(() => bridge.details().sides.instrument.state !== 'open', { timeoutMs: 5000, what: 'instrument side down' });
    const failed = await client.read(3, POLL, { retries: 0 });
    expect(failed.every((r) => !r.ok)).toBe(true);
    await waitUntil(() => bridge.details().directions['>'].droppedNoPeer > 0, { timeoutMs: 2000, what: 'bytes dropped for lack of a peer' });
    await rig.replug('instrument');
    await waitUntil(async () => (await client.read(3, POLL, { retries: 0 })).every((r) => r.ok) || undefined, { timeoutMs: 10_000, what: 'reads through the bridge again' });

    // The master side: the master's own transport goes down with it and reconnects too.
    await rig.unplug('master');
    await waitUntil(() => bridge.details().sides.master.state !== 'open', { timeoutMs: 5000, what: 'master side down' });
    await rig.replug('master');
    await waitUntil(() => bridge.ready() && transport.state === 'open', { timeoutMs: 10_000, what: 'both sides open again' });
    const from = masterLog.length;
    await waitUntil(async () => (await client.read(5, POLL, { retries: 0 })).every((r) => r.ok) || undefined, { timeoutMs: 10_000, what: 'reads through the bridge again' });
    const rows = await loggedAll(masterLog, sink);
    expectPairedLikeTheMaster(masterLog, rows, masterLog.length - 1 > from ? masterLog.length - 1 : from);

    const events = bridge.details().events;
    for (const side of ['instrument', 'master'] as const) {
      const down = events.find((e) => e.side === side && e.kind === 'down');
      const back = events.find((e) => e.side === side && e.kind === 'reopened');
      expect(down?.reason, side).toMatch(/down: .+; reopening with backoff/);
      expect(back, side).toBeDefined();
      expect(Date.parse(back!.time)).toBeGreaterThanOrEqual(Date.parse(down!.time));
    }
    expect(bridge.details().sides.instrument.reconnects).toBeGreaterThanOrEqual(1);
    expect(bridge.details().sides.master.reconnects).toBeGreaterThanOrEqual(1);
    expect(bridge.buses()[0]?.bridge?.events.length).toBe(events.length);
    // Every event went to the log with its reason.
    expect(logger.lines.filter((l) => l.level === 'warn' && /port .* is down/.test(l.msg ?? '')).length).toBeGreaterThanOrEqual(2);
    expect(logger.lines.some((l) => /open again/.test(l.msg ?? ''))).toBe(true);
  });

  it('writes a socat capture that decodes like the live traffic', async () => {
    await sleep(50);
    const live = bridge.details().directions;
    await bridge.close();
    const text = readFileSync(capturePath, 'utf8');
    expect(text).toMatch(/^> \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}\.\d{6} {2}length=\d+ from=0 to=\d+\n( [0-9a-f]{2})+\n/);
    const decoded = decodeCapture(text, { timeoutMs: 400 });
    expect(decoded.problems).toEqual([]);
    expect(decoded.summary.frames).toEqual({ '>': live['>'].frames, '<': live['<'].frames });
    expect(decoded.summary.discarded['>'].bytes).toBe(live['>'].discardedBytes);
    const answered = decoded.transactions.filter((t) => t.request && t.reply).length;
    expect(answered).toBe(sink.list({ limit: 100_000 }).filter((t) => t.requestBytes && t.replyBytes).length);
  });
});
