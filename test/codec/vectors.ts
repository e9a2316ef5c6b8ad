/**
 * Golden vectors: every byte example in /work/shared/PROTOCOL.md, as data.
 * Each vector names the PROTOCOL.md section it comes from. Wire bytes are hex
 * (binary) or the literal line (ASCII); expected structures are what the codec
 * must decode them to and encode back from.
 */
import type { Message, Protocol, ValueType, Value } from '../../src/codec/index.js';
import { fromHex } from '../../src/shared/index.js';

const h = fromHex;

/** The value of each parameter of a values message, in order, as decodeValue must give it. */
export interface ExpectedValue {
  readonly type: ValueType;
  readonly value: Value;
}

export type ExpectedFrame =
  | { readonly kind: 'data'; readonly seq: number; readonly node: number; readonly data: string }
  | { readonly kind: 'error'; readonly seq: number; readonly node: number | undefined; readonly code: number };

/** A complete frame as it was on the wire. */
export interface FrameVector {
  readonly name: string;
  /** PROTOCOL.md section. */
  readonly section: string;
  readonly protocol: Protocol;
  /** binary: hex of the stuffed wire bytes; ascii: the literal line. */
  readonly wire: string;
  readonly frame: ExpectedFrame;
  /** undefined for error frames (they have no DATA field). */
  readonly message?: Message;
  readonly values?: readonly ExpectedValue[];
}

/** A DATA field (command byte first) given without framing. */
export interface DataVector {
  readonly name: string;
  readonly section: string;
  readonly data: string;
  readonly message: Message;
  readonly values?: readonly ExpectedValue[];
}

/** A single value's wire bytes. */
export interface ValueVector {
  readonly section: string;
  readonly type: ValueType;
  readonly hex: string;
  readonly value: number;
  /** The number PROTOCOL.md prints when it is rounded (checked to within 0.005). */
  readonly approx?: number;
}

export function wireBytes(v: FrameVector): Uint8Array {
  if (v.protocol === 'binary') return fromHex(v.wire);
  return Uint8Array.from(v.wire, (c) => c.charCodeAt(0));
}

// ---------------------------------------------------------------------------
// Complete frames
// ---------------------------------------------------------------------------

