/** The store on both dialects: schema, writing, idempotency, queries, spool replay, retention, API, CLI. */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/index.js';
import { migrateStore, openStore, SPOOL_FILE, type Store } from '../../src/store/index.js';
import { legacyToRows as toRows } from '../../src/store/legacy.js';
import { FakeService } from '../api/fake-service.js';
import { freshTarget, makeTx, MYSQL_URL, mysqlRuns, recordingLogger, type TestTarget, logKey } from './helpers.js';
import { waitUntil } from '../helpers/wait.js';

const DIALECTS: ('sqlite' | 'mysql')[] = ['sqlite', ...((await mysqlRuns()) ? (['mysql'] as const) : [])];

const NO_RETENTION = { transactionsDays: null, parameterValuesDays: null };

describe.each(DIALECTS)('store on %s', (dialect) => {
  let target: TestTarget;
  let store: Store;
  const log = recordingLogger();
  const txs = Array.from({ length: 250 }, (_, i) => makeTx({ node: i % 2 === 0 ? 3 : 5, outcome: i % 10 === 9 ? 'timeout' : 'ok' }, i));

  beforeAll(async () => {
    target = await freshTarget(dialect);
    store = await openStore({ url: target.url, spoolDir: join(target.dir, 'spool'), batchRows: 100, batchMs: 20, retention: NO_RETENTION }, { logger: log });
    for (const t of txs) store.write(t);
    await store.flush();
  });

  afterAll(async () => {
    await store?.close();
    await target?.cleanup();
  });

  it('migrates at open, and again is a no-op', async () => {
    expect(await migrateStore(target.url, log)).toEqual([]);
  });

  it('writes every transaction once, healthy, nothing waiting', async () => {
    const page = await store.listTransactions({ limit: 1000 });
    expect(page.transactions).toHaveLength(250);
    expect(page.nextCursor).toBeNull();
    expect(store.status()).toMatchObject({ state: 'healthy', rowsWaiting: 0, written: 250, spooledBatches: 0, dialect });
  });

  it('returns transactions newest first with their decoded parameters and bytes', async () => {
    const [newest] = (await store.listTransactions({ limit: 1 })).transactions;
    const last = txs[txs.length - 1]!;
    expect(logKey(newest!)).toBe(logKey(last));
    expect(newest?.id).toMatch(/^[0-9a-z]+\.[0-9a-z]+\.[0-9a-z]+$/);
    expect(newest?.startedAt).toBeCloseTo(last.startedAt, 3);
    expect(newest?.latencyMs).toBeCloseTo(0.75, 3);
    expect(Buffer.from(newest!.requestBytes!).toString('hex')).toBe(Buffer.from(last.requestBytes!).toString('hex'));
    expect(newest?.params.map((p) => [p.key, p.value])).toEqual([
      ['fMeasure', last.params[0]!.value],
      ['setpoint', 16000],
      ['measure', 32000],
      ['fluidName', "N2 'dry'"],
    ]);
    expect(newest?.params[0]).toMatchObject({ dde: 205, name: 'Fmeasure', valueType: 'float' });
  });

  it('pages with a keyset cursor through every row exactly once', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listTransactions({ limit: 33, ...(cursor ? { cursor } : {}) });
      seen.push(...page.transactions.map(logKey));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(txs.map(logKey).reverse());
  });

  it('filters by node, outcome, parameter and time', async () => {
    const node5 = await store.listTransactions({ node: 5, limit: 1000 });
    expect(node5.transactions).toHaveLength(125);
    const timeouts = await store.listTransactions({ outcome: 'timeout', limit: 1000 });
    expect(timeouts.transactions).toHaveLength(25);
    expect((await store.listTransactions({ dde: 25, limit: 1000 })).transactions).toHaveLength(250);
    expect((await store.listTransactions({ dde: 206, limit: 1000 })).transactions).toHaveLength(0);
    const from = Math.round(txs[100]!.startedAt * 1000);
    const to = Math.round(txs[110]!.startedAt * 1000);
    const window = await store.listTransactions({ sinceUs: from, untilUs: to, limit: 1000 });
    expect(window.transactions.map(logKey)).toEqual(txs.slice(100, 110).map(logKey).reverse());
  });

  it('gives the raw history of a parameter and min/mean/max per bucket', async () => {
    const sinceUs = Math.round(txs[0]!.startedAt * 1000);
    const untilUs = Math.round(txs[249]!.endedAt * 1000) + 1;
    const raw = await store.parameterHistory({ node: 3, dde: 205, sinceUs, untilUs });
    expect(raw.kind).toBe('raw');
    expect(raw.points).toHaveLength(125);
    expect(raw.points[0]).toEqual({ timeUs: Math.round(txs[0]!.endedAt * 1000), value: 10 });
    const text = await store.parameterHistory({ node: 3, dde: 25, sinceUs, untilUs, limit: 2 });
    expect(text.points.map((p) => (p as { value: unknown }).value)).toEqual(["N2 'dry'", "N2 'dry'"]);
    const all = await store.parameterHistory({ node: 3, dde: 205, sinceUs, untilUs, bucketUs: 3_600_000_000_000 });
    expect(all.kind).toBe('buckets');
    const values = txs.filter((t) => t.node === 3).map((t) => t.params[0]!.value as number);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(all.points).toHaveLength(1);
    expect(all.points[0]).toMatchObject({ count: 125, min: Math.min(...values), max: Math.max(...values) });
    expect((all.points[0] as { mean: number }).mean).toBeCloseTo(mean, 6);
    const fine = await store.parameterHistory({ node: 3, dde: 205, sinceUs, untilUs, bucketUs: 50_000 });
    expect(fine.points.reduce((n, p) => n + (p as { count: number }).count, 0)).toBe(125);
    for (const p of fine.points) expect(p.timeUs % 50_000).toBe(0);
  });

  it('keeps awkward text and every byte value exactly (tabs, newlines, backslashes, quotes, non-ASCII)', async () => {
    const error = "tab\there\nnew line\\back\\slash 'quote' \"dq\" \\N not null; µs, Ω, 流量 \r end";
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const t = makeTx({ node: 12, error, requestBytes: all, replyBytes: new Uint8Array(0) });
    store.write(t);
    await store.flush();
    const page = await store.listTransactions({ node: 12, limit: 10 });
    const back = page.transactions[0];
    expect(back?.error).toBe(error);
    expect(Buffer.from(back!.requestBytes!).equals(Buffer.from(all))).toBe(true);
    expect(back?.params.find((p) => p.key === 'fluidName')?.value).toBe("N2 'dry'");
  });

  it('refuses a history by node alone that would mix two buses, and gives each with bus:node', async () => {
    // Node 31 on two buses: two gas lines, or a live bus and a replayed capture.
    const a = Array.from({ length: 6 }, (_, i) => makeTx({ node: 31, bus: 'lineA' }, i));
    const b = Array.from({ length: 4 }, (_, i) => makeTx({ node: 31, bus: 'lineB' }, 50 + i));
    for (const t of [...a, ...b]) store.write(t);
    await store.flush();
    const range = { node: 31, dde: 205, sinceUs: Math.round(a[0]!.startedAt * 1000), untilUs: Math.round(b[3]!.endedAt * 1000) + 1 };
    for (const bucket of [{}, { bucketUs: 3_600_000_000 }]) {
      await expect(store.parameterHistory({ ...range, ...bucket })).rejects.toMatchObject({
        code: 'GATEWAY_NODE_AMBIGUOUS',
        details: { candidates: ['lineA:31', 'lineB:31'] },
      });
    }
    expect((await store.parameterHistory({ ...range, bus: 'lineA' })).points).toHaveLength(6);
    expect((await store.parameterHistory({ ...range, bus: 'lineB', bucketUs: 3_600_000_000 })).points).toMatchObject([{ count: 4 }]);
    expect((await store.listTransactions({ node: 31, bus: 'lineB', limit: 100 })).transactions).toHaveLength(4);
    // The same through the API: 409 by node alone, one series with bus:node; /transactions takes bus:node too.
    const app = await buildApp({ service: new FakeService(), logger: false, version: '1', store });
    try {
      const since = `since=${Math.floor(range.sinceUs / 1000)}&until=${Math.ceil(range.untilUs / 1000)}`;
      const mixed = await app.inject({ url: `/api/v1/instruments/31/parameters/fMeasure/history?${since}` });
      expect(mixed.statusCode).toBe(409);
      expect(mixed.json<{ code: string }>().code).toBe('GATEWAY_NODE_AMBIGUOUS');
      const one = await app.inject({ url: `/api/v1/instruments/lineA:31/parameters/fMeasure/history?${since}` });
      expect(one.json<{ points: unknown[] }>().points).toHaveLength(6);
      const badBucket = await app.inject({ url: `/api/v1/instruments/lineA:31/parameters/fMeasure/history?${since}&bucket=7x` });
      expect(badBucket.statusCode).toBe(400);
      expect(badBucket.json<{ code: string; message: string }>()).toMatchObject({ code: 'STORE_BAD_BUCKET', message: expect.stringMatching(/not a width like 100ms, 1s/) });
      const txs = await app.inject({ url: '/api/v1/transactions?node=lineB:31' });
      expect(txs.json<{ transactions: { bus: string }[] }>().transactions.map((t) => t.bus)).toEqual(['lineB', 'lineB', 'lineB', 'lineB']);
    } finally {
      await app.close();
    }
  });

  it('does not duplicate a transaction written twice', async () => {
    const t = makeTx({ node: 9 });
    store.write(t);
    store.write(t);
    await store.flush();
    store.write(t);
    await store.flush();
    const page = await store.listTransactions({ node: 9, limit: 10 });
    expect(page.transactions).toHaveLength(1);
    expect(page.transactions[0]?.params).toHaveLength(4);
  });

  it('serves the API from the store: /transactions with cursor and CSV, history, /bus', async () => {
    const app = await buildApp({ service: new FakeService(), logger: false, version: '1', store });
    try {
      const first = await app.inject({ url: '/api/v1/transactions?node=3&limit=2' });
      expect(first.statusCode).toBe(200);
      const body = first.json<{ transactions: { id: string; params: unknown[] }[]; nextCursor: string }>();
      expect(body.transactions).toHaveLength(2);
      expect(body.transactions[0]?.params).toHaveLength(4);
      const second = await app.inject({ url: `/api/v1/transactions?node=3&limit=2&cursor=${body.nextCursor}` });
      expect(second.json<{ transactions: { id: string }[] }>().transactions[0]?.id).not.toBe(body.transactions[0]?.id);
      const csv = await app.inject({ url: '/api/v1/transactions?param=fluidName&limit=3', headers: { accept: 'text/csv' } });
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      const lines = csv.body.trim().split('\r\n');
      expect(lines[0]).toMatch(/^id,time,started_us/);
      expect(lines).toHaveLength(4);
      const bad = await app.inject({ url: '/api/v1/transactions?cursor=nonsense' });
      expect(bad.json()).toMatchObject({ code: 'STORE_BAD_CURSOR' });
      expect(bad.statusCode).toBe(400);
      const since = encodeURIComponent(new Date(txs[0]!.startedAt - 1).toISOString());
      const hist = await app.inject({ url: `/api/v1/instruments/3/parameters/fMeasure/history?since=${since}&bucket=1h` });
      expect(hist.statusCode).toBe(200);
      // The 'capacity' placeholder of the database is the instrument's own unit (the fake says ln/min).
      expect(hist.json()).toMatchObject({ param: { dde: 205, key: 'fMeasure', unit: 'ln/min' }, bucket: '1h' });
      const histCsv = await app.inject({ url: `/api/v1/instruments/main:3/parameters/205/history?since=${since}&format=csv` });
      expect(histCsv.body.split('\r\n')[0]).toBe('time,time_us,value');
      expect(histCsv.body.trim().split('\r\n')).toHaveLength(126);
      const badBucket = await app.inject({ url: `/api/v1/instruments/3/parameters/fMeasure/history?bucket=7x` });
      expect(badBucket.statusCode).toBe(400);
      const bus = await app.inject({ url: '/api/v1/bus' });
      expect(bus.json<{ store: { state: string } }>().store).toMatchObject({ state: 'healthy', dialect });
    } finally {
      await app.close();
    }
  });

  it('writes a spool left by an earlier run, reporting and skipping a truncated last line', async () => {
    const spoolDir = join(target.dir, 'old-spool');
    mkdirSync(spoolDir, { recursive: true });
    // Two good batches as the store writes them, then a line cut short by a crash.
    const a = [makeTx({ node: 11 }), makeTx({ node: 11 })];
    const b = [makeTx({ node: 11 })];
    const line = (ts: typeof a) => JSON.stringify({ v: 1, rows: ts.map((t) => toRows(t)) });
    writeFileSync(join(spoolDir, SPOOL_FILE), `${line(a)}\n${line(b)}\n${line([makeTx({ node: 11 })]).slice(0, 60)}`);
    const lines = recordingLogger();
    const other = await openStore({ url: target.url, spoolDir, batchRows: 100, batchMs: 20, retention: NO_RETENTION }, { logger: lines });
    try {
      await waitUntil(() => other.status().state === 'healthy' && other.status().rowsWaiting === 0, { timeoutMs: 10_000 });
      const page = await other.listTransactions({ node: 11, limit: 10 });
      expect(page.transactions.map(logKey)).toEqual([...a, ...b].map(logKey).reverse());
      expect(other.status().badSpoolLines).toBe(1);
      expect(lines.lines.some((l) => l.level === 'error' && /does not parse/.test(l.msg))).toBe(true);
      expect(readFileSync(join(spoolDir, SPOOL_FILE), 'utf8')).toBe('');
    } finally {
      await other.close();
    }
  });

  it('deletes rows older than the retention ages, in batches', async () => {
    const dir = join(target.dir, 'retention');
    const kept = makeTx({ node: 12 });
    const old = await openStore(
      { url: target.url, spoolDir: dir, batchRows: 100, batchMs: 20, retention: { transactionsDays: 30, parameterValuesDays: 7 } },
      { logger: recordingLogger(), options: { retentionBatchRows: 100 } },
    );
    try {
      old.write(kept);
      await old.flush();
      // Everything written so far is "old" ten days from now for parameter values, not for transactions.
      const tenDays = await old.runRetention(Date.now() + 10 * 86_400_000);
      expect(tenDays.transactions).toBe(0);
      expect(tenDays.parameterValues).toBeGreaterThanOrEqual(252 * 4);
      const later = await old.runRetention(Date.now() + 40 * 86_400_000);
      expect(later.transactions).toBeGreaterThanOrEqual(252);
      expect((await old.listTransactions({ limit: 10 })).transactions).toHaveLength(0);
      expect(old.status().retention.transactionsDeleted).toBe(later.transactions);
    } finally {
      await old.close();
    }
  });

  it('a bare node is one behaviour in the API and the CLI: fine on one bus, 409 naming bus:node when the log has it on several', async () => {
    // Node 3 is the gateway's own on bus main (the fake service knows it); a replayed capture adds a node 3 too.
    const live = Array.from({ length: 3 }, (_, i) => makeTx({ bus: 'main' }, i));
    const replayed = Array.from({ length: 2 }, (_, i) => makeTx({ bus: 'replay' }, 70 + i));
    for (const t of [...live, ...replayed]) store.write(t);
    await store.flush();
    const sinceMs = Math.floor(live[0]!.endedAt);
    const untilMs = Math.ceil(replayed[1]!.endedAt) + 1;
    const onlyLive = Math.floor(replayed[0]!.endedAt);
    const app = await buildApp({ service: new FakeService(), logger: false, version: '1', store });
    try {
      const mixed = await app.inject({ url: `/api/v1/instruments/3/parameters/fMeasure/history?since=${sinceMs}&until=${untilMs}` });
      expect(mixed.statusCode).toBe(409);
      expect(mixed.json()).toMatchObject({ code: 'GATEWAY_NODE_AMBIGUOUS', details: { candidates: ['main:3', 'replay:3'] } });
      const one = await app.inject({ url: `/api/v1/instruments/3/parameters/fMeasure/history?since=${sinceMs}&until=${onlyLive}` });
      expect(one.statusCode).toBe(200);
      expect(one.json<{ points: unknown[] }>().points).toHaveLength(3);
    } finally {
      await app.close();
    }
    const run = promisify(execFile);
    const cli = ['--import', 'tsx', 'src/cli.ts', 'export', 'history', '--store', target.url, '--format', 'json'];
    const refused = await run(process.execPath, [...cli, '3', 'fMeasure', '--since', String(sinceMs), '--until', String(untilMs)]).then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/^error GATEWAY_NODE_AMBIGUOUS: node 3 has history on several buses; say which: main:3, replay:3\n$/);
    const fine = await run(process.execPath, [...cli, '3', 'fMeasure', '--since', String(sinceMs), '--until', String(onlyLive)]);
    expect((JSON.parse(fine.stdout) as { points: unknown[] }).points).toHaveLength(3);
  }, 60_000);
});

