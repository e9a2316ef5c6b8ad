/** The read side: transactions newest first with keyset pagination, and parameter history (raw or bucketed). */
import { type Kysely, sql } from 'kysely';
import type { LoggedTransaction } from '../gateway/index.js';
import { GatewayError } from '../shared/index.js';
import { commandNameCodes, outcomeCodes, purposeCodes } from './codes.js';
import { fromSingle, NO_NODE } from './compact.js';
import type { DB, Dialect, LogSourcesTable, LogTransactionsTable } from './db.js';
import { bytesOf, paramFromRow } from './legacy.js';
import { decodeParamsBlob, type Extra } from './rows.js';

/**
 * Which gateways' rows: `name` only, and with `unnamed` also the rows that record no gateway
 * (written before migration 0002). Absent: every gateway's.
 */
export interface GatewayFilter {
  readonly name: string;
  readonly unnamed?: boolean;
}

export interface TransactionQuery {
  readonly gateway?: GatewayFilter;
  readonly bus?: string;
  readonly node?: number;
  /** Only transactions that carry this DDE parameter. */
  readonly dde?: number;
  readonly outcome?: string;
  /** Started at or after, µs since the epoch. */
  readonly sinceUs?: number;
  /** Started before, µs since the epoch. */
  readonly untilUs?: number;
  /** 1..10,000; default 100. */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

export interface TransactionPage {
  /** Newest first, each with its decoded parameters. */
  readonly transactions: LoggedTransaction[];
  /** Pass as `cursor` for the next (older) page; null when this page is the last. */
  readonly nextCursor: string | null;
}

export const MAX_PAGE = 10_000;

/**
 * A transaction's id in the log: its key, (source, started_us, k), in base 36 joined by dots
 * (`1.lzq3x0a8k1.0`). Unique in the database, and the same for as long as the row is there.
 */
export function transactionId(source: number, startedUs: number, k: number): string {
  return `${source.toString(36)}.${startedUs.toString(36)}.${k.toString(36)}`;
}

/** An id made by `transactionId` back to its key; undefined for any other text (a UUID from before 0003). */
export function parseTransactionId(id: string): { source: number; startedUs: number; k: number } | undefined {
  const m = /^([0-9a-z]{1,4})\.([0-9a-z]{1,11})\.([0-9a-z]{1,4})$/.exec(id);
  if (!m) return undefined;
  const [source, startedUs, k] = [parseInt(m[1] as string, 36), parseInt(m[2] as string, 36), parseInt(m[3] as string, 36)];
  return Number.isSafeInteger(startedUs) ? { source, startedUs, k } : undefined;
}

/** The cursor is the last row's key, opaque to clients. */
export function encodeCursor(startedUs: number, source: number, k: number): string {
  return Buffer.from(`${startedUs}/${source}/${k}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { startedUs: number; source: number; k: number } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(\d{1,17})\/(\d{1,5})\/(\d{1,5})$/.exec(text);
  if (!m) throw new GatewayError('STORE_BAD_CURSOR', 'cursor is not one this API returned (use nextCursor of the previous page)', { cursor });
  return { startedUs: Number(m[1]), source: Number(m[2]), k: Number(m[3]) };
}

type Source = Pick<LogSourcesTable, 'id' | 'gateway' | 'bus' | 'mode'>;

/** The sources a gateway filter and a bus select ('' is the gateway of rows that record none). */
async function sourcesFor(db: Kysely<DB>, gateway: GatewayFilter | undefined, bus: string | undefined): Promise<Source[]> {
  let q = db.selectFrom('log_sources').select(['id', 'gateway', 'bus', 'mode']);
  if (gateway !== undefined) q = q.where('gateway', 'in', gateway.unnamed ? [gateway.name, ''] : [gateway.name]);
  if (bus !== undefined) q = q.where('bus', '=', bus);
  const rows = await q.execute();
  return rows.map((r) => ({ id: Number(r.id), gateway: String(r.gateway), bus: String(r.bus), mode: String(r.mode) }));
}

/** LIKE pattern for `"key":"value"` inside the extra JSON (`!` escapes). */
function extraLike(key: keyof Extra, value: string): string {
  return `%${JSON.stringify({ [key]: value }).slice(1, -1).replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/** One source's page of rows, newest first: `limit` + 1, so that the caller knows whether more follow. */
function pageRows(db: Kysely<DB>, q: TransactionQuery, source: number, limit: number): Promise<LogTransactionsTable[]> {
  let query = db.selectFrom('log_transactions as t').selectAll('t').where('t.source', '=', source);
  if (q.node !== undefined) query = query.where('t.node', '=', q.node);
  if (q.outcome !== undefined) {
    const code = outcomeCodes.code(q.outcome);
    query = query.where('t.outcome', '=', code);
    if (code === 0) query = query.where(sql<boolean>`t.extra LIKE ${extraLike('outcome', q.outcome)} ESCAPE '!'`);
  }
  if (q.sinceUs !== undefined) query = query.where('t.started_us', '>=', q.sinceUs);
  if (q.untilUs !== undefined) query = query.where('t.started_us', '<', q.untilUs);
  if (q.dde !== undefined) {
    const dde = q.dde;
    // The values of the transaction are at (series of this source, node and dde; its end; its k).
    query = query.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('log_series as s')
          .innerJoin('log_values as v', 'v.series', 's.id')
          .select(sql.lit(1).as('one'))
          .whereRef('s.source', '=', 't.source')
          .where('s.dde', '=', dde)
          .where(sql<boolean>`s.node = COALESCE(t.node, ${sql.lit(NO_NODE)})`)
          // A transaction too long for ended_d (over 35 minutes) keeps its end in extra.
          .where(sql<boolean>`v.time_us = COALESCE(t.started_us + t.ended_d, json_extract(t.extra, '$.endedUs'))`)
          .whereRef('v.k', '=', 't.k'),
      ),
    );
  }
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor);
    // Order: started_us, then source, then k, all descending.
    if (source < c.source) query = query.where('t.started_us', '<=', c.startedUs);
    else if (source > c.source) query = query.where('t.started_us', '<', c.startedUs);
    else query = query.where((eb) => eb.or([eb('t.started_us', '<', c.startedUs), eb.and([eb('t.started_us', '=', c.startedUs), eb('t.k', '<', c.k)])]));
  }
  return query.orderBy('t.started_us', 'desc').orderBy('t.k', 'desc').limit(limit + 1).execute();
}

