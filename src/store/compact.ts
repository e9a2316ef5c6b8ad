/**
 * Writing the compact log (migration 0003): resolves each row's source and series to their small
 * ids (INSERT IGNORE into the lookup tables, then SELECT; cached), then renders the rows as
 * multi-row INSERT IGNORE statements, to be run in one database transaction with whatever else
 * belongs there (`Connection.runInTransaction`).
 *
 *   const ids = new LogIds();                        // one per database, kept across batches
 *   const maker = new RowMaker(gatewayName);         // one per writer (it hands out tie-breakers)
 *   const rows = transactions.map((t) => maker.toRows(t));        // or maker.fromLegacy(oldRow, oldParams)
 *   await conn.runInTransaction([...(await compactStatements(conn, ids, rows)), checkpointSql]);
 */
import { createHash } from 'node:crypto';
import { float32ToShortest } from '../codec/index.js';
import { sql } from 'kysely';
import { insertStatements, textLiteral, type Column, type Connection, type Dialect, type LogTransactionsTable, type LogValuesTable, type RowTuple, type Statement } from './db.js';
import { loadDataSql, TsvWriter } from './load-data.js';
import { TX, VAL, type Extra, type Rows } from './rows.js';

const col = <T>(name: keyof T & string, kind: Column<T>['kind'], nullable = false): Column<T> => ({ name, kind, nullable });

/** `log_transactions` columns: the source id, then `Rows.tx` from `startedUs` on. */
export const LOG_TX_COLUMNS: readonly Column<LogTransactionsTable>[] = [
  col('source', 'int'),
  col('started_us', 'int'),
  col('k', 'int'),
  col('node', 'int', true),
  col('seq', 'int', true),
  col('command', 'int', true),
  col('command_name', 'int'),
  col('purpose', 'int'),
  col('outcome', 'int'),
  col('status', 'int', true),
  col('error_code', 'int', true),
  col('template', 'int', true),
  col('request', 'hex', true),
  col('reply', 'hex', true),
  col('ended_d', 'int', true),
  col('latency_us', 'int', true),
  col('attempts', 'int', true),
  col('error', 'text', true),
  col('shape', 'hex', true),
  col('data', 'hex', true),
  col('extra', 'text', true),
];

export const LOG_VALUE_COLUMNS: readonly Column<LogValuesTable>[] = [
  col('series', 'int'),
  col('time_us', 'int'),
  col('k', 'int'),
  col('position', 'int'),
  col('value_f', 'real', true),
  col('value_num', 'real', true),
  col('value_text', 'text', true),
];

const sourceKey = (gateway: string, bus: string, mode: string) => `${gateway}\u0000${bus}\u0000${mode}`;
/** Whether two transactions' rows have the same source (gateway, bus, mode): nearly every row of a batch has its predecessor's. */
const sameSource = (a: RowTuple, b: RowTuple) => a[TX.gateway] === b[TX.gateway] && a[TX.bus] === b[TX.bus] && a[TX.mode] === b[TX.mode];
/** One number per (source 0..65535, node -1..255, dde 0..32767): cheaper to make and look up than a text, four times per transaction. */
const seriesKey = (source: number, node: number, dde: number) => (source * 257 + node + 1) * 32768 + dde;

/** The series' node for a transaction without one. */
export const NO_NODE = -1;

/** The ids of sources and series of one database, cached: they never change once given. */
export class LogIds {
  private readonly sources = new Map<string, number>();
  private readonly series = new Map<number, number>();
  /**
   * Templates by request hex, then shape hex (two maps: no key text made per row); bounded (a bus
   * polls a few hundred distinct read requests: seq x node x parameter set).
   */
  private readonly templates = new Map<string, Map<string, number>>();
  private templateCount = 0;

  private template(request: string, shape: string): number | undefined {
    return this.templates.get(request)?.get(shape);
  }

  private setTemplate(request: string, shape: string, id: number): void {
    let byShape = this.templates.get(request);
    if (byShape === undefined) this.templates.set(request, (byShape = new Map()));
    if (!byShape.has(shape)) this.templateCount++;
    byShape.set(shape, id);
  }

  /** Forgets everything (another database). */
  clear(): void {
    this.sources.clear();
    this.series.clear();
    this.templates.clear();
    this.templateCount = 0;
  }