export const FRAME_VECTORS: readonly FrameVector[] = [
  {
    name: 'chained read of 5 network parameters at node 128',
    section: '2 (byte-level examples)',
    protocol: 'binary',
    wire: '10 02 01 80 11 04 01 80 00 01 81 00 02 82 00 03 83 00 04 04 00 05 10 03',
    frame: { kind: 'data', seq: 1, node: 0x80, data: '04 01 80 00 01 81 00 02 82 00 03 83 00 04 04 00 05' },
    message: {
      kind: 'request',
      blocks: [
        {
          processIndex: 1,
          params: [
            { index: 0, indexType: 0x00, process: 0, fbnr: 1, wireType: 0x00 },
            { index: 1, indexType: 0x00, process: 0, fbnr: 2, wireType: 0x00 },
            { index: 2, indexType: 0x00, process: 0, fbnr: 3, wireType: 0x00 },
            { index: 3, indexType: 0x00, process: 0, fbnr: 4, wireType: 0x00 },
            { index: 4, indexType: 0x00, process: 0, fbnr: 5, wireType: 0x00 },
          ],
        },
      ],
    },
  },
  {
    name: 'reply to the 5 network parameters (PNA=3, SNA=127, NNA=4, LNA=32, arbitrage=67)',
    section: '2 (byte-level examples)',
    protocol: 'binary',
    wire: '10 02 01 80 0c 02 01 80 03 81 7f 82 04 83 20 04 43 10 03',
    frame: { kind: 'data', seq: 1, node: 0x80, data: '02 01 80 03 81 7f 82 04 83 20 04 43' },
    message: {
      kind: 'send',
      blocks: [
        {
          process: 1,
          params: [
            { fbnr: 0, wireType: 0x00, raw: h('03') },
            { fbnr: 1, wireType: 0x00, raw: h('7f') },
            { fbnr: 2, wireType: 0x00, raw: h('04') },
            { fbnr: 3, wireType: 0x00, raw: h('20') },
            { fbnr: 4, wireType: 0x00, raw: h('43') },
          ],
        },
      ],
    },
    values: [
      { type: 'u8', value: 3 },
      { type: 'u8', value: 127 },
      { type: 'u8', value: 4 },
      { type: 'u8', value: 32 },
      { type: 'u8', value: 67 },
    ],
  },
  {
    name: 'DLE stuffing: read capacity and user tag with string length 16 = 0x10',
    section: '2 (byte-level examples, DLE stuffing)',
    protocol: 'binary',
    wire: '10 02 8b 80 0a 04 81 4d 01 4d 71 66 71 66 10 10 10 03',
    frame: { kind: 'data', seq: 0x8b, node: 0x80, data: '04 81 4d 01 4d 71 66 71 66 10' },
    message: {
      kind: 'request',
      blocks: [
        { processIndex: 1, params: [{ index: 13, indexType: 0x40, process: 1, fbnr: 13, wireType: 0x40 }] },
        { processIndex: 113, params: [{ index: 6, indexType: 0x60, process: 113, fbnr: 6, wireType: 0x60, stringLength: 16 }] },
      ],
    },
  },
  {
    name: 'DLE stuffing: capacity 6817.0 and user tag "USERTAG" + 9 NUL',
    section: '2 (byte-level examples, DLE stuffing)',
    protocol: 'binary',
    wire: '10 02 8b 80 1a 02 81 4d 45 d5 08 00 71 66 10 10 55 53 45 52 54 41 47 00 00 00 00 00 00 00 00 00 10 03',
    frame: {
      kind: 'data',
      seq: 0x8b,
      node: 0x80,
      data: '02 81 4d 45 d5 08 00 71 66 10 55 53 45 52 54 41 47 00 00 00 00 00 00 00 00 00',
    },
    message: {
      kind: 'send',
      blocks: [
        { process: 1, params: [{ fbnr: 13, wireType: 0x40, raw: h('45 d5 08 00') }] },
        {
          process: 113,
          params: [{ fbnr: 6, wireType: 0x60, raw: h('55 53 45 52 54 41 47 00 00 00 00 00 00 00 00 00'), stringLength: 16 }],
        },
      ],
    },
    values: [
      { type: 'float', value: 6817 },
      { type: 'string', value: 'USERTAG' },
    ],
  },
  {
    name: 'error frame: seq 3, node 5, error 5 (destination node address rejected)',
    section: '2 (byte-level examples, error frame)',
    protocol: 'binary',
    wire: '10 02 03 05 00 05 10 03',
    frame: { kind: 'error', seq: 3, node: 5, code: 5 },
  },
  {
    name: 'read measure (proc 1, FB 0, int), index 1',
    section: '3 (manual examples)',
    protocol: 'ascii',
    wire: ':06030401210120\r\n',
    frame: { kind: 'data', seq: 0, node: 3, data: '04 01 21 01 20' },
    message: {
      kind: 'request',
      blocks: [{ processIndex: 1, params: [{ index: 1, indexType: 0x20, process: 1, fbnr: 0, wireType: 0x20 }] }],
    },
  },
  {
    name: 'answer: measure 0x3E80 = 16000 = 50 %',
    section: '3 (manual examples)',
    protocol: 'ascii',
    wire: ':06030201213E80\r\n',
    frame: { kind: 'data', seq: 0, node: 3, data: '02 01 21 3e 80' },
    message: { kind: 'send', blocks: [{ process: 1, params: [{ fbnr: 1, wireType: 0x20, raw: h('3e 80') }] }] },
    values: [{ type: 'u16', value: 16000 }],
  },
  {
    name: 'write setpoint 16000 with acknowledgement',
    section: '3 (manual examples)',
    protocol: 'ascii',
    wire: ':06030101213E80\r\n',
    frame: { kind: 'data', seq: 0, node: 3, data: '01 01 21 3e 80' },
    message: { kind: 'sendWithStatus', blocks: [{ process: 1, params: [{ fbnr: 1, wireType: 0x20, raw: h('3e 80') }] }] },
    values: [{ type: 'bht16', value: 16000 }],
  },
  {
    name: 'answer: status 0, index 5',
    section: '3 (manual examples)',
    protocol: 'ascii',
    wire: ':0403000005\r\n',
    frame: { kind: 'data', seq: 0, node: 3, data: '00 00 05' },
    message: { kind: 'status', status: 0, index: 5 },
  },
  {
    name: 'read counter value (proc 104, FB 1, float)',
    section: '3 (manual examples)',
    protocol: 'ascii',
    wire: ':06030468416841\r\n',
    frame: { kind: 'data', seq: 0, node: 3, data: '04 68 41 68 41' },
    message: {
      kind: 'request',
      blocks: [{ processIndex: 104, params: [{ index: 1, indexType: 0x40, process: 104, fbnr: 1, wireType: 0x40 }] }],
    },
  },
  {
    name: 'answer: counter value 5023.96',
    section: '3 (manual examples)',
    protocol: 'ascii',
    wire: ':0803026841459CFFAE\r\n',
    frame: { kind: 'data', seq: 0, node: 3, data: '02 68 41 45 9c ff ae' },
    message: { kind: 'send', blocks: [{ process: 104, params: [{ fbnr: 1, wireType: 0x40, raw: h('45 9c ff ae') }] }] },
    values: [{ type: 'float', value: 5023.96 }],
  },
  {
    name: 'chained write: Init Reset 64, polynomial A..D = 0, 1.0, 0, 0, Init Reset 82',
    section: '3 (manual examples, chained write)',
    protocol: 'ascii',
    wire: ':1D0301800A4081C500000000C63F800000C7000000004800000000000A52\r\n',
    frame: {
      kind: 'data',
      seq: 0,
      node: 3,
      data: '01 80 0a 40 81 c5 00 00 00 00 c6 3f 80 00 00 c7 00 00 00 00 48 00 00 00 00 00 0a 52',
    },
    message: {
      kind: 'sendWithStatus',
      blocks: [
        { process: 0, params: [{ fbnr: 10, wireType: 0x00, raw: h('40') }] },
        {
          process: 1,
          params: [
            { fbnr: 5, wireType: 0x40, raw: h('00 00 00 00') },
            { fbnr: 6, wireType: 0x40, raw: h('3f 80 00 00') },
            { fbnr: 7, wireType: 0x40, raw: h('00 00 00 00') },
            { fbnr: 8, wireType: 0x40, raw: h('00 00 00 00') },
          ],
        },
        { process: 0, params: [{ fbnr: 10, wireType: 0x00, raw: h('52') }] },
      ],
    },
    values: [
      { type: 'u8', value: 64 },
      { type: 'float', value: 0 },
      { type: 'float', value: 1 },
      { type: 'float', value: 0 },
      { type: 'float', value: 0 },
      { type: 'u8', value: 82 },
    ],
  },
  {
    name: 'answer to the chained write: status 0, index 0x1C = 28 = the data length',
    section: '3 (manual examples, chained write)',
    protocol: 'ascii',
    wire: ':040300001C\r\n',
    frame: { kind: 'data', seq: 0, node: 3, data: '00 00 1c' },
    message: { kind: 'status', status: 0, index: 28 },
  },
  {
    name: 'chained read: serial, user tag, measure, capacity, capacity unit (7), fluid name (10)',
    section: '3 (manual examples, chained read; the answer is only given as a prefix)',
    protocol: 'ascii',
    wire: ':1A0304F1EC7163006D71660001AE0120CF014DF0017F077101710A\r\n',
    frame: {
      kind: 'data',
      seq: 0,
      node: 3,
      data: '04 f1 ec 71 63 00 6d 71 66 00 01 ae 01 20 cf 01 4d f0 01 7f 07 71 01 71 0a',
    },
    message: {
      kind: 'request',
      blocks: [
        {
          processIndex: 113,
          params: [
            { index: 12, indexType: 0x60, process: 113, fbnr: 3, wireType: 0x60, stringLength: 0 },
            { index: 13, indexType: 0x60, process: 113, fbnr: 6, wireType: 0x60, stringLength: 0 },
          ],
        },
        {
          processIndex: 1,
          params: [
            { index: 14, indexType: 0x20, process: 1, fbnr: 0, wireType: 0x20 },
            { index: 15, indexType: 0x40, process: 1, fbnr: 13, wireType: 0x40 },
            { index: 16, indexType: 0x60, process: 1, fbnr: 31, wireType: 0x60, stringLength: 7 },
            { index: 17, indexType: 0x60, process: 1, fbnr: 17, wireType: 0x60, stringLength: 10 },
          ],
        },
      ],
    },
  },
  {
    name: 'control-mode read at node 128',
    section: '3 (control-mode read/write)',
    protocol: 'ascii',
    wire: ':06800401040104\r\n',
    frame: { kind: 'data', seq: 0, node: 0x80, data: '04 01 04 01 04' },
    message: {
      kind: 'request',
      blocks: [{ processIndex: 1, params: [{ index: 4, indexType: 0x00, process: 1, fbnr: 4, wireType: 0x00 }] }],
    },
  },
  {
    name: 'control-mode read answer: 1',
    section: '3 (control-mode read/write)',
    protocol: 'ascii',
    wire: ':058002010401\r\n',
    frame: { kind: 'data', seq: 0, node: 0x80, data: '02 01 04 01' },
    message: { kind: 'send', blocks: [{ process: 1, params: [{ fbnr: 4, wireType: 0x00, raw: h('01') }] }] },
    values: [{ type: 'u8', value: 1 }],
  },
  {
    name: 'control-mode write 0',
    section: '3 (control-mode read/write)',
    protocol: 'ascii',
    wire: ':058001010400\r\n',
    frame: { kind: 'data', seq: 0, node: 0x80, data: '01 01 04 00' },
    message: { kind: 'sendWithStatus', blocks: [{ process: 1, params: [{ fbnr: 4, wireType: 0x00, raw: h('00') }] }] },
    values: [{ type: 'u8', value: 0 }],
  },
  {
    name: 'control-mode write answer: status 0, index 4',
    section: '3 (control-mode read/write)',
    protocol: 'ascii',
    wire: ':0480000004\r\n',
    frame: { kind: 'data', seq: 0, node: 0x80, data: '00 00 04' },
    message: { kind: 'status', status: 0, index: 4 },
  },
  {
    name: 'ASCII error message (manual form, no node byte), code 5',
    section: '3 (ASCII error message :01EE)',
    protocol: 'ascii',
    wire: ':0105\r\n',
    frame: { kind: 'error', seq: 0, node: undefined, code: 5 },
  },
];

