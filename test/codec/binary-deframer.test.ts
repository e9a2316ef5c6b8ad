import { describe, expect, it } from 'vitest';
import { AsciiDeframer, BinaryDeframer, MAX_JUNK_RUN, encodeBinaryFrame, decodeMessage, type DeframerEvent } from '../../src/codec/index.js';
import { fromHex, toHex } from '../../src/shared/index.js';
import { ExpectedStream, type FrameSummary } from './helpers.js';

class Expect extends ExpectedStream {
  constructor() {
    super('binary', fromHex);
  }
}

const A = '10 02 01 80 0c 02 01 80 03 81 7f 82 04 83 20 04 43 10 03';
const A_FRAME: FrameSummary = { kind: 'data', seq: 1, node: 0x80, data: '02 01 80 03 81 7f 82 04 83 20 04 43' };
const B = '10 02 8b 80 0a 04 81 4d 01 4d 71 66 71 66 10 10 10 03';
const B_FRAME: FrameSummary = { kind: 'data', seq: 0x8b, node: 0x80, data: '04 81 4d 01 4d 71 66 71 66 10' };
const ERR = '10 02 03 05 00 05 10 03';
const ERR_FRAME: FrameSummary = { kind: 'error', seq: 3, node: 5, code: 5 };

describe('BinaryDeframer', () => {
  it('one frame', () => new Expect().frame(A, A_FRAME).check());

  it('several frames in one chunk, including a stuffed one and an error frame', () =>
    new Expect().frame(A, A_FRAME).frame(B, B_FRAME).frame(ERR, ERR_FRAME).frame(A, A_FRAME).check());

  it('junk before, between and after frames is reported, never dropped', () =>
    new Expect()
      .discard('junk', '41 42 43 0d 0a')
      .frame(A, A_FRAME)
      .discard('junk', 'ff 00 10 03 02') // a stray DLE ETX and an STX outside a frame are junk
      .frame(B, B_FRAME)
      .discard('junk', '55')
      .check());

  it('a DLE before DLE STX outside a frame is junk and the frame still starts', () =>
    new Expect().discard('junk', '10').frame(A, A_FRAME).discard('junk', '10 10 10').frame(B, B_FRAME).check());

  it('a lone DLE at the end of the stream is junk at flush', () => new Expect().frame(A, A_FRAME).discard('junk', '10').check());

  it('SEQ, NODE, LEN and DATA equal to 0x10 are all stuffed and unstuffed', () => {
    const wire = encodeBinaryFrame({ kind: 'data', seq: 0x10, node: 0x10, data: new Uint8Array(16).fill(0x10) });
    expect(toHex(wire)).toBe(`10 02 10 10 10 10 10 10 ${'10 10 '.repeat(16)}10 03`);
    new Expect().frame(toHex(wire), { kind: 'data', seq: 0x10, node: 0x10, data: toHex(new Uint8Array(16).fill(0x10)) }).check();
  });

  it('DLE followed by an illegal byte drops the frame; the rest is junk until the next DLE STX', () =>
    new Expect()
      .discard('illegal-dle', '10 02 01 80 03 00 10 41')
      .discard('junk', '05 06 10 03')
      .frame(A, A_FRAME)
      .check());

  it('DLE STX inside a frame restarts: the partial frame is dropped and the new frame decoded', () =>
    new Expect().discard('restart', '10 02 01 80 05 04 01').frame(A, A_FRAME).check());

  it('DLE STX right after DLE STX restarts with an empty partial frame', () =>
    new Expect().discard('restart', '10 02').frame(B, B_FRAME).check());

  it('a stuffed DLE followed by 02 is data, not a restart', () => {
    const wire = encodeBinaryFrame({ kind: 'data', seq: 1, node: 3, data: fromHex('02 10 02 10 03') });
    expect(toHex(wire)).toBe('10 02 01 03 05 02 10 10 02 10 10 03 10 03');
    new Expect().frame(toHex(wire), { kind: 'data', seq: 1, node: 3, data: '02 10 02 10 03' }).check();
  });

  it('LEN larger than the data is a length mismatch; the next frame still comes out', () =>
    new Expect().discard('length-mismatch', '10 02 01 80 05 00 00 04 10 03').frame(A, A_FRAME).check());

  it('LEN smaller than the data is a length mismatch', () =>
    new Expect().discard('length-mismatch', '10 02 01 80 02 00 00 04 10 03').frame(ERR, ERR_FRAME).check());

  it('LEN 0 followed by two bytes is not an error frame but a length mismatch', () =>
    new Expect().discard('length-mismatch', '10 02 03 05 00 05 06 10 03').frame(A, A_FRAME).check());

  it('the error frame (LEN 0 + 1 byte), also with a stuffed code', () =>
    new Expect()
      .frame(ERR, ERR_FRAME)
      .frame('10 02 10 10 80 00 10 10 10 03', { kind: 'error', seq: 0x10, node: 0x80, code: 0x10 })
      .check());

  it('frames shorter than SEQ NODE LEN DATA are truncated', () =>
    new Expect()
      .discard('truncated', '10 02 10 03')
      .discard('truncated', '10 02 01 80 10 03')
      .discard('truncated', '10 02 01 80 00 10 03')
      .frame(A, A_FRAME)
      .check());

  it('an unfinished frame is reported as truncated at flush', () =>
    new Expect().frame(A, A_FRAME).discard('truncated', '10 02 01 80 05 04').check());

  it('an unfinished frame ending in a DLE is truncated at flush with the DLE', () =>
    new Expect().frame(B, B_FRAME).discard('truncated', '10 02 01 80 05 10').check());

  it('the largest frame (LEN 255) is accepted', () => {
    const data = Uint8Array.from({ length: 255 }, (_, i) => i);
    const wire = encodeBinaryFrame({ kind: 'data', seq: 9, node: 3, data });
    new Expect().frame(toHex(wire), { kind: 'data', seq: 9, node: 3, data: toHex(data) }).frame(A, A_FRAME).check();
  });

  it('a frame that grows past SEQ NODE LEN + 255 DATA bytes is oversize; the rest is junk; the next frame comes out', () => {
    const body = '00 '.repeat(259).trim(); // SEQ NODE LEN + 256 bytes: one too many
    new Expect().discard('oversize', `10 02 ${body}`).discard('junk', '00 00 10 03').frame(A, A_FRAME).check();
  });

  it('oversize also counts stuffed DLEs as one byte each', () => {
    const body = '01 80 ff ' + '10 10 '.repeat(256).trim();
    new Expect().discard('oversize', `10 02 ${body}`).discard('junk', '10 03').frame(B, B_FRAME).check();
  });

  it('offset counts every byte pushed', () => {
    const d = new BinaryDeframer();
    d.push(fromHex(A));
    d.push(fromHex('41 42'));
    expect(d.offset).toBe(fromHex(A).length + 2);
  });

  it('frames decode to messages', () => {
    const d = new BinaryDeframer();
    const events: DeframerEvent[] = d.push(fromHex(A + B));
    const messages = events.map((e) => (e.kind === 'frame' && e.frame.kind === 'data' ? decodeMessage(e.frame.data).kind : e.kind));
    expect(messages).toEqual(['send', 'request']);
  });
});

describe('long junk runs', () => {
  it('reports junk in runs of at most MAX_JUNK_RUN bytes, whatever the chunking, so printed text cannot grow memory', () => {
    const text = new TextEncoder().encode('x'.repeat(3 * MAX_JUNK_RUN + 10));
    for (const D of [BinaryDeframer, AsciiDeframer]) {
      const whole = new D();
      const a = [...whole.push(text), ...whole.flush()];
      const bytewise = new D();
      const b = [...Array.from(text, (_, i) => bytewise.push(text.subarray(i, i + 1))).flat(), ...bytewise.flush()];
      expect(a.map((e) => e.kind === 'discard' && e.bytes.length)).toEqual([MAX_JUNK_RUN, MAX_JUNK_RUN, MAX_JUNK_RUN, 10]);
      expect(b.map((e) => [e.start, e.end])).toEqual(a.map((e) => [e.start, e.end]));
    }
  });
});