  /**
   * The ids of the rows' sources, series and templates, those not yet known written to the
   * lookup tables first. `templates[i]`: the template of `rows[i]`, or null when its request
   * and shape are inline (not a read, or a template that could not be found).
   */
  async resolve(conn: Connection, rows: readonly Rows[]): Promise<Resolved> {
    // One at a time: two writers adding the same new ids at once (the first batches into a new
    // database) would deadlock each other in MySQL's unique indexes. Once the ids are cached this
    // waits for nothing.
    const run = this.running.then(() => this.resolveNow(conn, rows));
    this.running = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private running: Promise<void> = Promise.resolve();

  private async resolveNow(conn: Connection, rows: readonly Rows[]): Promise<Resolved> {
    const d = conn.dialect;
    // Templates known already are looked up by request and shape, once per row; only a new one gets its key text and hash.
    const templates: (number | null)[] = new Array<number | null>(rows.length);
    let missing = false;
    const wantTemplates = new Map<string, { hash: string; request: string | null; shape: string | null }>();
    for (let i = 0; i < rows.length; i++) {
      const t = (rows[i] as Rows).tx;
      templates[i] = null;
      if (t[TX.templated] !== 1) continue;
      const request = (t[TX.request] as string | null) ?? '';
      const shape = (t[TX.shape] as string | null) ?? '';
      const known = this.template(request, shape);
      if (known !== undefined) {
        templates[i] = known;
        continue;
      }
      missing = true;
      const key = templateKey(request, shape);
      if (!wantTemplates.has(key)) wantTemplates.set(key, { hash: createHash('md5').update(key).digest('hex'), request: t[TX.request] as string | null, shape: t[TX.shape] as string | null });
    }
    if (wantTemplates.size > 0) {
      const list = [...wantTemplates.values()];
      const byHash = new Map(list.map((t) => [t.hash, t]));
      const hex = (h: string | null) => (h === null ? 'NULL' : `X'${h}'`);
      const tuples = list.map((t) => `(X'${t.hash}',${hex(t.request)},${hex(t.shape)})`);
      await addIds(conn, `${ignore(d)} INTO log_templates (hash, request, shape) VALUES ${tuples.join(',')}`);
      const found = await sql.raw<{ id: number; hash: Buffer }>(`SELECT id, hash FROM log_templates WHERE hash IN (${list.map((t) => `X'${t.hash}'`).join(',')})`).execute(conn.db);
      for (const f of found.rows) {
        const t = byHash.get(Buffer.from(f.hash).toString('hex'));
        if (t !== undefined) this.setTemplate(t.request ?? '', t.shape ?? '', Number(f.id));
      }
    }
    for (let i = 0; missing && i < rows.length; i++) {
      const t = (rows[i] as Rows).tx;
      if (t[TX.templated] === 1 && templates[i] === null) templates[i] = this.template((t[TX.request] as string | null) ?? '', (t[TX.shape] as string | null) ?? '') ?? null;
    }
    // After this batch's ids are taken: the cache is bounded.
    if (this.templateCount > 100_000) {
      this.templates.clear();
      this.templateCount = 0;
    }
    const wantSources = new Map<string, [string, string, string]>();
    let last: RowTuple | undefined;
    for (const r of rows) {
      const t = r.tx;
      if (last !== undefined && sameSource(t, last)) continue;
      last = t;
      const key = sourceKey(t[TX.gateway] as string, t[TX.bus] as string, t[TX.mode] as string);
      if (!this.sources.has(key)) wantSources.set(key, [t[TX.gateway] as string, t[TX.bus] as string, t[TX.mode] as string]);
    }
    if (wantSources.size > 0) {
      const tuples = [...wantSources.values()].map(([g, b, m]) => `(${textLiteral(d, g)},${textLiteral(d, b)},${textLiteral(d, m)})`);
      await addIds(conn, `${ignore(d)} INTO log_sources (gateway, bus, mode) VALUES ${tuples.join(',')}`);
      const found = await sql.raw<{ id: number; gateway: string; bus: string; mode: string }>(`SELECT id, gateway, bus, mode FROM log_sources WHERE (gateway, bus, mode) IN (${tuples.join(',')})`).execute(conn.db);
      for (const s of found.rows) this.sources.set(sourceKey(text(s.gateway), text(s.bus), text(s.mode)), Number(s.id));
    }
    // Nearly every row of a batch has the source of the row before it.
    let lastRow: RowTuple | undefined;
    let lastSource = 0;
    const source = (r: Rows) => {
      const t = r.tx;
      if (lastRow === undefined || !sameSource(t, lastRow)) {
        lastSource = this.sources.get(sourceKey(t[TX.gateway] as string, t[TX.bus] as string, t[TX.mode] as string)) as number;
        lastRow = t;
      }
      return lastSource;
    };
    const wantSeries = new Map<number, [number, number, number]>();
    for (const r of rows) {
      if (r.values.length === 0) continue;
      const s = source(r);
      const node = nodeOf(r);
      for (const v of r.values) {
        const key = seriesKey(s, node, v[VAL.dde] as number);
        if (!this.series.has(key)) wantSeries.set(key, [s, node, v[VAL.dde] as number]);
      }
    }
    if (wantSeries.size > 0) {
      const list = [...wantSeries.values()];
      for (let i = 0; i < list.length; i += 1000) {
        const tuples = list.slice(i, i + 1000).map(([s, n, dd]) => `(${s},${n},${dd})`);
        await addIds(conn, `${ignore(d)} INTO log_series (source, node, dde) VALUES ${tuples.join(',')}`);
        const found = await sql.raw<{ id: number; source: number; node: number; dde: number }>(`SELECT id, source, node, dde FROM log_series WHERE (source, node, dde) IN (${tuples.join(',')})`).execute(conn.db);
        for (const s of found.rows) this.series.set(seriesKey(Number(s.source), Number(s.node), Number(s.dde)), Number(s.id));
      }
    }
    return { source, series: (s, n, dd) => this.series.get(seriesKey(s, n, dd)) as number, templates };
  }
}

/** The ids of a batch's rows (LogIds.resolve). */
interface Resolved {
  source(r: Rows): number;
  series(source: number, node: number, dde: number): number;
  /** Per row: its template, or null when its request and shape are inline. */
  readonly templates: readonly (number | null)[];
}

/** MySQL's deadlock error: the statement was rolled back and may simply run again. */
const ER_LOCK_DEADLOCK = 1213;

/**
 * An INSERT IGNORE into a lookup table, run again (up to 3 times) when MySQL reports a deadlock:
 * two gateways sharing a database can add the same new ids at the same moment.
 */
async function addIds(conn: Connection, statement: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await sql.raw(statement).execute(conn.db);
      return;
    } catch (err) {
      if ((err as { errno?: unknown }).errno !== ER_LOCK_DEADLOCK || attempt >= 3) throw err;
      await new Promise((r) => setTimeout(r, 10 * attempt));
    }
  }
}

