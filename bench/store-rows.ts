/**
 * The gateway's side of writing the log: CPU per transaction to make the rows and the INSERT
 * text, the log before migration 0003 against the compact log, side by side in one run (no
 * database; the id lookups of the compact log are cached after the first batch, so they are
 * left out here):
 *   npx tsx bench/store-rows.ts [transactions]      (default 200,000; 4 parameter values each, batches of 2,000)
 */
import { newId } from '../src/shared/index.js';
import type { LoggedTransaction } from '../src/gateway/index.js';
import { fitsSingle, LOG_TX_COLUMNS, LOG_VALUE_COLUMNS } from '../src/store/compact.js';
import { insertStatements, type RowTuple } from '../src/store/db.js';
import { legacyToRows, PV_COLUMNS, TX_COLUMNS } from '../src/store/legacy.js';
import { RowMaker, TX, VAL } from '../src/store/rows.js';

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

function compact(): void {
  const m = new RowMaker('bench');
  for (let i = 0; i < N; i += 2000) {
    const rows = txs.slice(i, i + 2000).map((t) => m.toRows(t));
    // As compactStatements does, with the ids already cached: source 1, template 1, series 1.
    const t: RowTuple[] = rows.map((r) => [1, ...r.tx.slice(TX.startedUs, TX.request), 1, null, ...r.tx.slice(TX.reply, TX.shape), null, r.tx[TX.data] ?? null, r.tx[TX.extra] ?? null]);
    const v: RowTuple[] = [];
    for (const r of rows) for (const x of r.values) v.push([1, r.tx[TX.startedUs] as number, 0, x[VAL.position] as number, fitsSingle(x[VAL.num] as number) ? (x[VAL.num] as number) : null, null, null]);
    insertStatements('mysql', 'log_transactions', LOG_TX_COLUMNS, t);
    insertStatements('mysql', 'log_values', LOG_VALUE_COLUMNS, v);
  }
}

const runs: [string, number][] = [];
for (let round = 0; round < 3; round++) {
  for (const [name, f] of [['before 0003', old], ['compact', compact]] as const) {
    const a = performance.now();
    f();
    runs.push([name, ((performance.now() - a) / N) * 1000]);
  }
}
const best = (name: string) => Math.min(...runs.filter((r) => r[0] === name).map((r) => r[1]));
console.log(`\n${N.toLocaleString('en-US')} transactions with 4 values, rows + INSERT text, best of 3 (node ${process.version}):\n`);
console.log('| schema | µs per transaction | transactions/s on one core |\n|---|---:|---:|');
for (const name of ['before 0003', 'compact']) console.log(`| ${name} | ${best(name).toFixed(2)} | ${Math.round(1e6 / best(name)).toLocaleString('en-US')} |`);
