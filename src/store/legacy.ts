/**
 * The log as versions before migration 0003 kept it: `transactions` and `parameter_values`, one
 * text UUID per row, texts for every enumeration. Nothing writes these tables any more; what is
 * here serves reading old rows (`flowbus db convert`), replaying a spool an older version left
 * (its tuples are in these column orders), and the size and speed benches, which write the old
 * schema beside the new one.
 */
import type { WireType } from '../codec/index.js';
import type { LoggedTransaction } from '../gateway/index.js';
import { describeParam, resolveUnit, type ObservedParam } from '../observe/index.js';
import { fromHex, toHex } from '../shared/index.js';
import type { Column, RowTuple } from './columns.js';

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
  /** The gateway that logged it (`gateway.name`); NULL for rows written before migration 0002. */
  gateway: string | null;
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
  /** As `transactions.gateway`. */
  gateway: string | null;
}

export interface LegacyDB {
  transactions: TransactionsTable;
  parameter_values: ParameterValuesTable;
}

/** One transaction with its parameter rows in the old column orders: what a spool of an older version holds. */
export interface LegacyRows {
  readonly tx: RowTuple;
  readonly pv: readonly RowTuple[];
}

const col = <T>(name: keyof T & string, kind: Column<T>['kind'], nullable = false): Column<T> => ({ name, kind, nullable });

export const TX_COLUMNS: readonly Column<TransactionsTable>[] = [
  col('id', 'text'),
  col('bus', 'text'),
  col('mode', 'text'),
  col('node', 'int', true),
  col('seq', 'int'),
  col('command', 'int', true),
  col('command_name', 'text'),
  col('purpose', 'text'),
  col('outcome', 'text'),
  col('status', 'int', true),
  col('error_code', 'int', true),
  col('request', 'hex', true),
  col('reply', 'hex', true),
  col('started_us', 'int'),
  col('ended_us', 'int'),
  col('latency_us', 'int', true),
  col('attempts', 'int'),
  col('error', 'text', true),
  // Last: a batch spooled before the column existed has tuples one shorter.
  col('gateway', 'text', true),
];

export const PV_COLUMNS: readonly Column<ParameterValuesTable>[] = [
  col('transaction_id', 'text'),
  col('position', 'int'),
  col('bus', 'text'),
  col('node', 'int', true),
  col('dde', 'int', true),
  col('address', 'int'),
  col('value_num', 'real', true),
  col('value_text', 'text', true),
  col('raw', 'hex', true),
  col('time_us', 'int'),
  col('gateway', 'text', true),
];

export const INDEX_ONLY = 1 << 24;

/** ms (with a fraction) -> integer µs. */
export function toMicros(ms: number): number {
  return Math.round(ms * 1000);
}

function hex(bytes: Uint8Array | undefined): string | null {
  return bytes ? toHex(bytes, '') : null;
}

export function encodeAddress(p: ObservedParam): number {
  return (p.indexOnly ? INDEX_ONLY : 0) + (p.process & 0xff) * 65536 + (p.fbnr & 0xff) * 256 + (p.wireType & 0xff);
}

/** A transaction as the old rows (what versions before 0003 queued, spooled and inserted). Never throws. */
export function legacyToRows(t: LoggedTransaction, gateway: string | null = null): LegacyRows {
  const by = t.gateway ?? gateway;
  const startedUs = toMicros(t.startedAt);
  const endedUs = toMicros(t.endedAt);
  const tx: RowTuple = [
    t.id,
    t.bus,
    t.mode,
    t.node ?? null,
    t.seq,
    t.command ?? null,
    t.commandName,
    t.purpose,
    t.outcome,
    t.status ?? null,
    t.errorCode ?? null,
    hex(t.requestBytes),
    hex(t.replyBytes),
    startedUs,
    endedUs,
    t.latencyMs === undefined ? null : toMicros(t.latencyMs),
    t.attempts,
    t.error === undefined ? null : t.error.slice(0, 1024),
    by,
  ];
  const pv: RowTuple[] = [];
  for (let i = 0; i < t.params.length; i++) {
    const p = t.params[i] as ObservedParam;
    const v = p.value;
    pv.push([
      t.id,
      i,
      t.bus,
      t.node ?? null,
      p.dde ?? null,
      encodeAddress(p),
      typeof v === 'number' ? v : null,
      typeof v === 'string' ? v.slice(0, 1024) : null,
      p.raw ?? null,
      endedUs,
      by,
    ]);
  }
  return { tx, pv };
}

export function bytesOf(b: Buffer | Uint8Array | string | null | undefined): Uint8Array | undefined {
  if (b === null || b === undefined) return undefined;
  if (typeof b === 'string') return fromHex(b);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A parameter row back to the decoded parameter: named and decoded again from its raw bytes. */
export function paramFromRow(r: Pick<ParameterValuesTable, 'address' | 'raw' | 'value_num' | 'value_text'>): ObservedParam {
  const a = Number(r.address);
  const indexOnly = a >= INDEX_ONLY;
  const input = {
    process: Math.floor(a / 65536) & 0xff,
    fbnr: Math.floor(a / 256) & 0xff,
    wireType: (a & 0xff) as WireType,
    ...(indexOnly ? { indexOnly: true } : {}),
  };
  const raw = bytesOf(r.raw);
  // The instrument's unit is not stored: a placeholder unit ('capacity') is left out rather than shown.
  const p = resolveUnit(describeParam(raw ? { ...input, raw } : input), undefined);
  // Values the bytes no longer decode to (none expected) fall back to the stored value.
  if (p.value === undefined && (r.value_num !== null || r.value_text !== null)) return { ...p, value: r.value_num ?? (r.value_text as string) };
  return p;
}

/** A transaction row with its parameters back to a LoggedTransaction. */
export function transactionFromRow(r: TransactionsTable, params: readonly ObservedParam[]): LoggedTransaction {
  return {
    id: r.id,
    bus: r.bus,
    mode: r.mode === 'bridge' ? 'bridge' : 'master',
    node: r.node ?? undefined,
    seq: Number(r.seq),
    command: r.command ?? undefined,
    commandName: r.command_name,
    purpose: r.purpose,
    outcome: r.outcome,
    status: r.status ?? undefined,
    errorCode: r.error_code ?? undefined,
    requestBytes: bytesOf(r.request),
    replyBytes: bytesOf(r.reply),
    startedAt: Number(r.started_us) / 1000,
    endedAt: Number(r.ended_us) / 1000,
    latencyMs: r.latency_us === null ? undefined : Number(r.latency_us) / 1000,
    attempts: Number(r.attempts),
    params,
    error: r.error ?? undefined,
    ...(r.gateway === null || r.gateway === undefined ? {} : { gateway: r.gateway }),
  };
}