const newerFirst = (a: LogTransactionsTable, b: LogTransactionsTable) =>
  Number(b.started_us) - Number(a.started_us) || Number(b.source) - Number(a.source) || Number(b.k) - Number(a.k);

/** A read request with its parameters' shape, from `log_templates`. */
interface Template {
  readonly request: Buffer | null;
  readonly shape: Buffer | null;
}

/** Templates never change once written: kept per database handle. */
const templateCache = new WeakMap<object, Map<number, Template>>();

/** The templates the rows refer to. */
export async function templatesFor(db: Kysely<DB>, rows: readonly LogTransactionsTable[]): Promise<Map<number, Template>> {
  let cache = templateCache.get(db);
  if (!cache) templateCache.set(db, (cache = new Map()));
  const missing = [...new Set(rows.map((r) => r.template).filter((t): t is number => t !== null).map(Number))].filter((id) => !cache.has(id));
  if (missing.length > 0) {
    if (cache.size > 100_000) cache.clear();
    const found = await db.selectFrom('log_templates').select(['id', 'request', 'shape']).where('id', 'in', missing).execute();
    for (const f of found) cache.set(Number(f.id), { request: f.request, shape: f.shape });
  }
  return cache;
}

/** A compact row back to the transaction the old log gave for it. */
export function transactionFromLog(r: LogTransactionsTable, s: Source, templates: ReadonlyMap<number, Template> = new Map()): LoggedTransaction {
  const tpl = r.template === null ? undefined : templates.get(Number(r.template));
  const request = tpl ? tpl.request : r.request;
  const shape = tpl ? tpl.shape : r.shape;
  const extra: Extra = r.extra === null ? {} : (JSON.parse(r.extra) as Extra);
  const startedUs = Number(r.started_us);
  const num = (v: number | null, key: keyof Extra): number | undefined => (v === null ? (extra[key] as number | undefined) : Number(v));
  const endedUs = r.ended_d === null ? (extra.endedUs as number) : startedUs + Number(r.ended_d);
  const latency = num(r.latency_us, 'latencyUs');
  const params = decodeParamsBlob(bytesOf(shape), bytesOf(r.data)).map(paramFromRow);
  return {
    id: transactionId(Number(r.source), startedUs, Number(r.k)),
    bus: s.bus,
    mode: s.mode === 'bridge' ? 'bridge' : 'master',
    node: num(r.node, 'node'),
    seq: num(r.seq, 'seq') as number,
    command: num(r.command, 'command'),
    commandName: commandNameCodes.text(Number(r.command_name)) ?? (extra.commandName as string),
    purpose: purposeCodes.text(Number(r.purpose)) ?? (extra.purpose as string),
    outcome: outcomeCodes.text(Number(r.outcome)) ?? (extra.outcome as string),
    status: num(r.status, 'status'),
    errorCode: num(r.error_code, 'errorCode'),
    requestBytes: bytesOf(request),
    replyBytes: bytesOf(r.reply),
    startedAt: startedUs / 1000,
    endedAt: endedUs / 1000,
    latencyMs: latency === undefined ? undefined : latency / 1000,
    attempts: num(r.attempts, 'attempts') as number,
    params,
    error: r.error ?? undefined,
    ...(s.gateway === '' ? {} : { gateway: s.gateway }),
  };
}

