/**
 * No loss through a database outage: 10,000 transactions while the TCP path to the real
 * MariaDB/MySQL server is cut for ten seconds in the middle (a proxy the test cuts and
 * restores). Afterwards: exactly 10,000 rows, in order, no duplicates.
 */
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store, type StoreState } from '../../src/store/index.js';
import { freshTarget, makeTx, mysqlRuns, recordingLogger, type TestTarget } from './helpers.js';
import { waitUntil } from '../helpers/wait.js';
import { startProxy, type CutProxy } from './proxy.js';

const runs = await mysqlRuns();

describe.runIf(runs)('store through a MySQL outage', () => {
  let target: TestTarget;
  let proxy: CutProxy;
  let store: Store;
  const log = recordingLogger();

  beforeAll(async () => {
    target = await freshTarget('mysql');
    const u = new URL(target.url);
    proxy = await startProxy(u.hostname, Number(u.port || 3306));
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    store = await openStore(
      { url: u.toString(), spoolDir: join(target.dir, 'spool'), batchRows: 200, batchMs: 50, retention: { transactionsDays: null, parameterValuesDays: null } },
      { logger: log, options: { writeTimeoutMs: 1000, connectTimeoutMs: 1000, retryMinMs: 100, retryMaxMs: 1000, maxRowsInMemory: 1000 } },
    );
  });

  afterAll(async () => {
    await store?.close();
    await proxy?.close();
    await target?.cleanup();
  });

  it('writes exactly 10,000 transactions, in order, none twice', async () => {
    const ids: number[] = [];
    const states = new Set<StoreState>();
    const changes: string[] = [];
    const off = store.onState((c) => changes.push(`${c.previous}->${c.state}`));
    let maxInMemory = 0;
    const writeFor = async (count: number, ms: number) => {
      const slices = Math.max(1, Math.round(ms / 50));
      for (let s = 0; s < slices; s++) {
        const n = Math.round(((s + 1) * count) / slices) - Math.round((s * count) / slices);
        for (let i = 0; i < n; i++) {
          const t = makeTx({}, ids.length);
          ids.push(Math.round(t.startedAt * 1000));
          store.write(t);
        }
        const st = store.status();
        states.add(st.state);
        maxInMemory = Math.max(maxInMemory, st.inMemory);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await writeFor(2000, 1500);
    proxy.cut();
    await writeFor(6000, 10_000);
    proxy.restore();
    await writeFor(2000, 1500);
    await store.flush();
    await waitUntil(() => store.status().state === 'healthy' && store.status().rowsWaiting === 0, { timeoutMs: 30_000, what: 'the spool to be written' });

    off();
    expect(ids).toHaveLength(10_000);
    expect(states.has('spooling')).toBe(true);
    // Every change of state is told to listeners (the gateway's `store` event), in order.
    expect(changes[0]).toBe('healthy->spooling');
    expect(changes.at(-2)).toBe('spooling->recovering');
    expect(changes.at(-1)).toBe('recovering->healthy');
    expect(store.status().spooled).toBeGreaterThan(0);
    expect(maxInMemory).toBeLessThanOrEqual(1000);
    expect(log.lines.some((l) => l.level === 'warn' && /spooling/.test(l.msg))).toBe(true);

    const u = new URL(target.url);
    const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1) });
    try {
      const [rows] = await c.query('SELECT started_us FROM log_transactions ORDER BY started_us, k');
      const got = (rows as { started_us: number }[]).map((r) => Number(r.started_us));
      expect(got).toHaveLength(10_000);
      expect(new Set(got).size).toBe(10_000);
      expect(got).toEqual(ids);
      const [pv] = await c.query('SELECT COUNT(*) AS n FROM log_values');
      expect(Number((pv as { n: number }[])[0]?.n)).toBe(40_000);
    } finally {
      await c.end();
    }
  }, 60_000);
});
