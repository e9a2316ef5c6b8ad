/**
 * Many gateways, one database (issue 11, section 3): rows per second into one MariaDB database
 * from two gateways at once, against one gateway alone, side by side in one run:
 *   npx tsx bench/multi-gateway.ts [transactions per gateway]   (default 100,000; MariaDB from FLOWBUS_TEST_MYSQL_URL)
 *
 * Each gateway is a process of its own (as on two benches), running the store as the gateway
 * does (default batching, two writer connections), fed synthetic poll transactions (4 parameter
 * values each) as fast as it takes them, with at most 10,000 waiting, so the figure is what
 * the database and the writer sustain, not the bus. The gateways differ only in gateway.name;
 * both log a node 3 on a bus called main. Each round runs, each into a fresh database: one
 * gateway alone; one alone into a database without the three indexes migration 0002 added (what
 * recording the gateway costs the writer); two at once. Afterwards the rows per gateway are
 * counted (nothing lost, nothing twice).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createConnection } from 'mysql2/promise';
import { silentLogger } from '../src/shared/index.js';
import { migrateStore, openStore } from '../src/store/index.js';
import { storeTx } from './store-common.js';

const BASE = process.env.FLOWBUS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const QUEUE_CAP = 10_000;
/** Written by each gateway before the clock starts (JIT, connections, the server's caches); counted in the rows. */
const WARM_UP = 5_000;
const ROUNDS = Number(process.env.ROUNDS ?? 2);

// ------------------------------------------------------------------ one gateway (a child process)

async function child(url: string, gateway: string, n: number, spoolDir: string): Promise<void> {
  const retention = { transactionsDays: null, parameterValuesDays: null };
  const store = await openStore({ url, spoolDir, batchRows: 500, batchMs: 250, retention }, { logger: silentLogger, gateway, options: { maxRowsInMemory: 1_000_000 } });
  const feed = async (count: number) => {
    for (let i = 0; i < count; i++) {
      store.write(storeTx(i));
      if (i % 500 === 499) {
        await new Promise((r) => setImmediate(r));
        while (store.status().rowsWaiting > QUEUE_CAP) await new Promise((r) => setTimeout(r, 1));
      }
    }
    await store.flush();
    while (store.status().rowsWaiting > 0) await new Promise((r) => setTimeout(r, 5));
  };
  await feed(WARM_UP);
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
  const t0 = performance.now();
  await feed(n);
  const seconds = (performance.now() - t0) / 1000;
  const spooled = store.status().spooled;
  await store.close();
  process.stdout.write(`${JSON.stringify({ seconds, spooled })}\n`);
}

// ------------------------------------------------------------------ the run

interface Running {
  readonly ready: Promise<void>;
  readonly done: Promise<{ seconds: number; spooled: number }>;
  go(): void;
}

function startChild(url: string, gateway: string, n: number, spoolDir: string): Running {
  const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_CHILD: JSON.stringify({ url, gateway, n, spoolDir }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: p.stdout });
  let readyResolve: () => void = () => undefined;
  const ready = new Promise<void>((r) => (readyResolve = r));
  const done = new Promise<{ seconds: number; spooled: number }>((resolve, reject) => {
    lines.on('line', (l) => (l === 'ready' ? readyResolve() : resolve(JSON.parse(l) as { seconds: number; spooled: number })));
    p.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`gateway ${gateway} exited with ${code}`))));
  });
  return { ready, done, go: () => p.stdin.end('go\n') };
}

