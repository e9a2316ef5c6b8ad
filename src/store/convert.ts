/**
 * `flowbus db convert`: copies the rows of the log as versions before migration 0003 kept it
 * (`transactions`, `parameter_values`) into the compact tables, then checks the copy.
 *
 *   old rows in keyset order (started_us, id), `batch` at a time
 *     -> compact rows (RowMaker.fromLegacy), tie-breakers chosen from what the database holds
 *     -> one database transaction: the chunk's new rows + the checkpoint row (`flowbus_convert`)
 *   then: every old transaction read back through the old reader and found, equal field by
 *   field, through the new one; every old history value found in `log_values`.
 *
 * Resumable by construction: a chunk's rows and the checkpoint that says they are there commit
 * together, and the tie-breakers `k` of a chunk depend only on the chunk and on the rows already
 * in the database, never on what an earlier process remembered. A run killed at any point and
 * started again therefore writes exactly the rows one uninterrupted run writes.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { sql, type ExpressionBuilder } from 'kysely';
import { GatewayError, type Logger } from '../shared/index.js';
import { compactStatements, endedUsOf, fromSingle, LogIds, NO_NODE, nodeOf } from './compact.js';
import type { Connection, DB, Dialect, LogTransactionsTable } from './db.js';
import { connect, textLiteral } from './db.js';
import { migrate } from './migrations.js';
import { resolveStoreOptions } from './options.js';
import { storeConfigProblem } from './problems.js';
import { parseStoreUrl, redactStoreUrl } from './url.js';
import { paramFromRow, transactionFromRow, type ParameterValuesTable, type TransactionsTable } from './legacy.js';
import { templatesFor, transactionFromLog } from './query.js';
import { RowMaker, TX, VAL, type Rows } from './rows.js';
import type { LoggedTransaction } from '../gateway/index.js';

/** The checkpoint table: one row (id 1), the last old row converted and what was converted up to it. */
export const CHECKPOINT_TABLE = 'flowbus_convert';

export const DEFAULT_BATCH = 2000;
export const MIN_BATCH = 1;
export const MAX_BATCH = 10_000;

export interface Checkpoint {
  readonly lastStartedUs: number;
  readonly lastId: string;
  readonly transactions: number;
  readonly parameterValues: number;
  /** µs since the epoch; when the last verification passed (undefined: never). */
  readonly verifiedUs?: number;
  /** When the old tables were dropped. */
  readonly droppedUs?: number;
}

export type ConvertPhase = 'convert' | 'verify';

export interface ConvertProgress {
  readonly phase: ConvertPhase;
  /** Transactions done in this phase (this run). */
  readonly done: number;
  /** Transactions this phase has to do. */
  readonly total: number;
  /** ms since this phase started. */
  readonly elapsedMs: number;
}

export interface ConvertOptions {
  /** Old transactions per chunk (one database transaction each), MIN_BATCH..MAX_BATCH; default DEFAULT_BATCH. */
  readonly batch?: number;
  /** Drop the old tables once the verification has passed. */
  readonly dropOld?: boolean;
  /** Verify even when nothing was converted in this run. */
  readonly verify?: boolean;
  readonly onProgress?: (p: ConvertProgress) => void;
}

export interface VerifyResult {
  /** Old transactions compared with their new rows (all of the converted range). */
  readonly transactions: number;
  /** Old parameter rows compared (each against the new transaction's parameters). */
  readonly parameterValues: number;
  /** Old parameter rows with a DDE number found with the same value in `log_values` (the history). */
  readonly historyValues: number;
}

export interface ConvertResult {
  /** There were no old tables (a log begun on the compact schema, or dropped before). */
  readonly noOldTables: boolean;
  /** Converted in this run. */
  readonly converted: number;
  readonly convertedValues: number;
  /** Converted by earlier runs (the checkpoint's count when this run began). */
  readonly before: number;
  /** Old transactions in the log. */
  readonly oldTransactions: number;
  readonly verified?: VerifyResult;
  readonly dropped: boolean;
  /** Bytes the old tables and their indexes take (what dropping them frees; SQLite: for new rows, the file keeps its size until VACUUM). */
  readonly oldBytes?: number;
  /** Bytes of the compact tables. */
  readonly newBytes?: number;
  readonly checkpoint?: Checkpoint;
  readonly elapsedMs: number;
}

