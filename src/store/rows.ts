/** A logged transaction as rows (tuples in TX_COLUMNS / PV_COLUMNS order) and back. */
import type { WireType } from '../codec/index.js';
import type { LoggedTransaction } from '../gateway/index.js';
import { describeParam, resolveUnit, type ObservedParam } from '../observe/index.js';
import { fromHex, toHex } from '../shared/index.js';
import type { ParameterValuesTable, RowTuple, TransactionsTable } from './db.js';

/** One transaction with its parameter rows: the unit that is queued, spooled and inserted. */
export interface Rows {
  readonly tx: RowTuple;
  readonly pv: readonly RowTuple[];
}

const INDEX_ONLY = 1 << 24;

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

/** Converts a transaction to rows, recorded as logged by `gateway` (unless it says which). Never throws for any LoggedTransaction. */
export function toRows(t: LoggedTransaction, gateway: string | null = null): Rows {
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

function bytesOf(b: Buffer | Uint8Array | string | null): Uint8Array | undefined {
  if (b === null) return undefined;
  if (typeof b === 'string') return fromHex(b);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A parameter row back to the decoded parameter: named and decoded again from its raw bytes. */
export function paramFromRow(r: Pick<ParameterValuesTable, 'address' | 'raw' | 'value_num' | 'value_text' | 'dde'>): ObservedParam {
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
