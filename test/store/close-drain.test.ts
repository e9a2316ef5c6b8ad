/**
 * A clean stop after a burst: transactions that spilled to the spool because the database did
 * not keep up (more than maxRowsInMemory at once, as a flood through the bridge decodes at its
 * close) are in the database once the store has closed, not left in the spool for the next start.
 * A database that is away is not waited for: its rows stay in the spool, nothing lost.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, SPOOL_FILE, type Store } from '../../src/store/index.js';
import { freshTarget, makeTx, mysqlRuns, recordingLogger, type TestTarget } from './helpers.js';
import { startProxy, type CutProxy } from './proxy.js';

const NO_RETENTION = { transactionsDays: null, parameterValuesDays: null };
const BURST = 6_000;
const DIALECTS: ('sqlite' | 'mysql')[] = ['sqlite', ...((await mysqlRuns()) ? (['mysql'] as const) : [])];

/** Every transaction in the database, read through a store with a spool of its own (so nothing is replayed into it). */
async function countRows(url: string, dir: string): Promise<number> {
  const reader = await openStore({ url, spoolDir: join(dir, 'reader-spool'), batchRows: 100, batchMs: 20, retention: NO_RETENTION }, { logger: recordingLogger() });
  try {
    let n = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = await reader.listTransactions({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      n += page.transactions.length;
      if (!page.nextCursor) return n;
      cursor = page.nextCursor;
    }
  } finally {
    await reader.close();
  }
}

let target: TestTarget | undefined;
let proxy: CutProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  await target?.cleanup();
  target = undefined;
});

describe.each(DIALECTS)('a clean stop after a burst, on %s', (dialect) => {
  it('writes what spilled to the spool before it closes', async () => {
    target = await freshTarget(dialect);
    const spoolDir = join(target.dir, 'spool');
    const log = recordingLogger();
    const store: Store = await openStore(
      { url: target.url, spoolDir, batchRows: 100, batchMs: 20, retention: NO_RETENTION },
      { logger: log, options: { maxRowsInMemory: 1000, retryMinMs: 60_000, retryMaxMs: 60_000 } },
    );
    // All at once, in one turn: far more than the store holds in memory.
    for (let i = 0; i < BURST; i++) store.write(makeTx({}, i));
    await store.flush();
    // The burst did go through the spool (else this test would prove nothing), and the next check
    // of the database is a minute away.
    expect(store.status().spooled).toBeGreaterThan(0);
    expect(store.status().state).not.toBe('healthy');
    await store.close();
    expect(readFileSync(join(spoolDir, SPOOL_FILE), 'utf8')).toBe('');
    expect(await countRows(target.url, target.dir)).toBe(BURST);
    expect(log.lines.some((l) => l.msg === 'store: writing the spool before stopping')).toBe(true);
  });

  it('with drainOnCloseMs 0, leaves them in the spool for the next start, which writes them', async () => {
    target = await freshTarget(dialect);
    const spoolDir = join(target.dir, 'spool');
    const store = await openStore(
      { url: target.url, spoolDir, batchRows: 100, batchMs: 20, retention: NO_RETENTION },
      { logger: recordingLogger(), options: { maxRowsInMemory: 1000, retryMinMs: 60_000, retryMaxMs: 60_000, drainOnCloseMs: 0 } },
    );
    for (let i = 0; i < BURST; i++) store.write(makeTx({}, i));
    await store.flush();
    await store.close();
    const inDb = await countRows(target.url, target.dir);
    expect(inDb).toBeLessThan(BURST);
    expect(readFileSync(join(spoolDir, SPOOL_FILE), 'utf8').length).toBeGreaterThan(0);
    // The next start writes them; the close waits for it.
    const next = await openStore({ url: target.url, spoolDir, batchRows: 100, batchMs: 20, retention: NO_RETENTION }, { logger: recordingLogger() });
    await next.close();
    expect(await countRows(target.url, target.dir)).toBe(BURST);
  });
});

describe.runIf(DIALECTS.includes('mysql'))('a clean stop while the database is away', () => {
  it('does not wait for it: the rows stay in the spool', async () => {
    target = await freshTarget('mysql');
    const u = new URL(target.url);
    proxy = await startProxy(u.hostname, Number(u.port || 3306));
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    const spoolDir = join(target.dir, 'spool');
    const store = await openStore(
      { url: u.toString(), spoolDir, batchRows: 100, batchMs: 20, retention: NO_RETENTION },
      // A stop that waited for this database would wait ten minutes: past the test's time limit.
      { logger: recordingLogger(), options: { writeTimeoutMs: 500, connectTimeoutMs: 500, retryMinMs: 50, retryMaxMs: 100, drainOnCloseMs: 600_000 } },
    );
    proxy.cut();
    for (let i = 0; i < 500; i++) store.write(makeTx({}, i));
    await store.flush();
    expect(store.status().state).toBe('spooling');
    await store.close();
    const spooled = readFileSync(join(spoolDir, SPOOL_FILE), 'utf8').trim().split('\n');
    expect(spooled.reduce((n, line) => n + (JSON.parse(line) as { rows: unknown[] }).rows.length, 0)).toBe(500);
  }, 20_000);
});
