/**
 * The database behind the store: Kysely over mysql2 (a pool) or better-sqlite3 (one file in
 * WAL mode), so queries are written once. Table types, connection and the bulk insert that
 * is the one dialect-specific hot path.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { Kysely, MysqlDialect } from 'kysely';
import type * as Mysql2 from 'mysql2';
import { dropped, silentLogger, type Logger } from '../shared/index.js';
import { SqliteThread, sqliteThreadDialect } from './sqlite-thread.js';
import type { Column, ColumnKind, RowTuple } from './columns.js';
import type { LegacyDB } from './legacy.js';
import { pieces } from './load-data.js';
import type { StoreTarget } from './url.js';

/** `log_sources`: who logged a transaction on which bus: (gateway, bus, mode) -> a small id. `gateway` '' = not recorded. */
export interface LogSourcesTable {
  id: number;
  gateway: string;
  bus: string;
  mode: string;
}

/** `log_series`: one parameter of one instrument: (source, node, dde) -> a small id. `node` -1 = none. */
export interface LogSeriesTable {
  id: number;
  source: number;
  node: number;
  dde: number;
}

/** `log_transactions`: one row per transaction, keyed (source, started_us, k). Codes in codes.ts; texts that have no code in `extra`. */
export interface LogTransactionsTable {
  source: number;
  started_us: number;
  k: number;
  node: number | null;
  seq: number | null;
  command: number | null;
  command_name: number;
  purpose: number;
  outcome: number;
  status: number | null;
  error_code: number | null;
  /** `log_templates.id` holding request and shape (a read), or NULL (they are inline). */
  template: number | null;
  request: Buffer | null;
  reply: Buffer | null;
  /** ended_us - started_us. */
  ended_d: number | null;
  latency_us: number | null;
  attempts: number | null;
  error: string | null;
  /** The parameters' addresses (rows.ts); NULL when the template has them. */
  shape: Buffer | null;
  /** The parameters' raw bytes and stored values (rows.ts). */
  data: Buffer | null;
  /** JSON of what no column holds as it is (rows.ts `Extra`). */
  extra: string | null;
}

/** `log_values`: one row per parameter value, keyed (series, time_us, k, position); time_us is the transaction's end. */
export interface LogValuesTable {
  series: number;
  time_us: number;
  k: number;
  position: number;
  /** The value when 4 bytes hold it exactly (compact.ts fitsSingle); else NULL and value_num holds it. */
  value_f: number | null;
  value_num: number | null;
  value_text: string | null;
}

/** `log_templates`: a read request's bytes with its parameters' shape, the same every poll: (hash) -> a small id. */
export interface LogTemplatesTable {
  id: number;
  hash: Buffer;
  request: Buffer | null;
  shape: Buffer | null;
}

export interface DB extends LegacyDB {
  log_templates: LogTemplatesTable;
  log_sources: LogSourcesTable;
  log_series: LogSeriesTable;
  log_transactions: LogTransactionsTable;
  log_values: LogValuesTable;
}

export type Dialect = StoreTarget['dialect'];

/** Connection tuning; see StoreOptions for the meaning and defaults. */
export interface ConnectOptions {
  readonly connectTimeoutMs: number;
  readonly poolSize: number;
  /** Where the connection says what it dropped (debug level). Default: nowhere. */
  readonly log?: Logger;
  /** MySQL: write batches with LOAD DATA LOCAL INFILE where the server allows it (default true); false: always INSERT. */
  readonly loadData?: boolean;
}

/**
 * One statement of a database transaction: SQL text, or (MySQL) a `LOAD DATA LOCAL INFILE`
 * with its file and the INSERT statements that write the same rows when the server does not
 * allow it (local_infile=OFF).
 */
export type Statement = string | LoadData;

export interface LoadData {
  readonly sql: string;
  readonly file: Buffer;
  insert(): string[];
}

/**
 * The errors of a server that does not allow LOAD DATA LOCAL: MariaDB's local_infile=OFF
 * (4166, ER_LOAD_INFILE_CAPABILITY_DISABLED), MySQL 8's (3948, ER_CLIENT_LOCAL_FILES_DISABLED),
 * and older servers' ER_NOT_ALLOWED_COMMAND (1148).
 */
const LOAD_REFUSED = new Set([1148, 3948, 4166]);

function loadRefused(err: unknown): boolean {
  return LOAD_REFUSED.has((err as { errno?: unknown } | null)?.errno as number);
}

