import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config/index.js';
import { startGateway } from '../../src/main.js';
import { GatewayError, silentLogger } from '../../src/shared/index.js';
import { createConnection } from 'mysql2/promise';
import { waitUntil } from '../helpers/wait.js';
import { freshTarget, mysqlRuns } from '../store/helpers.js';
import { startProxy } from '../store/proxy.js';

/** The kinds of handle the process holds (TCP servers and sockets, timers, worker threads, ...), counted. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function config(httpPort: number) {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-life-'));
  dirs.push(dir);
  return configFrom({
    buses: [{ port: 'sim://?nodes=3,5' }],
    http: { host: '127.0.0.1', port: httpPort },
    store: { url: `sqlite:${join(dir, 'log.db')}` },
    log: { level: 'silent' },
  });
}

describe('the gateway as components', () => {
  it('a part that fails to start (the HTTP port is taken) closes what had started: nothing stays open', async () => {
    const blocker = createServer();
    const port = await listen(blocker);
    const before = resources();
    const err = await startGateway(config(port), silentLogger).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('API_LISTEN_FAILED');
    expect((err as GatewayError).message).toContain(`127.0.0.1:${port} is in use`);
    // The store's worker thread, the simulated buses' timers and the discovery that had begun are
    // all gone: the process holds what it held before (timers of the failed start may take a
    // moment to be collected, none may stay).
    const after = await waitUntil(
      () => {
        const now = resources();
        const extra = Object.entries(now).filter(([kind, n]) => n > (before[kind] ?? 0));
        return extra.length === 0 ? now : undefined;
      },
      { timeoutMs: 5_000, what: `the failed start to leave nothing open (before: ${JSON.stringify(before)})` },
    );
    expect(after).toBeDefined();
    blocker.close();
  });

  it('starts store, mode and HTTP in order, and closes them in reverse, once', async () => {
    const g = await startGateway(config(0), silentLogger);
    expect(g.lifecycle.states().map((s) => `${s.name}:${s.state}`)).toEqual(['store:running', 'simulators:running', 'master:running', 'programs:running', 'http:running']);
    // The transaction log listens to the gateway's events.
    await waitUntil(() => g.store.status().written > 0 || g.store.status().inMemory > 0, { timeoutMs: 10_000, what: 'a logged transaction' });
    await Promise.all([g.close(), g.close()]);
    expect(g.lifecycle.states().every((s) => s.state === 'closed')).toBe(true);
    expect(g.store.status().state).toBe('closed');
  });
});

describe.runIf(await mysqlRuns())('the store as a consumer of the gateway events', () => {
  it('every transaction reaches the log through the events, and a database outage is a store event', async () => {
    const target = await freshTarget('mysql');
    const u = new URL(target.url);
    const proxy = await startProxy(u.hostname, Number(u.port || 3306));
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    const cfg = config(0);
    const g = await startGateway(
      { ...cfg, store: { ...cfg.store, url: u.toString(), spoolDir: join(target.dir, 'spool'), batchMs: 50 } },
      silentLogger,
      { storeOptions: { writeTimeoutMs: 500, connectTimeoutMs: 500, retryMinMs: 50, retryMaxMs: 200 } },
    );
    const states: string[] = [];
    const transactions: number[] = [];
    g.events.on('store', (e) => void states.push(`${e.previous}->${e.state}`));
    g.events.on('transaction', (t) => void transactions.push(Math.round(t.startedAt * 1000)));
    try {
      await waitUntil(() => transactions.length >= 5, { timeoutMs: 10_000, what: 'polls' });
      proxy.cut();
      await waitUntil(() => states.includes('healthy->spooling'), { timeoutMs: 10_000, what: 'the store event for the outage' });
      proxy.restore();
      await waitUntil(() => states.at(-1) === 'recovering->healthy', { timeoutMs: 15_000, what: 'the store event for the recovery' });
    } finally {
      await g.close();
      await proxy.close();
    }
    // Every transaction the gateway emitted from the time this test listened until it closed, outage
    // included, is in the database (the log also holds those of the start, before the test listened).
    const t = new URL(target.url);
    const c = await createConnection({ host: t.hostname, port: Number(t.port || 3306), user: decodeURIComponent(t.username), password: decodeURIComponent(t.password), database: t.pathname.slice(1) });
    try {
      const [rows] = await c.query('SELECT started_us FROM log_transactions');
      const logged = new Set((rows as { started_us: number }[]).map((r) => Number(r.started_us)));
      expect(transactions.length).toBeGreaterThan(5);
      expect(transactions.filter((id) => !logged.has(id))).toEqual([]);
      expect(logged.size).toBeGreaterThanOrEqual(new Set(transactions).size);
    } finally {
      await c.end();
      await target.cleanup();
    }
  }, 60_000);
});
