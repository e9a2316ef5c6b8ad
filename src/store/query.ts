/** The read side: transactions newest first with keyset pagination, and parameter history (raw or bucketed). */
import { type Kysely, sql } from 'kysely';
import type { LoggedTransaction } from '../gateway/index.js';
import type { ObservedParam } from '../observe/index.js';
import { GatewayError } from '../shared/index.js';
import type { DB, Dialect, ParameterValuesTable, TransactionsTable } from './db.js';
import { paramFromRow, transactionFromRow } from './rows.js';

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

/** The cursor is the last row's (started_us, id), opaque to clients. */
export function encodeCursor(startedUs: number, id: string): string {
  return Buffer.from(`${startedUs}/${id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { startedUs: number; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^(\d{1,17})\/([0-9a-zA-Z-]{1,64})$/.exec(text);
  if (!m) throw new GatewayError('STORE_BAD_CURSOR', 'cursor is not one this API returned (use nextCursor of the previous page)', { cursor });
  return { startedUs: Number(m[1]), id: m[2] as string };
}

/** One page of transaction rows, newest first: `limit` + 1, so that the caller knows whether more follow. */
function pageRows(db: Kysely<DB>, q: TransactionQuery, gateway: string | null | undefined, limit: number): Promise<TransactionsTable[]> {
  let query = db.selectFrom('transactions as t').selectAll('t');
  if (gateway !== undefined) query = gateway === null ? query.where('t.gateway', 'is', null) : query.where('t.gateway', '=', gateway);
  if (q.bus !== undefined) query = query.where('t.bus', '=', q.bus);
  if (q.node !== undefined) query = query.where('t.node', '=', q.node);
  if (q.outcome !== undefined) query = query.where('t.outcome', '=', q.outcome);
  if (q.sinceUs !== undefined) query = query.where('t.started_us', '>=', q.sinceUs);
  if (q.untilUs !== undefined) query = query.where('t.started_us', '<', q.untilUs);
  if (q.dde !== undefined) {
    const dde = q.dde;
    query = query.where(({ exists, selectFrom }) =>
      exists(selectFrom('parameter_values as p').select(sql.lit(1).as('one')).whereRef('p.transaction_id', '=', 't.id').where('p.dde', '=', dde)),
    );
  }
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor);
    query = query.where((eb) => eb.or([eb('t.started_us', '<', c.startedUs), eb.and([eb('t.started_us', '=', c.startedUs), eb('t.id', '<', c.id)])]));
  }
  return query.orderBy('t.started_us', 'desc').orderBy('t.id', 'desc').limit(limit + 1).execute();
}

const newerFirst = (a: TransactionsTable, b: TransactionsTable) => Number(b.started_us) - Number(a.started_us) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

export async function listTransactions(db: Kysely<DB>, q: TransactionQuery): Promise<TransactionPage> {
  const limit = Math.max(1, Math.min(MAX_PAGE, q.limit ?? 100));
  const g = q.gateway;
  // One gateway's rows and the unnamed ones are two index-ordered scans merged here: as one
  // query (`gateway = ? OR gateway IS NULL`) the databases sort every matching row for a page.
  const rows = g?.unnamed
    ? (await Promise.all([pageRows(db, q, g.name, limit), pageRows(db, q, null, limit)])).flat().sort(newerFirst).slice(0, limit + 1)
    : await pageRows(db, q, g?.name, limit);
  const page = rows.slice(0, limit);
  const byId = new Map<string, ObservedParam[]>();
  if (page.length > 0) {
    const params = await db
      .selectFrom('parameter_values')
      .select(['transaction_id', 'position', 'address', 'dde', 'raw', 'value_num', 'value_text'])
      .where(
        'transaction_id',
        'in',
        page.map((r) => r.id),
      )
      .orderBy('transaction_id')
      .orderBy('position')
      .execute();
    for (const p of params) {
      let list = byId.get(p.transaction_id);
      if (!list) byId.set(p.transaction_id, (list = []));
      list.push(paramFromRow(p));
    }
  }
  const last = page[page.length - 1];
  return {
    transactions: page.map((r) => transactionFromRow(r, byId.get(r.id) ?? [])),
    nextCursor: rows.length > limit && last ? encodeCursor(Number(last.started_us), last.id) : null,
  };
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
  let base = db
    .selectFrom('parameter_values')
    .where('node', '=', q.node)
    .where('dde', '=', q.dde)
    .where('time_us', '>=', q.sinceUs)
    .where('time_us', '<', q.untilUs);
  if (q.bus !== undefined) base = base.where('bus', '=', q.bus);
  const g = q.gateway;
  if (g !== undefined) base = base.where((eb) => (g.unnamed ? eb.or([eb('gateway', '=', g.name), eb('gateway', 'is', null)]) : eb('gateway', '=', g.name)));
  if (q.bucketUs === undefined) {
    const rows = await base
      .select(['time_us', 'value_num', 'value_text', 'bus', 'gateway'])
      .where((eb) => eb.or([eb('value_num', 'is not', null), eb('value_text', 'is not', null)]))
      .orderBy('time_us')
      .orderBy('transaction_id')
      .limit(limit)
      .execute();
    refuseMixed(q, rows);
    return {
      kind: 'raw',
      points: rows.map((r: Pick<ParameterValuesTable, 'time_us' | 'value_num' | 'value_text'>) => ({ timeUs: Number(r.time_us), value: r.value_num ?? (r.value_text as string) })),
    };
  }
  const b = Math.floor(q.bucketUs);
  if (!Number.isSafeInteger(b) || b < 1 || b > MAX_BUCKET_US) {
    throw new GatewayError('STORE_BAD_BUCKET', `bucket must be a whole number of µs, 1 .. ${MAX_BUCKET_US} (366 days), got ${q.bucketUs}`, { bucketUs: q.bucketUs, min: 1, max: MAX_BUCKET_US });
  }
  // Integer division in both dialects: MySQL's DIV, SQLite's / on integers.
  const bucket = dialect === 'mysql' ? sql<number>`(time_us DIV ${sql.lit(b)}) * ${sql.lit(b)}` : sql<number>`(time_us / ${sql.lit(b)}) * ${sql.lit(b)}`;
  const rows = await base
    .select([
      'bus',
      'gateway',
      bucket.as('bucket'),
      (eb) => eb.fn.countAll<number>().as('n'),
      (eb) => eb.fn.min<number>('value_num').as('lo'),
      (eb) => eb.fn.avg<number>('value_num').as('mean'),
      (eb) => eb.fn.max<number>('value_num').as('hi'),
    ])
    .where('value_num', 'is not', null)
    .groupBy(['gateway', 'bus', sql`bucket`])
    .orderBy(sql`bucket`)
    .limit(limit)
    .execute();
  refuseMixed(q, rows);
  return {
    kind: 'buckets',
    bucketUs: b,
    points: rows.map((r) => ({ timeUs: Number(r.bucket), count: Number(r.n), min: Number(r.lo), mean: Number(r.mean), max: Number(r.hi) })),
  };
}

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
  const ms = /^\d{1,15}(\.\d+)?$/.test(t) ? Number(t) : Date.parse(t);
  if (!Number.isFinite(ms)) throw new GatewayError('STORE_BAD_TIME', `${field} must be an ISO 8601 time (2026-01-02T03:04:05Z) or ms since the epoch, got ${shown}`, { field, value: text });
  const us = Math.round(ms * 1000);
  if (us < MIN_TIME_US || us > MAX_TIME_US) {
    const [min, max] = [isoFromMicros(MIN_TIME_US), isoFromMicros(MAX_TIME_US)];
    throw new GatewayError('STORE_BAD_TIME', `${field} ${shown} is outside the times the transaction log holds: ${min} .. ${max}`, { field, value: text, min, max });
  }
  return us;
}

/** µs since the epoch -> ISO 8601 with microseconds: 2026-01-02T03:04:05.123456Z (years past 9999 as +010000-...). */
export function isoFromMicros(us: number): string {
  const ms = Math.floor(us / 1000);
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return String(us);
  // toISOString ends `.mmmZ` whatever the width of the year: keep all but the `Z`.
  return `${date.toISOString().slice(0, -1)}${String(us - ms * 1000).padStart(3, '0')}Z`;
}
