/**
 * SQLite runs in a worker thread: a long query or a commit must not stop the event loop that
 * carries the bus, the bridge's forwarding and the API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteThread, sqliteThreadDialect } from '../../src/store/sqlite-thread.js';
import { recordingLogger } from './helpers.js';

/** A query that keeps SQLite busy for a while without any data: counting to n. */
const busy = (n: number) => sql<{ n: number }>`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT count(*) AS n FROM c`;

describe('SQLite in a worker thread', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-sqlite-thread-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a long query leaves the event loop free: timers keep firing while it runs', async () => {
    const thread = new SqliteThread(join(dir, 'a.db'));
    const db = new Kysely<unknown>({ dialect: sqliteThreadDialect(thread) });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 2);
      const t0 = performance.now();
      const r = await busy(3_000_000).execute(db);
      const ms = performance.now() - t0;
      clearInterval(timer);
      expect(r.rows[0]?.n).toBe(3_000_000);
      // On the main thread the query is one synchronous call: no timer could fire during it.
      // Here the loop ran throughout; allow for a slow machine, but not for zero.
      expect(ms).toBeGreaterThan(50);
      expect(ticks).toBeGreaterThanOrEqual(Math.min(10, Math.floor(ms / 20)));
    } finally {
      await db.destroy();
    }
  });

  it('a large result arrives whole and in order (it crosses in parts)', async () => {
    const thread = new SqliteThread(join(dir, 'c.db'));
    const db = new Kysely<unknown>({ dialect: sqliteThreadDialect(thread) });
    try {
      const n = 10_001;
      const r = await sql<{ x: number }>`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT x FROM c`.execute(db);
      expect(r.rows.length).toBe(n);
      expect(r.rows.every((row, i) => row.x === i + 1)).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('keeps types: numbers, text, NULL and bytes (as Buffers) round-trip; errors carry SQLite codes', async () => {
    const thread = new SqliteThread(join(dir, 'b.db'));
    const db = new Kysely<{ t: { i: number; r: number | null; s: string; b: Buffer } }>({ dialect: sqliteThreadDialect(thread) });
    try {
      await db.schema.createTable('t').addColumn('i', 'integer', (c) => c.primaryKey()).addColumn('r', 'real').addColumn('s', 'text').addColumn('b', 'blob').execute();
      const ins = await db.insertInto('t').values({ i: 1_700_000_000_000_123, r: null, s: "it's", b: Buffer.from([0, 1, 0xff]) }).executeTakeFirst();
      expect(ins.numInsertedOrUpdatedRows).toBe(1n);
      const row = await db.selectFrom('t').selectAll().executeTakeFirstOrThrow();
      expect(row).toMatchObject({ i: 1_700_000_000_000_123, r: null, s: "it's" });
      expect(Buffer.isBuffer(row.b)).toBe(true);
      expect([...row.b]).toEqual([0, 1, 0xff]);
      await expect(db.insertInto('t').values({ i: 1_700_000_000_000_123, r: 1, s: '', b: Buffer.alloc(0) }).execute()).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
      // A batch is all or nothing.
      await expect(thread.batch(["INSERT INTO t (i, s) VALUES (2, 'two')", "INSERT INTO t (i, s) VALUES (1700000000000123, 'dup')"])).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
      expect((await db.selectFrom('t').select('i').execute()).map((x) => x.i)).toEqual([1_700_000_000_000_123]);
      // Kysely transactions and batches take turns on the one connection.
      await Promise.all([
        db.transaction().execute(async (trx) => {
          await trx.insertInto('t').values({ i: 3, r: 3, s: 'three', b: Buffer.alloc(1) }).execute();
          await busy(200_000).execute(trx);
          await trx.insertInto('t').values({ i: 4, r: 4, s: 'four', b: Buffer.alloc(1) }).execute();
        }),
        thread.batch(["INSERT INTO t (i, s) VALUES (5, 'five')"]),
      ]);
      expect((await db.selectFrom('t').select('i').orderBy('i').execute()).map((x) => x.i)).toEqual([3, 4, 5, 1_700_000_000_000_123]);
    } finally {
      await db.destroy();
    }
  });

  it('a file that cannot be opened says why, on every call, and the failed open itself at debug level', async () => {
    const log = recordingLogger();
    const thread = new SqliteThread(join(dir, 'no-such-dir', 'x.db'), log);
    const db = new Kysely<unknown>({ dialect: sqliteThreadDialect(thread) });
    try {
      await expect(busy(1).execute(db)).rejects.toThrow(/cannot open the SQLite file .*no-such-dir.*x\.db/);
      await expect(busy(1).execute(db)).rejects.toThrow(/cannot open the SQLite file/);
      const debug = log.lines.filter((l) => l.level === 'debug');
      expect(debug).toHaveLength(1);
      expect(debug[0]?.msg).toBe('dropped: opening the SQLite file (every later call fails with the reason)');
      expect(debug[0]?.obj).toMatchObject({ err: expect.stringMatching(/cannot open the SQLite file .*no-such-dir/) });
    } finally {
      await db.destroy();
    }
  });
});
