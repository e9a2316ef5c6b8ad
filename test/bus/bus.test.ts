import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Duplex } from 'node:stream';
import {
  buildRequest,
  createDeframer,
  encodeFrame,
  encodeMessage,
  frameToPacket,
  WireType,
  type Frame,
  type Message,
  type Protocol,
} from '../../src/codec/index.js';
import { Bus, BusError, Priority, type BusOptions, type TransactionRecord } from '../../src/bus/index.js';
import { Transport } from '../../src/transport/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { settledAfter } from '../helpers/wait.js';

/** A scripted instrument below the transport: it sees each request frame and decides what to send back. */
type Script = (frame: Frame & { kind: 'data' }, reply: (bytes: Uint8Array) => void) => void;

const READ_MEASURE: Message = buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }]);

function answer(protocol: Protocol, frame: Frame & { kind: 'data' }, message: Message): Uint8Array {
  return encodeFrame({ kind: 'data', seq: frame.seq, node: frame.node, data: encodeMessage(message) }, protocol);
}

function measureAnswer(value: number): Message {
  return { kind: 'send', blocks: [{ process: 1, params: [{ fbnr: 0, wireType: WireType.Int16, raw: Uint8Array.of(value >> 8, value & 255) }] }] };
}

const open: { bus: Bus; transport: Transport }[] = [];

async function setup(script: Script, options: Partial<BusOptions> = {}) {
  const protocol = options.protocol ?? 'binary';
  const [gatewayEnd, instrumentEnd] = duplexPair();
  const seen: Frame[] = [];
  const deframer = createDeframer(protocol);
  instrumentEnd.on('data', (chunk: Buffer) => {
    for (const ev of deframer.push(chunk)) {
      if (ev.kind !== 'frame' || ev.frame.kind !== 'data') continue;
      seen.push(ev.frame);
      script(ev.frame as Frame & { kind: 'data' }, (bytes) => instrumentEnd.write(bytes));
    }
  });
  const transport = new Transport('test://pair', async () => gatewayEnd as Duplex);
  await transport.start();
  const bus = new Bus(transport, { replyTimeoutMs: 40, retries: 2, ...options });
  const records: TransactionRecord[] = [];
  bus.on('transaction', (r) => records.push(r));
  open.push({ bus, transport });
  return { bus, transport, seen, records, instrumentEnd };
}

afterEach(async () => {
  vi.useRealTimers();
  for (const { bus, transport } of open.splice(0)) {
    await bus.close();
    await transport.close();
  }
});

