/**
 * The conversion at size, in the suite: 20,000 old transactions (bench/convert.ts runs the same on
 * 1,000,000), checked apart from the converter's own verification: the count, per node and DDE
 * the count and sum of value_num, and checksums of every request and reply.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../src/shared/index.js';
import { convertStore } from '../../src/store/convert.js';
import { freshTarget, type TestTarget } from './helpers.js';
import { buildOldLog, digestDifferences, inTieGroups, logDigest, openConn, variedLog, type LogDigest } from './old-log.js';

const N = 20_000;
let target: TestTarget;
let before: LogDigest;

beforeAll(async () => {
  target = await freshTarget('sqlite');
  const log = variedLog(N, 1_767_225_600_000_000, 3);
  await buildOldLog(target.url, [...inTieGroups(log.slice(0, 3000), 4), ...log.slice(3000)]);
  const conn = openConn(target.url);
  before = await logDigest(conn, 'old');
  await conn.destroy();
}, 120_000);

afterAll(async () => {
  await target.cleanup();
});

it('20,000 old transactions converted: every one there with the same values, bytes and history sums', async () => {
  const r = await convertStore(target.url, silentLogger, { batch: 2000, dropOld: true });
  expect(r).toMatchObject({ converted: N, dropped: true, verified: { transactions: N } });
  const conn = openConn(target.url);
  try {
    const after = await logDigest(conn, 'new');
    expect(before.transactions).toBe(N);
    expect(Object.keys(before.perSeries).length).toBeGreaterThan(10);
    expect(digestDifferences(before, after)).toEqual([]);
  } finally {
    await conn.destroy();
  }
}, 120_000);
