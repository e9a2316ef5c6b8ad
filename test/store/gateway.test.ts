/** Several gateways into one database (both dialects): each row records its gateway, queries filter by it, rows from before are kept. */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/index.js';
import type { LoggedTransaction } from '../../src/gateway/index.js';
import { openStore, parseStoreUrl, SPOOL_FILE, type Store } from '../../src/store/index.js';
import { connect, insertStatements } from '../../src/store/db.js';
import { PV_COLUMNS, TX_COLUMNS } from '../../src/store/legacy.js';
import { migrate } from '../../src/store/migrations.js';
import { legacyToRows as toRows } from '../../src/store/legacy.js';
import { compactStatements, LogIds } from '../../src/store/compact.js';
import { RowMaker } from '../../src/store/rows.js';
import { FakeService } from '../api/fake-service.js';
import { waitUntil } from '../helpers/wait.js';
import { freshTarget, logKey, makeTx, mysqlRuns, recordingLogger, type TestTarget } from './helpers.js';

const DIALECTS: ('sqlite' | 'mysql')[] = ['sqlite', ...((await mysqlRuns()) ? (['mysql'] as const) : [])];
const NO_RETENTION = { transactionsDays: null, parameterValuesDays: null };
const ids = (ts: readonly Pick<LoggedTransaction, 'startedAt'>[]) => ts.map(logKey).sort((x, y) => x - y);

/** Rows as a version before migration 0002 wrote them: without the gateway column. */
function oldRows(ts: readonly LoggedTransaction[]) {
  return ts.map((t) => {
    const r = toRows(t);
    return { tx: r.tx.slice(0, -1), pv: r.pv.map((p) => p.slice(0, -1)) };
  });
}

