import { describe, expect, it } from 'vitest';
import {
  buildRequest,
  buildValues,
  decodeMessage,
  decodeValue,
  encodeFrame,
  encodeMessage,
  encodePacket,
  encodeValue,
  errorFrameInfo,
  frameToPacket,
  requestParams,
  statusInfo,
  valueParams,
  WireType,
  type Frame,
  type Message,
  type Packet,
  type Protocol,
  type ValuesMessage,
} from '../../src/codec/index.js';
import { fromHex, toHex } from '../../src/shared/index.js';
import { parseEveryWay } from './helpers.js';
import { DATA_VECTORS, FRAME_VECTORS, VALUE_VECTORS, WINK_TEMPLATE, wireBytes, type ExpectedValue, type FrameVector } from './vectors.js';

function expectedFrame(v: FrameVector): Frame {
  const f = v.frame;
  return f.kind === 'data' ? { kind: 'data', seq: f.seq, node: f.node, data: fromHex(f.data) } : f;
}

function isValues(m: Message): m is ValuesMessage {
  return m.kind === 'send' || m.kind === 'sendWithStatus' || m.kind === 'broadcast';
}

function checkValues(message: Message, values: readonly ExpectedValue[]): void {
  if (!isValues(message)) throw new Error(`values given for a ${message.kind} message`);
  const params = valueParams(message);
  expect(params.map((p, i) => decodeValue(values[i]!.type, p.raw))).toEqual(values.map((v) => v.value));
  // And back: numbers and variable-length strings encode to exactly the wire bytes.
  params.forEach((p, i) => {
    const v = values[i]!;
    if (p.stringLength === undefined || p.stringLength === 0) expect(toHex(encodeValue(v.type, v.value))).toBe(toHex(p.raw));
  });
}

describe('golden frames (PROTOCOL.md sections 2 and 3): wire -> deframe -> decode', () => {
  for (const v of FRAME_VECTORS) {
    it(`§${v.section}: ${v.name}`, () => {
      const wire = wireBytes(v);
      const events = parseEveryWay(v.protocol, wire);
      expect(events).toEqual([{ kind: 'frame', frame: v.frame, raw: toHex(wire), start: 0, end: wire.length }]);

      const packet = frameToPacket(expectedFrame(v));
      expect(packet.seq).toBe(v.frame.seq);
      expect(packet.node).toBe(v.frame.node);
      if (v.frame.kind === 'error') {
        expect(packet.message).toStrictEqual({ kind: 'error', code: v.frame.code });
      } else {
        expect(packet.message).toStrictEqual(v.message);
        if (v.values) checkValues(packet.message, v.values);
      }
    });
  }
});

describe('golden frames (PROTOCOL.md sections 2 and 3): structure -> encode -> the same bytes', () => {
  for (const v of FRAME_VECTORS) {
    it(`§${v.section}: ${v.name}`, () => {
      const wire = toHex(wireBytes(v));
      expect(toHex(encodeFrame(expectedFrame(v), v.protocol))).toBe(wire);
      const message: Message = v.frame.kind === 'error' ? { kind: 'error', code: v.frame.code } : v.message!;
      if (v.frame.kind === 'data') expect(toHex(encodeMessage(message))).toBe(v.frame.data.toLowerCase());
      const packet: Packet = { seq: v.frame.seq, node: v.frame.node, message };
      expect(toHex(encodePacket(packet, v.protocol))).toBe(wire);
    });
  }

  it('§2: the stuffed request is exactly what buildRequest makes with index = real address ([LIB] default)', () => {
    const msg = buildRequest([
      { process: 1, fbnr: 13, wireType: WireType.Int32 },
      { process: 113, fbnr: 6, wireType: WireType.String, stringLength: 16 },
    ]);
    expect(toHex(encodePacket({ seq: 0x8b, node: 0x80, message: msg }, 'binary'))).toBe(FRAME_VECTORS[2]!.wire);
  });

  it('§2: the 5-parameter read is what buildRequest makes with process index 1 and index tags 0..4', () => {
    const msg = buildRequest([1, 2, 3, 4, 5].map((fb, i) => ({ process: 0, fbnr: fb, wireType: WireType.Byte, processIndex: 1, index: i })));
    expect(toHex(encodePacket({ seq: 1, node: 0x80, message: msg }, 'binary'))).toBe(FRAME_VECTORS[0]!.wire);
    // A status INDEX after a failed read points just past the entry (§4.1); the last entry ends at LEN.
    expect(requestParams(msg).map((p) => p.end)).toEqual([5, 8, 11, 14, 17]);
  });

  it('§3: the chained read: requestParams ends at the data length 25', () => {
    const v = FRAME_VECTORS.find((f) => f.wire.startsWith(':1A03'))!;
    const params = requestParams(v.message as Extract<Message, { kind: 'request' }>);
    expect(params.map((p) => p.end)).toEqual([6, 10, 14, 17, 21, 25]);
    expect(params.map((p) => p.processIndex)).toEqual([113, 113, 1, 1, 1, 1]);
  });
});

