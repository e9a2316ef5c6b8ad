import { afterEach, describe, expect, it } from 'vitest';
import {
  Status,
  WireType,
  buildRequest,
  buildValues,
  decodeValue,
  encodeMessage,
  encodeValue,
  frameToPacket,
  valueParams,
  type Frame,
  type Message,
} from '../../src/codec/index.js';
import { CAPTURED_DMFC_MISSING } from '../../simulator/index.js';
import { harness, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.sim.close();
  h = undefined;
});

function start(...args: Parameters<typeof harness>): Harness {
  h = harness(...args);
  return h;
}

/** The captured instrument's ring values (PROTOCOL.md 2, first frame of log2). */
const CAPTURED = { instruments: [{ node: 3, noise: 0, values: { sna: 127, nna: 4, lna: 32, arbitrage: 67 } }] };

function msg(f: Frame): Message {
  return frameToPacket(f).message;
}

function status(code: number, index: number): Message {
  return { kind: 'status', status: code, index };
}

describe('captured exchanges, byte for byte', () => {
  it('answers the chained read of the 5 network parameters at node 128', async () => {
    const { master } = start(CAPTURED);
    expect(await master.raw('10 02 01 80 11 04 01 80 00 01 81 00 02 82 00 03 83 00 04 04 00 05 10 03')).toBe(
      '10 02 01 80 0c 02 01 80 03 81 7f 82 04 83 20 04 43 10 03',
    );
  });

  it('keeps DLE stuffing, index tags and a fixed string length (capacity + 16-byte user tag)', async () => {
    const { master } = start(CAPTURED);
    expect(await master.raw('10 02 8b 80 0a 04 81 4d 01 4d 71 66 71 66 10 10 10 03')).toBe(
      '10 02 8b 80 1a 02 81 4d 45 d5 08 00 71 66 10 10 55 53 45 52 54 41 47 00 00 00 00 00 00 00 00 00 10 03',
    );
  });

  it('acknowledges a wink with 00 00 06 and accepts control mode 1 with 00 00 04', async () => {
    const { master, sim } = start(CAPTURED);
    expect(await master.raw('10 02 05 80 06 01 00 60 00 39 00 10 03')).toBe('10 02 05 80 03 00 00 06 10 03');
    expect(sim.instruments.get(3)?.winking()).toBe(true);
    expect(await master.raw('10 02 06 80 04 01 01 04 01 10 03')).toBe('10 02 06 80 03 00 00 04 10 03');
  });

  it('rejects fluidset 8 with 00 06 04 and then accepts 6', async () => {
    const { master, sim } = start(CAPTURED);
    expect(await master.raw('10 02 07 80 04 01 01 10 10 08 10 03')).toBe('10 02 07 80 03 00 06 04 10 03');
    expect(await master.raw('10 02 08 80 04 01 01 10 10 06 10 03')).toBe('10 02 08 80 03 00 00 04 10 03');
    expect(sim.instruments.get(3)?.get('fluidsetIndex')).toBe(6);
  });

  it('answers a write of the unknown 0/17 with status 4 index 4', async () => {
    const { master } = start(CAPTURED);
    expect(await master.raw('10 02 09 80 04 01 00 11 01 10 03')).toBe('10 02 09 80 03 00 04 04 10 03');
  });

  it('answers an absent node with error frame 5, SEQ and NODE echoed', async () => {
    const { master } = start(CAPTURED);
    expect(await master.raw('10 02 03 05 05 04 01 21 01 20 10 03')).toBe('10 02 03 05 00 05 10 03');
  });

  it('pads the capacity unit with spaces and the device type with NUL', async () => {
    const { master } = start(CAPTURED);
    expect(await master.raw('10 02 55 03 06 04 01 6a 01 7f 07 10 03')).toBe('10 02 55 03 0b 02 01 6a 07 6d 67 2f 6d 69 6e 20 10 03');
    expect(await master.raw('10 02 fb 03 06 04 01 71 71 61 06 10 03')).toBe('10 02 fb 03 0a 02 01 71 06 44 4d 46 43 00 00 10 03');
  });

  it('answers the ID string NUL-terminated with the requested length 0', async () => {
    const { master } = start(CAPTURED);
    expect(await master.raw('10 02 0c 80 06 04 01 65 00 60 00 10 03')).toBe(
      '10 02 0c 80 12 02 01 65 00 07 53 4e 4d 31 31 32 30 39 33 32 31 41 00 10 03',
    );
  });

  it('answers the ID string read as a byte with its first char, 0x07', async () => {
    const { master } = start(CAPTURED);
    expect(await master.raw('10 02 0d 80 05 04 01 00 00 00 10 03')).toBe('10 02 0d 80 04 02 01 00 07 10 03');
  });

  it('refuses the captured 63-byte request whose answer would not fit with 00 23 3f', async () => {
    const { master } = start(CAPTURED);
    const req =
      '10 02 57 03 3f 04 81 4d 21 41 81 0e 72 11 81 4f 21 47 81 10 10 61 09 81 11 68 09 81 92 21 0e 93 21 0f d4 21 52 55 21 54 81 16 73 0b 81 97 72 12 98 72 14 d9 72 55 da 72 56 5b 72 57 81 5c 21 55 01 7d 71 68 00 10 03';
    expect(await master.raw(req)).toBe('10 02 57 03 03 00 23 3f 10 03');
  });

  it('with the captured DMFC profile, refuses 116/6 in a 60-byte chained read with 00 04 20', async () => {
    const { master } = start({ instruments: [{ node: 3, noise: 0, missing: CAPTURED_DMFC_MISSING }] });
    const req =
      '10 02 35 03 3c 04 81 90 01 12 91 01 14 d2 01 49 d3 01 4a d4 01 4b 55 01 4c 81 16 72 0c 81 17 73 03 81 38 74 26 81 59 72 41 81 da 75 41 5b 75 42 81 1c 73 01 81 3d 74 27 81 1e 73 02 01 7f 72 62 08 10 03';
    expect(await master.raw(req)).toBe('10 02 35 03 03 00 04 20 10 03');
  });

  it("mirrors the Bright's 8-parameter poll: process index 1, rolling parameter indices, block structure", async () => {
    const { master } = start({ instruments: [{ node: 3, noise: 0, values: { setpoint: 0, measure: 106 } }] });
    const reply = await master.raw('10 02 f3 03 1d 04 81 ad 01 20 ae 01 21 af 01 23 10 10 01 14 81 51 72 41 81 52 68 41 01 d3 21 47 54 21 40 10 03');
    // measure 106 (decaying), setpoint 0, analog in 0, alarm 0, valve, counter, temperature, fmeasure
    expect(reply.startsWith('10 02 f3 03 24 02 81 ad 00 6a ae 00 00 af 00 00 10 10 00 81 51')).toBe(true);
    const m = msg(master.frames.at(-1)!.frame);
    expect(m.kind).toBe('send');
    if (m.kind !== 'send') return;
    expect(m.blocks.map((b) => b.process)).toEqual([1, 1, 1, 1]);
    expect(m.blocks.map((b) => b.params.map((p) => p.fbnr))).toEqual([[13, 14, 15, 16], [17], [18], [19, 20]]);
    const temp = decodeValue('float', m.blocks[3]!.params[0]!.raw) as number;
    expect(temp).toBeGreaterThan(20.5);
    expect(temp).toBeLessThan(21.5);
  });
});