async function freshDb(): Promise<{ url: string; count: () => Promise<Record<string, number>>; dropIndexes: () => Promise<void>; drop: () => Promise<void> }> {
  const u = new URL(BASE);
  const name = `flowbus_bench_mgw_${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
  await c.query(`CREATE DATABASE ${name}`);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    count: async () => {
      const [rows] = await c.query(`SELECT s.gateway, COUNT(*) AS n FROM ${name}.log_transactions t JOIN ${name}.log_sources s ON s.id = t.source GROUP BY s.gateway`);
      return Object.fromEntries((rows as { gateway: string; n: number }[]).map((r) => [r.gateway, Number(r.n)]));
    },
    dropIndexes: async () => {
      for (const [table, index] of GATEWAY_INDEXES) await c.query(`DROP INDEX ${index} ON ${name}.${table}`);
    },
    drop: async () => {
      await c.query(`DROP DATABASE ${name}`);
      await c.end();
    },
  };
}

/** The gateways write `n` each into one fresh database at once; rows/s overall and per gateway. */
const GATEWAY_INDEXES = [
  ['transactions', 'transactions_gateway_started'],
  ['transactions', 'transactions_gateway_bus_node_started'],
  ['parameter_values', 'parameter_values_gateway_node_dde_time'],
] as const;

async function round(names: readonly string[], n: number, dir: string, withoutGatewayIndexes = false): Promise<{ total: number; each: number[]; lost: number; spooled: number }> {
  const db = await freshDb();
  await migrateStore(db.url, silentLogger);
  if (withoutGatewayIndexes) await db.dropIndexes();
  const kids = names.map((g) => startChild(db.url, g, n, join(dir, `${g}-${Math.random().toString(36).slice(2, 7)}`)));
  await Promise.all(kids.map((k) => k.ready));
  const t0 = performance.now();
  for (const k of kids) k.go();
  const results = await Promise.all(kids.map((k) => k.done));
  const wall = (performance.now() - t0) / 1000;
  const counts = await db.count();
  await db.drop();
  const lost = names.reduce((sum, g) => sum + Math.abs(n + WARM_UP - (counts[g] ?? 0)), 0);
  return { total: (n * names.length) / wall, each: results.map((r) => n / r.seconds), lost, spooled: results.reduce((s, r) => s + r.spooled, 0) };
}

const childArgs = process.env.BENCH_CHILD;
if (childArgs) {
  const a = JSON.parse(childArgs) as { url: string; gateway: string; n: number; spoolDir: string };
  await child(a.url, a.gateway, a.n, a.spoolDir);
} else {
  const N = Number(process.argv[2] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-mgw-'));
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const alone: number[] = [];
  const bare: number[] = [];
  const two: { total: number; each: number[] }[] = [];
  let problems = 0;
  await round(['bench-a', 'bench-b'], 10_000, dir); // the server's warm-up, not reported
  for (let r = 0; r < ROUNDS; r++) {
    const a = await round(['bench-a'], N, dir);
    const x = await round(['bench-a'], N, dir, true);
    const b = await round(['bench-a', 'bench-b'], N, dir);
    problems += a.lost + x.lost + b.lost + a.spooled + x.spooled + b.spooled;
    alone.push(a.total);
    bare.push(x.total);
    two.push(b);
    console.error(
      `round ${r + 1}: alone ${fmt(a.total)} tx/s; alone without the gateway indexes ${fmt(x.total)}; two at once ${fmt(b.total)} tx/s (${b.each.map(fmt).join(' + ')}); lost ${a.lost + x.lost + b.lost}, spooled ${a.spooled + x.spooled + b.spooled}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
  const range = (xs: number[], f: (x: number) => string) => `${f(Math.min(...xs))} .. ${f(Math.max(...xs))}`;
  const bothAll = two.map((t) => t.total);
  const perGwAll = two.flatMap((t) => t.each);
  // Each round's two runs share the machine's state of the moment: the ratio is taken per round.
  const ratios = two.map((t, i) => t.total / (alone[i] as number));
  const ratio = (x: number) => `${x.toFixed(2)} x`;
  console.log(`\n${N.toLocaleString('en-US')} transactions per gateway, 4 parameter values each, into one MariaDB database (node ${process.version}, median of ${ROUNDS} rounds, range in brackets):\n`);
  console.log('| writers | transactions/s, all gateways | parameter rows/s | per gateway | ratio to one alone |\n|---|---:|---:|---:|---:|');
  const bareRatios = bare.map((x, i) => x / (alone[i] as number));
  console.log(`| one gateway alone | ${fmt(median(alone))} (${range(alone, fmt)}) | ${fmt(median(alone) * 4)} | ${fmt(median(alone))} | 1 |`);
  console.log(`| one alone, without the 3 gateway indexes | ${fmt(median(bare))} (${range(bare, fmt)}) | ${fmt(median(bare) * 4)} | ${fmt(median(bare))} | ${ratio(median(bareRatios))} (${range(bareRatios, ratio)}) |`);
  console.log(`| two gateways at once | ${fmt(median(bothAll))} (${range(bothAll, fmt)}) | ${fmt(median(bothAll) * 4)} | ${fmt(median(perGwAll))} | **${ratio(median(ratios))}** (${range(ratios, ratio)}) |`);
  console.log(`\nrows lost or written twice, and transactions that went through the spool: ${problems}\n`);
}
