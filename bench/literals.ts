/**
 * The bulk insert's text rendering, side by side in one run:
 *   npx tsx bench/literals.ts [rows]        (default 20,000 transaction rows)
 *
 * 1. rows whose text needs no escape (ids, bus, outcome: the common case), rendered as quoted literals;
 * 2. the same rows with an error text holding a quote, a backslash and a newline, which now goes as
 *    `_utf8mb4 X'..'` so that it means the same under any sql_mode;
 * 3. for comparison, those awkward texts through mysql2's backslash escaper, as the writer did before.
 */
import { escape as mysqlEscape } from 'mysql2';
import { insertStatements, type RowTuple } from '../src/store/db.js';
import { TX_COLUMNS } from '../src/store/legacy.js';

const N = Number(process.argv[2] ?? 20_000);
const plain: RowTuple[] = [];
const awkward: RowTuple[] = [];
for (let i = 0; i < N; i++) {
  const base = [`01J${String(i).padStart(23, '0')}`, 'main', 'master', 3, i & 0xff, 4, 'read', 'poll', 'ok', null, null, '1002030004', '1002800002', 1e15 + i, 1e15 + i + 750, 750, 1];
  plain.push([...base, null]);
  awkward.push([...base, `reply from node 3: status 0x0c 'general error'\nat \\line ${i}`]);
}

function time(fn: () => void, rounds = 5): number {
  fn();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

let sink = 0;
const tPlain = time(() => (sink += insertStatements('mysql', 'transactions', TX_COLUMNS, plain).length));
const tAwkward = time(() => (sink += insertStatements('mysql', 'transactions', TX_COLUMNS, awkward).length));
const texts = awkward.map((r) => r[17] as string);
const tHexOnly = time(() => {
  for (const t of texts) sink += `_utf8mb4 X'${Buffer.from(t, 'utf8').toString('hex')}'`.length;
});
const tEscapeOnly = time(() => {
  for (const t of texts) sink += mysqlEscape(t).length;
});
const us = (ms: number) => ((ms * 1000) / N).toFixed(2);
console.log(`${N.toLocaleString('en')} transaction rows, best of 5 (node ${process.version}):\n`);
console.log('| rendering | µs per row | ratio |');
console.log('|---|---:|---:|');
console.log(`| whole row, text needs no escape (quoted) | ${us(tPlain)} | 1 |`);
console.log(`| whole row, error text with quote, backslash, newline (hex) | ${us(tAwkward)} | ${(tAwkward / tPlain).toFixed(2)} x |`);
console.log(`| that error text alone as _utf8mb4 X'..' | ${us(tHexOnly)} | ${(tHexOnly / tEscapeOnly).toFixed(2)} x the escaper |`);
console.log(`| that error text alone through mysql2's escape (before) | ${us(tEscapeOnly)} | 1 |`);
if (sink < 0) console.log(sink);
