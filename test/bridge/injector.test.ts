/** The injector alone, in process: the instrument-side filter byte by byte, the SEQ choice, idleness. */
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { encodeBinaryFrame } from '../../src/codec/index.js';
import { Injector } from '../../src/gateway/bridge/injector.js';
import { resolveParam } from '../../src/params/index.js';
import { waitUntil } from '../helpers/wait.js';

const OPTIONS = { idleMs: 1, timeoutMs: 500, waitMs: 2000, masterTimeoutMs: 1000, maxMasterLatencyMs: 1000, backoffMs: 100, baud: 38400 };

describe('Injector', () => {
  let sim: Simulator | undefined;
  let injector: Injector | undefined;
  afterEach(async () => {
    await injector?.close();
    await sim?.close();
  });

  it('keeps exactly its own reply from the master, byte by byte, with a SEQ that needs DLE stuffing', async () => {
    sim = createSimulator({ nodes: [3] });
    const line = sim.connect();
    const toMaster: number[] = [];
    const requests: Uint8Array[] = [];
    const inj = new Injector(OPTIONS, {
      toInstrument: (b) => requests.push(b),
      toMaster: (b) => toMaster.push(...b),
      masterToInstrument: () => undefined,
      transaction: () => undefined,
      wire: () => undefined,
      backoff: () => undefined,
      gaveUp: () => undefined,
    });
    injector = inj;
    await inj.start();
    // The master used SEQ 0x90: the farthest from it is 0x10, which the frame must stuff.
    const masterReq = encodeBinaryFrame({ kind: 'data', seq: 0x90, node: 3, data: Uint8Array.of(4, 1, 0, 0, 0) });
    const masterReply = encodeBinaryFrame({ kind: 'data', seq: 0x90, node: 3, data: Uint8Array.of(2, 1, 0, 0x10, 0x10) });
    inj.fromMaster(masterReq);
    inj.fromInstrument(masterReply);
    expect(Buffer.from(toMaster)).toEqual(Buffer.from(masterReply));
    toMaster.length = 0;

    const read = inj.client.read(3, [resolveParam('measure')]);
    await waitUntil(() => requests.length === 1 || undefined, { timeoutMs: 2000, what: 'the injected request' });
    const req = requests[0]!;
    expect([...req.subarray(0, 4)]).toEqual([0x10, 0x02, 0x10, 0x10]);
    const replyChunks: Buffer[] = [];
    line.on('data', (c: Buffer) => replyChunks.push(c));
    line.write(req);
    await waitUntil(() => replyChunks.length > 0 || undefined, { timeoutMs: 2000, what: 'the simulator answers' });
    const ours = Buffer.concat(replyChunks);

    // Junk, a master reply with a DLE-stuffed NODE, our reply, a master error frame, a broken frame: one byte at a time.
    const junk = Buffer.from('boot v1\r\n');
    const other = encodeBinaryFrame({ kind: 'data', seq: 0x91, node: 0x10, data: Uint8Array.of(0, 0, 0) });
    const error = encodeBinaryFrame({ kind: 'error', seq: 0x92, node: 3, code: 5 });
    const broken = Buffer.of(0x10, 0x02, 0x93, 0x10, 0x07);
    const stream = Buffer.concat([junk, other, ours, error, broken]);
    for (const b of stream) inj.fromInstrument(Uint8Array.of(b));
    const [r] = await read;
    expect(r?.ok).toBe(true);
    expect(Buffer.from(toMaster)).toEqual(Buffer.concat([junk, other, error, broken]));
    expect(inj.view()).toMatchObject({ sent: 1, answered: 1, timedOut: 0, lateReplies: 0 });
  });

  it('waits while a master request is outstanding, and goes once its reply has passed', async () => {
    const requests: Uint8Array[] = [];
    const inj = new Injector(OPTIONS, {
      toInstrument: (b) => requests.push(b),
      toMaster: () => undefined,
      masterToInstrument: () => undefined,
      transaction: () => undefined,
      wire: () => undefined,
      backoff: () => undefined,
      gaveUp: () => undefined,
    });
    injector = inj;
    await inj.start();
    inj.fromMaster(encodeBinaryFrame({ kind: 'data', seq: 7, node: 3, data: Uint8Array.of(4, 1, 0, 0, 0) }));
    const read = inj.client.read(3, [resolveParam('measure')], { retries: 0 });
    await new Promise((r) => setTimeout(r, 50));
    expect(requests).toEqual([]);
    expect(inj.view().queued).toBe(1);
    inj.fromInstrument(encodeBinaryFrame({ kind: 'data', seq: 7, node: 3, data: Uint8Array.of(2, 1, 0, 0, 0) }));
    await waitUntil(() => requests.length === 1 || undefined, { timeoutMs: 2000, what: 'the injected request after the master reply' });
    // SEQ far from the master's 7.
    expect(requests[0]![2]).toBe(135);
    void read.catch(() => undefined);
  });

  it('pauses when a master request goes unanswered while injecting, says so, and resumes', async () => {
    const said: string[] = [];
    const gaveUp: string[] = [];
    const inj = new Injector(
      { ...OPTIONS, timeoutMs: 30, masterTimeoutMs: 50, backoffMs: 100 },
      {
        toInstrument: () => undefined,
        toMaster: () => undefined,
        masterToInstrument: () => undefined,
        transaction: () => undefined,
        wire: () => undefined,
        backoff: (kind, reason) => said.push(`${kind}: ${reason}`),
        gaveUp: (why) => gaveUp.push(why),
      },
    );
    injector = inj;
    await inj.start();
    const read = inj.client.read(3, [resolveParam('measure')], { retries: 0 });
    await waitUntil(() => gaveUp.length === 1 || undefined, { timeoutMs: 2000, what: 'the injected request given up' });
    expect(gaveUp).toEqual(['timeout']);
    expect(inj.lastFailure).toBe('timeout');
    inj.fromMaster(encodeBinaryFrame({ kind: 'data', seq: 9, node: 3, data: Uint8Array.of(4, 1, 0, 0, 0) }));
    await waitUntil(
      () => {
        inj.tick();
        return said.length > 0 || undefined;
      },
      { timeoutMs: 2000, what: 'back-off' },
    );
    expect(said[0]).toMatch(/^inject-backoff: injection paused for 100 ms: a master request \(SEQ\/NODE 9\/3\) got no reply within 50 ms while injecting/);
    expect(inj.view()).toMatchObject({ state: 'paused', masterTimeouts: 1, backoffs: 1 });
    await waitUntil(() => said.length === 2 || undefined, { timeoutMs: 2000, what: 'resumed' });
    expect(said[1]).toBe('inject-resumed: injection resumed');
    expect(inj.view().state).toBe('active');
    void read.catch(() => undefined);
  });

  it('remaps a master request that comes with the SEQ and NODE of the injected one in flight, and puts its SEQ back in the reply', async () => {
    const toInstrument: number[] = [];
    const toMaster: number[] = [];
    const requests: Uint8Array[] = [];
    const inj = new Injector(OPTIONS, {
      toInstrument: (b) => requests.push(b),
      toMaster: (b) => toMaster.push(...b),
      masterToInstrument: (b) => toInstrument.push(...b),
      transaction: () => undefined,
      wire: () => undefined,
      backoff: () => undefined,
      gaveUp: () => undefined,
    });
    injector = inj;
    await inj.start();
    // The master used SEQ 0x90, so ours is 0x10 (stuffed on the wire): the master now reuses 0x10.
    inj.fromMaster(encodeBinaryFrame({ kind: 'data', seq: 0x90, node: 3, data: Uint8Array.of(4, 1, 0, 0, 0) }));
    inj.fromInstrument(encodeBinaryFrame({ kind: 'data', seq: 0x90, node: 3, data: Uint8Array.of(2, 1, 0, 0, 0) }));
    const read = inj.client.read(3, [resolveParam('measure')], { retries: 0 });
    await waitUntil(() => requests.length === 1 || undefined, { timeoutMs: 2000, what: 'the injected request' });
    expect([...requests[0]!.subarray(0, 4)]).toEqual([0x10, 0x02, 0x10, 0x10]);
    toInstrument.length = 0;
    const masterReq = encodeBinaryFrame({ kind: 'data', seq: 0x10, node: 3, data: Uint8Array.of(4, 1, 1, 0, 1) });
    for (const b of masterReq) inj.fromMaster(Uint8Array.of(b));
    const wire = Buffer.from(toInstrument);
    // The same request with another SEQ (the only bytes that differ), unstuffed since it is no DLE.
    expect(wire[2]).not.toBe(0x10);
    expect(Buffer.concat([masterReq.subarray(0, 2), masterReq.subarray(4)])).toEqual(Buffer.concat([wire.subarray(0, 2), wire.subarray(3)]));
    expect(inj.view()).toMatchObject({ collisions: 1, remaps: 1 });
    // The instrument answers the remapped request first, then ours: the master gets its reply with its own SEQ, byte for byte.
    const replyData = Uint8Array.of(2, 1, 1, 0x10, 0x20);
    const theirs = encodeBinaryFrame({ kind: 'data', seq: wire[2]!, node: 3, data: replyData });
    const ours = encodeBinaryFrame({ kind: 'data', seq: 0x10, node: 3, data: Uint8Array.of(2, 1, 0, 0, 0) });
    toMaster.length = 0;
    for (const b of Buffer.concat([theirs, ours])) inj.fromInstrument(Uint8Array.of(b));
    expect(Buffer.from(toMaster)).toEqual(Buffer.from(encodeBinaryFrame({ kind: 'data', seq: 0x10, node: 3, data: replyData })));
    await read;
    // Ours was kept from the master and taken as the answer.
    expect(inj.view()).toMatchObject({ sent: 1, answered: 1, lateReplies: 0 });
  });
});