describe('addressing', () => {
  it('answers node 128 as NODE 128 and its own address as itself; other nodes get error 5', async () => {
    const { master } = start({ nodes: [3, 5] });
    const measure = [{ process: 1, fbnr: 0, wireType: WireType.Int16 }];
    const a = await master.transact(128, buildRequest(measure));
    expect(a).toMatchObject({ kind: 'data', node: 128 });
    const b = await master.transact(5, buildRequest(measure));
    expect(b).toMatchObject({ kind: 'data', node: 5 });
    const c = await master.transact(4, buildRequest(measure));
    expect(c).toMatchObject({ kind: 'error', node: 4, code: 5 });
  });

  it('lets a master walk the ring: PNA, NNA and LNA loop through 3 -> 5 -> 7 -> 3', async () => {
    const { master } = start({ nodes: [7, 3, 5] });
    const ring = [1, 3, 4].map((fbnr) => ({ process: 0, fbnr, wireType: WireType.Byte }));
    const local = await master.read(128, ring);
    const values = (m: Message): number[] => (m.kind === 'send' ? valueParams(m).map((p) => p.raw[0] as number) : []);
    expect(values(local)).toEqual([7, 3, 5]); // the first instrument listed is the local one
    const walk: number[] = [];
    let node = 7;
    for (let i = 0; i < 4; i++) {
      const [pna, nna] = values(await master.read(node, ring));
      walk.push(pna!);
      node = nna!;
    }
    expect(walk).toEqual([7, 3, 5, 7]);
  });

  it('follows a change of its primary address (secured, needs Init Reset 64)', async () => {
    const { master } = start({ nodes: [3] });
    const pna = (v: number): Message => buildValues('sendWithStatus', [{ process: 0, fbnr: 1, wireType: WireType.Byte, raw: Uint8Array.of(v) }]);
    expect(msg(await master.transact(3, pna(9)))).toEqual(status(Status.ReadOnly, 4));
    const unlock = buildValues('sendWithStatus', [{ process: 0, fbnr: 10, wireType: WireType.Byte, raw: Uint8Array.of(64) }]);
    expect(msg(await master.transact(3, unlock))).toEqual(status(0, 4));
    expect(msg(await master.transact(3, pna(9)))).toEqual(status(0, 4));
    expect(await master.transact(3, buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }]))).toMatchObject({ kind: 'error', code: 5 });
    expect(await master.transact(9, buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }]))).toMatchObject({ kind: 'data' });
  });
});

