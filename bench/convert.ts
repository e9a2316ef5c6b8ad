/**
 * Converting a log from before the compact schema, on a large SQLite log:
 *   npx tsx bench/convert.ts [transactions]          (default 1,000,000)
 *
 * 1. builds an old-schema log (migrations 0001-0002, the old writer's multi-row INSERTs, the
 *    varied transactions of test/store/old-log.ts: reads, chained reads, writes, errors,
 *    timeouts, bridge rows, two buses, two gateways and none);
 * 2. its digest, apart from the converter: transaction count, per node/DDE the count and sum of
 *    value_num, checksums of the request and reply bytes;
 * 3. `flowbus db convert --drop-old` in this process (convertStore): conversion rate, verification
 *    rate, then the old tables dropped;
 * 4. the digest of the compact tables, compared; the bytes before and after (dbstat per table,
 *    and the file after VACUUM).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../src/shared/index.js';
import { convertStore, type ConvertProgress } from '../src/store/convert.js';
import { insertStatements, type RowTuple } from '../src/store/db.js';
import { legacyToRows, PV_COLUMNS, TX_COLUMNS } from '../src/store/legacy.js';
import { migrate } from '../src/store/migrations.js';
import { digestDifferences, logDigest, openConn, variedLog } from '../test/store/old-log.js';

const N = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-convert-'));
const file = join(dir, 'old.db');
const url = `sqlite:${file}`;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

function tableBytes(db: Database.Database, tables: readonly string[]): number {
  const list = tables.map((t) => `'${t}'`).join(',');
  const r = db.prepare(`SELECT COALESCE(SUM(pgsize), 0) AS n FROM dbstat WHERE name IN (${list}) OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN (${list}))`).get() as { n: number };
  return r.n;
}

try {
  console.log(`load average before: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
  // 1. the old log.
  const conn = openConn(url);
  await migrate(conn.db as never, 'sqlite', silentLogger, '0002_gateway');
  await conn.destroy();
  const t0 = performance.now();
  {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = OFF');
    const CHUNK = 10_000;
    let startUs = 1_767_225_600_000_000;
    let values = 0;
    for (let i = 0; i < N; i += CHUNK) {
      const txs = variedLog(Math.min(CHUNK, N - i), startUs, i / CHUNK);
      startUs = Math.round(txs[txs.length - 1]!.t.startedAt * 1000) + 10_000;
      const tx: RowTuple[] = [];
      const pv: RowTuple[] = [];
      for (const { t, gateway } of txs) {
        const r = legacyToRows(t, gateway);
        tx.push(r.tx);
        pv.push(...r.pv);
      }
      values += pv.length;
      const statements = [...insertStatements('sqlite', 'transactions', TX_COLUMNS, tx), ...insertStatements('sqlite', 'parameter_values', PV_COLUMNS, pv)];
      db.transaction(() => {
        for (const s of statements) db.exec(s);
      })();
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    const oldBytes = tableBytes(db, ['transactions', 'parameter_values']);
    db.close();
    console.log(`old log: ${N.toLocaleString('en')} transactions, ${values.toLocaleString('en')} parameter values, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    console.log(`old log: file ${mb(statSync(file).size)}; old tables and indexes ${mb(oldBytes)} = ${Math.round(oldBytes / N)} bytes per transaction`);
  }
  // 2. its digest.
  const read = openConn(url);
  const before = await logDigest(read, 'old');
  await read.destroy();
  // 3. the conversion.
  const phases: Record<string, { done: number; ms: number }> = {};
  const result = await convertStore(url, silentLogger, {
    batch: 5000,
    dropOld: true,
    onProgress: (p: ConvertProgress) => {
      phases[p.phase] = { done: p.done, ms: p.elapsedMs };
    },
  });
  const c = phases.convert ?? { done: 0, ms: 0 };
  const v = phases.verify ?? { done: 0, ms: 0 };
  console.log(`convert: ${c.done.toLocaleString('en')} transactions in ${(c.ms / 1000).toFixed(1)} s = ${Math.round((c.done * 1000) / c.ms).toLocaleString('en')} transactions/s`);
  console.log(`verify:  ${v.done.toLocaleString('en')} transactions in ${(v.ms / 1000).toFixed(1)} s = ${Math.round((v.done * 1000) / v.ms).toLocaleString('en')} transactions/s (every transaction and value, through both readers)`);
  console.log(`whole command (convert, verify, drop): ${(result.elapsedMs / 1000).toFixed(1)} s; verified ${JSON.stringify(result.verified)}; dropped: ${result.dropped}`);
  // 4. the digest of the compact tables and the sizes.
  const after = openConn(url);
  const digest = await logDigest(after, 'new');
  await after.destroy();
  const diff = digestDifferences(before, digest);
  console.log(diff.length === 0 ? `digest: equal (${digest.transactions.toLocaleString('en')} transactions, ${Object.keys(digest.perSeries).length} node/DDE series, request and reply checksums)` : `digest DIFFERS: ${diff.slice(0, 10).join('; ')}`);
  const db = new Database(file);
  const newBytes = tableBytes(db, ['log_sources', 'log_series', 'log_transactions', 'log_values']);
  const sizeDropped = statSync(file).size;
  db.exec('VACUUM');
  db.close();
  console.log(`after: compact tables ${mb(newBytes)} = ${Math.round(newBytes / N)} bytes per transaction (old ${mb(result.oldBytes ?? 0)}, ratio ${(newBytes / (result.oldBytes ?? 1)).toFixed(3)}); file ${mb(sizeDropped)} after the drop, ${mb(statSync(file).size)} after VACUUM`);
  console.log(`load average after: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
  if (diff.length > 0) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
