import { describe, expect, it } from 'vitest';
import { encodeBinaryFrame, type Frame } from '../../src/codec/index.js';
import { fromHex } from '../../src/shared/index.js';
import { Pairer, resolveUnit, type PairerFrame, type Transaction } from '../../src/observe/index.js';

/** A frame from `SEQ NODE LEN DATA...` hex (LEN included for readability, ignored), at `ms` milliseconds. */
function data(seq: number, node: number, dataHex: string, ms: number): PairerFrame {
  const frame: Frame = { kind: 'data', seq, node, data: fromHex(dataHex) };
  return { frame, raw: encodeBinaryFrame(frame), time: ms * 1000 };
}

function errorFrame(seq: number, node: number, code: number, ms: number): PairerFrame {
  const frame: Frame = { kind: 'error', seq, node, code };
  return { frame, raw: encodeBinaryFrame(frame), time: ms * 1000 };
}

// Read of measure (1/0, int16) with index = address, and its answer (value 0x3E80 = 16000).
const READ_MEASURE = '04 01 20 01 20';
const ANSWER_MEASURE = '02 01 20 3e 80';

function only(ts: Transaction[]): Transaction {
  expect(ts).toHaveLength(1);
  return ts[0] as Transaction;
}

describe('Pairer (binary, by SEQ and NODE)', () => {
  it('pairs a read with its answer and names the value', () => {
    const p = new Pairer();
    expect(p.request(data(1, 3, READ_MEASURE, 0))).toEqual([]);
    const t = only(p.reply(data(1, 3, ANSWER_MEASURE, 12.5)));
    expect(t).toMatchObject({ outcome: 'ok', node: 3, seq: 1, command: 4, commandName: 'read', latencyMs: 12.5 });
    expect(t.params).toHaveLength(1);
    expect(t.params[0]).toMatchObject({ process: 1, fbnr: 0, dde: 8, key: 'measure', value: 16000, raw: '3e80' });
  });

  it('answers to node 128 carry NODE 128', () => {
    const p = new Pairer();
    p.request(data(9, 128, READ_MEASURE, 0));
    expect(only(p.reply(data(9, 128, ANSWER_MEASURE, 10))).outcome).toBe('ok');
  });

  it.each([
    [255, 0],
    [255, 1],
  ])('follows SEQ wrap-around %i -> %i', (a, b) => {
    const p = new Pairer();
    p.request(data(254, 3, READ_MEASURE, 0));
    expect(only(p.reply(data(254, 3, ANSWER_MEASURE, 10))).seq).toBe(254);
    p.request(data(a, 3, READ_MEASURE, 100));
    expect(only(p.reply(data(a, 3, ANSWER_MEASURE, 110))).seq).toBe(a);
    p.request(data(b, 3, READ_MEASURE, 200));
    const t = only(p.reply(data(b, 3, ANSWER_MEASURE, 215)));
    expect(t).toMatchObject({ seq: b, outcome: 'ok', latencyMs: 15 });
    expect(p.outstanding).toBe(0);
  });

  it('keeps two requests outstanding and pairs replies out of order', () => {
    const p = new Pairer();
    p.request(data(10, 3, READ_MEASURE, 0));
    p.request(data(11, 3, '04 01 21 01 21', 5));
    expect(p.outstanding).toBe(2);
    const second = only(p.reply(data(11, 3, '02 01 21 7d 00', 14)));
    expect(second).toMatchObject({ seq: 11, latencyMs: 9, outstanding: 2 });
    expect(second.params[0]).toMatchObject({ key: 'setpoint', value: 32000 });
    const first = only(p.reply(data(10, 3, ANSWER_MEASURE, 20)));
    expect(first).toMatchObject({ seq: 10, latencyMs: 20, outstanding: 1 });
    expect(p.maxOutstanding).toBe(2);
  });

  it('reports a reply that matches no request as an orphan, with index tags only', () => {
    const p = new Pairer();
    p.request(data(5, 3, READ_MEASURE, 0));
    const t = only(p.reply(data(6, 3, ANSWER_MEASURE, 10)));
    expect(t).toMatchObject({ outcome: 'orphan', seq: 6, node: 3, request: undefined, latencyMs: undefined });
    expect(t.params[0]).toMatchObject({ indexOnly: true, processIndex: 1, index: 0, raw: '3e80' });
    expect(t.params[0]?.name).toBeUndefined();
    expect(p.outstanding).toBe(1);
  });

  it('closes a request as unanswered after the timeout, judged by event time', () => {
    const p = new Pairer({ timeoutMs: 500 });
    p.request(data(1, 3, READ_MEASURE, 0));
    expect(p.expire(500_000)).toEqual([]); // exactly at the timeout: still waiting
    const closed = p.request(data(2, 3, READ_MEASURE, 501));
    const t = only(closed);
    expect(t).toMatchObject({ outcome: 'unanswered', seq: 1, reply: undefined, latencyMs: undefined });
    expect(t.params[0]).toMatchObject({ key: 'measure' });
    expect(t.params[0]?.value).toBeUndefined();
    // A late reply is an orphan now.
    expect(only(p.reply(data(1, 3, ANSWER_MEASURE, 502))).outcome).toBe('orphan');
    // flush closes the rest at end of stream.
    expect(only(p.flush(600_000))).toMatchObject({ seq: 2, outcome: 'unanswered' });
    expect(p.outstanding).toBe(0);
  });

  it('uses the default timeout of 1000 ms', () => {
    const p = new Pairer();
    p.request(data(1, 3, READ_MEASURE, 0));
    expect(p.expire(1_000_000)).toEqual([]);
    expect(only(p.expire(1_000_001)).outcome).toBe('unanswered');
  });

  it('does not confuse the same SEQ sent to different nodes', () => {
    const p = new Pairer();
    p.request(data(7, 3, READ_MEASURE, 0));
    p.request(data(7, 5, READ_MEASURE, 1));
    const fromFive = only(p.reply(errorFrame(7, 5, 5, 9)));
    expect(fromFive).toMatchObject({ node: 5, outcome: 'error-frame' });
    const fromThree = only(p.reply(data(7, 3, ANSWER_MEASURE, 12)));
    expect(fromThree).toMatchObject({ node: 3, outcome: 'ok', latencyMs: 12 });
  });

  it('names an error frame reply', () => {
    const p = new Pairer();
    p.request(data(3, 5, '04 01 05 00 03', 0));
    const t = only(p.reply(errorFrame(3, 5, 5, 8)));
    expect(t.outcome).toBe('error-frame');
    expect(t.errorFrame).toEqual({ code: 5, key: 'NODE_REJECTED', message: 'destination node address rejected' });
    expect(t.params[0]).toMatchObject({ process: 0, fbnr: 3, key: 'nextNodeAddress' });
  });

  it('closes an outstanding request when its (SEQ, NODE) is reused', () => {
    const p = new Pairer();
    p.request(data(4, 3, READ_MEASURE, 0));
    const t = only(p.request(data(4, 3, READ_MEASURE, 50)));
    expect(t).toMatchObject({ outcome: 'unanswered', time: 0, problem: expect.stringContaining('superseded') });
    expect(only(p.reply(data(4, 3, ANSWER_MEASURE, 60)))).toMatchObject({ time: 50_000, latencyMs: 10 });
  });

  it("decodes a Bright rolling-index answer through its own request's index map", () => {
    // PROTOCOL.md 5.2: the 8-parameter poll tagged ad, ae, af ... with process index 1.
    const request = '04 81 ad 01 20 ae 01 21 af 01 23 10 01 14 81 51 72 41 81 52 68 41 01 d3 21 47 54 21 40';
    const answer = '02 81 ad 00 69 ae 00 00 af ff 33 10 00 81 51 00 00 00 00 81 52 00 00 00 00 01 d3 41 a0 00 00 54 41 b3 0d 4a';
    const p = new Pairer();
    p.request(data(157, 3, request, 0));
    const t = only(p.reply(data(157, 3, answer, 30)));
    expect(t.outcome).toBe('ok');
    expect(t.problem).toBeUndefined();
    expect(t.params.map((x) => x.key)).toEqual([
      'measure',
      'setpoint',
      'analogInput',
      'alarmInfo',
      'valveOutput',
      'counterValue',
      'temperature',
      'fMeasure',
    ]);
    expect(t.params[0]).toMatchObject({ dde: 8, process: 1, fbnr: 0, processIndex: 1, index: 13, value: 105 });
    expect(t.params[2]).toMatchObject({ dde: 11, value: -205 });
    expect(t.params[6]).toMatchObject({ dde: 142, process: 33, fbnr: 7, value: 20 });
    expect(t.params[7]).toMatchObject({ dde: 205, process: 33, fbnr: 0, index: 20, valueType: 'float' });
    expect(t.params[7]?.value).toBeCloseTo(22.3815, 3);
  });

  it('names the parameter a failed chained read points at', () => {
    // Two blocks: PI 0x81 -> 1/0 (entry ends at offset 5), PI 0x01 -> 116/6 int16 (ends at offset 9).
    const p = new Pairer();
    p.request(data(20, 3, '04 81 20 01 20 01 26 74 26', 0));
    const t = only(p.reply(data(20, 3, '00 04 09', 9)));
    expect(t.outcome).toBe('status');
    expect(t.status).toMatchObject({ code: 4, key: 'PARM_NUMBER', index: 9 });
    expect(t.params.map((x) => `${x.process}/${x.fbnr}`)).toEqual(['1/0', '116/6']);
    expect(t.status?.param).toMatchObject({ process: 116, fbnr: 6 });
    p.request(data(21, 3, '04 81 20 01 20 01 26 74 26', 20));
    expect(only(p.reply(data(21, 3, '00 03 05', 30))).status?.param).toMatchObject({ key: 'measure' });
  });

  it('pairs a write with its status and decodes the written value with the real address', () => {
    const p = new Pairer();
    p.request(data(30, 3, '01 01 10 08', 0));
    const rejected = only(p.reply(data(30, 3, '00 06 04', 10)));
    expect(rejected).toMatchObject({ outcome: 'status', command: 1, commandName: 'write' });
    expect(rejected.status).toMatchObject({ code: 6, key: 'PARM_VALUE', index: 4 });
    expect(rejected.status?.param).toMatchObject({ key: 'fluidsetIndex', value: 8 });
    expect(rejected.params[0]).toMatchObject({ dde: 24, value: 8 });

    p.request(data(31, 3, '01 01 04 01', 20));
    const ok = only(p.reply(data(31, 3, '00 00 04', 30)));
    expect(ok).toMatchObject({ outcome: 'ok', status: { code: 0, index: 4 } });
    expect(ok.params[0]).toMatchObject({ key: 'controlMode', value: 1 });
  });

  it('keeps a parameter the DB does not know with its address and raw bytes', () => {
    const p = new Pairer();
    p.request(data(2, 3, '04 01 05 00 1a', 0));
    const t = only(p.reply(data(2, 3, '02 01 05 02', 10)));
    expect(t.params[0]).toMatchObject({ process: 0, fbnr: 26, raw: '02', value: 2 });
    expect(t.params[0]?.dde).toBeUndefined();
  });

  it('marks a frame that is not a message as undecodable', () => {
    const p = new Pairer();
    p.request(data(2, 3, '04 01', 0));
    const t = only(p.reply(data(2, 3, ANSWER_MEASURE, 10)));
    expect(t.outcome).toBe('undecodable');
    expect(t.problem).toMatch(/^request:/);
  });
});