describe('a gateway without a store', () => {
  it('serves its in-memory transactions as its own', async () => {
    const app = await buildApp({ service: new FakeService(), logger: false, version: '1', gateway: 'bench-a' });
    try {
      type List = { transactions: { gateway: string | null }[] };
      expect((await app.inject({ url: '/api/v1/transactions' })).json<List>().transactions.map((t) => t.gateway)).toEqual(['bench-a']);
      expect((await app.inject({ url: '/api/v1/transactions?gateway=*' })).json<List>().transactions).toHaveLength(1);
      expect((await app.inject({ url: '/api/v1/transactions?gateway=bench-b' })).json<List>().transactions).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe.each(DIALECTS)('gateways sharing one %s database', (dialect) => {
  let target: TestTarget;
  let a: Store;
  let b: Store;
  const before = Array.from({ length: 3 }, (_, i) => makeTx({}, i));
  const spooledByOldVersion = Array.from({ length: 2 }, (_, i) => makeTx({}, 10 + i));
  const fromA = Array.from({ length: 40 }, (_, i) => makeTx({}, 100 + i));
  const fromB = Array.from({ length: 30 }, (_, i) => makeTx({}, 200 + i));
  const since = Math.floor(before[0]!.startedAt) - 1;
  const until = Math.ceil(fromB[fromB.length - 1]!.endedAt) + 1;

  beforeAll(async () => {
    target = await freshTarget(dialect);
    // A database of the version before: schema 0001 with rows in it.
    const conn = connect(parseStoreUrl(target.url), { connectTimeoutMs: 2000, poolSize: 1 });
    await migrate(conn.db as never, dialect, recordingLogger(), '0001_transaction_log');
    const rows = oldRows(before);
    await conn.runInTransaction([
      ...insertStatements(dialect, 'transactions', TX_COLUMNS.slice(0, -1), rows.map((r) => r.tx)),
      ...insertStatements(dialect, 'parameter_values', PV_COLUMNS.slice(0, -1), rows.flatMap((r) => r.pv)),
    ]);
    // Those rows as `flowbus db convert` copies them into the compact log (rows of no gateway).
    await migrate(conn.db as never, dialect, recordingLogger());
    const old = await conn.db.selectFrom('transactions').selectAll().orderBy('started_us').execute();
    const oldParams = await conn.db.selectFrom('parameter_values').selectAll().orderBy('transaction_id').orderBy('position').execute();
    const maker = new RowMaker(null);
    const converted = old.map((t) => maker.fromLegacy(t, oldParams.filter((p) => p.transaction_id === t.id)));
    await conn.runInTransaction(await compactStatements(conn, new LogIds(), converted));
    await conn.destroy();
    // Gateway A's spool holds a batch the version before could not write.
    const spoolA = join(target.dir, 'spool-a');
    mkdirSync(spoolA, { recursive: true });
    writeFileSync(join(spoolA, SPOOL_FILE), `${JSON.stringify({ v: 1, rows: oldRows(spooledByOldVersion) })}\n`);
    const config = (spoolDir: string) => ({ url: target.url, spoolDir, batchRows: 10, batchMs: 10, retention: NO_RETENTION });
    // One after the other: SQLite has no migration lock between processes (MySQL has).
    a = await openStore(config(spoolA), { logger: recordingLogger(), gateway: 'bench-a' });
    b = await openStore(config(join(target.dir, 'spool-b')), { logger: recordingLogger(), gateway: 'bench-b' });
    // Both write at once, each a node 3 on a bus called main.
    for (let i = 0; i < 40; i++) {
      a.write(fromA[i]!);
      if (i < fromB.length) b.write(fromB[i]!);
    }
    await Promise.all([a.flush(), b.flush()]);
    // A writes its spool first, then what it was given meanwhile (it went behind the spool).
    await waitUntil(() => a.status().rowsWaiting === 0 && a.status().state === 'healthy', { timeoutMs: 10_000 });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await target?.cleanup();
  });

  it('keeps the rows from before the migration, recording no gateway for them', async () => {
    const all = await a.listTransactions({ limit: 1000 });
    expect(all.transactions).toHaveLength(before.length + spooledByOldVersion.length + fromA.length + fromB.length);
    const unnamed = all.transactions.filter((t) => t.gateway === undefined);
    expect(ids(unnamed)).toEqual(ids(before));
  });

  it("records each store's name with its rows; a spool of the version before is this gateway's", async () => {
    expect(a.status().gateway).toBe('bench-a');
    const ofA = await b.listTransactions({ gateway: { name: 'bench-a' }, limit: 1000 });
    expect(ids(ofA.transactions)).toEqual(ids([...fromA, ...spooledByOldVersion]));
    expect(new Set(ofA.transactions.map((t) => t.gateway))).toEqual(new Set(['bench-a']));
    const ofB = await a.listTransactions({ gateway: { name: 'bench-b' }, node: 3, bus: 'main', limit: 1000 });
    expect(ids(ofB.transactions)).toEqual(ids(fromB));
    const ownAndUnnamed = await a.listTransactions({ gateway: { name: 'bench-b', unnamed: true }, limit: 1000 });
    expect(ids(ownAndUnnamed.transactions)).toEqual(ids([...fromB, ...before]));
  });

  it('pages one gateway\'s rows with the cursor without showing the other\'s', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await a.listTransactions({ gateway: { name: 'bench-b' }, limit: 7, ...(cursor ? { cursor } : {}) });
      seen.push(...page.transactions.map(logKey));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    expect(seen.sort((x, y) => x - y)).toEqual(ids(fromB));
  });

  it('refuses a history that would mix two gateways, naming each; one gateway is one series', async () => {
    const q = { node: 3, dde: 205, sinceUs: since * 1000, untilUs: until * 1000 };
    await expect(a.parameterHistory(q)).rejects.toMatchObject({ code: 'GATEWAY_NODE_AMBIGUOUS', details: { candidates: ['bench-a/main:3', 'bench-b/main:3'] } });
    const raw = await a.parameterHistory({ ...q, gateway: { name: 'bench-b' } });
    expect(raw.points).toHaveLength(fromB.length);
    const own = await a.parameterHistory({ ...q, gateway: { name: 'bench-a', unnamed: true } });
    expect(own.points).toHaveLength(fromA.length + spooledByOldVersion.length + before.length);
    const buckets = await a.parameterHistory({ ...q, gateway: { name: 'bench-a' }, bucketUs: 3_600_000_000 * 24 });
    expect(buckets.kind === 'buckets' && buckets.points.reduce((n, p) => n + p.count, 0)).toBe(fromA.length + spooledByOldVersion.length);
  });

  it("answers in the API about this gateway's rows unless asked for another or all", async () => {
    const app = await buildApp({ service: new FakeService(), logger: false, version: '1', store: a, gateway: 'bench-a' });
    try {
      const health = await app.inject({ url: '/healthz' });
      expect(health.json()).toMatchObject({ gateway: 'bench-a' });
      const bus = await app.inject({ url: '/api/v1/bus' });
      expect(bus.json()).toMatchObject({ gateway: 'bench-a', store: { gateway: 'bench-a' } });
      type List = { transactions: { id: string; startedAt: number; gateway: string | null }[] };
      const bare = (await app.inject({ url: '/api/v1/transactions?limit=1000' })).json<List>();
      expect(ids(bare.transactions)).toEqual(ids([...fromA, ...spooledByOldVersion, ...before]));
      expect(bare.transactions.some((t) => t.gateway === 'bench-b')).toBe(false);
      const other = (await app.inject({ url: '/api/v1/transactions?limit=1000&gateway=bench-b' })).json<List>();
      expect(ids(other.transactions)).toEqual(ids(fromB));
      const all = (await app.inject({ url: '/api/v1/transactions?limit=1000&gateway=*' })).json<List>();
      expect(all.transactions).toHaveLength(75);
      const bad = await app.inject({ url: '/api/v1/transactions?gateway=a%20b' });
      expect(bad.statusCode).toBe(400);
      const csv = await app.inject({ url: '/api/v1/transactions?limit=1000&gateway=bench-b&format=csv' });
      const lines = csv.body.trim().split('\r\n');
      expect(lines[0]!.endsWith(',gateway')).toBe(true);
      expect(lines.slice(1).map((l) => l.slice(l.lastIndexOf(',') + 1))).toEqual(fromB.map(() => 'bench-b'));
      const history = (w: string) => app.inject({ url: `/api/v1/instruments/3/parameters/fMeasure/history?since=${since}&until=${until}${w}` });
      const ownHistory = await history('');
      expect(ownHistory.statusCode).toBe(200);
      expect(ownHistory.json<{ points: unknown[] }>().points).toHaveLength(fromA.length + spooledByOldVersion.length + before.length);
      expect((await history('&gateway=bench-b')).json<{ points: unknown[] }>().points).toHaveLength(fromB.length);
      const mixed = await history('&gateway=*');
      expect(mixed.statusCode).toBe(409);
      expect(mixed.json()).toMatchObject({ code: 'GATEWAY_NODE_AMBIGUOUS', details: { candidates: ['bench-a/main:3', 'bench-b/main:3'] } });
    } finally {
      await app.close();
    }
  });

  it('exports one gateway with flowbus export --gateway; without it, every gateway', async () => {
    const run = promisify(execFile);
    const cli = [process.execPath, '--import', 'tsx', 'src/cli.ts', 'export'];
    const exp = (...args: string[]) => run(cli[0]!, [...cli.slice(1), ...args, '--store', target.url]);
    const ofB = (await exp('transactions', '--gateway', 'bench-b')).stdout.trim().split('\r\n');
    expect(ofB).toHaveLength(fromB.length + 1);
    expect(ofB.slice(1).every((l) => l.endsWith(',bench-b'))).toBe(true);
    const all = (await exp('transactions')).stdout.trim().split('\r\n');
    expect(all).toHaveLength(75 + 1);
    const range = ['--since', String(since), '--until', String(until), '--format', 'json'];
    const hist = JSON.parse((await exp('history', '3', 'fMeasure', '--gateway', 'bench-b', ...range)).stdout) as { points: unknown[] };
    expect(hist.points).toHaveLength(fromB.length);
    const refused = await exp('history', '3', 'fMeasure', ...range).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/^error GATEWAY_NODE_AMBIGUOUS: node main:3 has history from several gateways; say which with gateway=: bench-a\/main:3, bench-b\/main:3\n$/);
    const bad = await exp('transactions', '--gateway', 'no good').then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(bad?.stderr).toMatch(/^error CLI_BAD_OPTION: --gateway "no good" is not a gateway name/);
  }, 60_000);
});