describe('reads', () => {
  it('gives status 3 for an unknown process and 4 for an unknown parameter, INDEX just past the entry', async () => {
    const { master } = start();
    const good = { process: 1, fbnr: 0, wireType: WireType.Int16 };
    expect(msg(await master.transact(3, buildRequest([good, { process: 50, fbnr: 1, wireType: WireType.Byte }, good])))).toEqual(
      status(Status.ProcessNumber, 1 + 1 + 3 + 1 + 3),
    );
    // 0/17 does not exist (PROTOCOL.md 5.3)
    expect(msg(await master.transact(3, buildRequest([good, good, { process: 0, fbnr: 17, wireType: WireType.Byte }])))).toEqual(
      status(Status.ParameterNumber, 1 + 1 + 3 + 3 + 1 + 3),
    );
  });

  it('gives status 5 when index and parameter type bits differ, or the type does not fit', async () => {
    const { master } = start();
    const req: Message = {
      kind: 'request',
      blocks: [{ processIndex: 1, params: [{ index: 0, indexType: WireType.Byte, process: 1, fbnr: 0, wireType: WireType.Int16 }] }],
    };
    expect(msg(await master.transact(3, req))).toEqual(status(Status.ParameterType, 5));
    // Init Reset (0/10) is a byte; temperature (33/7) a float
    expect(msg(await master.transact(3, buildRequest([{ process: 0, fbnr: 10, wireType: WireType.Int16 }])))).toEqual(status(Status.ParameterType, 5));
    expect(msg(await master.transact(3, buildRequest([{ process: 33, fbnr: 7, wireType: WireType.String }])))).toEqual(status(Status.ParameterType, 6));
  });

  it('refuses to read the write-only Reset (DDE 114) with 0x11', async () => {
    const { master } = start();
    expect(msg(await master.transact(3, buildRequest([{ process: 115, fbnr: 8, wireType: WireType.Byte }])))).toEqual(status(Status.WriteOnly, 5));
  });

  it('keeps the requested string length: 0 NUL-terminated, N exactly N bytes', async () => {
    const { master } = start();
    const tag = (n: number) => buildRequest([{ process: 113, fbnr: 6, wireType: WireType.String, stringLength: n }]);
    const r0 = msg(await master.transact(3, tag(0)));
    const r3 = msg(await master.transact(3, tag(3)));
    const r10 = msg(await master.transact(3, tag(10)));
    const p = (m: Message) => (m.kind === 'send' ? valueParams(m)[0]! : undefined);
    expect(p(r0)).toMatchObject({ stringLength: 0, raw: new Uint8Array(Buffer.from('USERTAG')) });
    expect(p(r3)).toMatchObject({ stringLength: 3, raw: new Uint8Array(Buffer.from('USE')) });
    expect(p(r10)).toMatchObject({ stringLength: 10, raw: new Uint8Array([...Buffer.from('USERTAG'), 0, 0, 0]) });
  });

  it('reads every readable parameter of the database without an error', async () => {
    const { master } = start();
    const { allParams } = await import('../../src/params/index.js');
    for (const p of allParams()) {
      if (!p.read) continue;
      const m = msg(await master.transact(3, buildRequest([{ process: p.process, fbnr: p.fbnr, wireType: p.wireType }])));
      expect(m.kind, `DDE ${p.dde} ${p.key}`).toBe('send');
    }
  });
});

