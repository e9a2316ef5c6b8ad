import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  BinaryDeframer,
  buildRequest,
  decodeMessage,
  DeframerStream,
  encodeAsciiFrame,
  encodeBinaryFrame,
  encodeMessage,
  packetToFrame,
  valueParams,
  WireType,
  type DeframerEvent,
  type Message,
} from '../../src/codec/index.js';
import { CodecError, fromHex, toHex } from '../../src/shared/index.js';

function codecErrorCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof CodecError) return e.code;
    throw e;
  }
  return undefined;
}

describe('decodeMessage refuses malformed DATA with CODEC_MALFORMED_MESSAGE', () => {
  const cases: [string, string][] = [
    ['empty', ''],
    ['status too short', '00 00'],
    ['status too long', '00 00 05 01'],
    ['values: no process byte', '02'],
    ['values: no parameter byte', '02 01'],
    ['values: int16 value cut short', '02 01 21 3e'],
    ['values: float cut short', '01 01 4d 45 d5 08'],
    ['values: chain bit promises another parameter', '02 01 84 01'],
    ['values: chain bit promises another process', '02 81 04 01'],
    ['values: unterminated LEN-0 string', '02 01 65 00 07 53 4e'],
    ['values: fixed string shorter than its LEN byte', '02 01 6b 08 4e 6f 42'],
    ['values: no string length byte', '02 01 65'],
    ['values: bytes after the last parameter', '02 01 04 01 00'],
    ['request: entry cut short', '04 01 21 01'],
    ['request: string without its length byte', '04 01 65 00 60'],
    ['request: bytes after the last entry', '04 01 21 01 20 00'],
    ['request: chain bit promises another entry', '04 01 a1 01 20'],
    ['request: bit 7 set in the real process byte (PROTOCOL.md 5.2: unused = 0)', '04 01 21 81 20'],
    ['request: bit 7 set in the real parameter byte', '04 01 21 01 a0'],
  ];
  for (const [name, hex] of cases) {
    it(name, () => expect(codecErrorCode(() => decodeMessage(fromHex(hex)))).toBe('CODEC_MALFORMED_MESSAGE'));
  }

  it('keeps undocumented commands as bytes', () => {
    expect(decodeMessage(fromHex('06 01 02'))).toStrictEqual({ kind: 'unknown', command: 6, payload: fromHex('01 02') });
    expect(toHex(encodeMessage({ kind: 'unknown', command: 6, payload: fromHex('01 02') }))).toBe('06 01 02');
  });

  it('keeps a request whose index type differs from the real type (the instrument answers status 5)', () => {
    const m = decodeMessage(fromHex('04 01 01 01 20'));
    expect(m).toStrictEqual({ kind: 'request', blocks: [{ processIndex: 1, params: [{ index: 1, indexType: 0x00, process: 1, fbnr: 0, wireType: 0x20 }] }] });
    expect(toHex(encodeMessage(m))).toBe('04 01 01 01 20');
  });
});