describe('flowbus db migrate and flowbus export', () => {
  it('migrates a SQLite file and exports transactions and history as CSV', async () => {
    const target = await freshTarget('sqlite');
    try {
      const run = promisify(execFile);
      const cli = ['--import', 'tsx', 'src/cli.ts'];
      const migrated = await run(process.execPath, [...cli, 'db', 'migrate', '--store', target.url]);
      expect(migrated.stdout).toMatch(/applied 0001_transaction_log/);
      const store = await openStore({ url: target.url, spoolDir: join(target.dir, 'spool'), batchRows: 10, batchMs: 10, retention: NO_RETENTION }, { logger: recordingLogger() });
      const ts = Array.from({ length: 5 }, (_, i) => makeTx({}, i));
      for (const t of ts) store.write(t);
      await store.close();
      const csv = await run(process.execPath, [...cli, 'export', 'transactions', '--store', target.url, '--node', '3']);
      const rows = csv.stdout.trim().split('\r\n');
      expect(rows).toHaveLength(6);
      expect(rows[1]).toContain(`,${logKey(ts[4]!)},`);
      expect(rows[1]).toContain('fMeasure=14');
      const since = String(Math.floor(ts[0]!.startedAt) - 1);
      const hist = await run(process.execPath, [...cli, 'export', 'history', '3', 'fMeasure', '--store', target.url, '--since', since, '--bucket', '1h', '--format', 'json']);
      expect(JSON.parse(hist.stdout)).toMatchObject({ kind: 'buckets', points: [{ count: 5, min: 10, max: 14 }] });
      // A log that is not there is an error that says where it looked, and no empty log is left behind.
      const missing = join(target.dir, 'elsewhere', 'flowbus.db');
      const failed = await run(process.execPath, [...cli, 'export', 'transactions', '--store', `sqlite:${missing}`]).then(
        () => undefined,
        (e: { code?: number; stderr?: string }) => e,
      );
      expect(failed?.code).toBe(2);
      expect(failed?.stderr).toContain(`error STORE_NOT_FOUND: no transaction log at ${missing}`);
      expect(existsSync(missing)).toBe(false);
    } finally {
      await target.cleanup();
    }
  }, 90_000); // four CLI runs through tsx: 10 s on a quiet machine, past 30 s on a loaded one
});