describe('writes', () => {
  const float = (process: number, fbnr: number, v: number) => ({ process, fbnr, wireType: WireType.Int32, raw: encodeValue('float', v) });
  const byte = (process: number, fbnr: number, v: number) => ({ process, fbnr, wireType: WireType.Byte, raw: Uint8Array.of(v) });

  it('acknowledges with status 0 and INDEX = LEN, chained across processes', async () => {
    const { master, sim } = start();
    const m = buildValues('sendWithStatus', [float(33, 3, 1.5), byte(1, 4, 0), { process: 113, fbnr: 6, wireType: WireType.String, raw: new Uint8Array(Buffer.from('AB')), stringLength: 0 }]);
    const f = await master.transact(3, m);
    expect(msg(f)).toEqual(status(0, encodeMessage(m).length));
    expect(encodeMessage(m).length).toBe(16);
    expect(sim.instruments.get(3)?.get('userTag')).toBe('AB');
    expect(sim.instruments.get(3)?.get('fSetpoint')).toBe(1.5);
  });

  it('applies command 2 writes without a reply', async () => {
    const { master, sim } = start();
    master.send(3, buildValues('send', [byte(1, 4, 3)]));
    const f = await master.transact(3, buildRequest([{ process: 1, fbnr: 4, wireType: WireType.Byte }]));
    expect(master.frames).toHaveLength(1);
    expect(msg(f)).toMatchObject({ kind: 'send' });
    expect(sim.instruments.get(3)?.get('controlMode')).toBe(3);
  });

  it('refuses read-only parameters with 0x0D, and secured ones until Init Reset is 64', async () => {
    const { master, sim } = start();
    expect(msg(await master.transact(3, buildValues('sendWithStatus', [float(33, 0, 1)])))).toEqual(status(Status.ReadOnly, 7));
    expect(msg(await master.transact(3, buildValues('sendWithStatus', [float(1, 13, 100)])))).toEqual(status(Status.ReadOnly, 7));
    expect(sim.instruments.get(3)?.get('capacity')).toBe(6817);
    // unlock, write, lock in one chained message (the manual's pattern)
    const m = buildValues('sendWithStatus', [byte(0, 10, 64), float(1, 13, 100), byte(0, 10, 82)]);
    expect(msg(await master.transact(3, m))).toEqual(status(0, 13));
    expect(sim.instruments.get(3)?.get('capacity')).toBe(100);
    expect(sim.instruments.get(3)?.get('initReset')).toBe(82);
  });

  it('gives status 6 for out-of-range values and stops the chain at the failing parameter', async () => {
    const { master, sim } = start();
    const sp = (v: number) => ({ process: 1, fbnr: 1, wireType: WireType.Int16, raw: encodeValue('u16', v) });
    const m = buildValues('sendWithStatus', [byte(1, 4, 7), sp(40000), byte(1, 4, 12)]);
    expect(msg(await master.transact(3, m))).toEqual(status(Status.ParameterValue, 1 + 1 + 2 + 1 + 2));
    expect(sim.instruments.get(3)?.get('controlMode')).toBe(7);
  });

  it('answers status 5 when a write carries the wrong type', async () => {
    const { master } = start();
    expect(msg(await master.transact(3, buildValues('sendWithStatus', [byte(1, 1, 1)])))).toEqual(status(Status.ParameterType, 4));
  });
});

describe('commands', () => {
  it('answers an unknown command with status 2 and malformed data with error frame 3', async () => {
    const { master } = start();
    expect(await master.raw('10 02 01 03 02 07 00 10 03')).toBe('10 02 01 03 03 00 02 00 10 03');
    expect(await master.raw('10 02 02 03 03 04 01 21 10 03')).toBe('10 02 02 03 00 03 10 03');
  });

  it('does not answer status messages or broadcasts', async () => {
    const { master } = start();
    master.write('10 02 01 03 03 00 00 03 10 03');
    master.write('10 02 02 03 04 03 01 04 00 10 03');
    await master.quiet();
    expect(master.frames).toHaveLength(0);
  });

  it('refuses a request longer than the module buffer with 0x23, INDEX = LEN', async () => {
    const { master } = start({ answerLimit: 80 });
    const params = Array.from({ length: 27 }, () => ({ process: 1, fbnr: 4, wireType: WireType.Byte }));
    const req = buildRequest(params);
    expect(msg(await master.transact(3, req))).toEqual(status(Status.ModuleBufferOverflow, encodeMessage(req).length));
    expect(encodeMessage(req).length).toBe(83);
  });
});

describe('behaviours', () => {
  it('lets a test override a behaviour and remove a default one', async () => {
    const { master, sim } = start();
    const inst = sim.instruments.get(3)!;
    inst.defineBehavior({ name: 'claimed', onRead: (ctx) => (ctx.param?.key === 'measure' ? { status: Status.ProcessClaimed } : undefined) });
    expect(msg(await master.transact(3, buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }])))).toEqual(status(1, 5));
    inst.removeBehavior('claimed');
    inst.removeBehavior('secured');
    const w = buildValues('sendWithStatus', [{ process: 1, fbnr: 13, wireType: WireType.Int32, raw: encodeValue('float', 50) }]);
    expect(msg(await master.transact(3, w))).toEqual(status(0, 7));
  });
});
