import { describe, expect, it } from 'vitest';
import { buildRequest, buildValues, encodeFrame, encodeMessage, WireType } from '../../src/codec/index.js';
import type { Direction, Transaction } from '../../src/observe/index.js';
import { BridgeTap } from '../../src/gateway/bridge/tap.js';

const measure = { process: 1, fbnr: 0, wireType: WireType.Int16 };
const request = (seq: number) => encodeFrame({ kind: 'data', seq, node: 3, data: encodeMessage(buildRequest([measure])) }, 'binary');
const reply = (seq: number, value: number) =>
  encodeFrame({ kind: 'data', seq, node: 3, data: encodeMessage(buildValues('send', [{ ...measure, raw: Uint8Array.of(value >> 8, value & 0xff) }])) }, 'binary');

function tap(burstGapMs = 2) {
  const transactions: Transaction[] = [];
  const bursts: { direction: Direction; time: number; bytes: number }[] = [];
  const errors: unknown[] = [];
  const t = new BridgeTap({
    protocol: 'binary',
    burstGapMs,
    replyTimeoutMs: 1000,
    onTransaction: (x) => transactions.push(x),
    onBurst: (direction, time, bytes) => bursts.push({ direction, time, bytes: bytes.length }),
    onError: (err) => errors.push(err),
  });
  return { t, transactions, bursts, errors };
}

/**
 * A master that asks again as soon as it has its answer, through a bridge that forwards at once,
 * turns the line round faster than the burst gap (2 ms): a request, its reply and the next
 * request all within it. Each direction's burst still ends where the other direction speaks.
 */
describe('the bridge tap cuts bursts where the line turns round', () => {
  it('a master asking again within the burst gap: each request its own burst, each paired with its reply', async () => {
    const { t, transactions, bursts, errors } = tap();
    const t0 = 1_000_000_000;
    // The same SEQ every time, as a master that does not count SEQs sends it.
    for (let i = 0; i < 5; i++) {
      t.push('>', request(0x21), t0 + i * 800);
      t.push('<', reply(0x21, 1000 + i), t0 + i * 800 + 400);
    }
    await t.close(t0 + 10_000);
    expect(errors).toEqual([]);
    expect(bursts.map((b) => `${b.direction}${b.time - t0}`)).toEqual(['>0', '<400', '>800', '<1200', '>1600', '<2000', '>2400', '<2800', '>3200', '<3600']);
    expect(transactions.map((x) => x.outcome)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(transactions.map((x) => x.time - t0)).toEqual([0, 800, 1600, 2400, 3200]);
  });

  it('a silence of the gap by the bytes arrival times ends a burst, however late they are decoded', async () => {
    const { t, bursts } = tap(2);
    const t0 = 2_000_000_000;
    const r = request(0x10);
    // One frame in two chunks 1 ms apart (one burst), then the next frame 3 ms later (a burst of its own).
    t.push('>', r.subarray(0, 4), t0);
    t.push('>', r.subarray(4), t0 + 1000);
    t.push('>', request(0x11), t0 + 4000);
    await t.close(t0 + 10_000);
    expect(bursts).toEqual([
      { direction: '>', time: t0, bytes: r.length },
      { direction: '>', time: t0 + 4000, bytes: request(0x11).length },
    ]);
  });

  it('ends the last burst after the gap of silence without a close, and pairs it', async () => {
    const { t, transactions } = tap(2);
    const now = Math.round((performance.timeOrigin + performance.now()) * 1000);
    t.push('>', request(0x30), now);
    t.push('<', reply(0x30, 7), now + 100);
    for (let i = 0; i < 100 && transactions.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(transactions.map((x) => x.outcome)).toEqual(['ok']);
    await t.close(now + 10_000);
  });
});

/**
 * Decoding a round trip right after it was forwarded ran when the next chunk came and held it on
 * the loop; the tap now decodes what came in `holdMs` together (issue 14, part 5).
 */
describe('the bridge tap decodes the bytes of a hold together', () => {
  const now = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('decodes nothing before the hold is over, then every round trip of it, with the arrival times', async () => {
    const transactions: Transaction[] = [];
    const t = new BridgeTap({ protocol: 'binary', burstGapMs: 2, replyTimeoutMs: 1000, holdMs: 150, onTransaction: (x) => transactions.push(x), onError: () => {} });
    const t0 = now();
    t.push('>', request(0x21), t0);
    t.push('<', reply(0x21, 5), t0 + 300);
    t.push('>', request(0x22), t0 + 600);
    // A drain in the next turn (no hold) would have paired the first round trip by now.
    await sleep(40);
    expect(t.backlog).toBeGreaterThan(0);
    expect(transactions).toEqual([]);
    for (let i = 0; i < 100 && transactions.length === 0; i++) await sleep(10);
    expect(transactions.map((x) => [x.outcome, x.time - t0])).toEqual([['ok', 0]]);
    expect(t.backlog).toBe(0);
    await t.close(now() + 10_000);
  });

  it('a close decodes what is held at once', async () => {
    const transactions: Transaction[] = [];
    const t = new BridgeTap({ protocol: 'binary', burstGapMs: 2, replyTimeoutMs: 1000, holdMs: 60_000, onTransaction: (x) => transactions.push(x), onError: () => {} });
    const t0 = now();
    t.push('>', request(0x31), t0);
    t.push('<', reply(0x31, 9), t0 + 300);
    await t.close(t0 + 10_000);
    expect(transactions.map((x) => x.outcome)).toEqual(['ok']);
  });

  it('holdMs 0 decodes in the next turn', async () => {
    const transactions: Transaction[] = [];
    const t = new BridgeTap({ protocol: 'binary', burstGapMs: 2, replyTimeoutMs: 1000, holdMs: 0, onTransaction: (x) => transactions.push(x), onError: () => {} });
    const t0 = now();
    t.push('>', request(0x41), t0);
    t.push('<', reply(0x41, 1), t0 + 300);
    t.push('>', request(0x42), t0 + 600);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(transactions.map((x) => x.outcome)).toEqual(['ok']);
    await t.close(now() + 10_000);
  });
});