describe('encodeMessage refuses what the wire cannot carry', () => {
  const v = (p: object, process = 1): Message => ({ kind: 'send', blocks: [{ process, params: [{ fbnr: 1, wireType: WireType.Byte, raw: Uint8Array.of(1), ...p }] }] });
  const cases: [string, Message, string][] = [
    ['no blocks', { kind: 'send', blocks: [] }, 'CODEC_BAD_FIELD'],
    ['empty block', { kind: 'send', blocks: [{ process: 1, params: [] }] }, 'CODEC_BAD_FIELD'],
    ['process 128', v({}, 128), 'CODEC_BAD_FIELD'],
    ['fbnr 32', v({ fbnr: 32 }), 'CODEC_BAD_FIELD'],
    ['not a wire type', v({ wireType: 0x10 }), 'CODEC_BAD_FIELD'],
    ['raw size differs from the type', v({ wireType: WireType.Int16 }), 'CODEC_BAD_VALUE'],
    ['NUL in a LEN-0 string', v({ wireType: WireType.String, raw: fromHex('41 00 42'), stringLength: 0 }), 'CODEC_BAD_VALUE'],
    ['LEN byte differs from the string', v({ wireType: WireType.String, raw: fromHex('41 42'), stringLength: 3 }), 'CODEC_BAD_VALUE'],
    ['LEN byte 256', v({ wireType: WireType.String, raw: new Uint8Array(256).fill(0x41), stringLength: 256 }), 'CODEC_BAD_FIELD'],
    [
      'DATA over 255 bytes',
      { kind: 'send', blocks: [1, 2].map((process) => ({ process, params: [{ fbnr: 1, wireType: WireType.String, raw: new Uint8Array(130).fill(0x41), stringLength: 130 }] })) },
      'CODEC_BAD_LENGTH',
    ],
    ['request without parameters', { kind: 'request', blocks: [] }, 'CODEC_BAD_FIELD'],
    ['request index 32', buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16, index: 32 }]), 'CODEC_BAD_FIELD'],
    ['request process index 128', buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16, processIndex: 128 }]), 'CODEC_BAD_FIELD'],
    ['status 256', { kind: 'status', status: 256, index: 0 }, 'CODEC_BAD_FIELD'],
    ['an error message (it is a frame)', { kind: 'error', code: 5 }, 'CODEC_BAD_FIELD'],
  ];
  for (const [name, msg, code] of cases) {
    it(name, () => expect(codecErrorCode(() => encodeMessage(msg))).toBe(code));
  }

  it('frames: DATA 1..255 bytes binary, 1..254 ASCII; fields 0..255', () => {
    const data = (n: number) => new Uint8Array(n).fill(2);
    expect(codecErrorCode(() => encodeBinaryFrame({ kind: 'data', seq: 0, node: 3, data: data(0) }))).toBe('CODEC_BAD_LENGTH');
    expect(codecErrorCode(() => encodeBinaryFrame({ kind: 'data', seq: 0, node: 3, data: data(256) }))).toBe('CODEC_BAD_LENGTH');
    expect(codecErrorCode(() => encodeBinaryFrame({ kind: 'data', seq: 0, node: 3, data: data(255) }))).toBeUndefined();
    expect(codecErrorCode(() => encodeAsciiFrame({ kind: 'data', seq: 0, node: 3, data: data(255) }))).toBe('CODEC_BAD_LENGTH');
    expect(codecErrorCode(() => encodeAsciiFrame({ kind: 'data', seq: 0, node: 3, data: data(254) }))).toBeUndefined();
    expect(codecErrorCode(() => encodeBinaryFrame({ kind: 'data', seq: 256, node: 3, data: data(1) }))).toBe('CODEC_BAD_FIELD');
    expect(codecErrorCode(() => encodeBinaryFrame({ kind: 'data', seq: 0, node: -1, data: data(1) }))).toBe('CODEC_BAD_FIELD');
    expect(codecErrorCode(() => encodeAsciiFrame({ kind: 'data', seq: 0, node: 1.5, data: data(1) }))).toBe('CODEC_BAD_FIELD');
    expect(codecErrorCode(() => encodeBinaryFrame({ kind: 'error', seq: 0, node: 3, code: 300 }))).toBe('CODEC_BAD_FIELD');
    expect(codecErrorCode(() => packetToFrame({ seq: 0, node: undefined, message: { kind: 'status', status: 0, index: 3 } }))).toBe('CODEC_BAD_FIELD');
  });
});

describe('builders', () => {
  it('buildRequest: one block per run of the same process index; strings default to length 0', () => {
    const m = buildRequest([
      { process: 113, fbnr: 3, wireType: WireType.String },
      { process: 113, fbnr: 6, wireType: WireType.String, stringLength: 16 },
      { process: 1, fbnr: 0, wireType: WireType.Int16 },
      { process: 113, fbnr: 1, wireType: WireType.String, stringLength: 6 },
    ]);
    expect(toHex(encodeMessage(m))).toBe('04 f1 e3 71 63 00 66 71 66 10 81 20 01 20 71 61 71 61 06');
  });

  it('valueParams flattens blocks with their process', () => {
    const m = decodeMessage(fromHex('01 a1 43 3f 80 00 00 81 04 00 71 66 00 41 42 00'));
    if (m.kind !== 'sendWithStatus') throw new Error(m.kind);
    expect(valueParams(m).map((p) => [p.process, p.fbnr, p.wireType])).toEqual([
      [33, 3, 0x40],
      [1, 4, 0x00],
      [113, 6, 0x60],
    ]);
  });
});

describe('DeframerStream', () => {
  it('turns byte chunks into the deframer events, flushing at the end', async () => {
    const wire = fromHex('41 10 02 01 80 0c 02 01 80 03 81 7f 82 04 83 20 04 43 10 03 10 02 01');
    const chunks = [wire.subarray(0, 5), wire.subarray(5, 12), wire.subarray(12)].map((c) => Buffer.from(c));
    const events: DeframerEvent[] = [];
    for await (const e of Readable.from(chunks).pipe(new DeframerStream(new BinaryDeframer()))) events.push(e as DeframerEvent);
    expect(events.map((e) => (e.kind === 'frame' ? 'frame' : e.reason))).toEqual(['junk', 'frame', 'truncated']);
    expect(events.map((e) => [e.start, e.end])).toEqual([
      [0, 1],
      [1, 20],
      [20, 23],
    ]);
  });
});