/** A text column read back: mysql2 gives a Buffer for binary collations in some versions. */
function text(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** A template's key text, which its hash in `log_templates` is made of: request hex / shape hex. */
const templateKey = (request: string, shape: string) => `${request}/${shape}`;

const ignore = (d: Dialect) => (d === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE');

function extraOf(r: Rows): Extra {
  const e = r.tx[TX.extra];
  return typeof e === 'string' ? (JSON.parse(e) as Extra) : {};
}

/** The series' node: the transaction's node column (NULL there, and a node past 255 that only `extra` holds, are NO_NODE). */
export function nodeOf(r: Rows): number {
  return (r.tx[TX.node] as number | null) ?? NO_NODE;
}

/**
 * Whether a value goes into the 4-byte `value_f` and comes back exactly (query.ts reads it back
 * with float32ToShortest): integers up to 2^24, and the float32 values the codec decodes (their
 * shortest decimal). Everything else goes into the 8-byte `value_num`.
 */
export function fitsSingle(v: number): boolean {
  if (Number.isInteger(v)) return Math.abs(v) <= 16_777_216 && !Object.is(v, -0);
  // The test takes up to nine toPrecision calls, and a bus logs the same values again and again.
  let fits = singleCache.get(v);
  if (fits === undefined) {
    fits = Number.isFinite(v) && float32ToShortest(Math.fround(v)) === v;
    if (singleCache.size >= SINGLE_CACHE) singleCache.clear();
    singleCache.set(v, fits);
  }
  return fits;
}

/** fitsSingle's answers for non-integers seen lately, at most SINGLE_CACHE of them. */
const singleCache = new Map<number, boolean>();
const SINGLE_CACHE = 4096;

/** A value read back from `value_f`. */
export function fromSingle(v: number): number {
  const f = Math.fround(v);
  return Number.isInteger(f) ? f : float32ToShortest(f);
}

/** The transaction's end in µs. */
export function endedUsOf(r: Rows): number {
  const d = r.tx[TX.endedD];
  if (typeof d === 'number') return (r.tx[TX.startedUs] as number) + d;
  return extraOf(r).endedUs as number;
}

/**
 * The statements that write `rows` to the compact tables (ids resolved first, which writes to
 * the lookup tables outside any transaction: harmless, they only grow). Run them with
 * `conn.runInTransaction`, alone or with other statements. MySQL (unless the connection has
 * LOAD DATA off): one LOAD DATA LOCAL INFILE per table, its file written straight from the rows,
 * with INSERT IGNORE statements of the same rows to fall back on; otherwise the INSERT IGNORE
 * statements. Either way a row whose key is there already is skipped.
 */
export async function compactStatements(conn: Connection, ids: LogIds, rows: readonly Rows[]): Promise<Statement[]> {
  if (rows.length === 0) return [];
  const resolved = await ids.resolve(conn, rows);
  if (!conn.loadData) return insertsOf(conn.dialect, resolved, rows);
  let inserts: string[][] | undefined;
  const fallback = (i: number) => () => (inserts ??= insertsOf(conn.dialect, resolved, rows, true))[i] as string[];
  const files = loadDataFiles(resolved, rows);
  return [
    { sql: LOAD_TX_SQL, file: files.tx, insert: fallback(0) },
    { sql: LOAD_VALUES_SQL, file: files.values, insert: fallback(1) },
  ];
}


function insertsOf(dialect: Dialect, ids: Resolved, rows: readonly Rows[]): string[];
function insertsOf(dialect: Dialect, ids: Resolved, rows: readonly Rows[], perTable: true): string[][];
function insertsOf(dialect: Dialect, { source, series, templates }: Resolved, rows: readonly Rows[], perTable = false): string[] | string[][] {
  const tx: RowTuple[] = new Array<RowTuple>(rows.length);
  const values: RowTuple[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as Rows;
    const s = source(r);
    const t = r.tx;
    const tpl = templates[i] as number | null;
    const inline = tpl === null;
    tx[i] = [s, t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12], tpl, inline ? t[13] : null, t[14], t[15], t[16], t[17], t[18], inline ? t[19] : null, t[20], t[21]] as RowTuple;
    if (r.values.length === 0) continue;
    const node = nodeOf(r);
    const time = endedUsOf(r);
    const k = t[TX.k] as number;
    for (const v of r.values) {
      const num = v[VAL.num] as number | null;
      const single = num !== null && fitsSingle(num);
      values.push([series(s, node, v[VAL.dde] as number), time, k, v[VAL.position] as number, single ? Math.fround(num) : null, single ? null : num, v[VAL.text] as string | null]);
    }
  }
  const txs = insertStatements(dialect, 'log_transactions', LOG_TX_COLUMNS, tx);
  const vs = insertStatements(dialect, 'log_values', LOG_VALUE_COLUMNS, values);
  return perTable ? [txs, vs] : [...txs, ...vs];
}

const LOAD_TX_SQL = loadDataSql('log_transactions', LOG_TX_COLUMNS.map((c) => c.name));
const LOAD_VALUES_SQL = loadDataSql('log_values', LOG_VALUE_COLUMNS.map((c) => c.name));

/** The two LOAD DATA files of the rows, in LOG_TX_COLUMNS and LOG_VALUE_COLUMNS order, with the values insertsOf gives. */
function loadDataFiles({ source, series, templates }: Resolved, rows: readonly Rows[]): { tx: Buffer; values: Buffer } {
  const tx = new TsvWriter(rows.length * 160);
  const values = new TsvWriter(rows.length * 4 * 40);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as Rows;
    const t = r.tx;
    const s = source(r);
    const tpl = templates[i] as number | null;
    tx.int(s);
    tx.tab();
    tx.int(t[TX.startedUs]);
    tx.tab();
    tx.int(t[TX.k]);
    tx.tab();
    tx.int(t[TX.node]);
    tx.tab();
    tx.int(t[TX.seq]);
    tx.tab();
    tx.int(t[TX.command]);
    tx.tab();
    tx.int(t[TX.commandName]);
    tx.tab();
    tx.int(t[TX.purpose]);
    tx.tab();
    tx.int(t[TX.outcome]);
    tx.tab();
    tx.int(t[TX.status]);
    tx.tab();
    tx.int(t[TX.errorCode]);
    tx.tab();
    tx.int(tpl);
    tx.tab();
    if (tpl === null) tx.hex(t[TX.request]);
    else tx.null();
    tx.tab();
    tx.hex(t[TX.reply]);
    tx.tab();
    tx.int(t[TX.endedD]);
    tx.tab();
    tx.int(t[TX.latencyUs]);
    tx.tab();
    tx.int(t[TX.attempts]);
    tx.tab();
    tx.text(t[TX.error]);
    tx.tab();
    if (tpl === null) tx.hex(t[TX.shape]);
    else tx.null();
    tx.tab();
    tx.hex(t[TX.data]);
    tx.tab();
    tx.text(t[TX.extra]);
    tx.end();
    if (r.values.length === 0) continue;
    const node = nodeOf(r);
    const time = endedUsOf(r);
    const k = t[TX.k];
    for (const v of r.values) {
      const num = v[VAL.num] as number | null;
      const single = num !== null && fitsSingle(num);
      values.int(series(s, node, v[VAL.dde] as number));
      values.tab();
      values.int(time);
      values.tab();
      values.int(k);
      values.tab();
      values.int(v[VAL.position]);
      values.tab();
      if (single) {
        // num is the float's shortest decimal (fitsSingle): the server reads it back to the same
        // float as the float's full 17 digits (which the INSERT text has), from less text.
        values.real(num);
        values.tab();
        values.null();
      } else {
        values.null();
        values.tab();
        values.real(num);
      }
      values.tab();
      values.text(v[VAL.text]);
      values.end();
    }
  }
  return { tx: tx.bytes(), values: values.bytes() };
}