const num = (v: unknown): number => Number(v);

async function tableExists(conn: Connection, name: string): Promise<boolean> {
  const r =
    conn.dialect === 'mysql'
      ? await sql<{ n: number }>`SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ${name}`.execute(conn.db)
      : await sql<{ n: number }>`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ${name}`.execute(conn.db);
  return num(r.rows[0]?.n ?? 0) > 0;
}

function checkpointDdl(dialect: Dialect): string {
  const id = dialect === 'mysql' ? 'char(36) CHARACTER SET ascii COLLATE ascii_bin' : 'TEXT';
  return `CREATE TABLE IF NOT EXISTS ${CHECKPOINT_TABLE} (id INTEGER NOT NULL PRIMARY KEY, last_started_us BIGINT NOT NULL, last_id ${id} NOT NULL, transactions BIGINT NOT NULL, parameter_values BIGINT NOT NULL, updated_us BIGINT NOT NULL, verified_us BIGINT NULL, dropped_us BIGINT NULL)`;
}

/** The checkpoint, or undefined when no chunk was ever converted (or there is no table). */
export async function readCheckpoint(conn: Connection): Promise<Checkpoint | undefined> {
  if (!(await tableExists(conn, CHECKPOINT_TABLE))) return undefined;
  const r = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(CHECKPOINT_TABLE)} WHERE id = 1`.execute(conn.db);
  const row = r.rows[0];
  if (!row) return undefined;
  return {
    lastStartedUs: num(row.last_started_us),
    lastId: Buffer.isBuffer(row.last_id) ? row.last_id.toString('latin1') : String(row.last_id),
    transactions: num(row.transactions),
    parameterValues: num(row.parameter_values),
    ...(row.verified_us === null || row.verified_us === undefined ? {} : { verifiedUs: num(row.verified_us) }),
    ...(row.dropped_us === null || row.dropped_us === undefined ? {} : { droppedUs: num(row.dropped_us) }),
  };
}

function checkpointSql(dialect: Dialect, c: Checkpoint): string {
  const opt = (v: number | undefined) => (v === undefined ? 'NULL' : `${v}`);
  return `REPLACE INTO ${CHECKPOINT_TABLE} (id, last_started_us, last_id, transactions, parameter_values, updated_us, verified_us, dropped_us) VALUES (1, ${c.lastStartedUs}, ${textLiteral(dialect, c.lastId)}, ${c.transactions}, ${c.parameterValues}, ${Date.now() * 1000}, ${opt(c.verifiedUs)}, ${opt(c.droppedUs)})`;
}

type Key = Pick<Checkpoint, 'lastStartedUs' | 'lastId'>;

/** Old transactions after `c` in keyset order (started_us, id). */
const after = (c: Key) => (eb: ExpressionBuilder<DB, 'transactions'>) =>
  eb.and([eb('started_us', '>=', c.lastStartedUs), eb.or([eb('started_us', '>', c.lastStartedUs), eb('id', '>', c.lastId)])]);

/** Old transactions up to `c`, itself included. */
const upTo = (c: Key) => (eb: ExpressionBuilder<DB, 'transactions'>) =>
  eb.or([eb('started_us', '<', c.lastStartedUs), eb.and([eb('started_us', '=', c.lastStartedUs), eb('id', '<=', c.lastId)])]);

/**
 * Old transactions not yet converted: undefined when there are no old tables. What the gateway
 * counts at start (one warning) and the command's total.
 */
export async function unconvertedCount(conn: Connection): Promise<number | undefined> {
  if (!(await tableExists(conn, 'transactions'))) return undefined;
  const c = await readCheckpoint(conn);
  let q = conn.db.selectFrom('transactions').select((eb) => eb.fn.countAll<number>().as('n'));
  if (c) q = q.where(after(c));
  const r = await q.executeTakeFirst();
  return num(r?.n ?? 0);
}

/** One chunk of old rows: the transactions in keyset order and their parameter rows by transaction, in position order. */
async function readChunk(conn: Connection, from: Key | undefined, limit: number, through?: Key) {
  let q = conn.db.selectFrom('transactions').selectAll();
  if (from) q = q.where(after(from));
  if (through) q = q.where(upTo(through));
  const txs = (await q.orderBy('started_us').orderBy('id').limit(limit).execute()) as TransactionsTable[];
  for (const t of txs) if (Buffer.isBuffer(t.id)) t.id = (t.id as Buffer).toString('latin1');
  const params = new Map<string, ParameterValuesTable[]>();
  if (txs.length > 0) {
    const rows = (await conn.db
      .selectFrom('parameter_values')
      .selectAll()
      .where(
        'transaction_id',
        'in',
        txs.map((t) => t.id),
      )
      .execute()) as ParameterValuesTable[];
    for (const p of rows) {
      const id = Buffer.isBuffer(p.transaction_id) ? (p.transaction_id as Buffer).toString('latin1') : String(p.transaction_id);
      let list = params.get(id);
      if (!list) params.set(id, (list = []));
      list.push(p);
    }
    for (const list of params.values()) list.sort((a, b) => num(a.position) - num(b.position));
  }
  return { txs, params };
}

const MAX_K = 65_535;

/** What `run` finds for each series and its times (the key's first two columns), in pieces of 1000 times. */
async function byExactTimes<T>(times: Map<number, Set<number>>, run: (series: number, times: number[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (const [series, set] of times) {
    const list = [...set];
    for (let i = 0; i < list.length; i += 1000) out.push(...(await run(series, list.slice(i, i + 1000))));
  }
  return out;
}

/**
 * Gives each chunk row its tie-breaker: the smallest k that no row of its source already has at
 * its start (log_transactions' key) and that no value row of its series has at its end
 * (log_values' key), counting the rows in the database and those before it in the chunk. A
 * function of the database and the chunk only, so a resumed run gives the same k as an
 * uninterrupted one. Looked up by exact key: a chunk's ends can lie far apart (a transaction
 * that lasted an hour), and a range between them would read everything in between.
 */
async function assignTies(conn: Connection, ids: LogIds, rows: Rows[]): Promise<Rows[]> {
  if (rows.length === 0) return rows;
  const { source, series } = await ids.resolve(conn, rows);
  const span = new Map<number, { min: number; max: number }>();
  const ends = new Map<number, Set<number>>();
  const seriesOf = (r: Rows, s: number) => {
    const node = nodeOf(r);
    return r.values.map((v) => series(s, node, v[VAL.dde] as number));
  };
  for (const r of rows) {
    const s = source(r);
    const st = r.tx[TX.startedUs] as number;
    const w = span.get(s);
    if (!w) span.set(s, { min: st, max: st });
    else w.max = Math.max(w.max, st);
    const en = endedUsOf(r);
    for (const id of seriesOf(r, s)) {
      let set = ends.get(id);
      if (!set) ends.set(id, (set = new Set()));
      set.add(en);
    }
  }
  const used = new Map<string, Set<number>>();
  const add = (key: string, k: number) => {
    let set = used.get(key);
    if (!set) used.set(key, (set = new Set()));
    set.add(k);
  };
  for (const [s, w] of span) {
    // +1 µs: a start moved on past MAX_K (never in practice) still finds its neighbours.
    const tx = await conn.db.selectFrom('log_transactions').select(['started_us', 'k']).where('source', '=', s).where('started_us', '>=', w.min).where('started_us', '<=', w.max + 1).execute();
    for (const t of tx) add(`s${s}/${num(t.started_us)}`, num(t.k));
  }
  const taken = await byExactTimes(ends, async (id, times) => (await conn.db.selectFrom('log_values').select(['series', 'time_us', 'k']).where('series', '=', id).where('time_us', 'in', times).execute()));
  for (const v of taken) add(`v${num(v.series)}/${num(v.time_us)}`, num(v.k));
  return rows.map((r) => {
    const s = source(r);
    let st = r.tx[TX.startedUs] as number;
    const en = endedUsOf(r);
    const endKeys = [...new Set(seriesOf(r, s))].map((id) => `v${id}/${en}`);
    const endUsed = endKeys.map((key) => used.get(key)).filter((x): x is Set<number> => x !== undefined);
    let k = 0;
    for (;;) {
      const startUsed = used.get(`s${s}/${st}`);
      while (startUsed?.has(k) || endUsed.some((set) => set.has(k))) k++;
      if (k <= MAX_K) break;
      st += 1;
      k = 0;
    }
    add(`s${s}/${st}`, k);
    for (const key of endKeys) add(key, k);
    if (st === r.tx[TX.startedUs] && k === r.tx[TX.k]) return r;
    const tx = [...r.tx];
    tx[TX.k] = k;
    if (st !== r.tx[TX.startedUs]) {
      // ended_d is relative to the start.
      tx[TX.startedUs] = st;
      if (typeof r.tx[TX.endedD] === 'number') tx[TX.endedD] = en - st;
    }
    return { tx, values: r.values };
  });
}

/** The bytes the tables and their indexes take. */
async function tableBytes(conn: Connection, tables: readonly string[]): Promise<number | undefined> {
  try {
    if (conn.dialect === 'mysql') {
      const list = tables.map((t) => textLiteral('mysql', t)).join(',');
      const r = await sql.raw<{ n: number }>(`SELECT COALESCE(SUM(data_length + index_length), 0) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (${list})`).execute(conn.db);
      return num(r.rows[0]?.n ?? 0);
    }
    const list = tables.map((t) => textLiteral('sqlite', t)).join(',');
    const r = await sql.raw<{ n: number }>(`SELECT COALESCE(SUM(pgsize), 0) AS n FROM dbstat WHERE name IN (${list}) OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN (${list}))`).execute(conn.db);
    return num(r.rows[0]?.n ?? 0);
  } catch {
    return undefined;
  }
}

export const OLD_TABLES = ['transactions', 'parameter_values'] as const;
export const NEW_TABLES = ['log_sources', 'log_series', 'log_transactions', 'log_values'] as const;

/** A value as canonical text: object keys sorted, undefined members left out, bytes as hex. */
function canon(v: unknown): string {
  if (v === null || typeof v !== 'object') return v === undefined ? 'null' : JSON.stringify(v);
  if (v instanceof Uint8Array) return `"hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`;
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canon(o[k])}`).join(',')}}`;
}

