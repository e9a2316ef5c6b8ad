// The SQLite connection, in a worker thread of its own.
//
// better-sqlite3 is synchronous: on the main thread, a history query over months of rows, or
// a commit waiting for its fsync, stops everything else the gateway does for that long (bus
// replies, the bridge's forwarding, HTTP). Here it stops only this thread. Plain JavaScript,
// so that it loads the same under tsx, vitest and `bin/flowbus.js` without a TypeScript loader.
//
// Messages in:  { id, op: 'open', path }
//               { id, op: 'query', sql, params }   one statement (Kysely's queries)
//               { id, op: 'batch', statements }    SQL texts, all in one transaction or none
//               { id, op: 'close' }
// Messages out: { id, ok: true, result } or { id, ok: false, error: { message, code } };
//               a large result's rows come first in parts: { id, part: rows }
import { Buffer } from 'node:buffer';
import { parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** @type {import('better-sqlite3').Database | undefined} */
let db;
/** Why the last open failed, for every call after it. */
let openError = 'the SQLite connection is not open';

function connection() {
  if (!db) throw new Error(openError);
  return db;
}

/** Bytes arrive as Uint8Array (structured clone); better-sqlite3 binds Buffers. */
const bindable = (v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);

function run(msg) {
  switch (msg.op) {
    case 'open': {
      try {
        const opened = new Database(msg.path);
        opened.pragma('journal_mode = WAL');
        opened.pragma('synchronous = FULL');
        opened.pragma('busy_timeout = 5000');
        db = opened;
      } catch (err) {
        openError = `cannot open the SQLite file ${msg.path}: ${err instanceof Error ? err.message : String(err)}`;
        throw new Error(openError);
      }
      return null;
    }
    case 'query': {
      const stmt = connection().prepare(msg.sql);
      const params = msg.params.map(bindable);
      if (stmt.reader) return { rows: stmt.all(params) };
      const { changes, lastInsertRowid } = stmt.run(params);
      return { rows: [], changes: BigInt(changes), lastInsertRowid: BigInt(lastInsertRowid) };
    }
    case 'batch': {
      const conn = connection();
      conn.transaction(() => {
        for (const s of msg.statements) conn.exec(s);
      })();
      return null;
    }
    case 'close': {
      db?.close();
      db = undefined;
      return null;
    }
    default:
      throw new Error(`unknown operation ${String(msg.op)}`);
  }
}

/**
 * Rows per message. A large result goes over in parts: each is copied into the main thread as a
 * task of its own, so taking in 100,000 rows never holds its event loop for long at a time.
 */
const PART_ROWS = 2000;

parentPort?.on('message', (msg) => {
  try {
    const result = run(msg);
    const rows = result?.rows;
    if (Array.isArray(rows) && rows.length > PART_ROWS) {
      let at = 0;
      for (; at + PART_ROWS < rows.length; at += PART_ROWS) parentPort?.postMessage({ id: msg.id, part: rows.slice(at, at + PART_ROWS) });
      result.rows = rows.slice(at);
    }
    parentPort?.postMessage({ id: msg.id, ok: true, result });
  } catch (err) {
    const e = /** @type {{ message?: string, code?: string }} */ (err);
    parentPort?.postMessage({ id: msg.id, ok: false, error: { message: String(e?.message ?? err), code: e?.code } });
  }
});
