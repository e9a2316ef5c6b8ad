/**
 * Crash: kill -9 a gateway process while it spools, start again with the database
 * reachable, and every spooled transaction arrives exactly once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, SPOOL_FILE } from '../../src/store/index.js';
import { freshTarget, mysqlRuns, recordingLogger, spawnSpoolingChild } from './helpers.js';
import { waitUntil } from '../helpers/wait.js';

const DIALECTS: ('sqlite' | 'mysql')[] = ['sqlite', ...((await mysqlRuns()) ? (['mysql'] as const) : [])];

/** Start times (µs) in the complete lines of a spool file (what the killed process had synced). */
function spooledIds(path: string): number[] {
  const ids: number[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    try {
      const batch = JSON.parse(line) as { rows: { tx: number[] }[] };
      for (const r of batch.rows) ids.push(r.tx[3] as number);
    } catch {
      // the line the kill cut short
    }
  }
  return ids;
}

describe.each(DIALECTS)('crash while spooling, restart on %s', (dialect) => {
  it('writes every spooled transaction once', async () => {
    const target = await freshTarget(dialect);
    const spoolDir = join(target.dir, 'spool');
    try {
      const child = spawnSpoolingChild(spoolDir);
      await waitUntil(() => child.spooled() >= 3000, { timeoutMs: 20_000, what: 'the child to spool 3000 transactions' });
      await child.kill();

      const ids = spooledIds(join(spoolDir, SPOOL_FILE));
      expect(ids.length).toBeGreaterThanOrEqual(3000);
      const log = recordingLogger();
      const store = await openStore({ url: target.url, spoolDir, batchRows: 500, batchMs: 20, retention: { transactionsDays: null, parameterValuesDays: null } }, { logger: log });
      try {
        await waitUntil(() => store.status().state === 'healthy' && store.status().rowsWaiting === 0, { timeoutMs: 30_000, what: 'the spool to be written' });
        const got: number[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listTransactions({ node: 21, limit: 10_000, ...(cursor ? { cursor } : {}) });
          got.push(...page.transactions.map((t) => Math.round(t.startedAt * 1000)));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(got.length).toBe(ids.length);
        expect(new Set(got).size).toBe(got.length);
        expect(got.reverse()).toEqual(ids);
        expect(readFileSync(join(spoolDir, SPOOL_FILE), 'utf8')).toBe('');
      } finally {
        await store.close();
      }
    } finally {
      await target.cleanup();
    }
  }, 60_000);
});