export interface Connection {
  readonly dialect: Dialect;
  readonly db: Kysely<DB>;
  /**
   * Runs SQL text on one connection inside one database transaction (all statements or none).
   * `beforeCommit` runs after the statements (SQLite: before them, its transaction cannot
   * wait); when it throws, nothing is committed.
   */
  runInTransaction(statements: readonly Statement[], beforeCommit?: () => Promise<void>): Promise<void>;
  /**
   * MySQL: whether batches go as LOAD DATA LOCAL INFILE (compact.ts); false once the server
   * refused it on this connection (the transaction was then written with INSERT), or when
   * `ConnectOptions.loadData` is false. SQLite: false.
   */
  readonly loadData: boolean;
  destroy(): Promise<void>;
}

export function connect(target: StoreTarget, opts: ConnectOptions): Connection {
  if (target.dialect === 'sqlite') {
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    // In a worker thread: better-sqlite3 is synchronous, and on this thread a long query or a
    // commit's fsync would stop the bus, the bridge's forwarding and the API meanwhile.
    const thread = new SqliteThread(target.path, opts.log ?? silentLogger);
    const db = new Kysely<DB>({ dialect: sqliteThreadDialect(thread) });
    return {
      dialect: 'sqlite',
      db,
      loadData: false,
      // One transaction in the worker, taking its turn on the one connection.
      async runInTransaction(statements, beforeCommit) {
        await beforeCommit?.();
        await thread.batch(statements.flatMap((s) => (typeof s === 'string' ? [s] : s.insert())));
      },
      async destroy() {
        await db.destroy();
      },
    };
  }
  // mysql2 is loaded only for a MySQL log: a gateway logging to SQLite (the default) saves its
  // memory and import time. It is CommonJS, so this stays synchronous.
  const { createPool, format: mysqlFormat } = createRequire(import.meta.url)('mysql2') as typeof Mysql2;
  const pool = createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    connectionLimit: opts.poolSize,
    connectTimeout: opts.connectTimeoutMs,
    enableKeepAlive: true,
    keepAliveInitialDelay: 1000,
    supportBigNumbers: true,
    charset: 'utf8mb4',
    waitForConnections: true,
    queueLimit: 1000,
    // mysql2 runs every query through its placeholder formatter, which scans the whole text for
    // `?` even when there are no values: about 5% of the writer's time on megabyte INSERTs.
    // With values (Kysely's queries) it is the formatter mysql2 uses by default.
    queryFormat: (query: string, values: unknown, timezone?: string) =>
      Array.isArray(values) && values.length > 0 ? mysqlFormat(query, values, false, timezone as never) : query,
  });
  // A pool without a listener would crash the process on a socket error of an idle connection;
  // the pool replaces the connection, and a query on it fails (and is reported) by itself.
  const lost = dropped(opts.log ?? silentLogger, 'an error of an idle database connection (the pool opens another)');
  pool.on('connection', (c) => c.on('error', lost));
  const db = new Kysely<DB>({ dialect: new MysqlDialect({ pool }) });
  const log = opts.log ?? silentLogger;
  const run = (c: Mysql2.PoolConnection, s: Statement) =>
    new Promise<void>((resolve, reject) => {
      const done = (err: Error | null) => (err ? reject(err) : resolve());
      if (typeof s === 'string') c.query(s, done);
      else c.query({ sql: s.sql, infileStreamFactory: () => Readable.from(pieces(s.file)) }, done);
    });
  const conn = {
    dialect: 'mysql' as const,
    db,
    loadData: opts.loadData ?? true,
    // On one pool connection, as Kysely's transactions are, but straight through mysql2: a
    // LOAD DATA needs its file stream, which Kysely cannot pass.
    async runInTransaction(statements: readonly Statement[], beforeCommit?: () => Promise<void>) {
      const c = await new Promise<Mysql2.PoolConnection>((resolve, reject) => pool.getConnection((err, got) => (err ? reject(err) : resolve(got))));
      let open = false;
      try {
        await run(c, 'BEGIN');
        open = true;
        try {
          for (const s of statements) await run(c, s);
        } catch (err) {
          if (!loadRefused(err) || statements.every((s) => typeof s === 'string')) throw err;
          // The server does not allow LOAD DATA LOCAL: the whole transaction again with INSERTs, and only INSERTs on this connection from now on.
          conn.loadData = false;
          log.warn(
            { err: (err as Error).message },
            'store: the MySQL server does not allow LOAD DATA LOCAL INFILE (local_infile=OFF): writing with INSERT statements instead, which costs the server more CPU per transaction (SET GLOBAL local_infile=ON allows it)',
          );
          await run(c, 'ROLLBACK');
          await run(c, 'BEGIN');
          for (const s of statements) for (const t of typeof s === 'string' ? [s] : s.insert()) await run(c, t);
        }
        await beforeCommit?.();
        open = false;
        await run(c, 'COMMIT');
        c.release();
      } catch (err) {
        // A connection whose ROLLBACK fails too is broken: it is closed, not given back to the pool.
        if (open) await run(c, 'ROLLBACK').then(() => c.release(), () => c.destroy());
        else c.destroy();
        throw err;
      }
    },
    async destroy() {
      await db.destroy();
    },
  };
  return conn;
}

