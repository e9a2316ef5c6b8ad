/**
 * Two gateways at once into one MariaDB database, each with a bus called main on its own
 * simulator: each one's rows, histories and CSV exports are its own, and nothing is lost or
 * written twice. Skips without a MySQL server, except under CI=true.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { silentLogger } from '../../src/shared/index.js';
import { freshMysqlDatabase, mysqlRuns } from '../store/helpers.js';
import { waitUntil } from '../helpers/wait.js';

const runs = await mysqlRuns();

interface Bench {
  readonly name: string;
  gw: RunningGateway;
  /** Transactions the gateway emitted before this test subscribed (all queued for the log by then). */
  before: number;
  /** Start times (µs) of the transactions it emitted from then on. */
  readonly seen: number[];
  stop(): void;
}

async function json<T>(gw: RunningGateway, path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${gw.url}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

type List = { transactions: { id: string; startedAt: number; gateway: string | null; bus: string; node: number | null }[]; nextCursor: string | null };

/** Every transaction the API lists for the query, following the cursor. */
async function listAll(gw: RunningGateway, query: string): Promise<List['transactions']> {
  const out: List['transactions'] = [];
  let cursor: string | null = null;
  do {
    const r: { status: number; body: List } = await json<List>(gw, `/api/v1/transactions?limit=1000${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(r.status).toBe(200);
    out.push(...r.body.transactions);
    cursor = r.body.nextCursor;
  } while (cursor);
  return out;
}

describe.skipIf(!runs)('two gateways into one MariaDB database', () => {
  let db: { url: string; drop: () => Promise<void> };
  let dir: string;
  const benches: Bench[] = [];

  async function start(name: string, nodes: string): Promise<Bench> {
    const gw = await startGateway(
      configFrom({
        gateway: { name },
        buses: [{ name: 'main', port: `sim://?nodes=${nodes}` }],
        poll: { intervalMs: 100 },
        http: { host: '127.0.0.1', port: 0 },
        store: { url: db.url, spoolDir: join(dir, `spool-${name}`), batchMs: 50 },
        log: { level: 'silent' },
      }),
      silentLogger,
    );
    // Emitting is synchronous: what the log's subscriber holds now is every transaction so far.
    const log = gw.events.stats().find((s) => s.name === 'transaction-log');
    const seen: number[] = [];
    const stop = gw.events.on('transaction', (t) => void seen.push(Math.round(t.startedAt * 1000)), { name: 'test', maxQueued: Infinity });
    return { name, gw, before: (log?.delivered ?? 0) + (log?.queued ?? 0), seen, stop };
  }

  beforeAll(async () => {
    db = await freshMysqlDatabase();
    dir = mkdtempSync(join(tmpdir(), 'flowbus-multigw-'));
    // One after the other, as two benches are switched on; they then run side by side.
    benches.push(await start('bench-a', '3,5'));
    benches.push(await start('bench-b', '3,7'));
    await waitUntil(() => benches.every((b) => b.seen.length >= 60), { timeoutMs: 20_000, what: '60 transactions on each gateway' });
  }, 60_000);

  afterAll(async () => {
    for (const b of benches) await b.gw.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each API says which gateway it is, and lists only its own rows unless asked', async () => {
    const [a, b] = benches as [Bench, Bench];
    expect((await json<{ gateway: string }>(a.gw, '/healthz')).body.gateway).toBe('bench-a');
    expect((await json<{ gateway: string; store: { gateway: string } }>(b.gw, '/api/v1/bus')).body).toMatchObject({ gateway: 'bench-b', store: { gateway: 'bench-b' } });
    const seenA = a.seen.slice();
    await Promise.all(benches.map((x) => x.gw.store.flush()));
    const ofA = await listAll(a.gw, '');
    expect(ofA.length).toBeGreaterThanOrEqual(seenA.length);
    expect(new Set(ofA.map((t) => t.gateway))).toEqual(new Set(['bench-a']));
    const idsOfA = new Set(ofA.map((t) => Math.round(t.startedAt * 1000)));
    expect(b.seen.some((id) => idsOfA.has(id))).toBe(false);
    expect(seenA.every((id) => idsOfA.has(id))).toBe(true);
    // Node 3 of bus main is on both: a bare node is this gateway's.
    expect(ofA.some((t) => t.node === 7)).toBe(false);
    const bFromA = await listAll(a.gw, '&gateway=bench-b&node=main:3');
    expect(bFromA.length).toBeGreaterThan(0);
    expect(bFromA.every((t) => t.gateway === 'bench-b' && t.node === 3)).toBe(true);
    const all = await listAll(a.gw, '&gateway=*');
    expect(new Set(all.map((t) => t.gateway))).toEqual(new Set(['bench-a', 'bench-b']));
  });

  it("each gateway's history of node 3 is its own series; asked for all, it names both", async () => {
    const [a, b] = benches as [Bench, Bench];
    const since = Date.now() - 600_000;
    const path = `/api/v1/instruments/3/parameters/fMeasure/history?since=${since}`;
    type H = { points: { time: string }[] };
    const own = await json<H>(a.gw, path);
    expect(own.status).toBe(200);
    const other = await json<H>(a.gw, `${path}&gateway=bench-b`);
    const fromB = await json<H>(b.gw, `${path}&until=${Date.parse(other.body.points.at(-1)!.time) + 1}`);
    expect(fromB.body.points).toEqual(other.body.points);
    expect(own.body.points).not.toEqual(other.body.points.slice(0, own.body.points.length));
    const mixed = await json<{ code: string; details: { candidates: string[] } }>(a.gw, `${path}&gateway=*`);
    expect(mixed.status).toBe(409);
    expect(mixed.body).toMatchObject({ code: 'GATEWAY_NODE_AMBIGUOUS', details: { candidates: ['bench-a/main:3', 'bench-b/main:3'] } });
  });

  it("each gateway's CSV export carries its name on every line", async () => {
    for (const x of benches) {
      const res = await fetch(`${x.gw.url}/api/v1/transactions?limit=1000&format=csv`);
      const lines = (await res.text()).trim().split('\r\n');
      expect(lines[0]?.split(',').at(-1)).toBe('gateway');
      expect(lines.length).toBeGreaterThan(50);
      expect(lines.slice(1).every((l) => l.endsWith(`,${x.name}`))).toBe(true);
    }
  });

  it('after both stop: every transaction each emitted is in the database once, under its own name', async () => {
    for (const x of benches) {
      await x.gw.close();
      x.stop();
    }
    const c = await createConnection(db.url);
    try {
      const [rows] = await c.query(
        'SELECT s.gateway, COUNT(*) AS n, COUNT(DISTINCT t.source, t.started_us, t.k) AS ids FROM log_transactions t JOIN log_sources s ON s.id = t.source GROUP BY s.gateway ORDER BY s.gateway',
      );
      const counts = rows as { gateway: string | null; n: number; ids: number }[];
      expect(counts.map((r) => [r.gateway, Number(r.n)])).toEqual(benches.map((x) => [x.name, x.before + x.seen.length]));
      expect(counts.every((r) => Number(r.ids) === Number(r.n))).toBe(true);
      for (const x of benches) {
        const [found] = await c.query('SELECT COUNT(*) AS n FROM log_transactions t JOIN log_sources s ON s.id = t.source WHERE s.gateway = ? AND t.started_us IN (?)', [x.name, x.seen]);
        expect(Number((found as { n: number }[])[0]?.n)).toBe(x.seen.length);
      }
      // Every value belongs to a transaction of its own source (gateway and bus).
      const [mismatch] = await c.query(
        'SELECT COUNT(*) AS n FROM log_values v JOIN log_series se ON se.id = v.series LEFT JOIN log_transactions t ON t.source = se.source AND t.k = v.k AND v.time_us = t.started_us + t.ended_d WHERE t.source IS NULL',
      );
      expect(Number((mismatch as { n: number }[])[0]?.n)).toBe(0);
    } finally {
      await c.end();
    }
    // flowbus export --gateway: the same count as the database holds for that gateway.
    const [a] = benches as [Bench, Bench];
    const out = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'export', 'transactions', '--store', db.url, '--gateway', a.name], { maxBuffer: 64 * 1024 * 1024 });
    const lines = out.stdout.trim().split('\r\n');
    expect(lines.length - 1).toBe(a.before + a.seen.length);
    expect(lines.slice(1).every((l) => l.endsWith(',bench-a'))).toBe(true);
  }, 60_000);
});