export async function listTransactions(db: Kysely<DB>, q: TransactionQuery): Promise<TransactionPage> {
  const limit = Math.max(1, Math.min(MAX_PAGE, q.limit ?? 100));
  if (q.cursor !== undefined) decodeCursor(q.cursor);
  // Each source's rows are one scan of the primary key in order; merged here (as one query the
  // databases would sort every matching row for a page).
  const sources = await sourcesFor(db, q.gateway, q.bus);
  const byId = new Map(sources.map((s) => [s.id, s]));
  const rows = (await Promise.all(sources.map((s) => pageRows(db, q, s.id, limit)))).flat().sort(newerFirst).slice(0, limit + 1);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  const templates = await templatesFor(db, page);
  return {
    transactions: page.map((r) => transactionFromLog(r, byId.get(Number(r.source)) as Source, templates)),
    nextCursor: rows.length > limit && last ? encodeCursor(Number(last.started_us), Number(last.source), Number(last.k)) : null,
  };
}

/** One transaction by the id the listing gave it; undefined when there is none (or the id is not one). */
export async function getTransaction(db: Kysely<DB>, id: string): Promise<LoggedTransaction | undefined> {
  const key = parseTransactionId(id);
  if (!key) return undefined;
  const [r, s] = await Promise.all([
    db.selectFrom('log_transactions').selectAll().where('source', '=', key.source).where('started_us', '=', key.startedUs).where('k', '=', key.k).executeTakeFirst(),
    db.selectFrom('log_sources').select(['id', 'gateway', 'bus', 'mode']).where('id', '=', key.source).executeTakeFirst(),
  ]);
  if (!r || !s) return undefined;
  return transactionFromLog(r, { id: Number(s.id), gateway: String(s.gateway), bus: String(s.bus), mode: String(s.mode) }, await templatesFor(db, [r]));
}
export interface HistoryQuery {
  readonly gateway?: GatewayFilter;
  readonly bus?: string;
  readonly node: number;
  readonly dde: number;
  readonly sinceUs: number;
  readonly untilUs: number;
  /** Bucket width in µs; absent = raw values. */
  readonly bucketUs?: number;
  /** Most points returned (oldest first); default and maximum 100,000. */
  readonly limit?: number;
}

export interface RawPoint {
  readonly timeUs: number;
  readonly value: number | string;
}

export interface BucketPoint {
  /** Start of the bucket. */
  readonly timeUs: number;
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly max: number;
}

export type HistoryResult = { readonly kind: 'raw'; readonly points: RawPoint[] } | { readonly kind: 'buckets'; readonly bucketUs: number; readonly points: BucketPoint[] };

export const MAX_POINTS = 100_000;