describe('golden DATA fields (PROTOCOL.md sections 5.2, 5.3, 7)', () => {
  const framings: [Protocol, number, number][] = [
    ['binary', 0x10, 0x80], // SEQ 0x10 is stuffed as well
    ['binary', 0x01, 0x03],
    ['ascii', 0, 0x03],
  ];
  for (const v of DATA_VECTORS) {
    describe(`§${v.section}: ${v.name}`, () => {
      it('decodes to the structure', () => {
        const msg = decodeMessage(fromHex(v.data));
        expect(msg).toStrictEqual(v.message);
        if (v.values) checkValues(msg, v.values);
      });
      it('encodes to exactly the bytes', () => {
        expect(toHex(encodeMessage(v.message))).toBe(v.data);
      });
      for (const [protocol, seq, node] of framings) {
        it(`survives ${protocol} framing (seq ${seq}, node ${node}) in every chunking`, () => {
          const wire = encodePacket({ seq, node, message: v.message }, protocol);
          const events = parseEveryWay(protocol, wire);
          expect(events).toHaveLength(1);
          const ev = events[0]!;
          expect(ev.kind).toBe('frame');
          if (ev.kind !== 'frame' || ev.frame.kind !== 'data') throw new Error('not a data frame');
          expect(ev.frame).toEqual({ kind: 'data', seq, node, data: v.data });
          expect(decodeMessage(fromHex(ev.frame.data))).toStrictEqual(v.message);
        });
      }
    });
  }

  it('§5.3: fluidset 8 goes on the wire as `01 01 10 10 08` (DLE doubled) and comes back', () => {
    const data = fromHex('01 01 10 08');
    const wire = encodeFrame({ kind: 'data', seq: 7, node: 3, data }, 'binary');
    expect(toHex(wire)).toBe('10 02 07 03 04 01 01 10 10 08 10 03');
    const [ev] = parseEveryWay('binary', wire);
    expect(ev).toMatchObject({ kind: 'frame', frame: { kind: 'data', seq: 7, node: 3, data: '01 01 10 08' } });
  });

  it('§5.3: [LIB] write chaining is what buildValues makes', () => {
    const msg = buildValues('sendWithStatus', [
      { process: 33, fbnr: 3, wireType: WireType.Int32, raw: encodeValue('float', 1.0) },
      { process: 1, fbnr: 4, wireType: WireType.Byte, raw: encodeValue('u8', 0) },
      { process: 113, fbnr: 6, wireType: WireType.String, raw: encodeValue('string', 'AB'), stringLength: 0 },
    ]);
    expect(toHex(encodeMessage(msg))).toBe('01 a1 43 3f 80 00 00 81 04 00 71 66 00 41 42 00');
  });

  it('§3: the chained write is what buildValues makes (same process in non-adjacent blocks stays separate)', () => {
    const f = (fbnr: number, x: number) => ({ process: 1, fbnr, wireType: WireType.Int32, raw: encodeValue('float', x) });
    const msg = buildValues('sendWithStatus', [
      { process: 0, fbnr: 10, wireType: WireType.Byte, raw: encodeValue('u8', 64) },
      f(5, 0),
      f(6, 1.0),
      f(7, 0),
      f(8, 0),
      { process: 0, fbnr: 10, wireType: WireType.Byte, raw: encodeValue('u8', 82) },
    ]);
    expect(encodePacket({ seq: 0, node: 3, message: msg }, 'ascii')).toEqual(
      Uint8Array.from(':1D0301800A4081C500000000C63F800000C7000000004800000000000A52\r\n', (c) => c.charCodeAt(0)),
    );
  });

  for (let t = 0; t <= 9; t++) {
    it(`§${WINK_TEMPLATE.section}: wink ${t} s is \`01 00 60 00 3${t} 00\``, () => {
      const hex = `${WINK_TEMPLATE.prefix} 3${t} ${WINK_TEMPLATE.suffix}`;
      const msg = buildValues('sendWithStatus', [
        { process: 0, fbnr: 0, wireType: WireType.String, raw: encodeValue('string', String.fromCharCode(0x30 + t)), stringLength: 0 },
      ]);
      expect(toHex(encodeMessage(msg))).toBe(hex);
      expect(decodeMessage(fromHex(hex))).toStrictEqual(msg);
    });
  }

  it('§4.1: every acknowledged write in the examples is answered with INDEX = the write LEN', () => {
    const pairs: [string, string][] = [
      ['01 00 60 00 39 00', '00 00 06'],
      ['01 01 04 01', '00 00 04'],
      ['01 01 21 3e 80', '00 00 05'],
      ['01 80 0a 40 81 c5 00 00 00 00 c6 3f 80 00 00 c7 00 00 00 00 48 00 00 00 00 00 0a 52', '00 00 1c'],
    ];
    for (const [write, answer] of pairs) {
      const status = decodeMessage(fromHex(answer));
      expect(status).toStrictEqual({ kind: 'status', status: 0, index: fromHex(write).length });
    }
  });
});