/** A transaction as text that two readers agree on when the transactions are the same: all but the id. */
export function comparable(t: LoggedTransaction): string {
  const { id: _id, ...rest } = t;
  return canon(rest);
}

interface SourceRow {
  id: number;
  gateway: string;
  bus: string;
  mode: string;
}

/**
 * Checks the converted range: every old transaction read through the old reader has a new row
 * that the new reader gives back equal (all but the id), and every old parameter row with a DDE
 * number is in `log_values` with the same value. Throws STORE_CONVERT_MISMATCH naming the first
 * differences.
 */
export async function verifyConversion(conn: Connection, checkpoint: Checkpoint, opts: { batch: number; onProgress?: (p: ConvertProgress) => void }): Promise<VerifyResult> {
  const t0 = Date.now();
  const total = checkpoint.transactions;
  const sources = (await conn.db.selectFrom('log_sources').selectAll().execute()).map((s) => ({ id: num(s.id), gateway: String(s.gateway), bus: String(s.bus), mode: String(s.mode) }));
  const sourceOf = new Map(sources.map((s) => [`${s.gateway}\u0000${s.bus}\u0000${s.mode}`, s]));
  const seriesOf = new Map<string, number>();
  for (const s of await conn.db.selectFrom('log_series').selectAll().execute()) seriesOf.set(`${num(s.source)}/${num(s.node)}/${num(s.dde)}`, num(s.id));
  const problems: string[] = [];
  const problem = (text: string) => {
    if (problems.length < 5) problems.push(text);
  };
  let transactions = 0;
  let parameterValues = 0;
  let historyValues = 0;
  let expectedHistory = 0;
  let from: Key | undefined;
  for (;;) {
    const { txs, params } = await readChunk(conn, from, opts.batch, checkpoint);
    if (txs.length === 0) break;
    // The new rows of the chunk's time range, per source.
    const window = new Map<number, { min: number; max: number }>();
    const src = txs.map((t) => sourceOf.get(`${t.gateway ?? ''}\u0000${t.bus}\u0000${t.mode}`));
    txs.forEach((t, i) => {
      const s = src[i];
      if (!s) return;
      const st = num(t.started_us);
      const w = window.get(s.id);
      if (!w) window.set(s.id, { min: st, max: st });
      else w.max = Math.max(w.max, st);
    });
    const candidates = new Map<string, { text: string; k: number }[]>();
    for (const [s, w] of window) {
      const source = sources.find((x) => x.id === s) as SourceRow;
      // +1 µs: a start moved on past the tie-breaker's range (never in practice).
      const rows = (await conn.db.selectFrom('log_transactions').selectAll().where('source', '=', s).where('started_us', '>=', w.min).where('started_us', '<=', w.max + 1).execute()) as LogTransactionsTable[];
      const templates = await templatesFor(conn.db, rows);
      for (const r of rows) {
        const key = `${s}/${num(r.started_us)}`;
        let list = candidates.get(key);
        if (!list) candidates.set(key, (list = []));
        list.push({ text: comparable(transactionFromLog(r, source, templates)), k: num(r.k) });
      }
    }
    // Each old transaction against the new rows that start where it started; the history values it must have.
    const wanted: { id: string; dde: number; position: number; key: string | undefined; num: number | null; text: string | null }[] = [];
    const times = new Map<number, Set<number>>();
    txs.forEach((t, i) => {
      const s = src[i];
      const ps = params.get(t.id) ?? [];
      parameterValues += ps.length;
      transactions++;
      if (!s) return problem(`transaction ${t.id}: no source (${t.gateway ?? ''}, ${t.bus}, ${t.mode}) in log_sources`);
      const want = comparable(transactionFromRow(t, ps.map(paramFromRow)));
      const list = candidates.get(`${s.id}/${num(t.started_us)}`) ?? candidates.get(`${s.id}/${num(t.started_us) + 1}`);
      const at = list?.findIndex((c) => c.text === want) ?? -1;
      if (!list || at < 0) return problem(`transaction ${t.id} (started ${num(t.started_us)} µs): ${list ? `differs from the new rows there: old ${want.slice(0, 300)} new ${list.map((c) => c.text.slice(0, 300)).join(' | ')}` : 'no new row'}`);
      const k = (list.splice(at, 1)[0] as { k: number }).k;
      const node = t.node ?? NO_NODE;
      const ended = num(t.ended_us);
      for (const p of ps) {
        const dde = p.dde === null ? null : num(p.dde);
        if (dde === null || !Number.isInteger(dde) || dde < 0 || dde > 32767) continue;
        const series = seriesOf.get(`${s.id}/${node >= -32768 && node <= 32767 ? node : NO_NODE}/${dde}`);
        if (series !== undefined) {
          let set = times.get(series);
          if (!set) times.set(series, (set = new Set()));
          set.add(ended);
        }
        const [wantNum, wantText] = [p.value_num === null ? null : num(p.value_num), p.value_text === null ? null : String(p.value_text)];
        wanted.push({ id: t.id, dde, position: num(p.position), key: series === undefined ? undefined : `${series}/${ended}/${k}/${num(p.position)}`, num: wantNum, text: wantText });
      }
    });
    // The history: each parameter row with a DDE number the new log keeps as a value row, looked up by its key.
    const history = new Map<string, { num: number | null; text: string | null }>();
    const found = await byExactTimes(times, (series, list) => conn.db.selectFrom('log_values').selectAll().where('series', '=', series).where('time_us', 'in', list).execute());
    for (const v of found) history.set(`${num(v.series)}/${num(v.time_us)}/${num(v.k)}/${num(v.position)}`, { num: v.value_f !== null && v.value_f !== undefined ? fromSingle(num(v.value_f)) : v.value_num === null ? null : num(v.value_num), text: v.value_text === null ? null : String(v.value_text) });
    for (const w of wanted) {
      expectedHistory++;
      const v = w.key === undefined ? undefined : history.get(w.key);
      if (!v) problem(`transaction ${w.id}: value of DDE ${w.dde} at position ${w.position} missing from log_values`);
      else if (v.num !== w.num || v.text !== w.text) problem(`transaction ${w.id}: value of DDE ${w.dde} at position ${w.position} is ${v.num ?? JSON.stringify(v.text)} in log_values, ${w.num ?? JSON.stringify(w.text)} before`);
      else historyValues++;
    }
    const last = txs[txs.length - 1] as TransactionsTable;
    from = { lastStartedUs: num(last.started_us), lastId: last.id };
    opts.onProgress?.({ phase: 'verify', done: transactions, total, elapsedMs: Date.now() - t0 });
  }
  if (transactions !== checkpoint.transactions) problem(`the old tables hold ${transactions} transactions up to the checkpoint, the conversion counted ${checkpoint.transactions} (rows added or deleted behind it?)`);
  if (parameterValues !== checkpoint.parameterValues) problem(`the old tables hold ${parameterValues} parameter rows up to the checkpoint, the conversion counted ${checkpoint.parameterValues}`);
  if (historyValues !== expectedHistory) problem(`${expectedHistory - historyValues} of ${expectedHistory} history values differ or are missing`);
  if (problems.length > 0) {
    throw new GatewayError('STORE_CONVERT_MISMATCH', `the converted log differs from the old one: ${problems.join('; ')}`, { problems, transactions, parameterValues });
  }
  return { transactions, parameterValues, historyValues };
}