// ------------------------------------------------------------------ bulk insert

export type { Column, ColumnKind, RowTuple } from './columns.js';

function sqliteString(s: string): string {
  // SQLite string literals have no escapes: only the quote is doubled. NUL cannot be in SQL text,
  // so a text with a NUL goes as its UTF-8 bytes cast to text, which keeps it exactly.
  if (s.includes('\0')) return `CAST(X'${Buffer.from(s, 'utf8').toString('hex')}' AS TEXT)`;
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * The characters whose meaning inside a MySQL string literal depends on the server (the backslash
 * under NO_BACKSLASH_ESCAPES), or that end it (the quote), or that are awkward in SQL text (NUL,
 * ^Z, control characters).
 */
// eslint-disable-next-line no-control-regex -- NUL and ^Z are exactly what must be found
const MYSQL_SPECIAL = /[\0\b\t\n\r\x1a"'\\]/;

/**
 * A MySQL text literal that means the same whatever the session's sql_mode: plain quotes for the
 * text that has none of the special characters (nearly all: ids, bus, mode, outcome), and for the
 * rest its UTF-8 bytes as a hex literal with the utf8mb4 introducer, which no mode reinterprets.
 */
function mysqlString(s: string): string {
  return MYSQL_SPECIAL.test(s) ? `_utf8mb4 X'${Buffer.from(s, 'utf8').toString('hex')}'` : `'${s}'`;
}

/** A text as a SQL literal of the dialect. */
export function textLiteral(dialect: Dialect, s: string): string {
  return dialect === 'mysql' ? mysqlString(s) : sqliteString(s);
}

const HEX = /^[0-9a-f]*$/;

function literal(kind: ColumnKind, v: number | string | null, text: (s: string) => string): string {
  if (v === null) return 'NULL';
  switch (kind) {
    case 'int':
      return Number.isSafeInteger(v) ? `${v}` : 'NULL';
    case 'real':
      return typeof v === 'number' && Number.isFinite(v) ? `${v}` : 'NULL';
    case 'hex':
      return typeof v === 'string' && HEX.test(v) ? `X'${v}'` : 'NULL';
    case 'text':
      return text(typeof v === 'string' ? v : `${v}`);
  }
}

/** Largest SQL text per statement (MariaDB's max_allowed_packet is 16 MiB by default). */
const MAX_STATEMENT_CHARS = 4 * 1024 * 1024;

/**
 * Multi-row `INSERT IGNORE` (MySQL) / `INSERT OR IGNORE` (SQLite) statements for the rows:
 * a row whose key is already there is skipped, which makes replays idempotent. Values are
 * rendered as literals (numbers checked, text quoted for the dialect, or as hex when it holds a
 * character whose meaning could depend on the server's mode, bytes as X'..'), which
 * is several times faster than binding tens of thousands of parameters.
 *
 * This is the writer's hot path (30 values per transaction), so it is written for speed: each
 * value goes into an array that is joined once (V8 then copies every character once; growing
 * one string with `+=` builds a rope that costs more to flatten than to build), and nullable
 * columns that are NULL in every row are left out, which is less text to build, send and
 * parse (MariaDB spends about a third of its time per batch in the parser).
 */
export function insertStatements<T>(dialect: Dialect, table: keyof DB, columns: readonly Column<T>[], rows: readonly RowTuple[]): string[] {
  if (rows.length === 0) return [];
  const at: number[] = [];
  const kinds: ColumnKind[] = [];
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i] as Column<T>;
    if (!c.nullable || rows.some((r) => (r[i] ?? null) !== null)) {
      at.push(i);
      kinds.push(c.kind);
    }
  }
  const text = dialect === 'mysql' ? mysqlString : sqliteString;
  const head = `${dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE'} INTO ${table} (${at.map((i) => (columns[i] as Column<T>).name).join(', ')}) VALUES `;
  const out: string[] = [];
  const cells: string[] = new Array<string>(at.length);
  let tuples: string[] = [];
  let size = head.length;
  for (const row of rows) {
    for (let j = 0; j < at.length; j++) cells[j] = literal(kinds[j] as ColumnKind, row[at[j] as number] ?? null, text);
    const tuple = `(${cells.join(',')})`;
    if (tuples.length > 0 && size + tuple.length > MAX_STATEMENT_CHARS) {
      out.push(head + tuples.join(','));
      tuples = [];
      size = head.length;
    }
    tuples.push(tuple);
    size += tuple.length + 1;
  }
  out.push(head + tuples.join(','));
  return out;
}