describe('bus transactions', () => {
  it('sends a request and resolves with its own reply, matched by (SEQ, NODE)', async () => {
    const { bus, records } = await setup((f, reply) => reply(answer('binary', f, measureAnswer(16000))));
    const r = await bus.transact(3, READ_MEASURE);
    expect(r.message).toEqual(measureAnswer(16000));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ node: 3, outcome: 'ok', attempts: 1, seq: 1 });
    expect(records[0]?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('retries after a timeout with a new SEQ, and counts the late reply without handing it on', async () => {
    vi.useFakeTimers();
    let n = 0;
    const { bus, records } = await setup((f, reply) => {
      n++;
      // First request: answer late (after the timeout). Second: answer at once with another value.
      if (n === 1) setTimeout(() => reply(answer('binary', f, measureAnswer(111))), 80);
      else reply(answer('binary', f, measureAnswer(222)));
    });
    const r = await settledAfter(40, bus.transact(3, READ_MEASURE));
    expect(r.message).toEqual(measureAnswer(222));
    expect(records[0]).toMatchObject({ attempts: 2, seq: 2, outcome: 'ok' });
    await vi.advanceTimersByTimeAsync(40);
    // The late 111 reached nobody: the next request gets its own answer.
    const again = await bus.transact(3, READ_MEASURE);
    expect(again.message).toEqual(measureAnswer(222));
    expect(bus.stats().lateReplies).toBe(1);
    expect(bus.stats().retries).toBe(1);
  });

  it('gives up after the retries with a timeout failure', async () => {
    vi.useFakeTimers();
    const { bus, seen } = await setup(() => {});
    const giving = bus.transact(3, READ_MEASURE).catch((e: unknown) => e);
    // Three attempts of 40 ms each, and not one more.
    await expect(settledAfter(119, giving)).rejects.toThrow('still pending');
    const err = await settledAfter(1, giving);
    expect(err).toBeInstanceOf(BusError);
    expect((err as BusError).code).toBe('BUS_TIMEOUT');
    expect((err as BusError).failure).toEqual({ kind: 'timeout', attempts: 3, timeoutMs: 40 });
    expect(seen.map((f) => f.seq)).toEqual([1, 2, 3]);
  });

  it('maps a status reply and an error frame to their failures, without retrying', async () => {
    const { bus, seen } = await setup((f, reply) => {
      if (f.node === 5) reply(encodeFrame({ kind: 'error', seq: f.seq, node: 5, code: 5 }, 'binary'));
      else reply(answer('binary', f, { kind: 'status', status: 4, index: 5 }));
    });
    const status = (await bus.transact(3, READ_MEASURE).catch((e: unknown) => e)) as BusError;
    expect(status.code).toBe('BUS_STATUS');
    expect(status.failure).toEqual({ kind: 'status', status: 4, index: 5 });
    expect(status.details.statusName).toBe('PARM_NUMBER');
    const ef = (await bus.transact(5, READ_MEASURE).catch((e: unknown) => e)) as BusError;
    expect(ef.code).toBe('BUS_ERROR_FRAME');
    expect(ef.failure).toEqual({ kind: 'error-frame', code: 5 });
    expect(seen).toHaveLength(2);
  });

  it('runs writes before interactive reads before polls before scans, ties in arrival order', async () => {
    const { bus, seen } = await setup((f, reply) => setTimeout(() => reply(answer('binary', f, measureAnswer(1))), 5));
    const first = bus.transact(3, READ_MEASURE, { priority: Priority.Poll });
    const jobs = [
      bus.transact(10, READ_MEASURE, { priority: Priority.Scan }),
      bus.transact(11, READ_MEASURE, { priority: Priority.Poll }),
      bus.transact(12, READ_MEASURE, { priority: Priority.Poll }),
      bus.transact(13, READ_MEASURE, { priority: Priority.Interactive }),
      bus.transact(14, READ_MEASURE, { priority: Priority.Write }),
    ];
    await Promise.all([first, ...jobs]);
    expect(seen.map((f) => f.node)).toEqual([3, 14, 13, 11, 12, 10]);
  });

  it('with pipeline depth 2 puts the next request on the line while the first is answered', async () => {
    const pending: (() => void)[] = [];
    const { bus, seen } = await setup(
      (f, reply) => {
        pending.push(() => reply(answer('binary', f, measureAnswer(f.seq))));
        if (pending.length === 2) for (const p of pending.splice(0).reverse()) p();
      },
      { pipelineDepth: 2 },
    );
    const [a, b] = await Promise.all([bus.transact(3, READ_MEASURE), bus.transact(3, READ_MEASURE)]);
    // Answered in reverse order, each still gets its own reply.
    expect(a.message).toEqual(measureAnswer(seen[0]!.seq));
    expect(b.message).toEqual(measureAnswer(seen[1]!.seq));
  });

  it('fails at once with bus-unavailable when the port is down, and recovers when it returns', async () => {
    const { bus, transport } = await setup((f, reply) => reply(answer('binary', f, measureAnswer(7))));
    transport.drop('unplugged');
    const err = (await bus.transact(3, READ_MEASURE).catch((e: unknown) => e)) as BusError;
    expect(err.code).toBe('BUS_UNAVAILABLE');
    expect(transport.state).toBe('waiting');
  });

  it('rejects a transaction that waited in the queue past its deadline', async () => {
    vi.useFakeTimers();
    const { bus } = await setup((f, reply) => setTimeout(() => reply(answer('binary', f, measureAnswer(1))), 120), {
      queueDeadlineMs: 50,
      replyTimeoutMs: 500,
    });
    const slow = bus.transact(3, READ_MEASURE);
    const late = (await settledAfter(50, bus.transact(4, READ_MEASURE).catch((e: unknown) => e))) as BusError;
    expect(late.code).toBe('BUS_QUEUE_DEADLINE');
    await settledAfter(70, slow);
  });

  it('says when it starts backing off a node (once per backoff, not per failure) and when the node answers again', async () => {
    let answering = false;
    const { bus } = await setup(
      (f, reply) => {
        if (answering) reply(answer('binary', f, measureAnswer(1)));
      },
      { retries: 0, backoffAfterFailures: 2, backoffInitialMs: 10_000 },
    );
    const events: unknown[] = [];
    bus.on('node-backoff', (node, until) => events.push({ kind: 'backoff', node, untilAhead: until - Date.now() > 9_000 }));
    bus.on('node-recovered', (node) => events.push({ kind: 'recovered', node }));
    await bus.transact(9, READ_MEASURE).catch(() => {});
    expect(events).toEqual([]);
    await bus.transact(9, READ_MEASURE).catch(() => {});
    expect(events).toEqual([{ kind: 'backoff', node: 9, untilAhead: true }]);
    // A failure during the backoff extends it: no second event.
    await bus.transact(9, READ_MEASURE).catch(() => {});
    expect(events).toHaveLength(1);
    answering = true;
    await bus.transact(9, READ_MEASURE);
    await bus.transact(9, READ_MEASURE);
    expect(events).toEqual([
      { kind: 'backoff', node: 9, untilAhead: true },
      { kind: 'recovered', node: 9 },
    ]);
    expect(bus.backoff(9)).toBeUndefined();
  });

  it('backs off a node that keeps failing so its polls do not hold up healthy nodes', async () => {
    vi.useFakeTimers();
    const { bus, seen } = await setup(
      (f, reply) => {
        if (f.node === 3) reply(answer('binary', f, measureAnswer(1)));
      },
      { retries: 0, backoffAfterFailures: 2, backoffInitialMs: 10_000 },
    );
    for (let i = 0; i < 2; i++) await settledAfter(40, bus.transact(9, READ_MEASURE, { priority: Priority.Poll }).catch(() => {}));
    expect(bus.backoff(9)).toBeGreaterThan(Date.now());
    const sentBefore = seen.length;
    const skipped = (await bus.transact(9, READ_MEASURE, { priority: Priority.Poll }).catch((e: unknown) => e)) as BusError;
    expect(skipped.code).toBe('BUS_NODE_BACKOFF');
    expect(seen.length).toBe(sentBefore);
    await expect(bus.transact(3, READ_MEASURE, { priority: Priority.Poll })).resolves.toBeTruthy();
    expect(bus.stats().nodesBackedOff).toEqual([9]);
    // A scan (discovery) and an interactive read still go on the wire, once each, without retries.
    for (const priority of [Priority.Scan, Priority.Interactive]) {
      const sent = seen.length;
      const tried = (await settledAfter(40, bus.transact(9, READ_MEASURE, { priority, retries: 2 }).catch((e: unknown) => e))) as BusError;
      expect(tried.code).toBe('BUS_TIMEOUT');
      expect(seen.length - sent).toBe(1);
    }
  });

  it('a poll that has waited pollAgingMs runs even under a steady stream of interactive reads', async () => {
    vi.useFakeTimers();
    const { bus } = await setup((f, reply) => setTimeout(() => reply(answer('binary', f, measureAnswer(1))), 3), {
      pollAgingMs: 60,
      queueDeadlineMs: 5000,
    });
    let stop = false;
    // Three clients that always have an interactive read queued: without aging the poll would wait for all of them.
    const clients = [3, 4, 5].map(async (node) => {
      while (!stop) await bus.transact(node, READ_MEASURE, { priority: Priority.Interactive });
    });
    await vi.advanceTimersByTimeAsync(20);
    const t0 = Date.now();
    let waited = -1;
    const polled = bus.transact(9, READ_MEASURE, { priority: Priority.Poll }).finally(() => (waited = Date.now() - t0));
    // Aged after 60 ms; then it waits at most for the read on the wire (3 ms).
    const poll = await settledAfter(70, polled);
    const stillBusy = !stop;
    stop = true;
    await settledAfter(10, Promise.all(clients));
    expect(poll.record.outcome).toBe('ok');
    expect(stillBusy).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(60);
    expect(waited).toBeLessThanOrEqual(70);
  });

  it('leaves no abort listener behind on the long-lived shutdown signal or the caller\'s signal', async () => {
    const { bus } = await setup((f, reply) => reply(answer('binary', f, measureAnswer(1))));
    const caller = new AbortController();
    for (let i = 0; i < 50; i++) await bus.transact(3, READ_MEASURE, { signal: caller.signal });
    await bus.transact(7, READ_MEASURE, { replyTimeoutMs: 10, retries: 0 }).catch(() => {});
    expect(getEventListeners(bus.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('many transactions waiting at once raise no MaxListenersExceededWarning (their listeners are removed, not leaked)', async () => {
    const { bus } = await setup((f, reply) => reply(answer('binary', f, measureAnswer(1))));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => void (w.name === 'MaxListenersExceededWarning' && warnings.push(w));
    process.on('warning', onWarning);
    try {
      await Promise.all(Array.from({ length: 40 }, (_, i) => bus.transact(1 + (i % 20), READ_MEASURE)));
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.message)).toEqual([]);
  });

  it('shutdown rejects every waiting caller; none hangs', async () => {
    const { bus } = await setup(() => {}, { replyTimeoutMs: 5000 });
    const calls = [1, 2, 3, 4].map((n) => bus.transact(n, READ_MEASURE).catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 10));
    await bus.close();
    const results = (await Promise.all(calls)) as BusError[];
    expect(results.map((e) => e.code)).toEqual(['BUS_ABORTED', 'BUS_ABORTED', 'BUS_ABORTED', 'BUS_ABORTED']);
  });

  it('a transaction aborted while on the wire is recorded once (the log would count it twice)', async () => {
    const { bus, records, seen } = await setup(() => {}, { replyTimeoutMs: 5000 });
    const calls = [1, 2, 3].map((n) => bus.transact(n, READ_MEASURE).catch((e: unknown) => e));
    await new Promise((r) => setTimeout(r, 10));
    expect(seen.length).toBe(1); // the first is on the wire, the others wait in the queue
    await bus.close();
    await Promise.all(calls);
    await new Promise((r) => setTimeout(r, 10));
    const ids = records.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(records.filter((r) => r.outcome === 'aborted').map((r) => r.node).sort()).toEqual([1, 2, 3]);
    // The one on the wire keeps its bytes and SEQ.
    expect(records.find((r) => r.node === 1)).toMatchObject({ attempts: 1, requestBytes: expect.any(Uint8Array) });
  });
});

describe('bus in ASCII mode', () => {
  it('matches by order and refuses a late answer that does not fit the next request', async () => {
    vi.useFakeTimers();
    let n = 0;
    const other = buildRequest([{ process: 1, fbnr: 1, wireType: WireType.Int16 }]);
    const { bus } = await setup(
      (f, reply) => {
        n++;
        const req = frameToPacket(f).message;
        if (n === 1) {
          // Too late for the first request: arrives while the second waits.
          setTimeout(() => reply(answer('ascii', f, measureAnswer(111))), 60);
        } else if (req.kind === 'request' && req.blocks[0]?.params[0]?.fbnr === 1) {
          setTimeout(
            () =>
              reply(
                answer('ascii', f, {
                  kind: 'send',
                  blocks: [{ process: 1, params: [{ fbnr: 1, wireType: WireType.Int16, raw: Uint8Array.of(0x3e, 0x80) }] }],
                }),
              ),
            40,
          );
        }
      },
      { protocol: 'ascii', retries: 0 },
    );
    await settledAfter(40, bus.transact(3, READ_MEASURE).catch(() => {}));
    const r = await settledAfter(40, bus.transact(3, other));
    const values = r.message.kind === 'send' ? r.message.blocks[0]?.params[0] : undefined;
    expect(values?.fbnr).toBe(1);
    expect(bus.stats().lateReplies).toBe(1);
  });
});