describe('golden values (PROTOCOL.md sections 2, 3, 6)', () => {
  for (const v of VALUE_VECTORS) {
    it(`§${v.section}: ${v.hex} as ${v.type} = ${v.value}`, () => {
      const decoded = decodeValue(v.type, fromHex(v.hex));
      expect(decoded).toBe(v.value);
      if (v.approx !== undefined) expect(Math.abs((decoded as number) - v.approx)).toBeLessThan(0.005);
      expect(toHex(encodeValue(v.type, v.value))).toBe(v.hex);
    });
  }

  it('§6: 0xFF33 is -205 as bht16 (two\'s complement), not [LIB]\'s -204', () => {
    expect(decodeValue('bht16', fromHex('ff 33'))).toBe(-205);
    expect(decodeValue('bht16', fromHex('ff 33'))).not.toBe(-204);
    expect(toHex(encodeValue('bht16', -205))).toBe('ff 33');
  });

  it('§6: 68.575 encodes to the float32 nearest it, and 0x4289267E is not that one', () => {
    expect(toHex(encodeValue('float', 68.575))).toBe('42 89 26 66');
    expect(decodeValue('float', fromHex('42 89 26 66'))).toBe(68.575);
  });
});

describe('status and error-frame codes (PROTOCOL.md 4.1, 4.2)', () => {
  it('names the codes seen on the wire', () => {
    expect(statusInfo(0x00).key).toBe('OK');
    expect(statusInfo(0x03).key).toBe('PROC_NUMBER');
    expect(statusInfo(0x04).key).toBe('PARM_NUMBER');
    expect(statusInfo(0x06).key).toBe('PARM_VALUE');
    expect(statusInfo(0x0d).key).toBe('READONLY');
    expect(statusInfo(0x19).key).toBe('TIMEOUT_ANSWER');
    expect(statusInfo(0x23)).toEqual({ code: 0x23, key: 'MODULE_BUFFER_OVERFLOW', message: 'buffer overflow in module' });
    expect(statusInfo(0x24).key).toBe('UNKNOWN_36');
    expect(errorFrameInfo(5).key).toBe('NODE_REJECTED');
    expect(errorFrameInfo(4).key).toBe('PROTOCOL_OR_CRC');
    expect(errorFrameInfo(9).key).toBe('RESPONSE_TIMEOUT');
    expect(errorFrameInfo(7).key).toBe('UNKNOWN_7');
  });
});