describe.skipIf(!(await mysqlRuns()))('a MySQL store that is misconfigured says what to do', () => {
  const server = new URL(MYSQL_URL);
  const missing = `flowbus_missing_${process.pid}`;
  const at = (user: string, database: string) => {
    const u = new URL(server.toString());
    u.username = user;
    u.pathname = `/${database}`;
    return u;
  };
  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args]).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
    );

  it('db migrate on a database that does not exist: STORE_NO_DATABASE with the CREATE DATABASE to run', async () => {
    const r = await cli('db', 'migrate', '--store', at(decodeURIComponent(server.username) || 'root', missing).toString());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^error STORE_NO_DATABASE: the database ${missing} does not exist on .*: create it with CREATE DATABASE \`${missing}\``));
  }, 60_000);

  it('export with a wrong password: STORE_AUTH, the password never shown', async () => {
    const u = at(decodeURIComponent(server.username) || 'root', 'test');
    u.password = 'Wr0ng-pa55word';
    const r = await cli('export', 'transactions', '--store', u.toString());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error STORE_AUTH: access denied for user \S+ on .*FLOWBUS_STORE_URL/);
    expect(r.stderr + r.stdout).not.toContain('Wr0ng-pa55word');
  }, 60_000);

  it('the gateway starting on a database that does not exist spools and says the same in its log and status', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowbus-nodb-'));
    const log = recordingLogger();
    const store = await openStore(
      { url: at(decodeURIComponent(server.username) || 'root', missing).toString(), spoolDir: join(dir, 'spool'), batchRows: 10, batchMs: 20, retention: NO_RETENTION },
      { logger: log },
    );
    try {
      expect(store.status().state).toBe('spooling');
      expect(store.status().lastError).toMatch(/^STORE_NO_DATABASE: .*CREATE DATABASE/);
      expect(log.lines.some((l) => l.level === 'warn' && /CREATE DATABASE/.test(l.msg))).toBe(true);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
