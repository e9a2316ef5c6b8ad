/**
 * The compact log (migration 0003) answers exactly as the log before it did: a varied set of
 * transactions written to the old tables (read back with the old code) and to the new ones
 * (read back with the listing) compare field by field, ids aside; so do old rows converted
 * with RowMaker.fromLegacy, and the parameter histories.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireType } from '../../src/codec/index.js';
import type { LoggedTransaction } from '../../src/gateway/index.js';
import { describeParam } from '../../src/observe/index.js';
import { compactStatements, LogIds } from '../../src/store/compact.js';
import { connect, insertStatements, type Connection } from '../../src/store/db.js';
import { legacyToRows, paramFromRow, PV_COLUMNS, transactionFromRow, TX_COLUMNS } from '../../src/store/legacy.js';
import { migrate } from '../../src/store/migrations.js';
import { getTransaction, listTransactions, parameterHistory } from '../../src/store/query.js';
import { decodeParamsBlob, RowMaker } from '../../src/store/rows.js';
import { parseStoreUrl } from '../../src/store/url.js';
import { workloadTx } from '../../bench/store-workload.js';
import { freshTarget, makeTx, mysqlRuns, recordingLogger, type TestTarget } from './helpers.js';

const DIALECTS: ('sqlite' | 'mysql')[] = ['sqlite', ...((await mysqlRuns()) ? (['mysql'] as const) : [])];
const GATEWAY = 'lab-1';

/** Every kind of transaction the gateway logs, and the awkward ones. */
function varied(): LoggedTransaction[] {
  const t0 = Date.now() - 3_600_000;
  const out: LoggedTransaction[] = [];
  // Polls (chained reads of six), writes and timeouts with real frames.
  for (let i = 0; i < 300; i++) out.push(workloadTx(i, t0));
  const at = t0 + 600_000;
  const base = makeTx({ startedAt: at, endedAt: at + 2.5 });
  const idx = describeParam({ process: 1, fbnr: 0, wireType: WireType.Int16, raw: Uint8Array.of(0x7d, 0x00), indexOnly: true });
  out.push(
    // A single read, a string read, a write with its status.
    { ...base, params: [base.params[1]!] },
    { ...base, startedAt: at + 10, endedAt: at + 12, params: [base.params[3]!] },
    { ...base, startedAt: at + 20, endedAt: at + 23, command: 1, commandName: 'write', purpose: 'write', status: 0, params: [base.params[1]!] },
    // A status reply (not acknowledged), an error frame without a request, an orphan with index-only params.
    { ...base, startedAt: at + 30, endedAt: at + 31, outcome: 'status', status: 5, error: 'parameter not found (status 5, index 4)' },
    { ...base, startedAt: at + 40, endedAt: at + 40.5, node: undefined, command: undefined, commandName: 'error', outcome: 'error-frame', errorCode: 3, requestBytes: undefined, params: [], error: "error frame: 'unknown command'" },
    { ...base, startedAt: at + 50, endedAt: at + 50, mode: 'bridge', purpose: 'observed', outcome: 'orphan', requestBytes: undefined, latencyMs: undefined, params: [idx] },
    // Bridge mode: observed and injected, on another bus.
    { ...base, startedAt: at + 60, endedAt: at + 61, bus: 'tap', mode: 'bridge', purpose: 'observed' },
    { ...base, startedAt: at + 70, endedAt: at + 71, bus: 'tap', mode: 'bridge', purpose: 'injected' },
    // Texts with no code: a purpose, a command name, an outcome the log does not know.
    { ...base, startedAt: at + 80, endedAt: at + 81, purpose: 'calibration-run', commandName: 'cmd-9', command: 9, outcome: 'mystery' },
    // Numbers that do not fit their columns: a node past 255, a seq below 0, 300 attempts, a day-long latency.
    { ...base, startedAt: at + 90, endedAt: at + 90 + 86_400_000, node: 300, seq: -1, attempts: 300, latencyMs: 86_400_000 },
    // Raw bytes of the wrong size for the type (the stored value is what comes back), none at all with a value, NaN, text with quotes, NUL and UTF-8.
    {
      ...base,
      startedAt: at + 100,
      endedAt: at + 101,
      params: [
        { process: 33, fbnr: 0, wireType: 0x40, dde: 205, key: 'fMeasure', raw: '4120', value: 10 },
        { process: 1, fbnr: 1, wireType: 0x20, dde: 9, key: 'setpoint', value: 1234 },
        { process: 1, fbnr: 0, wireType: 0x20, dde: 8, key: 'measure', raw: '7d00', value: Number.NaN },
        { process: 1, fbnr: 17, wireType: 0x60, dde: 25, key: 'fluidName', raw: Buffer.from("O'2\\ \u0000 µ").toString('hex'), value: "O'2\\ \u0000 µ" },
        { process: 113, fbnr: 30, wireType: 0x20, raw: 'beef', value: 48879 },
        { process: 5, fbnr: 5, wireType: 0x7f as WireType, raw: 'ab', value: 'ab' },
        { process: 1, fbnr: 1, wireType: 0x20, dde: 9, key: 'setpoint', raw: 'ABCD', value: 43981 },
      ],
    },
    // The same parameter twice in one transaction; two transactions starting in the same µs; one ending with another.
    { ...base, startedAt: at + 110, endedAt: at + 111, params: [base.params[1]!, base.params[1]!] },
    { ...base, startedAt: at + 120, endedAt: at + 121 },
    { ...base, startedAt: at + 120, endedAt: at + 122 },
    { ...base, startedAt: at + 119, endedAt: at + 121 },
    // Recorded by another gateway.
    { ...base, startedAt: at + 130, endedAt: at + 131, gateway: 'lab-2' },
    // No reply, an error text of 2000 characters.
    { ...base, startedAt: at + 140, endedAt: at + 440, outcome: 'timeout', replyBytes: undefined, latencyMs: undefined, attempts: 3, error: 'x'.repeat(2000) },
  );
  return out.map((t, i) => ({ ...t, id: `${t.id.slice(0, 30)}${String(i).padStart(6, '0')}` }));
}

