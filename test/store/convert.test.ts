/**
 * `flowbus db convert`: an old log (the tables before migration 0003) brought into the compact
 * tables, in both dialects: every transaction and value equal through the old and the new
 * readers; idempotent; verification before any drop; a live gateway beside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { silentLogger } from '../../src/shared/index.js';
import { openStore, openStoreReader } from '../../src/store/index.js';
import { convertStore, comparable, unconvertedCount } from '../../src/store/convert.js';
import { fromSingle } from '../../src/store/compact.js';
import { paramFromRow, transactionFromRow, type ParameterValuesTable, type TransactionsTable } from '../../src/store/legacy.js';
import type { LoggedTransaction } from '../../src/gateway/index.js';
import { freshTarget, makeTx, mysqlRuns, recordingLogger, type TestTarget } from './helpers.js';
import { buildOldLog, inTieGroups, openConn, variedLog } from './old-log.js';

const dialects: ('sqlite' | 'mysql')[] = (await mysqlRuns()) ? ['sqlite', 'mysql'] : ['sqlite'];

/** Every old transaction through the old reader (the listing of versions before 0003). */
async function oldTransactions(url: string): Promise<LoggedTransaction[]> {
  const conn = openConn(url);
  try {
    const txs = (await conn.db.selectFrom('transactions').selectAll().execute()) as TransactionsTable[];
    const pvs = (await conn.db.selectFrom('parameter_values').selectAll().orderBy('position').execute()) as ParameterValuesTable[];
    const by = new Map<string, ParameterValuesTable[]>();
    for (const p of pvs) by.set(String(p.transaction_id), [...(by.get(String(p.transaction_id)) ?? []), p]);
    return txs.map((t) => transactionFromRow(t, (by.get(String(t.id)) ?? []).map(paramFromRow)));
  } finally {
    await conn.destroy();
  }
}

/** Every old history value: gateway|bus|node|dde|time|value. */
async function oldHistory(url: string): Promise<string[]> {
  const conn = openConn(url);
  try {
    const rows = await sql<Record<string, unknown>>`SELECT gateway, bus, node, dde, time_us, value_num, value_text FROM parameter_values WHERE dde BETWEEN 0 AND 32767`.execute(conn.db);
    return rows.rows.map((r) => `${r.gateway ?? ''}|${r.bus}|${r.node ?? -1}|${r.dde}|${r.time_us}|${r.value_num ?? JSON.stringify(r.value_text)}`).sort();
  } finally {
    await conn.destroy();
  }
}

/** Every compact history value, the same way. */
async function newHistory(url: string): Promise<string[]> {
  const conn = openConn(url);
  try {
    const rows = await sql<Record<string, unknown>>`SELECT o.gateway, o.bus, s.node, s.dde, v.time_us, v.value_f, v.value_num, v.value_text FROM log_values v JOIN log_series s ON s.id = v.series JOIN log_sources o ON o.id = s.source`.execute(conn.db);
    // A value in the 4-byte value_f is the double it reads back as.
    const value = (r: Record<string, unknown>) => (r.value_f !== null && r.value_f !== undefined ? fromSingle(Number(r.value_f)) : r.value_num);
    return rows.rows.map((r) => `${r.gateway}|${r.bus}|${r.node}|${r.dde}|${r.time_us}|${value(r) ?? JSON.stringify(r.value_text)}`).sort();
  } finally {
    await conn.destroy();
  }
}

/** Every transaction through the new reader (the API's listing), paging along the cursor. */
async function newTransactions(url: string): Promise<LoggedTransaction[]> {
  const reader = openStoreReader(url);
  const out: LoggedTransaction[] = [];
  try {
    let cursor: string | undefined;
    for (;;) {
      const page = await reader.listTransactions({ limit: 500, ...(cursor ? { cursor } : {}) });
      out.push(...page.transactions);
      if (!page.nextCursor) return out;
      cursor = page.nextCursor;
    }
  } finally {
    await reader.close();
  }
}