// ---------------------------------------------------------------------------
// DATA fields given without framing
// ---------------------------------------------------------------------------

export const DATA_VECTORS: readonly DataVector[] = [
  {
    name: "the Bright's 8-parameter poll (process index 1, rolling parameter indices)",
    section: '5.2 (chaining in requests)',
    data: '04 81 ad 01 20 ae 01 21 af 01 23 10 01 14 81 51 72 41 81 52 68 41 01 d3 21 47 54 21 40',
    message: {
      kind: 'request',
      blocks: [
        {
          processIndex: 1,
          params: [
            { index: 13, indexType: 0x20, process: 1, fbnr: 0, wireType: 0x20 },
            { index: 14, indexType: 0x20, process: 1, fbnr: 1, wireType: 0x20 },
            { index: 15, indexType: 0x20, process: 1, fbnr: 3, wireType: 0x20 },
            { index: 16, indexType: 0x00, process: 1, fbnr: 20, wireType: 0x00 },
          ],
        },
        { processIndex: 1, params: [{ index: 17, indexType: 0x40, process: 114, fbnr: 1, wireType: 0x40 }] },
        { processIndex: 1, params: [{ index: 18, indexType: 0x40, process: 104, fbnr: 1, wireType: 0x40 }] },
        {
          processIndex: 1,
          params: [
            { index: 19, indexType: 0x40, process: 33, fbnr: 7, wireType: 0x40 },
            { index: 20, indexType: 0x40, process: 33, fbnr: 0, wireType: 0x40 },
          ],
        },
      ],
    },
  },
  {
    name: 'ID string read (LEN 0 = variable)',
    section: '5.3 (string values, LEN byte = 0)',
    data: '04 01 65 00 60 00',
    message: {
      kind: 'request',
      blocks: [{ processIndex: 1, params: [{ index: 5, indexType: 0x60, process: 0, fbnr: 0, wireType: 0x60, stringLength: 0 }] }],
    },
  },
  {
    name: 'ID string answer: LEN 0, "\\x07SNM11209321A", NUL',
    section: '5.3 (string values, LEN byte = 0)',
    data: '02 01 65 00 07 53 4e 4d 31 31 32 30 39 33 32 31 41 00',
    message: {
      kind: 'send',
      blocks: [{ process: 1, params: [{ fbnr: 5, wireType: 0x60, raw: h('07 53 4e 4d 31 31 32 30 39 33 32 31 41'), stringLength: 0 }] }],
    },
    values: [{ type: 'string', value: '\x07SNM11209321A' }],
  },
  {
    name: 'fixed-length read answer: LEN 8, "NoBus", NUL, junk',
    section: '5.3 (string values, fixed length)',
    data: '02 01 6b 08 4e 6f 42 75 73 00 02 00',
    message: {
      kind: 'send',
      blocks: [{ process: 1, params: [{ fbnr: 11, wireType: 0x60, raw: h('4e 6f 42 75 73 00 02 00'), stringLength: 8 }] }],
    },
    values: [{ type: 'string', value: 'NoBus' }],
  },
  {
    name: 'wink write: ID string "9"',
    section: '5.3 (write examples) and 7 (wink)',
    data: '01 00 60 00 39 00',
    message: {
      kind: 'sendWithStatus',
      blocks: [{ process: 0, params: [{ fbnr: 0, wireType: 0x60, raw: h('39'), stringLength: 0 }] }],
    },
    values: [{ type: 'string', value: '9' }],
  },
  {
    name: 'wink answer: status 0, index 6',
    section: '5.3 (write examples)',
    data: '00 00 06',
    message: { kind: 'status', status: 0, index: 6 },
  },
  {
    name: 'control mode = 1 write',
    section: '5.3 (write examples)',
    data: '01 01 04 01',
    message: { kind: 'sendWithStatus', blocks: [{ process: 1, params: [{ fbnr: 4, wireType: 0x00, raw: h('01') }] }] },
    values: [{ type: 'u8', value: 1 }],
  },
  {
    name: 'control mode write answer: status 0, index 4',
    section: '5.3 (write examples)',
    data: '00 00 04',
    message: { kind: 'status', status: 0, index: 4 },
  },
  {
    name: 'fluidset index = 8 write (its 0x10 is stuffed on the wire)',
    section: '5.3 (write examples)',
    data: '01 01 10 08',
    message: { kind: 'sendWithStatus', blocks: [{ process: 1, params: [{ fbnr: 16, wireType: 0x00, raw: h('08') }] }] },
    values: [{ type: 'u8', value: 8 }],
  },
  {
    name: 'fluidset answer: status 6 (parameter value error), index 4',
    section: '5.3 (write examples)',
    data: '00 06 04',
    message: { kind: 'status', status: 6, index: 4 },
  },
  {
    name: 'write of 0/17 answer: status 4 (unknown parameter), index 4',
    section: '5.3 (write examples)',
    data: '00 04 04',
    message: { kind: 'status', status: 4, index: 4 },
  },
  {
    name: '[LIB] write chaining: fsetpoint 1.0, control mode 0, user tag "AB"',
    section: '5.3 ([LIB] write chaining)',
    data: '01 a1 43 3f 80 00 00 81 04 00 71 66 00 41 42 00',
    message: {
      kind: 'sendWithStatus',
      blocks: [
        { process: 33, params: [{ fbnr: 3, wireType: 0x40, raw: h('3f 80 00 00') }] },
        { process: 1, params: [{ fbnr: 4, wireType: 0x00, raw: h('00') }] },
        { process: 113, params: [{ fbnr: 6, wireType: 0x60, raw: h('41 42'), stringLength: 0 }] },
      ],
    },
    values: [
      { type: 'float', value: 1 },
      { type: 'u8', value: 0 },
      { type: 'string', value: 'AB' },
    ],
  },
];

