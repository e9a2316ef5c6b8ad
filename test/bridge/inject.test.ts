/**
 * Injection in bridge mode on real ptys: simulator <-pty-> bridge (inject on) <-pty-> a Bright-like
 * master (our own Bus + ParamClient, pipeline depth 2, 8 values every 158 ms), while the API
 * writes setpoints and reads parameters the master never asks for.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../../simulator/index.js';
import type { Bus, TransactionRecord } from '../../src/bus/index.js';
import { BinaryDeframer, buildRequest, decodeMessage, encodeBinaryFrame, encodeMessage, valueParams, type Frame, type Message } from '../../src/codec/index.js';
import { MemorySink, type BridgeGateway } from '../../src/gateway/index.js';
import { decodeCapture, formatTransaction } from '../../src/observe/index.js';
import { resolveParam } from '../../src/params/index.js';
import { GatewayError } from '../../src/shared/index.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';
import { recordingLogger, sleep, startBridgeRig, total, type BridgeRig, type RecordingTransport } from './helpers.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every complete frame in a byte stream, as hex, in order. */
function frames(chunks: readonly Uint8Array[]): string[] {
  const d = new BinaryDeframer();
  const out: string[] = [];
  for (const c of chunks) for (const ev of d.push(c)) if (ev.kind === 'frame') out.push(hex(ev.raw));
  return out;
}

