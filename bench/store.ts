/**
 * Transaction log throughput and freshness, side by side in one run:
 *   npx tsx bench/store.ts [transactions]        (default 200,000; MariaDB from FLOWBUS_TEST_MYSQL_URL)
 *
 * 0. the log before migration 0003 against the compact log written with INSERT (the writer before
 *    LOAD DATA) and with LOAD DATA LOCAL INFILE, through the same bare writer loop (batches of
 *    2,000 transactions, two in flight on two connections, as the store does under load), with
 *    MariaDB's CPU per transaction (utime + stime of the mariadbd process, when the server runs on
 *    this machine) and this process's;
 * 1. the store into MySQL with INSERT statements (`loadData: false`, the writer before) and with
 *    its default (LOAD DATA), one after the other, three times (the median run of each is shown), 4 parameter values each;
 *    1b. the default with one writer connection (`writers: 1`), to show what the second one adds;
 * 2. one INSERT per row (a transaction row and its 4 parameter rows, autocommit) on the same server;
 * 3. the batched writer into SQLite;
 * 4. time from a transaction's end to its row being visible to a query, p50 and p99, at a steady 2,000 tx/s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { createPool } from 'mysql2/promise';
import { compactStatements, LogIds } from '../src/store/compact.js';
import { connect, insertStatements, type Connection, type Statement } from '../src/store/db.js';
import { legacyToRows, PV_COLUMNS, TX_COLUMNS } from '../src/store/legacy.js';
import { RowMaker } from '../src/store/rows.js';
import { parseStoreUrl } from '../src/store/url.js';
import { newId, silentLogger } from '../src/shared/index.js';
import type { LoggedTransaction } from '../src/gateway/index.js';
import { migrateStore, openStore, type Store, type StoreOptions } from '../src/store/index.js';
import { freshMysqlDb, serverCpuMs, storeTx } from './store-common.js';

const N = Number(process.argv[2] ?? 200_000);
const BASE = process.env.FLOWBUS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-store-'));
const retention = { transactionsDays: null, parameterValuesDays: null };

const freshDb = () => freshMysqlDb(BASE);

/**
 * Sustained rate: a producer hands transactions over as fast as the writer takes them, keeping
 * at most QUEUE_CAP waiting (as a running gateway does: its queue holds one batchMs worth), then
 * flushes. Without the cap the producer would pile 200,000 transactions into memory and the
 * figure would measure the garbage collector promoting them, not the writer.
 */
const QUEUE_CAP = 10_000;

/** A run's rate with the CPU it cost: the server's (ms per 1,000 transactions) and this process's (µs per transaction). */
interface Rate {
  readonly tps: number;
  readonly cpu: number | undefined;
  readonly client: number;
}

async function batched(store: Store, n: number): Promise<Rate> {
  const cpu0 = serverCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    store.write(storeTx(i));
    if (i % 500 === 499) {
      await new Promise((r) => setImmediate(r));
      while (store.status().rowsWaiting > QUEUE_CAP) await new Promise((r) => setTimeout(r, 1));
    }
  }
  await store.flush();
  while (store.status().rowsWaiting > 0) await new Promise((r) => setTimeout(r, 5));
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu1 = serverCpuMs();
  if (store.status().spooled > 0) console.error(`note: ${store.status().spooled} transactions went through the spool of the ${store.dialect} store (${store.status().lastError ?? "no error"})`);
  return { tps: n / s, cpu: cpu0 === undefined || cpu1 === undefined ? undefined : ((cpu1 - cpu0) / n) * 1000, client: (c.user + c.system) / n };
}

async function perRow(url: string, n: number): Promise<number> {
  const u = new URL(url);
  const pool = createPool({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1), connectionLimit: 1 });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const t = storeTx(i);
    const us = Math.round(t.startedAt * 1000);
    await pool.query(
      'INSERT INTO transactions (id,bus,mode,node,seq,command,command_name,purpose,outcome,status,error_code,request,reply,started_us,ended_us,latency_us,attempts,error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
      [t.id, t.bus, t.mode, t.node, t.seq, t.command, t.commandName, t.purpose, t.outcome, null, null, Buffer.from(t.requestBytes!), Buffer.from(t.replyBytes!), us, us + 3000, 3000, 1, null],
    );
    for (let p = 0; p < t.params.length; p++) {
      const q = t.params[p]!;
      await pool.query('INSERT INTO parameter_values (transaction_id,position,bus,node,dde,address,value_num,value_text,raw,time_us) VALUES (?,?,?,?,?,?,?,?,?,?)', [
        t.id, p, t.bus, t.node, q.dde, q.process * 65536 + q.fbnr * 256 + q.wireType, q.value, null, Buffer.from(q.raw!, 'hex'), us + 3000,
      ]);
    }
  }
  const s = (performance.now() - t0) / 1000;
  await pool.end();
  return n / s;
}