export async function parameterHistory(db: Kysely<DB>, dialect: Dialect, q: HistoryQuery): Promise<HistoryResult> {
  const limit = Math.max(1, Math.min(MAX_POINTS, q.limit ?? MAX_POINTS));
  let bucketUs: number | undefined;
  if (q.bucketUs !== undefined) {
    const b = Math.floor(q.bucketUs);
    if (!Number.isSafeInteger(b) || b < 1 || b > MAX_BUCKET_US) {
      throw new GatewayError('STORE_BAD_BUCKET', `bucket must be a whole number of µs, 1 .. ${MAX_BUCKET_US} (366 days), got ${q.bucketUs}`, { bucketUs: q.bucketUs, min: 1, max: MAX_BUCKET_US });
    }
    bucketUs = b;
  }
  const sources = await sourcesFor(db, q.gateway, q.bus);
  const byId = new Map(sources.map((s) => [s.id, s]));
  const series =
    sources.length === 0
      ? []
      : await db
          .selectFrom('log_series')
          .select(['id', 'source'])
          .where('source', 'in', [...byId.keys()])
          .where('node', '=', q.node)
          .where('dde', '=', q.dde)
          .execute();
  // As a double: MySQL's text protocol sends a FLOAT with 6 digits only.
  const single = sql<number | null>`(value_f + 0e0)`;
  const seriesSource = new Map(series.map((s) => [Number(s.id), byId.get(Number(s.source)) as Source]));
  const of = (id: unknown) => seriesSource.get(Number(id)) as Source;
  if (bucketUs === undefined) {
    if (series.length === 0) return { kind: 'raw', points: [] };
    const rows = await db
      .selectFrom('log_values')
      .select(['series', 'time_us', single.as('value_f'), 'value_num', 'value_text'])
      .where('series', 'in', [...seriesSource.keys()])
      .where('time_us', '>=', q.sinceUs)
      .where('time_us', '<', q.untilUs)
      .where((eb) => eb.or([eb('value_f', 'is not', null), eb('value_num', 'is not', null), eb('value_text', 'is not', null)]))
      .orderBy('time_us')
      .orderBy('k')
      .orderBy('position')
      .limit(limit)
      .execute();
    refuseMixed(q, rows.map((r) => mixKey(of(r.series))));
    return { kind: 'raw', points: rows.map((r) => ({ timeUs: Number(r.time_us), value: r.value_f !== null ? fromSingle(Number(r.value_f)) : (r.value_num ?? (r.value_text as string)) })) };
  }
  if (series.length === 0) return { kind: 'buckets', bucketUs, points: [] };
  const b = bucketUs;
  // Integer division in both dialects: MySQL's DIV, SQLite's / on integers.
  const bucket = dialect === 'mysql' ? sql<number>`(time_us DIV ${sql.lit(b)}) * ${sql.lit(b)}` : sql<number>`(time_us / ${sql.lit(b)}) * ${sql.lit(b)}`;
  const rows = await db
    .selectFrom('log_values')
    .select([
      'series',
      bucket.as('bucket'),
      (eb) => eb.fn.countAll<number>().as('n'),
      sql<number>`MIN(${single})`.as('lo_f'),
      sql<number>`MAX(${single})`.as('hi_f'),
      sql<number>`SUM(${single})`.as('total_f'),
      (eb) => eb.fn.min<number>('value_num').as('lo'),
      (eb) => eb.fn.sum<number>('value_num').as('total'),
      (eb) => eb.fn.max<number>('value_num').as('hi'),
    ])
    .where('series', 'in', [...seriesSource.keys()])
    .where('time_us', '>=', q.sinceUs)
    .where('time_us', '<', q.untilUs)
    .where((eb) => eb.or([eb('value_f', 'is not', null), eb('value_num', 'is not', null)]))
    .groupBy(['series', sql`bucket`])
    .orderBy(sql`bucket`)
    .limit(limit)
    .execute();
  refuseMixed(q, rows.map((r) => mixKey(of(r.series))));
  // Several series of one gateway and bus (the bus ran as master, then as bridge) are one history.
  const merged = new Map<number, { n: number; lo: number; total: number; hi: number }>();
  for (const r of rows) {
    const t = Number(r.bucket);
    const m = merged.get(t);
    // value_f and value_num hold different rows: both sides' min, max and sum.
    const pick = (f: unknown, d: unknown, by: (a: number, b: number) => number) =>
      f === null ? Number(d) : d === null ? fromSingle(Number(f)) : by(fromSingle(Number(f)), Number(d));
    const n = Number(r.n);
    const lo = pick(r.lo_f, r.lo, Math.min);
    const hi = pick(r.hi_f, r.hi, Math.max);
    const total = Number(r.total_f ?? 0) + Number(r.total ?? 0);
    if (!m) merged.set(t, { n, lo, total, hi });
    else merged.set(t, { n: m.n + n, lo: Math.min(m.lo, lo), total: m.total + total, hi: Math.max(m.hi, hi) });
  }
  return {
    kind: 'buckets',
    bucketUs: b,
    points: [...merged.entries()].sort((x, y) => x[0] - y[0]).map(([timeUs, m]) => ({ timeUs, count: m.n, min: m.lo, mean: m.total / m.n, max: m.hi })),
  };
}

const mixKey = (s: Source) => ({ bus: s.bus, gateway: s.gateway === '' ? null : s.gateway });

/**
 * Node numbers are per bus: node 3 on two buses (two gas lines, or a live bus and a replayed
 * capture) are two instruments. A history asked for by node alone that would mix them is refused,
 * naming the candidates, as the instrument routes do; with `bus:node` it is one series. Likewise
 * node 3 of bus main on two gateways, when the query does not name one gateway: the candidates
 * then name the gateway too (`gateway/bus:node`). Rows that record no gateway mix with any.
 */
