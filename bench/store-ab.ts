/**
 * The store into MySQL with its default (LOAD DATA), one source tree against another in one run,
 * interleaved, with MariaDB's CPU per 1,000 transactions and this process's CPU per transaction:
 *   npx tsx bench/store-ab.ts [transactions] [rounds] [tree ...]     (default 200,000, 3, this tree)
 * e.g. `git archive <commit> src | tar -x -C /tmp/base` and then `... 200000 5 /tmp/base .`: each
 * round runs every tree once, in the order given. A tree is a directory with src/store/index.ts.
 *
 * The transactions are the ones bench/store.ts writes (4 parameter values each). With
 * PREBUILT=1 they are made before the timed part (a gateway's come from the bus, not from a
 * generator); the producer's own cost per transaction is printed beside the figures either way.
 * BENCH_MAX_BATCH sets maxBatchRows (default 2,000), or `tree:N` for one tree. With PROFILE=1 only the first tree runs, once (for `node --cpu-prof --import tsx ...`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LoggedTransaction } from '../src/gateway/index.js';
import { silentLogger } from '../src/shared/index.js';
import type * as StoreModule from '../src/store/index.js';
import { freshMysqlDb, serverCpuMs, storeTx } from './store-common.js';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const TREES = process.argv.length > 4 ? process.argv.slice(4) : ['.'];
/** `tree:N`: that tree with maxBatchRows N (batch size tuning in one run). */
const treeDir = (t: string) => t.replace(/:\d+$/, '');
const treeBatch = (t: string) => (/:(\d+)$/.exec(t)?.[1] ?? process.env.BENCH_MAX_BATCH);
const BASE = process.env.FLOWBUS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const PREBUILT = process.env.PREBUILT === '1';
const PROFILE = process.env.PROFILE === '1';
const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-store-ab-'));
const retention = { transactionsDays: null, parameterValuesDays: null };


const freshDb = () => freshMysqlDb(BASE);

const QUEUE_CAP = 10_000;

interface Rate {
  readonly tps: number;
  readonly server: number | undefined;
  readonly client: number;
}

/** bench/store.ts's loop: the producer hands transactions over as fast as the store takes them, at most QUEUE_CAP waiting. */
async function batched(store: StoreModule.Store, n: number, made?: readonly LoggedTransaction[]): Promise<Rate> {
  const cpu0 = serverCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    store.write(made ? (made[i] as LoggedTransaction) : storeTx(i));
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
  if (store.status().spooled > 0) console.error(`note: ${store.status().spooled} transactions went through the spool`);
  return { tps: n / s, server: cpu0 === undefined || cpu1 === undefined ? undefined : ((cpu1 - cpu0) / n) * 1000, client: (c.user + c.system) / n };
}

/** The producer alone: µs of CPU per transaction to make them (and drop them). */
function producerCost(n: number): number {
  const c0 = process.cpuUsage();
  let keep = 0;
  for (let i = 0; i < n; i++) keep += storeTx(i).seq ?? 0;
  const c = process.cpuUsage(c0);
  if (keep < 0) console.log(keep);
  return (c.user + c.system) / n;
}

const modules = await Promise.all(TREES.map(async (t) => (await import(pathToFileURL(resolve(treeDir(t), 'src/store/index.ts')).href)) as typeof StoreModule));
const db = await freshDb();
await modules[0]!.migrateStore(db.url, silentLogger);
const runs: Rate[][] = TREES.map(() => []);
const load = () => readFileSync('/proc/loadavg', 'utf8').trim();
console.log(`load before: ${load()}`);
const producer = producerCost(50_000);
let spool = 0;
for (let round = 0; round < (PROFILE ? 1 : ROUNDS); round++) {
  for (let t = 0; t < (PROFILE ? 1 : TREES.length); t++) {
    const m = modules[t]!;
    const s = await m.openStore({ url: db.url, spoolDir: join(dir, `s${spool++}`), batchRows: 500, batchMs: 250, retention }, { logger: silentLogger, options: { maxRowsInMemory: 1_000_000, ...(treeBatch(TREES[t]!) ? { maxBatchRows: Number(treeBatch(TREES[t]!)) } : {}) } });
    await batched(s, 5_000);
    const made = PREBUILT ? Array.from({ length: N }, (_, i) => storeTx(i)) : undefined;
    const r = await batched(s, N, made);
    await s.close();
    runs[t]!.push(r);
    console.log(`round ${round + 1} ${TREES[t]}: ${Math.round(r.tps)} tx/s, server ${r.server?.toFixed(1)} ms / 1000 tx, this process ${r.client.toFixed(1)} µs / tx (load ${load()})`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const range = (xs: number[], d = 0) => `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
console.log(`\n${N} transactions, 4 values each, ${PREBUILT ? 'made before the timed part' : 'made in the loop'} (the producer alone: ${producer.toFixed(1)} µs CPU / tx), node ${process.version}\n`);
console.log('| tree | tx/s median (range) | server CPU / 1,000 tx median (range) | this process CPU / tx median (range) |\n|---|---:|---:|---:|');
for (let t = 0; t < TREES.length; t++) {
  const r = runs[t]!;
  if (r.length === 0) continue;
  const tps = r.map((x) => x.tps);
  const sv = r.map((x) => x.server ?? NaN);
  const cl = r.map((x) => x.client);
  console.log(`| ${TREES[t]} | ${Math.round(median(tps))} (${range(tps)}) | ${median(sv).toFixed(1)} ms (${range(sv, 1)}) | ${median(cl).toFixed(1)} µs (${range(cl, 1)}) |`);
}
console.log(`load after: ${load()}`);
await db.drop();
rmSync(dir, { recursive: true, force: true });