/** End of transaction -> visible to a SELECT, at a steady rate with the default batching (batchMs 250). */
async function freshness(store: Store, rate: number, seconds: number): Promise<{ p50: number; p99: number; n: number }> {
  const db = (store as unknown as { conn: { db: Kysely<{ log_transactions: { started_us: number } }> } }).conn.db;
  const waiting = new Map<number, number>();
  const delays: number[] = [];
  let stop = false;
  const poller = (async () => {
    while (!stop || waiting.size > 0) {
      const ids = [...waiting.keys()];
      if (ids.length > 0) {
        const rows = await db.selectFrom('log_transactions').select('started_us').where('started_us', 'in', ids).execute();
        const now = performance.timeOrigin + performance.now();
        for (const r of rows) {
          const key = Number(r.started_us);
          if (!waiting.has(key)) continue;
          delays.push(now - (waiting.get(key) as number));
          waiting.delete(key);
        }
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const tickMs = 10;
  const perTick = Math.round((rate * tickMs) / 1000);
  let i = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    for (let k = 0; k < perTick; k++) {
      const t = storeTx(i++);
      store.write(t);
      if (k === 0) waiting.set(Math.round(t.startedAt * 1000), t.endedAt); // one sample per tick
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  stop = true;
  await store.flush();
  await poller;
  delays.sort((a, b) => a - b);
  const q = (f: number) => delays[Math.min(delays.length - 1, Math.floor(f * delays.length))] as number;
  return { p50: q(0.5), p99: q(0.99), n: delays.length };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const cpu = (x: number | undefined) => (x === undefined ? 'n/a' : `${x.toFixed(1)} ms`);
const rows: string[] = [];


/**
 * The bare writer loop: `n` transactions in batches of 2,000, two batches in flight on two
 * connections, each in one database transaction, as the store runs under load. Returns tx/s
 * and the server's CPU ms per 1,000 transactions.
 */
async function pump(conn: Connection, n: number, statements: (rows: number[]) => Promise<Statement[]>): Promise<Rate> {
  const BATCH = 2_000;
  const cpu0 = serverCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const idx = Array.from({ length: Math.min(BATCH, n - i) }, (_, j) => i + j);
    const sqlText = await statements(idx);
    inFlight.push(conn.runInTransaction(sqlText));
    if (inFlight.length >= 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu1 = serverCpuMs();
  return { tps: n / s, cpu: cpu0 === undefined || cpu1 === undefined ? undefined : ((cpu1 - cpu0) / n) * 1000, client: (c.user + c.system) / n };
}

async function oldVsNew(n: number): Promise<string[]> {
  const out: string[] = [];
  const oldDb = await freshDb();
  const newDb = await freshDb();
  await migrateStore(newDb.url, silentLogger);
  const oldConn = connect(parseStoreUrl(oldDb.url), { connectTimeoutMs: 5000, poolSize: 2 });
  const newConn = connect(parseStoreUrl(newDb.url), { connectTimeoutMs: 5000, poolSize: 2, loadData: false });
  const loadDb = await freshDb();
  await migrateStore(loadDb.url, silentLogger);
  const loadConn = connect(parseStoreUrl(loadDb.url), { connectTimeoutMs: 5000, poolSize: 2 });
  const { migrate } = await import('../src/store/migrations.js');
  await migrate(oldConn.db as never, 'mysql', silentLogger, '0002_gateway');
  const txs = Array.from({ length: 2_000 }, (_, i) => storeTx(i));
  const at = (i: number) => {
    // Fresh times and ids for every transaction, made up front per batch from a pool of 2,000.
    const t = txs[i % 2_000] as LoggedTransaction;
    const shift = Math.floor(i / 2_000) * 10_000;
    return { ...t, id: newId(), startedAt: t.startedAt + shift, endedAt: t.endedAt + shift };
  };
  const oldStatements = async (idx: number[]) => {
    const r = idx.map((i) => legacyToRows(at(i), 'bench'));
    return [...insertStatements('mysql', 'transactions', TX_COLUMNS, r.map((x) => x.tx)), ...insertStatements('mysql', 'parameter_values', PV_COLUMNS, r.flatMap((x) => x.pv))];
  };
  const maker = new RowMaker('bench');
  const ids = new LogIds();
  const newStatements = (idx: number[]) => compactStatements(newConn, ids, idx.map((i) => maker.toRows(at(i))));
  const loadMaker = new RowMaker('bench');
  const loadIds = new LogIds();
  const loadStatements = (idx: number[]) => compactStatements(loadConn, loadIds, idx.map((i) => loadMaker.toRows(at(i))));
  await pump(oldConn, 10_000, oldStatements); // warm-up
  await pump(newConn, 10_000, newStatements);
  await pump(loadConn, 10_000, loadStatements);
  const o = await pump(oldConn, n, oldStatements);
  const w = await pump(newConn, n, newStatements);
  const l = await pump(loadConn, n, loadStatements);
  if (!loadConn.loadData) console.error('note: the server refused LOAD DATA LOCAL INFILE (local_infile=OFF): the last row went through INSERT');
  out.push(`| before 0003, INSERT (text UUIDs, 2 tables, 5 secondary indexes) | ${fmt(o.tps)} | ${cpu(o.cpu)} | ${o.client.toFixed(1)} µs | 1 |`);
  out.push(`| compact log, INSERT (as before LOAD DATA, with its cheaper row making) | ${fmt(w.tps)} | ${cpu(w.cpu)} | ${w.client.toFixed(1)} µs | ${(w.tps / o.tps).toFixed(2)} x |`);
  out.push(`| compact log, LOAD DATA LOCAL INFILE | ${fmt(l.tps)} | ${cpu(l.cpu)} | ${l.client.toFixed(1)} µs | **${(l.tps / o.tps).toFixed(2)} x** (${(l.tps / w.tps).toFixed(2)} x INSERT) |`);
  await oldConn.destroy();
  await newConn.destroy();
  await loadConn.destroy();
  await oldDb.drop();
  await newDb.drop();
  await loadDb.drop();
  return out;
}

const compare = await oldVsNew(N);

const mysqlBatched = await freshDb();
await migrateStore(mysqlBatched.url, silentLogger);
// Memory large enough that the run measures the database, not the spool.
const big = { maxRowsInMemory: 1_000_000, ...(process.env.BENCH_MAX_BATCH ? { maxBatchRows: Number(process.env.BENCH_MAX_BATCH) } : {}) };
const storeRun = async (url: string, spool: string, options: StoreOptions): Promise<Rate> => {
  const s = await openStore({ url, spoolDir: join(dir, spool), batchRows: 500, batchMs: 250, retention }, { logger: silentLogger, options: { ...big, ...options } });
  await batched(s, 5_000); // warm-up
  const r = await batched(s, N);
  await s.close();
  return r;
};
// INSERT statements and the default (LOAD DATA) one after the other, three times: the machine's load moves more between runs than the two differ.
const mysqlInsertDb = await freshDb();
await migrateStore(mysqlInsertDb.url, silentLogger);
const insertRuns: Rate[] = [];
const loadRuns: Rate[] = [];
for (let round = 0; round < 3; round++) {
  insertRuns.push(await storeRun(mysqlInsertDb.url, `si${round}`, { loadData: false }));
  loadRuns.push(await storeRun(mysqlBatched.url, `sl${round}`, {}));
}
/** The run of median rate (its CPU figures with it). */
const medianOf = (runs: Rate[]) => [...runs].sort((a, b) => a.tps - b.tps)[Math.floor(runs.length / 2)] as Rate;
const mysqlInsert = medianOf(insertRuns);
const mysqlLoad = medianOf(loadRuns);

const mysqlOne = await freshDb();
await migrateStore(mysqlOne.url, silentLogger);
const mysqlOneRate = await storeRun(mysqlOne.url, 's1b', { writers: 1 });

const mysqlRow = await freshDb();
await migrateStore(mysqlRow.url, silentLogger);
const rowTps = await perRow(mysqlRow.url, Math.max(1000, Math.round(N / 50)));

let store = await openStore({ url: `sqlite:${join(dir, 'bench.db')}`, spoolDir: join(dir, 's2'), batchRows: 500, batchMs: 250, retention }, { logger: silentLogger, options: big });
await batched(store, 5_000);
const sqliteTps = (await batched(store, N)).tps;
await store.close();

store = await openStore({ url: mysqlBatched.url, spoolDir: join(dir, 's3'), batchRows: 500, batchMs: 250, retention }, { logger: silentLogger });
const fresh = await freshness(store, 2000, 10);
await store.close();

store = await openStore({ url: `sqlite:${join(dir, 'bench.db')}`, spoolDir: join(dir, 's4'), batchRows: 500, batchMs: 250, retention }, { logger: silentLogger });
const freshSqlite = await freshness(store, 2000, 10);
await store.close();

const runsOf = (runs: Rate[]) => runs.map((r) => fmt(r.tps)).join(', ');
rows.push(`| MySQL (MariaDB), the default: LOAD DATA, two writer connections | ${fmt(mysqlLoad.tps)} (runs ${runsOf(loadRuns)}) | ${fmt(mysqlLoad.tps * 4)} | ${cpu(mysqlLoad.cpu)} | ${mysqlLoad.client.toFixed(1)} µs | **${(mysqlLoad.tps / mysqlInsert.tps).toFixed(2)} x** INSERT |`);
rows.push(`| MySQL (MariaDB), INSERT statements (\`loadData: false\`), two writer connections | ${fmt(mysqlInsert.tps)} (runs ${runsOf(insertRuns)}) | ${fmt(mysqlInsert.tps * 4)} | ${cpu(mysqlInsert.cpu)} | ${mysqlInsert.client.toFixed(1)} µs | 1 |`);
rows.push(`| MySQL (MariaDB), LOAD DATA, one writer connection (\`writers: 1\`) | ${fmt(mysqlOneRate.tps)} | ${fmt(mysqlOneRate.tps * 4)} | ${cpu(mysqlOneRate.cpu)} | ${mysqlOneRate.client.toFixed(1)} µs | ${(mysqlOneRate.tps / mysqlInsert.tps).toFixed(2)} x |`);
rows.push(`| MySQL (MariaDB), one INSERT per row, autocommit | ${fmt(rowTps)} | ${fmt(rowTps * 4)} | | | ${(rowTps / mysqlInsert.tps).toFixed(3)} x |`);
rows.push(`| SQLite (WAL, synchronous=FULL), batched writer | ${fmt(sqliteTps)} | ${fmt(sqliteTps * 4)} | | | |`);
console.log(`\n${N.toLocaleString('en-US')} transactions with 4 parameter values each, the same bare writer loop (batches of 2,000, two in flight), MariaDB's CPU per 1,000 transactions (node ${process.version}):\n`);
console.log('| schema, writer | transactions/s | server CPU / 1,000 tx | this process, CPU / tx | ratio |\n|---|---:|---:|---:|---:|');
console.log(compare.join('\n'));
console.log(`\n${N.toLocaleString('en-US')} transactions with 4 parameter values each, through the store (the compact log) (node ${process.version}):\n`);
console.log('| path | transactions/s (median of 3) | parameter rows/s | server CPU / 1,000 tx | this process, CPU / tx | ratio |\n|---|---:|---:|---:|---:|---:|');
console.log(rows.join('\n'));
console.log(`\nEnd of transaction -> row visible to a query, 2,000 tx/s steady, batchMs 250, batchRows 500:\n`);
console.log('| database | p50 ms | p99 ms | samples |\n|---|---:|---:|---:|');
console.log(`| MySQL (MariaDB) | ${fresh.p50.toFixed(1)} | ${fresh.p99.toFixed(1)} | ${fresh.n} |`);
console.log(`| SQLite | ${freshSqlite.p50.toFixed(1)} | ${freshSqlite.p99.toFixed(1)} | ${freshSqlite.n} |`);

await mysqlBatched.drop();
await mysqlInsertDb.drop();
await mysqlOne.drop();
await mysqlRow.drop();
rmSync(dir, { recursive: true, force: true });
