import { describe, expect, it } from 'vitest';
import { AsciiDeframer, encodeAsciiFrame } from '../../src/codec/index.js';
import { toHex } from '../../src/shared/index.js';
import { ascii, ExpectedStream, type FrameSummary } from './helpers.js';

class Expect extends ExpectedStream {
  constructor() {
    super('ascii', ascii);
  }
}

const MEASURE = ':06030201213E80\r\n';
const MEASURE_FRAME: FrameSummary = { kind: 'data', seq: 0, node: 3, data: '02 01 21 3e 80' };
const ACK = ':0403000005\r\n';
const ACK_FRAME: FrameSummary = { kind: 'data', seq: 0, node: 3, data: '00 00 05' };
const ERR = ':0105\r\n';
const ERR_FRAME: FrameSummary = { kind: 'error', seq: 0, node: undefined, code: 5 };

describe('AsciiDeframer', () => {
  it('one frame', () => new Expect().frame(MEASURE, MEASURE_FRAME).check());

  it('several frames in one chunk', () =>
    new Expect().frame(MEASURE, MEASURE_FRAME).frame(ACK, ACK_FRAME).frame(ERR, ERR_FRAME).frame(MEASURE, MEASURE_FRAME).check());

  it('junk before, between and after frames is reported', () =>
    new Expect()
      .discard('junk', 'boot v7.25\r\n')
      .frame(MEASURE, MEASURE_FRAME)
      .discard('junk', '\r\n\x00\xff')
      .frame(ACK, ACK_FRAME)
      .discard('junk', 'x')
      .check());

  it('lower-case hex is accepted', () => new Expect().frame(':06030201213e80\r\n', MEASURE_FRAME).frame(':01ee\r\n', { kind: 'error', seq: 0, node: undefined, code: 0xee }).check());

  it('a bare LF ends a frame too', () => new Expect().frame(':0403000005\n', ACK_FRAME).frame(MEASURE, MEASURE_FRAME).check());

  it('the manual error form :01EE (no node byte)', () =>
    new Expect().frame(':01EE\r\n', { kind: 'error', seq: 0, node: undefined, code: 0xee }).frame(ERR, ERR_FRAME).check());

  it('odd number of hex digits', () => new Expect().discard('odd-hex', ':0603020121E80\r\n').frame(MEASURE, MEASURE_FRAME).check());

  it('a non-hex character', () =>
    new Expect()
      .discard('bad-hex', ':06030G01213E80\r\n')
      .discard('bad-hex', ':0603 0201213E80\r\n')
      .discard('bad-hex', ':0403000005\r\r\n')
      .frame(ACK, ACK_FRAME)
      .check());

  it('LL that disagrees with the bytes', () =>
    new Expect()
      .discard('length-mismatch', ':07030201213E80\r\n')
      .discard('length-mismatch', ':05030201213E80\r\n')
      .discard('length-mismatch', ':02EE\r\n')
      .frame(MEASURE, MEASURE_FRAME)
      .check());

  it('a line without LL and NN is truncated', () =>
    new Expect().discard('truncated', ':\r\n').discard('truncated', ':06\r\n').discard('truncated', ':\n').frame(ACK, ACK_FRAME).check());

  it('":" inside a frame restarts; the new frame is decoded', () =>
    new Expect().discard('restart', ':0603').discard('restart', ':').frame(MEASURE, MEASURE_FRAME).check());

  it('an unfinished frame is truncated at flush', () => new Expect().frame(ACK, ACK_FRAME).discard('truncated', ':060302').check());

  it('an unfinished frame ending in CR is truncated at flush', () => new Expect().frame(ACK, ACK_FRAME).discard('truncated', ':0403000005\r').check());

  it('the largest frame (LL 0xFF, 254 DATA bytes) is accepted', () => {
    const data = Uint8Array.from({ length: 254 }, (_, i) => (i * 7) & 0xff);
    const text = String.fromCharCode(...encodeAsciiFrame({ kind: 'data', seq: 0, node: 3, data }));
    expect(text.startsWith(':FF03')).toBe(true);
    new Expect().frame(text, { kind: 'data', seq: 0, node: 3, data: toHex(data) }).check();
  });

  it('a line longer than any frame is oversize; the rest is junk; the next frame comes out', () => {
    const long = ':' + '0'.repeat(600);
    const cutAt = 1 + 2 * 257 + 2 + 1; // MAX_LINE + 1 characters
    new Expect()
      .discard('oversize', long.slice(0, cutAt))
      .discard('junk', long.slice(cutAt) + '\r\n')
      .frame(MEASURE, MEASURE_FRAME)
      .check();
  });

  it('offset counts every byte pushed', () => {
    const d = new AsciiDeframer();
    d.push(ascii(MEASURE));
    d.push(ascii('ab'));
    expect(d.offset).toBe(MEASURE.length + 2);
  });
});
