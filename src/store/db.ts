/**
 * The database behind the store: Kysely over mysql2 (a pool) or better-sqlite3 (one file in
 * WAL mode), so queries are written once. Table types, connection and the bulk insert that
 * is the one dialect-specific hot path.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, MysqlDialect, SqliteDialect, sql } from 'kysely';
import { createPool, escape as mysqlEscape } from 'mysql2';
import type { StoreTarget } from './url.js';

/** `transactions`: one row per transaction. Times in µs since the epoch. */
export interface TransactionsTable {
  id: string;
  bus: string;
  mode: string;
  node: number | null;
  seq: number;
  command: number | null;
  command_name: string;
  purpose: string;
  outcome: string;
  status: number | null;
  error_code: number | null;
  request: Buffer | null;
  reply: Buffer | null;
  started_us: number;
  ended_us: number;
  latency_us: number | null;
  attempts: number;
  error: string | null;
}

/** `parameter_values`: one row per parameter of a transaction, keyed by (transaction_id, position). */
export interface ParameterValuesTable {
  transaction_id: string;
  position: number;
  bus: string;
  node: number | null;
  dde: number | null;
  /** process * 65536 + fbnr * 256 + wire type, plus 2^24 when only the index tags are known. */
  address: number;
  value_num: number | null;
  value_text: string | null;
  raw: Buffer | null;
  time_us: number;
}

export interface DB {
  transactions: TransactionsTable;
  parameter_values: ParameterValuesTable;
}

export type Dialect = StoreTarget['dialect'];

/** Connection tuning; see StoreOptions for the meaning and defaults. */
export interface ConnectOptions {
  readonly connectTimeoutMs: number;
  readonly poolSize: number;
}

export interface Connection {
  readonly dialect: Dialect;
  readonly db: Kysely<DB>;
  /** Runs SQL text on one connection inside one database transaction (all statements or none). */
  runInTransaction(statements: readonly string[]): Promise<void>;
  destroy(): Promise<void>;
}

export function connect(target: StoreTarget, opts: ConnectOptions): Connection {
  if (target.dialect === 'sqlite') {
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    const raw = new Database(target.path);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = FULL');
    raw.pragma('busy_timeout = 5000');
    const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: raw }) });
    return {
      dialect: 'sqlite',
      db,
      // better-sqlite3 is synchronous: the statements run as one transaction in this tick, so
      // nothing else can interleave on the single connection.
      async runInTransaction(statements) {
        raw.transaction(() => {
          for (const s of statements) raw.exec(s);
        })();
      },
      async destroy() {
        await db.destroy();
      },
    };
  }
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
  });
  // A pool without a listener would crash the process on a socket error of an idle connection.
  pool.on('connection', (c) => c.on('error', () => {}));
  const db = new Kysely<DB>({ dialect: new MysqlDialect({ pool }) });
  return {
    dialect: 'mysql',
    db,
    async runInTransaction(statements) {
      await db.transaction().execute(async (trx) => {
        for (const s of statements) await sql.raw(s).execute(trx);
      });
    },
    async destroy() {
      await db.destroy();
    },
  };
}

// ------------------------------------------------------------------ bulk insert

/** How a column is written as a SQL literal. */
export type ColumnKind = 'int' | 'real' | 'text' | 'hex';

/** A row as a tuple in the column order of its table's COLUMNS list (compact in memory and in the spool). */
export type RowTuple = readonly (number | string | null)[];

export const TX_COLUMNS: readonly (readonly [keyof TransactionsTable, ColumnKind])[] = [
  ['id', 'text'],
  ['bus', 'text'],
  ['mode', 'text'],
  ['node', 'int'],
  ['seq', 'int'],
  ['command', 'int'],
  ['command_name', 'text'],
  ['purpose', 'text'],
  ['outcome', 'text'],
  ['status', 'int'],
  ['error_code', 'int'],
  ['request', 'hex'],
  ['reply', 'hex'],
  ['started_us', 'int'],
  ['ended_us', 'int'],
  ['latency_us', 'int'],
  ['attempts', 'int'],
  ['error', 'text'],
];

export const PV_COLUMNS: readonly (readonly [keyof ParameterValuesTable, ColumnKind])[] = [
  ['transaction_id', 'text'],
  ['position', 'int'],
  ['bus', 'text'],
  ['node', 'int'],
  ['dde', 'int'],
  ['address', 'int'],
  ['value_num', 'real'],
  ['value_text', 'text'],
  ['raw', 'hex'],
  ['time_us', 'int'],
];

function sqliteString(s: string): string {
  // SQLite string literals have no escapes: only the quote is doubled. NUL cannot be in SQL text.
  return `'${s.replace(/\0/g, '').replace(/'/g, "''")}'`;
}

function literal(dialect: Dialect, kind: ColumnKind, v: number | string | null): string {
  if (v === null) return 'NULL';
  switch (kind) {
    case 'int':
      return Number.isSafeInteger(v) ? String(v) : 'NULL';
    case 'real':
      return typeof v === 'number' && Number.isFinite(v) ? String(v) : 'NULL';
    case 'hex':
      return /^[0-9a-f]*$/.test(String(v)) ? `X'${v}'` : 'NULL';
    case 'text':
      return dialect === 'mysql' ? mysqlEscape(String(v)) : sqliteString(String(v));
  }
}

/** Largest SQL text per statement (MariaDB's max_allowed_packet is 16 MiB by default). */
const MAX_STATEMENT_CHARS = 4 * 1024 * 1024;

/**
 * Multi-row `INSERT IGNORE` (MySQL) / `INSERT OR IGNORE` (SQLite) statements for the rows:
 * a row whose key is already there is skipped, which makes replays idempotent. Values are
 * rendered as literals (numbers checked, text escaped for the dialect, bytes as X'..'), which
 * is several times faster than binding tens of thousands of parameters.
 */
export function insertStatements(
  dialect: Dialect,
  table: keyof DB,
  columns: readonly (readonly [string, ColumnKind])[],
  rows: readonly RowTuple[],
): string[] {
  if (rows.length === 0) return [];
  const head = `${dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE'} INTO ${table} (${columns.map((c) => c[0]).join(', ')}) VALUES `;
  const out: string[] = [];
  let parts: string[] = [];
  let size = head.length;
  for (const row of rows) {
    let text = '(';
    for (let i = 0; i < columns.length; i++) {
      if (i > 0) text += ',';
      text += literal(dialect, (columns[i] as readonly [string, ColumnKind])[1], row[i] ?? null);
    }
    text += ')';
    if (parts.length > 0 && size + text.length > MAX_STATEMENT_CHARS) {
      out.push(head + parts.join(','));
      parts = [];
      size = head.length;
    }
    parts.push(text);
    size += text.length + 1;
  }
  out.push(head + parts.join(','));
  return out;
}