describe('Pairer (ASCII, in order)', () => {
  it('pairs replies with the oldest outstanding request of the node', () => {
    const p = new Pairer({ mode: 'ascii' });
    p.request(data(0, 3, READ_MEASURE, 0));
    const t = only(p.reply(data(0, 3, ANSWER_MEASURE, 20)));
    expect(t).toMatchObject({ outcome: 'ok', latencyMs: 20 });
    p.request(data(0, 3, READ_MEASURE, 100));
    const err = only(p.reply({ frame: { kind: 'error', seq: 0, node: undefined, code: 4 }, raw: new Uint8Array(), time: 110_000 }));
    expect(err).toMatchObject({ outcome: 'error-frame', errorFrame: { code: 4 } });
  });
});

describe('resolveUnit', () => {
  it('turns the capacity placeholder into the instrument\'s unit, drops unresolved placeholders, keeps real units', () => {
    const base = { process: 33, fbnr: 0, wireType: 0x40 as const, key: 'fMeasure', value: 1 };
    expect(resolveUnit({ ...base, unit: 'capacity' }, 'mg/min').unit).toBe('mg/min');
    expect('unit' in resolveUnit({ ...base, unit: 'capacity' }, undefined)).toBe(false);
    expect('unit' in resolveUnit({ ...base, unit: 'counter' }, 'mg/min')).toBe(false);
    expect(resolveUnit({ ...base, unit: 'bar' }, 'mg/min').unit).toBe('bar');
  });
});
