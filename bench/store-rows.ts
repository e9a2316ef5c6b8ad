/**
 * The gateway's side of writing the log: CPU per transaction to make the rows and what goes to
 * MySQL, side by side in one run: the log before migration 0003 (INSERT text), the compact log
 * as INSERT text (`loadData: false`) and as the files of LOAD DATA LOCAL INFILE (the default),
 * both through compactStatements as the store runs it. No MySQL: the compact log's ids are
 * looked up once in an in-memory SQLite log and cached, as they are after a store's first batch.
 *   npx tsx bench/store-rows.ts [transactions]      (default 200,000; 4 parameter values each, batches of 2,000)
 */
import { newId } from '../src/shared/index.js';
import type { LoggedTransaction } from '../src/gateway/index.js';
import { silentLogger } from '../src/shared/index.js';
import { compactStatements, LogIds } from '../src/store/compact.js';
import { connect, insertStatements, type Connection } from '../src/store/db.js';
import { legacyToRows, PV_COLUMNS, TX_COLUMNS } from '../src/store/legacy.js';
import { migrate } from '../src/store/migrations.js';
import { RowMaker } from '../src/store/rows.js';

const N = Number(process.argv[2] ?? 200_000);
const t0 = Date.now();
const tx = (i: number): LoggedTransaction => ({
  id: newId(), bus: 'main', mode: 'master', node: 3 + (i % 4), seq: i & 0xff, command: 4, commandName: 'read', purpose: 'poll', outcome: 'ok', status: undefined, errorCode: undefined,
  requestBytes: Uint8Array.of(0x10, 0x02, 0x03, i & 0xff, 0x04, 0x01, 0x21, 0x01, 0x40, 0x01, 0x21, 0x01, 0x20, 0x10, 0x03),
  replyBytes: Uint8Array.of(0x10, 0x02, 0x03, i & 0xff, 0x02, 0x01, 0x21, 0x42, 0x20, 0x00, 0x00, 0x10, 0x03),
  startedAt: t0 + i * 0.5, endedAt: t0 + i * 0.5 + 3, latencyMs: 3, attempts: 1, error: undefined,
  params: [
    { process: 33, fbnr: 0, wireType: 0x40, dde: 205, key: 'fMeasure', raw: '42200000', value: 40 },
    { process: 33, fbnr: 3, wireType: 0x40, dde: 206, key: 'fSetpoint', raw: '42200000', value: 40 },
    { process: 1, fbnr: 0, wireType: 0x20, dde: 8, key: 'measure', raw: '7d00', value: 32000 },
    { process: 1, fbnr: 1, wireType: 0x20, dde: 9, key: 'setpoint', raw: '7d00', value: 32000 },
  ],
});
const txs = Array.from({ length: N }, (_, i) => tx(i));

function old(): void {
  for (let i = 0; i < N; i += 2000) {
    const r = txs.slice(i, i + 2000).map((t) => legacyToRows(t, 'bench'));
    insertStatements('mysql', 'transactions', TX_COLUMNS, r.map((x) => x.tx));
    insertStatements('mysql', 'parameter_values', PV_COLUMNS, r.flatMap((x) => x.pv));
  }
}

const sqlite = connect({ dialect: 'sqlite', path: ':memory:' }, { connectTimeoutMs: 1000, poolSize: 1 });
await migrate(sqlite.db as never, 'sqlite', silentLogger);
const ids = new LogIds();
const warm = new RowMaker('bench');
await ids.resolve(sqlite, txs.slice(0, 2000).map((t) => warm.toRows(t)));
/** compactStatements as on a MySQL connection; every id is cached, so it never queries. */
const asMysql = (loadData: boolean): Connection => ({ ...sqlite, dialect: 'mysql', loadData });

async function compact(loadData: boolean): Promise<void> {
  const m = new RowMaker('bench');
  const conn = asMysql(loadData);
  for (let i = 0; i < N; i += 2000) {
    const out = await compactStatements(conn, ids, txs.slice(i, i + 2000).map((t) => m.toRows(t)));
    if (out.length !== 2) throw new Error('an id was not cached');
  }
}

const runs: [string, number][] = [];
const paths: [string, () => unknown][] = [
  ['before 0003, INSERT text', old],
  ['compact, INSERT text (`loadData: false`)', () => compact(false)],
  ['compact, LOAD DATA files (the default)', () => compact(true)],
];
for (let round = 0; round < 3; round++) {
  for (const [name, f] of paths) {
    const a = performance.now();
    await f();
    runs.push([name, ((performance.now() - a) / N) * 1000]);
  }
}
await sqlite.destroy();
const best = (name: string) => Math.min(...runs.filter((r) => r[0] === name).map((r) => r[1]));
console.log(`\n${N.toLocaleString('en-US')} transactions with 4 values, rows + what goes to MySQL, best of 3 (node ${process.version}):\n`);
console.log('| schema, writer | µs per transaction | transactions/s on one core |\n|---|---:|---:|');
for (const [name] of paths) console.log(`| ${name} | ${best(name).toFixed(2)} | ${Math.round(1e6 / best(name)).toLocaleString('en-US')} |`);
