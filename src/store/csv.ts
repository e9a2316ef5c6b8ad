/** CSV for the API and `flowbus export`: RFC 4180 quoting, a header line, times as ISO 8601 with µs and as µs. */
import type { LoggedTransaction } from '../gateway/index.js';
import { formatParam } from '../observe/index.js';
import { toHex } from '../shared/index.js';
import { isoFromMicros, type HistoryResult } from './query.js';
import { toMicros } from './rows.js';

function field(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: readonly unknown[]): string {
  return values.map(field).join(',') + '\r\n';
}

export const TRANSACTION_CSV_HEADER = csvLine([
  'id',
  'time',
  'started_us',
  'ended_us',
  'bus',
  'mode',
  'node',
  'seq',
  'command',
  'command_name',
  'purpose',
  'outcome',
  'status',
  'error_code',
  'latency_ms',
  'attempts',
  'request',
  'reply',
  'params',
  'error',
  'gateway',
]);

export function transactionCsvLine(t: LoggedTransaction): string {
  const started = toMicros(t.startedAt);
  return csvLine([
    t.id,
    isoFromMicros(started),
    started,
    toMicros(t.endedAt),
    t.bus,
    t.mode,
    t.node,
    t.seq,
    t.command,
    t.commandName,
    t.purpose,
    t.outcome,
    t.status,
    t.errorCode,
    t.latencyMs,
    t.attempts,
    t.requestBytes ? toHex(t.requestBytes, '') : '',
    t.replyBytes ? toHex(t.replyBytes, '') : '',
    t.params.map(formatParam).join('; '),
    t.error,
    t.gateway,
  ]);
}

export function transactionsCsv(list: readonly LoggedTransaction[], header = true): string {
  return (header ? TRANSACTION_CSV_HEADER : '') + list.map(transactionCsvLine).join('');
}

export function historyCsv(h: HistoryResult): string {
  if (h.kind === 'raw') return csvLine(['time', 'time_us', 'value']) + h.points.map((p) => csvLine([isoFromMicros(p.timeUs), p.timeUs, p.value])).join('');
  return csvLine(['time', 'time_us', 'count', 'min', 'mean', 'max']) + h.points.map((p) => csvLine([isoFromMicros(p.timeUs), p.timeUs, p.count, p.min, p.mean, p.max])).join('');
}
