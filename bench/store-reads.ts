/**
 * Reads of the SQLite transaction log, and what they cost everything else in the process.
 *
 *   npx tsx bench/store-reads.ts [transactions, default 300000]
 *
 * Builds a SQLite log of N transactions with 4 parameter values each (through the store's
 * writer), then runs the queries a chart or an export makes: a raw history (capped at 100,000
 * points), the same range in 1-minute buckets, and a 10,000-row page of transactions. Each
 * runs twice, side by side in one run: through the store (SQLite in its worker thread) and on
 * the main thread (better-sqlite3 under Kysely's own SqliteDialect, the baseline). For each: the
 * query time, and the longest the event loop went without running a 1 ms timer meanwhile
 * (the time the bus, the bridge's forwarding and the API would have waited).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { newId, silentLogger } from '../src/shared/index.js';
import type { LoggedTransaction } from '../src/gateway/index.js';
import { listTransactions, openStore, openStoreReader, parameterHistory, type StoreReader } from '../src/store/index.js';

const N = Number(process.argv[2] ?? 300_000);
const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-reads-'));
const url = `sqlite:${join(dir, 'log.db')}`;
const NO_RETENTION = { transactionsDays: null, parameterValuesDays: null };

function tx(i: number, at: number): LoggedTransaction {
  return {
    id: newId(), bus: 'main', mode: 'master', node: 3, seq: i & 0xff, command: 4, commandName: 'read', purpose: 'poll', outcome: 'ok',
    status: undefined, errorCode: undefined,
    requestBytes: Uint8Array.of(0x10, 0x02, 0x03, i & 0xff, 0x04), replyBytes: Uint8Array.of(0x10, 0x02, 0x03, i & 0xff, 0x02),
    startedAt: at - 3, endedAt: at, latencyMs: 3, attempts: 1, error: undefined,
    params: [
      { process: 33, fbnr: 0, wireType: 0x40, dde: 205, key: 'fMeasure', raw: '42200000', value: 10 + (i % 1000) / 10 },
      { process: 33, fbnr: 3, wireType: 0x40, dde: 206, key: 'fSetpoint', raw: '42200000', value: 40 },
      { process: 1, fbnr: 0, wireType: 0x20, dde: 8, key: 'measure', raw: '7d00', value: 32000 },
      { process: 1, fbnr: 1, wireType: 0x20, dde: 9, key: 'setpoint', raw: '7d00', value: 32000 },
    ],
  };
}

/** Runs `fn`, timing it and the longest gap between ticks of a 1 ms timer meanwhile. */
async function measure(fn: () => Promise<unknown>): Promise<{ ms: number; stallMs: number }> {
  let last = performance.now();
  let stall = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  // Let the timer see the end of a stall that lasted until the query returned.
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(timer);
  return { ms, stallMs: stall };
}

try {
  const t0 = performance.now();
  const store = await openStore({ url, spoolDir: join(dir, 'spool'), batchRows: 2000, batchMs: 100, retention: NO_RETENTION }, { logger: silentLogger });
  const start = Date.now() - N * 500; // one poll every 500 ms, as the default poll does
  for (let i = 0; i < N; i++) {
    store.write(tx(i, start + i * 500));
    if (i % 10_000 === 9_999) await store.flush();
  }
  await store.flush();
  await store.close();
  console.log(`SQLite log: ${N.toLocaleString('en')} transactions, ${(4 * N).toLocaleString('en')} parameter values (${((performance.now() - t0) / 1000).toFixed(1)} s to write)\n`);

  const reader: StoreReader = openStoreReader(url);
  const raw = new Database(join(dir, 'log.db'), { readonly: true });
  const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: raw }) });
  const main = kysely as Parameters<typeof parameterHistory>[0];
  const range = { node: 3, dde: 205, sinceUs: start * 1000, untilUs: (start + N * 500 + 1000) * 1000 };
  const queries: [string, (r: StoreReader | 'main') => Promise<unknown>][] = [
    ['raw history (100,000 points)', (r) => (r === 'main' ? parameterHistory(main, 'sqlite', range) : r.parameterHistory(range))],
    ['history in 1-minute buckets', (r) => (r === 'main' ? parameterHistory(main, 'sqlite', { ...range, bucketUs: 60_000_000 }) : r.parameterHistory({ ...range, bucketUs: 60_000_000 }))],
    ['a page of 10,000 transactions', (r) => (r === 'main' ? listTransactions(main, { node: 3, limit: 10_000 }) : r.listTransactions({ node: 3, limit: 10_000 }))],
  ];
  console.log('| query | store (worker thread): ms | event loop stalled, ms | main thread (baseline): ms | event loop stalled, ms |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, run] of queries) {
    await run(reader); // warm the page cache for both
    const w = await measure(() => run(reader));
    const m = await measure(() => run('main'));
    console.log(`| ${name} | ${w.ms.toFixed(0)} | **${w.stallMs.toFixed(0)}** | ${m.ms.toFixed(0)} | ${m.stallMs.toFixed(0)} |`);
  }
  await reader.close();
  await kysely.destroy();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