/** The old listing: every row, newest first, as the code before 0003 read it. */
async function oldListing(conn: Connection): Promise<LoggedTransaction[]> {
  const rows = await conn.db.selectFrom('transactions').selectAll().orderBy('started_us', 'desc').orderBy('id', 'desc').execute();
  const params = await conn.db.selectFrom('parameter_values').selectAll().orderBy('transaction_id').orderBy('position').execute();
  return rows.map((r) => transactionFromRow(r, params.filter((p) => p.transaction_id === r.id).map(paramFromRow)));
}

async function newListing(conn: Connection): Promise<LoggedTransaction[]> {
  return (await listTransactions(conn.db, { limit: 10_000 })).transactions;
}

/** Field by field, ids aside (the new ones are made from the key); equal start times in the old order. */
function comparable(list: readonly LoggedTransaction[]): unknown[] {
  return list
    .map(({ id: _id, ...rest }) => ({ ...rest, requestBytes: rest.requestBytes && Buffer.from(rest.requestBytes).toString('hex'), replyBytes: rest.replyBytes && Buffer.from(rest.replyBytes).toString('hex') }))
    .sort((a, b) => b.startedAt - a.startedAt || JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe.each(DIALECTS)('the compact log against the log before it, on %s', (dialect) => {
  let target: TestTarget;
  let old: Connection;
  let fresh: Connection;
  let converted: Connection;
  const txs = varied();

  beforeAll(async () => {
    target = await freshTarget(dialect);
    old = connect(parseStoreUrl(target.url), { connectTimeoutMs: 5000, poolSize: 2 });
    await migrate(old.db as never, dialect, recordingLogger(), '0002_gateway');
    const legacy = txs.map((t) => legacyToRows(t, GATEWAY));
    await old.runInTransaction([
      ...insertStatements(dialect, 'transactions', TX_COLUMNS, legacy.map((r) => r.tx)),
      ...insertStatements(dialect, 'parameter_values', PV_COLUMNS, legacy.flatMap((r) => r.pv)),
    ]);
    // The new tables of the same database: written by the writer's path...
    await migrate(old.db as never, dialect, recordingLogger());
    fresh = old;
    const maker = new RowMaker(GATEWAY);
    await fresh.runInTransaction(await compactStatements(fresh, new LogIds(), txs.map((t) => maker.toRows(t))));
    // ...and, in a second database, converted from the old rows.
    const second = await freshTarget(dialect);
    const cleanupFirst = target.cleanup;
    target = { ...second, cleanup: async () => Promise.all([cleanupFirst(), second.cleanup()]).then(() => undefined) };
    converted = connect(parseStoreUrl(second.url), { connectTimeoutMs: 5000, poolSize: 2 });
    await migrate(converted.db as never, dialect, recordingLogger());
    const oldRows = await old.db.selectFrom('transactions').selectAll().orderBy('started_us').orderBy('id').execute();
    const oldParams = await old.db.selectFrom('parameter_values').selectAll().orderBy('transaction_id').orderBy('position').execute();
    const conv = new RowMaker(null);
    await converted.runInTransaction(await compactStatements(converted, new LogIds(), oldRows.map((r) => conv.fromLegacy(r, oldParams.filter((p) => p.transaction_id === r.id)))));
  }, 60_000);

  afterAll(async () => {
    await old?.destroy();
    await converted?.destroy();
    await target?.cleanup();
  });

  it('lists every transaction with exactly the fields the old log gave', async () => {
    const before = await oldListing(old);
    const after = await newListing(fresh);
    expect(after).toHaveLength(txs.length);
    expect(comparable(after)).toEqual(comparable(before));
  });

  it('converts old rows into the same transactions', async () => {
    expect(comparable(await newListing(converted))).toEqual(comparable(await oldListing(old)));
  });

  it('gives each transaction by the id the listing shows', async () => {
    const page = await listTransactions(fresh.db, { limit: 20 });
    for (const t of page.transactions) expect(await getTransaction(fresh.db, t.id)).toEqual(t);
    expect(await getTransaction(fresh.db, '01a2351c-a21c-7108-97a0-b8019f14561b')).toBeUndefined();
  });

  it('keeps the texts and numbers no column holds in extra, and only those', async () => {
    const rows = await fresh.db.selectFrom('log_transactions').select(['extra', 'shape', 'data', 'template']).execute();
    const extras = rows.map((r) => r.extra).filter((e) => e !== null).map((e) => JSON.parse(e as string) as Record<string, unknown>);
    expect(extras).toEqual(
      expect.arrayContaining([
        { purpose: 'calibration-run', commandName: 'cmd-9', outcome: 'mystery' },
        expect.objectContaining({ node: 300, seq: -1, attempts: 300, endedUs: expect.any(Number), latencyUs: 86_400_000_000 }),
      ]),
    );
    expect(extras).toHaveLength(2);
    // Read requests share their bytes and shape through templates: one per (seq, node, parameter set) at most.
    const templates = await fresh.db.selectFrom('log_templates').select('id').execute();
    expect(rows.filter((r) => r.template !== null).length).toBeGreaterThan(200);
    expect(templates.length).toBeLessThanOrEqual(rows.filter((r) => r.template !== null).length);
    expect(templates.length).toBeLessThanOrEqual(256 * 3 + 16);
    // Inline shapes with their data decode to whole parameters.
    for (const r of rows) if (r.template === null) expect(() => decodeParamsBlob(r.shape ?? undefined, r.data ?? undefined)).not.toThrow();
  });

  it('gives the same parameter history, raw and in buckets', async () => {
    const sinceUs = (Date.now() - 4 * 3_600_000) * 1000;
    const untilUs = (Date.now() + 86_400_000) * 1000;
    for (const [node, dde] of [[3, 205], [4, 8], [5, 9], [3, 25]] as const) {
      const q = { node, dde, sinceUs, untilUs, gateway: { name: GATEWAY } };
      const oldRaw = await old.db
        .selectFrom('parameter_values')
        .select(['time_us', 'value_num', 'value_text'])
        .where('node', '=', node)
        .where('dde', '=', dde)
        .where('bus', '=', 'main')
        .where('gateway', '=', GATEWAY)
        .where((eb) => eb.or([eb('value_num', 'is not', null), eb('value_text', 'is not', null)]))
        .orderBy('time_us')
        .orderBy('transaction_id')
        .execute();
      const raw = await parameterHistory(fresh.db, dialect, { ...q, bus: 'main' });
      expect(raw.points.length).toBeGreaterThan(0);
      expect(raw.points).toEqual(oldRaw.map((r) => ({ timeUs: Number(r.time_us), value: r.value_num ?? r.value_text })));
      const conv = await parameterHistory(converted.db, dialect, { ...q, bus: 'main', gateway: { name: GATEWAY, unnamed: true } });
      expect(conv.points).toEqual(raw.points);
      const buckets = await parameterHistory(fresh.db, dialect, { ...q, bus: 'main', bucketUs: 600_000_000 });
      const nums = oldRaw.filter((r) => r.value_num !== null);
      expect(buckets.kind === 'buckets' && buckets.points.reduce((n, p) => n + p.count, 0)).toBe(nums.length);
    }
  });

  it('filters by node, outcome, parameter, bus and gateway as before', async () => {
    const count = async (q: Parameters<typeof listTransactions>[1]) => (await listTransactions(fresh.db, { limit: 10_000, ...q })).transactions.length;
    const oldCount = (f: (t: LoggedTransaction) => boolean) => txs.filter(f).length;
    expect(await count({ node: 4 })).toBe(oldCount((t) => t.node === 4));
    expect(await count({ outcome: 'timeout' })).toBe(oldCount((t) => t.outcome === 'timeout'));
    expect(await count({ outcome: 'mystery' })).toBe(1);
    expect(await count({ dde: 25 })).toBe(oldCount((t) => t.params.some((p) => p.dde === 25)));
    expect(await count({ bus: 'tap' })).toBe(2);
    expect(await count({ gateway: { name: 'lab-2' } })).toBe(1);
    expect(await count({ gateway: { name: GATEWAY } })).toBe(txs.length - 1);
  });
});