function refuseMixed(q: HistoryQuery, rows: readonly { bus: string; gateway: string | null }[]): void {
  if (q.bus === undefined) {
    const buses = [...new Set(rows.map((r) => r.bus))];
    if (buses.length >= 2) {
      const candidates = buses.sort().map((b) => `${b}:${q.node}`);
      throw new GatewayError('GATEWAY_NODE_AMBIGUOUS', `node ${q.node} has history on several buses; say which: ${candidates.join(', ')}`, { node: q.node, candidates });
    }
  }
  if (q.gateway !== undefined) return;
  const gateways = [...new Set(rows.map((r) => r.gateway).filter((g): g is string => g !== null))];
  if (gateways.length < 2) return;
  const bus = q.bus ?? rows[0]?.bus ?? '';
  const candidates = gateways.sort().map((g) => `${g}/${bus}:${q.node}`);
  throw new GatewayError('GATEWAY_NODE_AMBIGUOUS', `node ${bus}:${q.node} has history from several gateways; say which with gateway=: ${candidates.join(', ')}`, {
    node: q.node,
    bus,
    gateways,
    candidates,
  });
}

const BUCKET_UNITS: Record<string, number> = { ms: 1_000, s: 1_000_000, m: 60_000_000, h: 3_600_000_000, d: 86_400_000_000 };

/** Narrowest and widest bucket, µs: 1 ms .. 366 days (a year of points per bucket at most). */
export const MIN_BUCKET_US = 1_000;
export const MAX_BUCKET_US = 366 * 86_400_000_000;

/** `1s`, `500ms`, `5m`, `1h`, `1d` -> µs, 1ms .. 366d. Throws STORE_BAD_BUCKET. */
export function parseBucket(text: string): number {
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
  const m = /^(\d{1,6})(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new GatewayError('STORE_BAD_BUCKET', `bucket ${shown} is not a width like 100ms, 1s, 1m, 5m, 1h or 1d`, { bucket: text });
  const us = Number(m[1]) * (BUCKET_UNITS[m[2] as string] as number);
  if (us < MIN_BUCKET_US || us > MAX_BUCKET_US) {
    throw new GatewayError('STORE_BAD_BUCKET', `bucket ${shown} is ${us < MIN_BUCKET_US ? 'too narrow' : 'too wide'}: it must be between 1ms and 366d`, { bucket: text, min: '1ms', max: '366d' });
  }
  return us;
}

/**
 * The times the transaction log holds, µs since the epoch: from the epoch to the last
 * microsecond a JavaScript number counts exactly (2^53 - 1 µs, in June 2255).
 */
export const MIN_TIME_US = 0;
export const MAX_TIME_US = Number.MAX_SAFE_INTEGER;

/** An ISO 8601 time or ms since the epoch -> µs, within MIN_TIME_US..MAX_TIME_US. Throws STORE_BAD_TIME. */
export function parseTime(text: string, field: string): number {
  const t = text.trim();
  const shown = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
  // Any number is ms since the epoch (a negative or a huge one is then out of range, below),
  // never left to Date.parse, which reads "-1" as the year 2001.
  const ms = /^[-+]?\d{1,30}(\.\d{1,30})?$/.test(t) ? Number(t) : Date.parse(t);
  if (!Number.isFinite(ms)) throw new GatewayError('STORE_BAD_TIME', `${field} must be an ISO 8601 time (2026-01-02T03:04:05Z) or ms since the epoch, got ${shown}`, { field, value: text });
  const us = Math.round(ms * 1000);
  if (us < MIN_TIME_US || us > MAX_TIME_US) {
    const [min, max] = [isoFromMicros(MIN_TIME_US), isoFromMicros(MAX_TIME_US)];
    throw new GatewayError('STORE_BAD_TIME', `${field} ${shown} is outside the times the transaction log holds: ${min} .. ${max}`, { field, value: text, min, max });
  }
  return us;
}

/** Throws STORE_BAD_TIME when a range's start is after its end (an empty answer would hide the mistake). */
export function checkTimeRange(sinceUs: number | undefined, untilUs: number | undefined, names: { since: string; until: string }): void {
  if (sinceUs === undefined || untilUs === undefined || sinceUs <= untilUs) return;
  const [since, until] = [isoFromMicros(sinceUs), isoFromMicros(untilUs)];
  throw new GatewayError('STORE_BAD_TIME', `${names.since} (${since}) is after ${names.until} (${until})`, { field: names.since, since, until });
}

/** µs since the epoch -> ISO 8601 with microseconds: 2026-01-02T03:04:05.123456Z (years past 9999 as +010000-...). */
export function isoFromMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return String(us);
  // toISOString ends `.mmmZ` whatever the width of the year: keep all but the `Z`.
  return `${date.toISOString().slice(0, -1)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}