/** Wink with t = 1..9 seconds: `01 00 60 00 3t 00` (section 7). Built by the test from this template. */
export const WINK_TEMPLATE = { section: '7 (wink)', prefix: '01 00 60 00', suffix: '00' } as const;

// ---------------------------------------------------------------------------
// Single values
// ---------------------------------------------------------------------------

export const VALUE_VECTORS: readonly ValueVector[] = [
  { section: '2 and 6 (capacity)', type: 'float', hex: '45 d5 08 00', value: 6817 },
  // PROTOCOL.md prints 68.575; the float32 nearest 68.575 is 0x42892666, and 0x4289267E is 68.57518 (shortest round-trip decimal).
  { section: '6 (byte order)', type: 'float', hex: '42 89 26 7e', value: 68.57518, approx: 68.575 },
  { section: '6 (byte order)', type: 'float', hex: '3f 80 00 00', value: 1 },
  { section: '3 and 6 (counter value)', type: 'float', hex: '45 9c ff ae', value: 5023.96, approx: 5023.96 },
  { section: '6 (BHT signed int16, two\'s complement, not [LIB]\'s -204)', type: 'bht16', hex: 'ff 33', value: -205 },
  { section: '6 (BHT signed int16 minimum)', type: 'bht16', hex: 'a3 d7', value: -23593 },
  { section: '6 (BHT signed int16 maximum)', type: 'bht16', hex: 'a3 d6', value: 41942 },
  { section: '3 and 6 (measure 50 %)', type: 'u16', hex: '3e 80', value: 16000 },
  { section: '3 and 6 (measure 50 %)', type: 'bht16', hex: '3e 80', value: 16000 },
  { section: '6 (measure 100 %)', type: 'bht16', hex: '7d 00', value: 32000 },
  { section: '6 (valve output maximum, 24-bit DAC)', type: 'u32', hex: '00 ff ff ff', value: 16777215 },
];
