/** What the store drops on purpose (an idle connection that dies, a write that fails after its timeout) is said at debug level. */
import { sql } from 'kysely';
import { createConnection } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/store/db.js';
import { withTimeout } from '../../src/store/store.js';
import { parseStoreUrl } from '../../src/store/url.js';
import { waitUntil } from '../helpers/wait.js';
import { MYSQL_URL, mysqlRuns, recordingLogger } from './helpers.js';

describe.skipIf(!(await mysqlRuns()))('an idle MySQL connection that the server ends', () => {
  it('is said at debug level, and the pool opens another', async () => {
    const log = recordingLogger();
    const conn = connect(parseStoreUrl(MYSQL_URL), { connectTimeoutMs: 2_000, poolSize: 1, log });
    try {
      const first = await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(conn.db);
      const id = Number(first.rows[0]?.id);
      const u = new URL(MYSQL_URL);
      const killer = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username) || 'root', password: decodeURIComponent(u.password) });
      await killer.query(`KILL ${id}`);
      await killer.end();
      const said = () => log.lines.filter((l) => l.level === 'debug' && l.msg === 'dropped: an error of an idle database connection (the pool opens another)');
      await waitUntil(() => said().length > 0, { timeoutMs: 5_000, what: 'the debug line' });
      expect(said()[0]?.obj).toMatchObject({ err: expect.any(String) });
      const second = await sql<{ id: number }>`SELECT CONNECTION_ID() AS id`.execute(conn.db);
      expect(Number(second.rows[0]?.id)).not.toBe(id);
    } finally {
      await conn.destroy();
    }
  });
});

describe('a store operation over its time limit', () => {
  const failLater = (ms: number) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connection reset')), ms));
  const debugLines = (log: ReturnType<typeof recordingLogger>) => log.lines.filter((l) => l.level === 'debug');

  it('rejects with STORE_TIMEOUT, and its own failure after that is said at debug level', async () => {
    const log = recordingLogger();
    await expect(withTimeout(failLater(60), 10, 'writing 3 transactions', log)).rejects.toMatchObject({ code: 'STORE_TIMEOUT' });
    expect(debugLines(log)).toEqual([]);
    await waitUntil(() => debugLines(log).length > 0, { timeoutMs: 2_000, what: 'the debug line' });
    expect(debugLines(log)).toEqual([{ level: 'debug', msg: 'dropped: writing 3 transactions failed after its 10 ms timeout', obj: { err: 'connection reset' } }]);
  });

  it('a failure within the limit reaches the caller and is not said again', async () => {
    const log = recordingLogger();
    await expect(withTimeout(failLater(5), 1_000, 'writing 3 transactions', log)).rejects.toThrow('connection reset');
    await new Promise((r) => setTimeout(r, 20));
    expect(debugLines(log)).toEqual([]);
  });
});
