/**
 * The bulk insert's literals mean the same whatever the server's sql_mode: a crafted text is stored
 * exactly as given and never becomes SQL. Run on the real MariaDB with the mode set on the session
 * (SET GLOBAL would reach other tests on the machine), and on SQLite.
 */
import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateStore } from '../../src/store/index.js';
import { insertStatements, type RowTuple } from '../../src/store/db.js';
import { TX_COLUMNS } from '../../src/store/legacy.js';
import { legacyToRows as toRows } from '../../src/store/legacy.js';
import { freshMysqlDatabase, freshTarget, makeTx, mysqlRuns, recordingLogger, type TestTarget } from './helpers.js';

/** A transaction row without bytes (so that every text of the forged row can be written as 0x.. without a quote). */
function txRow(error: string | undefined, bus = 'main'): RowTuple {
  return toRows(makeTx({ error, bus, requestBytes: undefined, replyBytes: undefined })).tx;
}

/**
 * A value that, rendered with backslash escapes and read without them (NO_BACKSLASH_ESCAPES),
 * closes its own literal and tuple, adds a forged row and comments out the rest. `error` is the last
 * column, so the crafted row is complete before the forged one.
 */
function craftedError(forged: RowTuple): string {
  const cells = TX_COLUMNS.map((c, i) => ({ c, v: forged[i] ?? null })).filter(({ c }) => c.name !== 'request' && c.name !== 'reply');
  const tuple = cells.map(({ v }) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `0x${Buffer.from(v).toString('hex')}`)).join(', ');
  return `\\'), (${tuple}) -- `;
}

const AWKWARD = ["it's", 'back\\slash', "\\'", 'tab\there\nline\r\x1a', 'NUL\0inside', '"dq" 流量 µs Ω', "'); DROP TABLE transactions; --"];

describe.skipIf(!(await mysqlRuns()))('MySQL literals whatever the session sql_mode', () => {
  let db: Awaited<ReturnType<typeof freshMysqlDatabase>>;
  beforeAll(async () => {
    db = await freshMysqlDatabase();
    await migrateStore(db.url, recordingLogger());
  });
  afterAll(async () => db?.drop());

  it.each(['', 'NO_BACKSLASH_ESCAPES', 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES', 'ANSI'])('sql_mode %j: a crafted value is stored as given, no forged row', async (mode) => {
    const u = new URL(db.url);
    const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username) || 'root', password: decodeURIComponent(u.password), database: u.pathname.slice(1), charset: 'utf8mb4' });
    try {
      await c.query('DELETE FROM transactions');
      await c.query(`SET SESSION sql_mode = '${mode}'`);
      const forged = txRow(undefined, 'forged');
      const texts = [craftedError(forged), ...AWKWARD];
      const rows = texts.map((t) => txRow(t));
      for (const s of insertStatements('mysql', 'transactions', TX_COLUMNS, rows)) await c.query(s);
      const [back] = await c.query('SELECT id, bus, error FROM transactions');
      const got = back as { id: string; bus: string; error: string }[];
      expect(got.filter((r) => r.bus === 'forged')).toEqual([]);
      expect(got).toHaveLength(rows.length);
      const byId = new Map(got.map((r) => [r.id, r.error]));
      rows.forEach((r, i) => expect(byId.get(r[0] as string), JSON.stringify(texts[i])).toBe(texts[i]));
    } finally {
      await c.end();
    }
  });
});

describe('SQLite literals', () => {
  let target: TestTarget;
  beforeAll(async () => {
    target = await freshTarget('sqlite');
    await migrateStore(target.url, recordingLogger());
  });
  afterAll(async () => target?.cleanup());

  it('quotes, backslashes and NUL are stored exactly as given', () => {
    const sqlite = new Database(target.url.slice('sqlite:'.length));
    try {
      const texts = [craftedError(txRow(undefined, 'forged')), ...AWKWARD];
      const rows = texts.map((t) => txRow(t));
      for (const s of insertStatements('sqlite', 'transactions', TX_COLUMNS, rows)) sqlite.exec(s);
      const got = sqlite.prepare('SELECT id, bus, error FROM transactions').all() as { id: string; bus: string; error: string }[];
      expect(got).toHaveLength(rows.length);
      const byId = new Map(got.map((r) => [r.id, r.error]));
      rows.forEach((r, i) => expect(byId.get(r[0] as string), JSON.stringify(texts[i])).toBe(texts[i]));
    } finally {
      sqlite.close();
    }
  });
});
