/**
 * Injection in bridge mode on real ptys: simulator <-pty-> bridge (inject on) <-pty-> a Bright-like
 * master (our own Bus + ParamClient, pipeline depth 2, 8 values every 158 ms), while the API
 * writes setpoints and reads parameters the master never asks for.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { Bus, ParamClient, type TransactionRecord } from '../../src/bus/index.js';
import { BinaryDeframer } from '../../src/codec/index.js';
import { BridgeGateway, MemorySink } from '../../src/gateway/index.js';
import { decodeCapture, formatTransaction } from '../../src/observe/index.js';
import { resolveParam } from '../../src/params/index.js';
import { GatewayError } from '../../src/shared/index.js';
import { serialOpener } from '../../src/transport/index.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';
import { ptyPair, recordingLogger, RecordingTransport, simOnPty, sleep, total, type PtyPair, type SimOnPty } from './helpers.js';

const POLL = ['measure', 'setpoint', 'valveOutput', 'temperature'].map((k) => resolveParam(k));

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every complete frame in a byte stream, as hex, in order. */
function frames(chunks: readonly Uint8Array[]): string[] {
  const d = new BinaryDeframer();
  const out: string[] = [];
  for (const c of chunks) for (const ev of d.push(c)) if (ev.kind === 'frame') out.push(hex(ev.raw));
  return out;
}

describe.skipIf(!SOCAT)('bridge with injection: the API writes and reads while a master polls', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-inject-'));
  const instPath = join(dir, 'inst');
  const masterPath = join(dir, 'master');
  const bridgeMasterPath = join(dir, 'master.bridge');
  const capturePath = join(dir, 'capture.log');
  const simRecord = { received: [] as Buffer[], sent: [] as Buffer[] };
  let sim: Simulator;
  let inst: SimOnPty | undefined;
  let masterPair: PtyPair | undefined;
  let bridge: BridgeGateway;
  let transport: RecordingTransport;
  let bus: Bus;
  let client: ParamClient;
  const sink = new MemorySink(100_000);
  const logger = recordingLogger();
  const masterLog: TransactionRecord[] = [];
  let polling = true;
  let poller: Promise<void> | undefined;

  beforeAll(async () => {
    sim = createSimulator({ nodes: [3, 5], baud: 38400, turnaroundMs: 2 });
    inst = await simOnPty(sim, instPath, simRecord);
    masterPair = await ptyPair(masterPath, bridgeMasterPath);
    bridge = new BridgeGateway(
      {
        instrumentPort: instPath,
        masterPort: bridgeMasterPath,
        name: 'tap',
        replyTimeoutMs: 400,
        burstGapMs: 2,
        inject: true,
        capture: capturePath,
        captureFlushMs: 50,
        injectIdleMs: 10,
        injectTimeoutMs: 300,
        injectWaitMs: 3000,
        injectMaxMasterLatencyMs: 1000,
        injectBackoffMs: 200,
        reconnectInitialMs: 50,
        reconnectMaxMs: 200,
      },
      { sink, logger },
    );
    await bridge.start();
    transport = new RecordingTransport(masterPath, serialOpener(masterPath, 38400), { initialDelayMs: 50, maxDelayMs: 200 });
    // A generous timeout: a reply kept from the master would still be a timeout, and a loaded machine stalls no test.
    bus = new Bus(transport, { replyTimeoutMs: 1000, retries: 0, pipelineDepth: 2 });
    bus.on('transaction', (r) => masterLog.push(r));
    client = new ParamClient(bus);
    await transport.start();
    await waitUntil(() => bridge.ready(), { timeoutMs: 5000, what: 'both bridge sides open' });
    // The Bright: 8 values every 158 ms, two requests in flight.
    poller = (async () => {
      while (polling) {
        await Promise.all([client.read(3, POLL, { purpose: 'poll' }), client.read(5, POLL, { purpose: 'poll' })]);
        await sleep(158);
      }
    })();
    await waitUntil(() => bridge.instruments().length === 2 || undefined, { timeoutMs: 5000, what: 'both instruments observed' });
  });

  afterAll(async () => {
    polling = false;
    await poller;
    await bus?.close();
    await transport?.close();
    await bridge?.close();
    await inst?.close();
    await masterPair?.close();
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

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
    polling = false;
    await poller;

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

  it('with a slow simulator that drops and garbles replies, no reply goes to the wrong master', async () => {
    const opts = (sim as unknown as { opts: unknown }).opts as { turnaroundMs: number; faults: { dropReply: number; garble: number } };
    opts.turnaroundMs = 30;
    opts.faults.dropReply = 0.1;
    opts.faults.garble = 0.1;
    const sentBefore = simRecord.sent.length;
    const receivedBefore = transport.received.length;
    const rowsBefore = sink.count;
    polling = true;
    poller = (async () => {
      while (polling) {
        await Promise.all([client.read(3, POLL, { purpose: 'poll', replyTimeoutMs: 300 }), client.read(5, POLL, { purpose: 'poll', replyTimeoutMs: 300 })]);
        await sleep(158);
      }
    })();
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
    polling = false;
    await poller;
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