describe.each(dialects)('flowbus db convert (%s)', (dialect) => {
  let target: TestTarget;
  const N = 700;
  let before: LoggedTransaction[];

  beforeAll(async () => {
    target = await freshTarget(dialect);
    // The first 300 in groups of three that start together on one source: --batch 97 splits some.
    const log = variedLog(N);
    await buildOldLog(target.url, [...inTieGroups(log.slice(0, 300), 3), ...log.slice(300)]);
    before = await oldTransactions(target.url);
  }, 60_000);

  afterAll(async () => {
    await target.cleanup();
  });

  it('the gateway started on the old log warns once, naming the count and the command, and logs into the new tables meanwhile', async () => {
    const log = recordingLogger();
    const store = await openStore({ url: target.url, batchRows: 50, batchMs: 20, retention: { transactionsDays: null, parameterValuesDays: null }, spoolDir: `${target.dir}/spool` }, { logger: log, gateway: 'live' });
    try {
      // The count runs in the background: wait for its one warning.
      for (let i = 0; i < 200 && !log.lines.some((l) => l.msg.includes('flowbus db convert')); i++) await new Promise((r) => setTimeout(r, 25));
      const warnings = log.lines.filter((l) => l.level === 'warn' && l.msg.includes('flowbus db convert'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.msg).toContain(`${N} transactions logged by an earlier version`);
      expect(store.status().unconverted).toBe(N);
      // Written while the conversion runs beside it.
      const converting = convertStore(target.url, silentLogger, { batch: 97 });
      for (let i = 0; i < 120; i++) store.write(makeTx({ gateway: 'live' }, i));
      await store.flush();
      const result = await converting;
      expect(result.converted).toBe(N);
      expect(result.verified?.transactions).toBe(N);
      const live = await store.listTransactions({ gateway: { name: 'live' }, limit: 1000 });
      expect(live.transactions).toHaveLength(120);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('every old transaction is there after, equal field by field through the API reader (all but the id), and every history value', async () => {
    const after = (await newTransactions(target.url)).filter((t) => t.gateway !== 'live');
    expect(after).toHaveLength(N);
    expect(after.map(comparable).sort()).toEqual(before.map(comparable).sort());
    const ids = new Set(after.map((t) => t.id));
    expect(ids.size).toBe(N);
    const newValues = (await newHistory(target.url)).filter((v) => !v.startsWith('live|'));
    expect(newValues).toEqual(await oldHistory(target.url));
    // The variety is really there: rows of no gateway, two gateways, two buses, bridge rows, ties.
    expect(new Set(after.map((t) => t.gateway ?? ''))).toEqual(new Set(['', 'alpha', 'beta']));
    expect(new Set(after.map((t) => t.bus))).toEqual(new Set(['main', 'line2']));
    expect(after.some((t) => t.mode === 'bridge' && t.params.some((p) => p.indexOnly))).toBe(true);
    expect(new Set(after.map((t) => t.outcome))).toEqual(new Set(['ok', 'status', 'error-frame', 'timeout', 'unanswered', 'orphan', 'cmd-9']));
    const starts = after.map((t) => `${t.gateway}/${t.bus}/${t.mode}/${t.startedAt}`);
    expect(new Set(starts).size).toBeLessThan(N);
  });

  it('the history API gives the old values of one instrument', async () => {
    const reader = openStoreReader(target.url);
    try {
      const h = await reader.parameterHistory({ gateway: { name: 'alpha' }, bus: 'main', node: 3, dde: 205, sinceUs: 0, untilUs: Number.MAX_SAFE_INTEGER });
      const want = (await oldHistory(target.url)).filter((v) => v.startsWith('alpha|main|3|205|')).map((v) => v.split('|').slice(4).join('|'));
      expect(want.length).toBeGreaterThan(10);
      expect(h.kind === 'raw' && h.points.map((p) => `${p.timeUs}|${p.value}`).sort()).toEqual(want.sort());
    } finally {
      await reader.close();
    }
  });

  it('running again converts nothing, and says the rows were converted before', async () => {
    const again = await convertStore(target.url, silentLogger, {});
    expect(again.converted).toBe(0);
    expect(again.before).toBe(N);
    expect(again.verified).toBeUndefined();
    expect((await newTransactions(target.url)).length).toBe(N + 120);
    const conn = openConn(target.url);
    try {
      expect(await unconvertedCount(conn)).toBe(0);
    } finally {
      await conn.destroy();
    }
  });

  it('--drop-old refuses while a converted row differs, then drops the old tables once it is put right', async () => {
    const conn = openConn(target.url);
    try {
      const converted = await conn.db.selectFrom('log_sources').select('id').where('gateway', '!=', 'live').execute();
      const sources = converted.map((s) => Number(s.id));
      // One converted reply changed: the comparison through the readers finds it, nothing is dropped.
      const t = await conn.db.selectFrom('log_transactions').selectAll().where('source', 'in', sources).where('reply', 'is not', null).limit(1).executeTakeFirstOrThrow();
      const setReply = (reply: Buffer | null) => conn.db.updateTable('log_transactions').set({ reply }).where('source', '=', t.source).where('started_us', '=', t.started_us).where('k', '=', t.k).execute();
      await setReply(Buffer.from('10020000', 'hex'));
      await expect(convertStore(target.url, silentLogger, { dropOld: true })).rejects.toMatchObject({ code: 'STORE_CONVERT_MISMATCH' });
      expect(await unconvertedCount(conn)).toBe(0); // the old tables are still there
      await setReply(t.reply);
      // One converted history value changed: found too.
      const series = (await conn.db.selectFrom('log_series').select('id').where('source', 'in', sources).execute()).map((s) => Number(s.id));
      const one = await conn.db.selectFrom('log_values').selectAll().where('series', 'in', series).where('value_f', 'is not', null).limit(1).executeTakeFirstOrThrow();
      const setValue = (v: number | null) => conn.db.updateTable('log_values').set({ value_f: v }).where('series', '=', one.series).where('time_us', '=', one.time_us).where('k', '=', one.k).where('position', '=', one.position).execute();
      await setValue(Number(one.value_f) + 1);
      await expect(convertStore(target.url, silentLogger, { dropOld: true })).rejects.toMatchObject({ code: 'STORE_CONVERT_MISMATCH', message: expect.stringContaining('in log_values') });
      expect(await unconvertedCount(conn)).toBe(0);
      await setValue(one.value_f);
      const dropped = await convertStore(target.url, silentLogger, { dropOld: true });
      expect(dropped.verified?.transactions).toBe(N);
      expect(dropped.dropped).toBe(true);
      expect(dropped.oldBytes).toBeGreaterThan(0);
      expect(await unconvertedCount(conn)).toBeUndefined();
      const after = await convertStore(target.url, silentLogger, {});
      expect(after).toMatchObject({ noOldTables: true, converted: 0 });
      expect(after.checkpoint?.droppedUs).toBeGreaterThan(0);
    } finally {
      await conn.destroy();
    }
    expect((await newTransactions(target.url)).length).toBe(N + 120);
  }, 60_000);
});