/**
 * Converts the old rows after the checkpoint, verifies the converted range, and drops the old
 * tables when asked and the verification passed. The schema must be migrated (0003) already.
 */
export async function convertLog(conn: Connection, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const t0 = Date.now();
  const batch = opts.batch ?? DEFAULT_BATCH;
  if (!Number.isInteger(batch) || batch < MIN_BATCH || batch > MAX_BATCH) {
    throw new GatewayError('CLI_BAD_OPTION', `--batch must be a whole number ${MIN_BATCH}..${MAX_BATCH}, got ${batch}`, { option: '--batch', value: batch, min: MIN_BATCH, max: MAX_BATCH });
  }
  const hasOld = await tableExists(conn, 'transactions');
  if (!hasOld) {
    const checkpoint = await readCheckpoint(conn);
    return { noOldTables: true, converted: 0, convertedValues: 0, before: checkpoint?.transactions ?? 0, oldTransactions: 0, dropped: false, ...(checkpoint ? { checkpoint } : {}), elapsedMs: Date.now() - t0 };
  }
  await sql.raw(checkpointDdl(conn.dialect)).execute(conn.db);
  let checkpoint = await readCheckpoint(conn);
  const before = checkpoint?.transactions ?? 0;
  const todo = (await unconvertedCount(conn)) ?? 0;
  const ids = new LogIds();
  let converted = 0;
  let convertedValues = 0;
  const tc = Date.now();
  for (;;) {
    const { txs, params } = await readChunk(conn, checkpoint, batch);
    if (txs.length === 0) break;
    // A fresh maker per chunk: its own tie-breakers are replaced by assignTies.
    const maker = new RowMaker(null);
    let values = 0;
    const made = txs.map((t) => {
      const ps = params.get(t.id) ?? [];
      values += ps.length;
      return maker.fromLegacy(t, ps);
    });
    const rows = await assignTies(conn, ids, made);
    const last = txs[txs.length - 1] as TransactionsTable;
    const next: Checkpoint = {
      lastStartedUs: num(last.started_us),
      lastId: last.id,
      transactions: (checkpoint?.transactions ?? 0) + txs.length,
      parameterValues: (checkpoint?.parameterValues ?? 0) + values,
    };
    await conn.runInTransaction([...(await compactStatements(conn, ids, rows)), checkpointSql(conn.dialect, next)]);
    checkpoint = next;
    converted += txs.length;
    convertedValues += values;
    opts.onProgress?.({ phase: 'convert', done: converted, total: Math.max(todo, converted), elapsedMs: Date.now() - tc });
    if (txs.length < batch) break;
  }
  const oldTransactions = before + converted + ((await unconvertedCount(conn)) ?? 0);
  let verified: VerifyResult | undefined;
  let dropped = false;
  const oldBytes = await tableBytes(conn, OLD_TABLES);
  if (checkpoint && (converted > 0 || opts.dropOld || opts.verify)) {
    verified = await verifyConversion(conn, checkpoint, { batch: Math.max(batch, 1000), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    checkpoint = { ...checkpoint, verifiedUs: Date.now() * 1000 };
    await conn.runInTransaction([checkpointSql(conn.dialect, checkpoint)]);
  }
  if (opts.dropOld) {
    const left = (await unconvertedCount(conn)) ?? 0;
    if (left > 0) {
      throw new GatewayError('STORE_CONVERT_INCOMPLETE', `not dropping the old tables: ${left} transactions arrived in them after the conversion (a gateway of an older version still writes there?); run flowbus db convert again`, { left });
    }
    if (checkpoint && !verified) throw new GatewayError('STORE_CONVERT_MISMATCH', 'not dropping the old tables: the conversion was not verified', {});
    checkpoint = { ...(checkpoint ?? { lastStartedUs: 0, lastId: '', transactions: 0, parameterValues: 0 }), droppedUs: Date.now() * 1000 };
    // Values first: nothing refers to them.
    await sql.raw('DROP TABLE parameter_values').execute(conn.db);
    await sql.raw('DROP TABLE transactions').execute(conn.db);
    await conn.runInTransaction([checkpointSql(conn.dialect, checkpoint)]);
    dropped = true;
  }
  const newBytes = await tableBytes(conn, NEW_TABLES);
  return {
    noOldTables: false,
    converted,
    convertedValues,
    before,
    oldTransactions,
    ...(verified ? { verified } : {}),
    dropped,
    ...(oldBytes === undefined ? {} : { oldBytes }),
    ...(newBytes === undefined ? {} : { newBytes }),
    ...(checkpoint ? { checkpoint } : {}),
    elapsedMs: Date.now() - t0,
  };
}

/**
 * `flowbus db convert`: connects (a SQLite file must exist: converting never creates a log),
 * applies pending migrations, converts, verifies, closes. Errors as the other store commands:
 * STORE_BAD_URL, STORE_NOT_FOUND, STORE_AUTH, STORE_NO_DATABASE, STORE_UNAVAILABLE.
 */
export async function convertStore(url: string, logger: Logger, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const target = parseStoreUrl(url);
  if (target.dialect === 'sqlite' && target.path !== ':memory:' && !existsSync(target.path)) {
    throw new GatewayError('STORE_NOT_FOUND', `no transaction log at ${resolve(target.path)}: pass --store or --config, or run from the gateway's working directory`, { path: resolve(target.path) });
  }
  const conn = connect(target, { connectTimeoutMs: resolveStoreOptions({}).connectTimeoutMs, poolSize: 1, log: logger });
  try {
    // Reached first, so that an unreachable server is said as such (not as a failed migration).
    await sql`SELECT 1`.execute(conn.db);
    await migrate(conn.db as never, target.dialect, logger);
    return await convertLog(conn, opts);
  } catch (err) {
    const problem = storeConfigProblem(err, target);
    if (problem) throw problem;
    if (err instanceof GatewayError) throw err;
    throw new GatewayError('STORE_UNAVAILABLE', `cannot convert ${redactStoreUrl(url)}: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  } finally {
    await conn.destroy();
  }
}
