/**
 * Bytes per transaction and history query times, the log before migration 0003 against the
 * compact log, side by side in one run, in SQLite and in MySQL (MariaDB):
 *   npx tsx bench/store-size.ts [transactions]     (default 200,000; MariaDB from FLOWBUS_TEST_MYSQL_URL)
 *
 * The workload (bench/store-workload.ts): three instruments polled for the default poll's six
 * parameters, a write every 100 transactions, a timeout every 250, spread over 24 hours. Both
 * schemas get the same transactions in batches of 500: the old one through the old row maker and
 * columns (legacy.ts), the new one through RowMaker and compactStatements, as the store writes.
 * SQLite: file size after a checkpoint, and per table and index from dbstat. MySQL: InnoDB
 * data_length + index_length after ANALYZE TABLE, and per index from mysql.innodb_index_stats.
 * History: the API's default query (this gateway's rows and those of no gateway), raw points and
 * 1-minute buckets, over 1 h and over 24 h, each the median of 5 runs.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { createConnection } from 'mysql2/promise';
import { silentLogger } from '../src/shared/index.js';
import { compactStatements, LogIds } from '../src/store/compact.js';
import { connect, insertStatements, type Connection, type DB } from '../src/store/db.js';
import { legacyToRows, PV_COLUMNS, TX_COLUMNS } from '../src/store/legacy.js';
import { migrate } from '../src/store/migrations.js';
import { parameterHistory } from '../src/store/query.js';
import { RowMaker } from '../src/store/rows.js';
import { parseStoreUrl } from '../src/store/url.js';
import { workloadTx } from './store-workload.js';

const N = Number(process.argv[2] ?? 200_000);
const BASE = process.env.FLOWBUS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const GATEWAY = 'bench';
const DAY_US = 86_400_000_000;
const t0Ms = Date.UTC(2026, 0, 1);
const stepMs = (DAY_US / 1000) / N;
const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-size-'));

function txAt(i: number) {
  // The workload's transaction, moved onto this run's time line (24 h for N transactions).
  const t = workloadTx(i, 0);
  const shift = t0Ms + i * stepMs - t.startedAt;
  return { ...t, startedAt: t.startedAt + shift, endedAt: t.endedAt + shift };
}

async function writeOld(conn: Connection): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < N; i += 500) {
    const rows = Array.from({ length: Math.min(500, N - i) }, (_, j) => legacyToRows(txAt(i + j), GATEWAY));
    await conn.runInTransaction([
      ...insertStatements(conn.dialect, 'transactions', TX_COLUMNS, rows.map((r) => r.tx)),
      ...insertStatements(conn.dialect, 'parameter_values', PV_COLUMNS, rows.flatMap((r) => r.pv)),
    ]);
  }
  return performance.now() - t;
}

async function writeNew(conn: Connection): Promise<number> {
  const t = performance.now();
  const maker = new RowMaker(GATEWAY);
  const ids = new LogIds();
  for (let i = 0; i < N; i += 500) {
    const rows = Array.from({ length: Math.min(500, N - i) }, (_, j) => maker.toRows(txAt(i + j)));
    await conn.runInTransaction(await compactStatements(conn, ids, rows));
  }
  return performance.now() - t;
}

/** The history query of the version before 0003 (its SQL, kept here for the comparison). */
async function oldHistory(db: Kysely<DB>, dialect: 'sqlite' | 'mysql', q: { node: number; dde: number; sinceUs: number; untilUs: number; bucketUs?: number }): Promise<number> {
  let base = db
    .selectFrom('parameter_values')
    .where('node', '=', q.node)
    .where('dde', '=', q.dde)
    .where('time_us', '>=', q.sinceUs)
    .where('time_us', '<', q.untilUs)
    .where((eb) => eb.or([eb('gateway', '=', GATEWAY), eb('gateway', 'is', null)]));
  if (q.bucketUs === undefined) {
    const rows = await base
      .select(['time_us', 'value_num', 'value_text', 'bus', 'gateway'])
      .where((eb) => eb.or([eb('value_num', 'is not', null), eb('value_text', 'is not', null)]))
      .orderBy('time_us')
      .orderBy('transaction_id')
      .limit(100_000)
      .execute();
    return rows.length;
  }
  const b = q.bucketUs;
  const bucket = dialect === 'mysql' ? sql<number>`(time_us DIV ${sql.lit(b)}) * ${sql.lit(b)}` : sql<number>`(time_us / ${sql.lit(b)}) * ${sql.lit(b)}`;
  base = base.where('value_num', 'is not', null);
  const rows = await base
    .select(['bus', 'gateway', bucket.as('bucket'), (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.min<number>('value_num').as('lo'), (eb) => eb.fn.avg<number>('value_num').as('mean'), (eb) => eb.fn.max<number>('value_num').as('hi')])
    .groupBy(['gateway', 'bus', sql`bucket`])
    .orderBy(sql`bucket`)
    .limit(100_000)
    .execute();
  return rows.length;
}

async function newHistory(db: Kysely<DB>, dialect: 'sqlite' | 'mysql', q: { node: number; dde: number; sinceUs: number; untilUs: number; bucketUs?: number }): Promise<number> {
  const r = await parameterHistory(db, dialect, { ...q, gateway: { name: GATEWAY, unnamed: true } });
  return r.points.length;
}

async function median(run: () => Promise<number>): Promise<{ ms: number; points: number }> {
  let points = await run(); // warm the cache
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    points = await run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { ms: times[2] as number, points };
}

const QUERIES = [
  { name: 'raw, 1 h', span: DAY_US / 24, bucketUs: undefined },
  { name: '1-min buckets, 1 h', span: DAY_US / 24, bucketUs: 60_000_000 },
  { name: 'raw, 24 h', span: DAY_US, bucketUs: undefined },
  { name: '1-min buckets, 24 h', span: DAY_US, bucketUs: 60_000_000 },
];

async function historyTimes(oldConn: Connection, newConn: Connection): Promise<string[]> {
  const out: string[] = [];
  const start = t0Ms * 1000;
  for (const q of QUERIES) {
    // The middle hour, or the whole day; fMeasure of node 4.
    const sinceUs = q.span === DAY_US ? start : start + DAY_US / 2;
    const hq = { node: 4, dde: 205, sinceUs, untilUs: sinceUs + q.span, ...(q.bucketUs ? { bucketUs: q.bucketUs } : {}) };
    const o = await median(() => oldHistory(oldConn.db, oldConn.dialect, hq));
    const n = await median(() => newHistory(newConn.db, newConn.dialect, hq));
    out.push(`| ${oldConn.dialect} | ${q.name} | ${o.points} / ${n.points} | ${o.ms.toFixed(1)} | ${n.ms.toFixed(1)} | ${(o.ms / n.ms).toFixed(1)} x |`);
  }
  return out;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const sizeRows: string[] = [];
const partRows: string[] = [];
const histRows: string[] = [];
const rateRows: string[] = [];

// ---------------------------------------------------------------- SQLite
async function sqliteRun(): Promise<void> {
  const files = { old: join(dir, 'old.db'), new: join(dir, 'new.db') };
  const oldConn = connect(parseStoreUrl(`sqlite:${files.old}`), { connectTimeoutMs: 5000, poolSize: 1 });
  const newConn = connect(parseStoreUrl(`sqlite:${files.new}`), { connectTimeoutMs: 5000, poolSize: 1 });
  await migrate(oldConn.db as never, 'sqlite', silentLogger, '0002_gateway');
  await migrate(newConn.db as never, 'sqlite', silentLogger);
  const tOld = await writeOld(oldConn);
  const tNew = await writeNew(newConn);
  rateRows.push(`| SQLite | ${fmt(N / (tOld / 1000))} | ${fmt(N / (tNew / 1000))} |`);
  const sizes: Record<string, number> = {};
  for (const [name, conn] of [['old', oldConn], ['new', newConn]] as const) {
    await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(conn.db);
    sizes[name] = statSync(files[name]).size;
    const parts = await sql<{ name: string; bytes: number }>`SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC`.execute(conn.db).catch(() => ({ rows: [] as { name: string; bytes: number }[] }));
    for (const p of parts.rows) if (Number(p.bytes) > 8192) partRows.push(`| SQLite ${name} | ${p.name} | ${(Number(p.bytes) / N).toFixed(1)} |`);
  }
  sizeRows.push(`| SQLite (file after checkpoint) | ${(sizes.old! / N).toFixed(0)} | **${(sizes.new! / N).toFixed(0)}** | ${(sizes.old! / sizes.new!).toFixed(1)} x |`);
  histRows.push(...(await historyTimes(oldConn, newConn)));
  await oldConn.destroy();
  await newConn.destroy();
}

// ---------------------------------------------------------------- MySQL
async function mysqlRun(): Promise<void> {
  const u = new URL(BASE);
  const server = { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  const admin = await createConnection(server);
  const names = { old: 'flowbus_store_size_old', new: 'flowbus_store_size_new' };
  const conns: Record<string, Connection> = {};
  for (const [k, name] of Object.entries(names)) {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(BASE);
    url.pathname = `/${name}`;
    conns[k] = connect(parseStoreUrl(url.toString()), { connectTimeoutMs: 5000, poolSize: 2 });
  }
  const oldConn = conns.old as Connection;
  const newConn = conns.new as Connection;
  await migrate(oldConn.db as never, 'mysql', silentLogger, '0002_gateway');
  await migrate(newConn.db as never, 'mysql', silentLogger);
  const tOld = await writeOld(oldConn);
  const tNew = await writeNew(newConn);
  rateRows.push(`| MySQL (MariaDB), one connection | ${fmt(N / (tOld / 1000))} | ${fmt(N / (tNew / 1000))} |`);
  const bytes: Record<string, number> = {};
  for (const [k, name] of Object.entries(names)) {
    const tables = k === 'old' ? ['transactions', 'parameter_values'] : ['log_sources', 'log_series', 'log_transactions', 'log_values'];
    await admin.query(`ANALYZE TABLE ${tables.map((t) => `${name}.${t}`).join(', ')}`);
    const [rows] = await admin.query(`SELECT SUM(data_length + index_length) AS b FROM information_schema.tables WHERE table_schema = ?`, [name]);
    bytes[k] = Number((rows as { b: number }[])[0]?.b);
    const [parts] = await admin.query(`SELECT table_name AS t, index_name AS i, stat_value * @@innodb_page_size AS b FROM mysql.innodb_index_stats WHERE database_name = ? AND stat_name = 'size' ORDER BY b DESC`, [name]);
    for (const p of parts as { t: string; i: string; b: number }[]) if (Number(p.b) > 65536) partRows.push(`| MySQL ${k} | ${p.t} ${p.i} | ${(Number(p.b) / N).toFixed(1)} |`);
  }
  sizeRows.push(`| MySQL (InnoDB data + indexes) | ${(bytes.old! / N).toFixed(0)} | **${(bytes.new! / N).toFixed(0)}** | ${(bytes.old! / bytes.new!).toFixed(1)} x |`);
  histRows.push(...(await historyTimes(oldConn, newConn)));
  await oldConn.destroy();
  await newConn.destroy();
  for (const name of Object.values(names)) await admin.query(`DROP DATABASE ${name}`);
  await admin.end();
}

await sqliteRun();
if (process.env.BENCH_SQLITE_ONLY !== '1') await mysqlRun();
rmSync(dir, { recursive: true, force: true });

console.log(`\n${N.toLocaleString('en-US')} transactions (six values each for the polls; writes and timeouts mixed in) over 24 h, node ${process.version}:\n`);
console.log('| database | bytes/tx before 0003 | bytes/tx compact | ratio |\n|---|---:|---:|---:|');
console.log(sizeRows.join('\n'));
console.log('\nWhere the bytes go (per transaction):\n\n| schema | table / index | bytes/tx |\n|---|---|---:|');
console.log(partRows.join('\n'));
console.log('\nHistory of one parameter of one instrument (median of 5, ms; points old / new):\n\n| database | query | points | before 0003 | compact | speed-up |\n|---|---|---:|---:|---:|---:|');
console.log(histRows.join('\n'));
console.log('\nWriting them (batches of 500, one connection, the workload made in the same loop: not a throughput figure, see bench/store.ts; tx/s):\n\n| database | before 0003 | compact |\n|---|---:|---:|');
console.log(rateRows.join('\n'));