describe.skipIf(!SOCAT)('bridge with injection: the API writes and reads while a master polls', () => {
  const sink = new MemorySink(100_000);
  const logger = recordingLogger();
  let rig: BridgeRig;
  let capturePath: string;
  let sim: Simulator;
  let simRecord: BridgeRig['simRecord'];
  let bridge: BridgeGateway;
  let transport: RecordingTransport;
  let bus: Bus;
  let masterLog: TransactionRecord[];
  let poll: { stop(): Promise<void> } | undefined;

  beforeAll(async () => {
    rig = await startBridgeRig({
      // Node 7 is there, and the master never addresses it.
      sim: { nodes: [3, 5, 7], baud: 38400, turnaroundMs: 2 },
      bridge: (dir) => ({
        replyTimeoutMs: 400,
        burstGapMs: 2,
        inject: true,
        capture: (capturePath = join(dir, 'capture.log')),
        captureFlushMs: 50,
        injectIdleMs: 10,
        injectTimeoutMs: 300,
        injectWaitMs: 3000,
        injectMaxMasterLatencyMs: 1000,
        injectBackoffMs: 200,
      }),
      deps: { sink, logger, secured: true },
      // A generous timeout: a reply kept from the master would still be a timeout, and a loaded machine stalls no test.
      master: { replyTimeoutMs: 1000, retries: 0, pipelineDepth: 2 },
    });
    ({ sim, simRecord, bridge, transport, bus, masterLog } = rig);
    // The Bright: 8 values every 158 ms, two requests in flight.
    poll = rig.poll();
    await waitUntil(() => bridge.instruments().length === 2 || undefined, { timeoutMs: 5000, what: 'both instruments observed' });
  });

  afterAll(async () => {
    await poll?.stop();
    await rig?.close();
  });

  /** Polls as the Bright does during `fn`; then, since the start: every master transaction answered, none timed out, nothing unsolicited or late (the bus's counters are those of the whole run). */
  const whileMasterPolls = async (fn: () => Promise<void>): Promise<void> => {
    const from = masterLog.length;
    const p = rig.poll();
    try {
      await fn();
      await waitUntil(() => masterLog.length > from + 4 || undefined, { timeoutMs: 5000, what: 'the master polling' });
    } finally {
      await p.stop();
    }
    expect(masterLog.slice(from).filter((r) => r.outcome !== 'ok').map((r) => r.outcome)).toEqual([]);
    const st = bus.stats();
    expect([st.unsolicited, st.lateReplies, st.outcomes.timeout]).toEqual([0, 0, 0]);
  };

  /** The injected frames the simulator received since `from` (its chunks), decoded: the master's are those it sent. */
  const framesToSim = (from: number): Extract<Frame, { kind: 'data' }>[] => {
    const d = new BinaryDeframer();
    const out: Extract<Frame, { kind: 'data' }>[] = [];
    for (const c of simRecord.received.slice(from)) for (const ev of d.push(c)) if (ev.kind === 'frame' && ev.frame.kind === 'data') out.push(ev.frame);
    return out;
  };
  const isWrite = (f: Extract<Frame, { kind: 'data' }>): boolean => f.data[0] === 1;
  const written = (f: Extract<Frame, { kind: 'data' }>): { process: number; fbnr: number; raw: string }[] =>
    valueParams(decodeMessage(f.data) as Extract<Message, { kind: 'sendWithStatus' }>).map((p) => ({ process: p.process, fbnr: p.fbnr, raw: hex(p.raw) }));
  /** DATA of a read of the fluid name, as a master sends it. */
  const readFluidName = (): Uint8Array => {
    const f = resolveParam('fluidName');
    return encodeMessage(buildRequest([{ process: f.process, fbnr: f.fbnr, wireType: f.wireType, stringLength: f.length }]));
  };
  const INIT_RESET = resolveParam('initReset');
  const unlockAt = { process: INIT_RESET.process, fbnr: INIT_RESET.fbnr, raw: '40' };
  const lockAt = { process: INIT_RESET.process, fbnr: INIT_RESET.fbnr, raw: '52' };

  it('writes and reads in the gaps: the master gets its own replies and nothing else, and every write takes effect', async () => {
    const from = masterLog.length;
    const values: Record<number, number> = {};
    for (let i = 0; i < 10; i++) {
      for (const node of [3, 5]) {
        const v = 1000 + i * 1000 + node;
        const w = await bridge.writeParam(String(node), 'setpoint', v, { source: 'test' });
        expect(w.written).toBe(v);
        expect(w.readBack?.value).toBe(v);
        values[node] = v;
        expect(sim.instruments.get(node)!.get('setpoint')).toBe(v);
      }
      // Never polled by the master: read by an injected request.
      const read = await bridge.readParams('5', ['serialNumber', 'capacity', 'fluidName'], {});
      const byKey = Object.fromEntries(read.values.map((x) => [x.key, 'value' in x ? x.value : x.error.code]));
      const s5 = sim.instruments.get(5)!;
      expect(byKey.serialNumber).toBe(s5.get('serialNumber'));
      expect(byKey.fluidName).toBe(s5.get('fluidName'));
      expect(byKey.capacity).toBeCloseTo(Number(s5.get('capacity')), 3);
    }
    // Validated like master mode: out of range, factory, unknown.
    await expect(bridge.writeParam('5', 'setpoint', 40000, { source: 'test' })).rejects.toMatchObject({ code: 'PARAM_INVALID_VALUE' });
    await expect(bridge.writeParam('5', 'serialNumber', 'X', { source: 'test' })).rejects.toBeInstanceOf(GatewayError);
    await sleep(400);
    await poll?.stop();

    const mine = masterLog.slice(from);
    expect(mine.length).toBeGreaterThan(10);
    // The master's own traffic was untouched: every request answered, no timeouts, nothing unsolicited or late.
    expect(mine.filter((r) => r.outcome !== 'ok').map((r) => r.outcome)).toEqual([]);
    const st = bus.stats();
    expect(st.unsolicited).toBe(0);
    expect(st.lateReplies).toBe(0);
    expect(st.outcomes.timeout).toBe(0);

    // What the master received is what the simulator sent, minus exactly the replies to the injected requests, in order.
    const injected = sink.list({ limit: 100_000 }).filter((t) => t.purpose === 'injected');
    expect(injected.length).toBeGreaterThanOrEqual(50);
    expect(injected.every((t) => t.outcome === 'ok' && t.replyBytes !== undefined)).toBe(true);
    await waitUntil(() => total(transport.received) + injected.reduce((n, t) => n + (t.replyBytes?.length ?? 0), 0) === total(simRecord.sent) || undefined, {
      timeoutMs: 5000,
      what: 'every byte delivered',
    });
    const toMaster = frames(transport.received);
    const injectedReplies = new Map<string, number>();
    for (const t of injected) injectedReplies.set(hex(t.replyBytes!), (injectedReplies.get(hex(t.replyBytes!)) ?? 0) + 1);
    let i = 0;
    for (const f of frames(simRecord.sent)) {
      if (f === toMaster[i]) i++;
      else {
        const n = injectedReplies.get(f);
        expect(n, `frame ${f} from the simulator went neither to the master nor to an injected request`).toBeGreaterThan(0);
        injectedReplies.set(f, (n ?? 0) - 1);
      }
    }
    expect(i).toBe(toMaster.length);
    expect([...injectedReplies.values()].every((n) => n === 0)).toBe(true);
    // Every reply the master got is one of its own.
    expect(toMaster.length).toBe(masterLog.filter((r) => r.replyBytes).length);

    // The log tells both masters apart.
    const rows = sink.list({ limit: 100_000 });
    expect(rows.some((t) => t.purpose === 'observed' && t.commandName === 'read')).toBe(true);
    expect(injected.filter((t) => t.commandName === 'write').length).toBe(20);
    expect(rows.filter((t) => t.purpose === 'observed' && t.commandName === 'write')).toEqual([]);
    const view = bridge.details().inject!;
    expect(view.sent).toBe(view.answered);
    expect(view.masterTimeouts).toBe(0);
    expect(view.collisions).toBe(0);
    expect(bridge.buses()[0]?.bridge?.inject?.state).toBe('active');
  });

  it('writes a secured parameter inside Init Reset 64 ... 82 in one injected frame, and relocks when the chain fails part way', async () => {
    await whileMasterPolls(async () => {
      const chunksFrom = simRecord.received.length;
      const s5 = sim.instruments.get(5)!;
      expect(s5.get('initReset')).toBe(82);
      const w = await bridge.writeParam('5', 'polynomialConstantA', 1.5, { source: 'test' });
      expect(w.readBack?.value).toBeCloseTo(1.5, 5);
      expect(Number(s5.get('polynomialConstantA'))).toBeCloseTo(1.5, 5);
      // Locked again at once: no master request saw it unlocked, since the three went in one frame.
      expect(s5.get('initReset')).toBe(82);
      const writes = framesToSim(chunksFrom).filter((f) => f.node === 5 && isWrite(f));
      expect(writes.length).toBe(1);
      const poly = resolveParam('polynomialConstantA');
      expect(written(writes[0]!).map((x) => ({ process: x.process, fbnr: x.fbnr }))).toEqual([
        { process: unlockAt.process, fbnr: unlockAt.fbnr },
        { process: poly.process, fbnr: poly.fbnr },
        { process: lockAt.process, fbnr: lockAt.fbnr },
      ]);
      expect([written(writes[0]!)[0]!.raw, written(writes[0]!)[2]!.raw]).toEqual([unlockAt.raw, lockAt.raw]);

      // The instrument refuses a capacity of 0 and stops there: the 82 after it is never processed. The bridge locks it again.
      const chunksFail = simRecord.received.length;
      const err = await bridge.writeParam('5', 'capacity', 0, { source: 'test' }).then(
        () => undefined,
        (e: unknown) => e as GatewayError,
      );
      expect(err?.code).toBe('BUS_STATUS');
      expect(err?.details).toMatchObject({ relock: 'done' });
      expect(err?.message).toMatch(/Init Reset 82 was written again on its own: node 5 is locked/);
      expect(s5.get('initReset')).toBe(82);
      const sent = framesToSim(chunksFail).filter((f) => f.node === 5 && isWrite(f)).map(written);
      expect(sent.length).toBe(2);
      expect(sent[1]).toEqual([lockAt]);
    });
  });

  it('reads a capacity never observed by injection (two agreeing reads) before a setpoint in capacity units', async () => {
    await whileMasterPolls(async () => {
      const rowsBefore = sink.count;
      const s3 = sim.instruments.get(3)!;
      expect(bridge.instrument('3').identity.capacity).toBeUndefined();
      const half = Number((Number(s3.get('capacity')) / 2).toPrecision(4));
      const w = await bridge.writeParam('3', 'fSetpoint', half, { source: 'test' });
      expect(w.written).toBe(half);
      expect(Number(s3.get('fSetpoint'))).toBeCloseTo(half, 1);
      const injected = sink.list({ limit: 100_000 }).slice(0, sink.count - rowsBefore).filter((t) => t.purpose === 'injected').reverse();
      const firstWrite = injected.findIndex((t) => t.commandName === 'write');
      expect(injected.slice(0, firstWrite).filter((t) => t.commandName === 'read').length).toBeGreaterThanOrEqual(2);
    });
  });

  it('writes several parameters in one chained injected request (all or nothing), and reads a snapshot by injection', async () => {
    await whileMasterPolls(async () => {
      const s3 = sim.instruments.get(3)!;
      const before = Number(s3.get('polynomialConstantB'));
      // Refused in full: nothing is sent.
      await expect(bridge.writeParams!('3', { setpoint: 40000, polynomialConstantB: 2.5 }, { source: 'test' })).rejects.toMatchObject({ code: 'PARAM_WRITE_REFUSED' });
      expect(Number(s3.get('polynomialConstantB'))).toBe(before);
      const chunksFrom = simRecord.received.length;
      const w = await bridge.writeParams!('3', { setpoint: 7000, polynomialConstantB: 2.5 }, { source: 'test' });
      expect(w.transactionIds.length).toBe(1);
      expect(w.parameters.setpoint?.readBack?.value).toBe(7000);
      expect(s3.get('setpoint')).toBe(7000);
      expect(Number(s3.get('polynomialConstantB'))).toBeCloseTo(2.5, 5);
      expect(s3.get('initReset')).toBe(82);
      const writes = framesToSim(chunksFrom).filter((f) => f.node === 3 && isWrite(f)).map(written);
      expect(writes.length).toBe(1);
      expect([writes[0]![0], writes[0]!.at(-1)]).toEqual([unlockAt, lockAt]);

      const snap = await bridge.snapshot!('3');
      expect(snap.instrument).toBe('tap:3');
      expect(snap.parameters.serialNumber?.value).toBe(s3.get('serialNumber'));
      expect(snap.parameters.polynomialConstantB?.value).toBeCloseTo(2.5, 5);
      expect(Object.keys(snap.parameters).length).toBeGreaterThan(50);
      expect(snap.failed ?? []).toEqual([]);
    });
  }, 60_000);

  it('reads an instrument the master never addressed, after an injected identity read; an absent one is a bounded 404', async () => {
    await whileMasterPolls(async () => {
      expect(bridge.instruments().map((i) => i.node)).toEqual([3, 5]);
      const r = await bridge.readParams('7', ['serialNumber', 'setpoint'], {});
      expect(r.values.map((v) => ('value' in v ? v.value : v.error.code))).toEqual([sim.instruments.get(7)!.get('serialNumber'), sim.instruments.get(7)!.get('setpoint')]);
      const seven = bridge.instruments().find((i) => i.node === 7);
      expect(seven).toMatchObject({ id: 'tap:7', knownBy: 'injection', identity: { serial: String(sim.instruments.get(7)!.get('serialNumber')).trim() } });
      await bridge.writeParam('tap:7', 'setpoint', 9000, { source: 'test' });
      expect(sim.instruments.get(7)!.get('setpoint')).toBe(9000);
      expect(bridge.instrument('3').knownBy).toBeUndefined();

      // Node 9 is not there: 404, and no entry. Asked again at once, it costs no bus time.
      await expect(bridge.readParams('9', ['serialNumber'], {})).rejects.toMatchObject({ code: 'GATEWAY_NODE_UNKNOWN', details: { reason: expect.any(String) } });
      const sent = bridge.details().inject!.sent;
      await expect(bridge.readParams('9', ['serialNumber'], {})).rejects.toMatchObject({ code: 'GATEWAY_NODE_UNKNOWN', details: { retryAt: expect.any(String) } });
      expect(bridge.details().inject!.sent).toBe(sent);
      expect(bridge.instruments().map((i) => i.node)).toEqual([3, 5, 7]);
      // At most 8 unknown nodes a minute (7 and 9 were two).
      for (const node of [10, 11, 12, 13, 14, 15]) await expect(bridge.readParams(String(node), ['serialNumber'], {})).rejects.toMatchObject({ code: 'GATEWAY_NODE_UNKNOWN' });
      await expect(bridge.readParams('16', ['serialNumber'], {})).rejects.toMatchObject({ code: 'BRIDGE_IDENTIFY_LIMIT' });
      expect(bridge.instruments().map((i) => i.node)).toEqual([3, 5, 7]);
    });
  }, 60_000);

  it('remaps a master request that reuses the SEQ of an injected request given up: the master gets exactly its own reply', async () => {
    const faults = ((sim as unknown as { opts: unknown }).opts as { faults: { dropReply: number } }).faults;
    await sleep(100);
    // The injected read goes unanswered (the simulator drops its reply): its SEQ stays retired, a late reply still expected.
    const chunksFrom = simRecord.received.length;
    faults.dropReply = 1;
    await expect(bridge.readParams('5', ['serialNumber'], {})).rejects.toMatchObject({ code: 'BUS_TIMEOUT' });
    faults.dropReply = 0;
    const given = sink.list({ limit: 10 }).find((t) => t.purpose === 'injected')!;
    expect([given.node, given.outcome]).toEqual([5, 'unanswered']);
    const ours = framesToSim(chunksFrom).find((f) => f.seq === given.seq && f.node === 5)!;
    expect(ours).toBeDefined();
    // The master now sends a request of its own with that very SEQ and NODE.
    const request = encodeBinaryFrame({ kind: 'data', seq: ours.seq, node: 5, data: readFluidName() });
    // What the master would receive without the bridge: the simulator's answer to these bytes.
    const direct = sim.connect();
    const alone: Buffer[] = [];
    direct.on('data', (c: Buffer) => alone.push(c));
    direct.write(request);
    await waitUntil(() => frames(alone).length === 1 || undefined, { timeoutMs: 3000, what: 'the direct answer' });
    direct.destroy();
    const receivedFrom = transport.received.length;
    const simFrom = simRecord.received.length;
    await transport.write(request);
    await waitUntil(() => frames(transport.received.slice(receivedFrom)).length >= 1 || undefined, { timeoutMs: 3000, what: "the master's reply" });
    await sleep(100);
    expect(frames(transport.received.slice(receivedFrom))).toEqual(frames(alone));
    // On the instrument side it went with another SEQ, everything else unchanged.
    const onWire = framesToSim(simFrom);
    expect(onWire.length).toBe(1);
    expect(onWire[0]!.seq).not.toBe(ours.seq);
    expect(hex(onWire[0]!.data)).toBe(hex(readFluidName()));
    expect(bridge.details().inject).toMatchObject({ remaps: 1 });
  });

  it('with a slow simulator that drops and garbles replies, no reply goes to the wrong master', async () => {
    const opts = (sim as unknown as { opts: unknown }).opts as { turnaroundMs: number; faults: { dropReply: number; garble: number } };
    opts.turnaroundMs = 30;
    opts.faults.dropReply = 0.1;
    opts.faults.garble = 0.1;
    const sentBefore = simRecord.sent.length;
    const receivedBefore = transport.received.length;
    const rowsBefore = sink.count;
    const faulty = rig.poll({ read: { replyTimeoutMs: 300 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      const node = i % 2 === 0 ? 3 : 5;
      const v = 2000 + i;
      try {
        const w = await bridge.writeParam(String(node), 'setpoint', v, { source: 'test' });
        outcomes.push('ok');
        // An acknowledged write took effect.
        expect(w.written).toBe(v);
      } catch (err) {
        expect(['BUS_TIMEOUT', 'BRIDGE_INJECT_PAUSED', 'BUS_STATUS']).toContain((err as GatewayError).code);
        outcomes.push((err as GatewayError).code);
        if ((err as GatewayError).code === 'BRIDGE_INJECT_PAUSED') await sleep(100);
      }
    }
    await faulty.stop();
    opts.faults.dropReply = 0;
    opts.faults.garble = 0;
    opts.turnaroundMs = 2;
    await sleep(500);
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(0);
    const injected = sink.list({ limit: 100_000 }).slice(0, sink.count - rowsBefore).filter((t) => t.purpose === 'injected' && t.replyBytes);
    expect(injected.length).toBeGreaterThan(0);
    // Not one reply to an injected request reached the master.
    const toMaster = new Set(frames(transport.received.slice(receivedBefore)));
    for (const t of injected) expect(toMaster.has(hex(t.replyBytes!)), `injected reply ${hex(t.replyBytes!)} reached the master`).toBe(false);
    // Every frame the master got came from the simulator.
    const fromSim = new Set(frames(simRecord.sent.slice(sentBefore)));
    for (const f of toMaster) expect(fromSim.has(f)).toBe(true);
    // Back-off was said, in GET /bus and the log, when the master's own requests timed out while injecting.
    const kinds = bridge.details().events.map((e) => e.kind);
    if (bridge.details().inject!.backoffs > 0) {
      expect(kinds).toContain('inject-backoff');
      expect(logger.lines.some((l) => l.level === 'warn' && /injection paused/.test(l.msg ?? ''))).toBe(true);
    }
  }, 120_000);

  it('marks the injected exchanges in the capture, and flowbus decode shows them apart', async () => {
    await bridge.close();
    const text = readFileSync(capturePath, 'utf8');
    expect(text).toMatch(/^> .* length=\d+ from=\d+ to=\d+ injected$/m);
    const decoded = decodeCapture(text, { timeoutMs: 400 });
    expect(decoded.problems).toEqual([]);
    const injected = decoded.transactions.filter((t) => t.injected);
    const logged = sink.list({ limit: 100_000 }).filter((t) => t.purpose === 'injected');
    expect(injected.length).toBe(logged.length);
    expect(new Set(injected.map((t) => hex(t.request!.raw)))).toEqual(new Set(logged.map((t) => hex(t.requestBytes!))));
    // The master's own transactions are not marked.
    const observed = decoded.transactions.filter((t) => !t.injected && t.request);
    expect(observed.length).toBeGreaterThan(0);
    expect(observed.every((t) => !logged.some((l) => hex(l.requestBytes!) === hex(t.request!.raw) && l.startedAt === t.time / 1000))).toBe(true);
    expect(formatTransaction(injected[0]!)).toMatch(/\[injected\]$/);
    expect(formatTransaction(observed[0]!)).not.toMatch(/injected/);
  });
});
