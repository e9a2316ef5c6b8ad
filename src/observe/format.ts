import { errorFrameInfo, statusInfo } from '../codec/index.js';
import { toHex } from '../shared/index.js';
import type { CaptureSummary } from './decode.js';
import { formatParam, type ObservedParam } from './describe.js';
import type { Transaction } from './pairer.js';
import { formatSocatTime } from './socat.js';

/** `2015-06-08T13:38:21.012908`: the recording's wall-clock time (no zone; see socat.ts). */
export function isoMicros(time: number): string {
  return formatSocatTime(time).replace(/\//g, '-').replace(' ', 'T');
}

function outcomeText(t: Transaction): string {
  switch (t.outcome) {
    case 'status':
    case 'ok':
      if (t.status && t.status.code !== 0) break;
      return 'ok';
    case 'error-frame':
      return t.errorFrame ? `error frame ${t.errorFrame.code} (${t.errorFrame.message})` : 'error frame';
    case 'unanswered':
      return t.problem ? `unanswered (${t.problem})` : 'unanswered';
    case 'orphan':
      if (t.errorFrame) return `orphan error frame ${t.errorFrame.code} (${t.errorFrame.message})`;
      if (t.status) return `orphan status ${t.status.code} ${t.status.key} index ${t.status.index}`;
      return 'orphan reply';
    case 'undecodable':
      return `undecodable (${t.problem ?? '?'})`;
  }
  const s = t.status;
  if (!s) return t.outcome;
  const at = s.param ? ` at ${s.param.key ?? `${s.param.process}/${s.param.fbnr}`}` : '';
  return `status ${s.code} ${s.key} (${s.message}), index ${s.index}${at}`;
}

/** One line per transaction for people: time, node, command, parameters, outcome, latency. */
export function formatTransaction(t: Transaction): string {
  const params = t.params.map(formatParam).join(' ');
  const latency = t.latencyMs === undefined ? '' : `  ${t.latencyMs.toFixed(1)} ms`;
  const node = t.node === undefined ? '-' : String(t.node);
  return `${formatSocatTime(t.time)}  node ${node.padStart(3)}  seq ${String(t.seq).padStart(3)}  ${t.commandName.padEnd(5)} ${params} -> ${outcomeText(t)}${latency}${t.injected ? '  [injected]' : ''}`;
}

function jsonParam(p: ObservedParam): Record<string, unknown> {
  return { ...p };
}

/** A plain JSON object for one transaction (`type: 'transaction'`). Bytes are hex strings; times are microseconds plus ISO text. */
export function transactionToJson(t: Transaction): Record<string, unknown> {
  const side = (f: Transaction['request']): Record<string, unknown> | undefined =>
    f ? { time: f.time, timeText: isoMicros(f.time), raw: toHex(f.raw, ' ') } : undefined;
  return {
    type: 'transaction',
    time: t.time,
    timeText: isoMicros(t.time),
    node: t.node ?? null,
    seq: t.seq,
    command: t.command ?? null,
    commandName: t.commandName,
    outcome: t.outcome,
    latencyMs: t.latencyMs === undefined ? null : Math.round(t.latencyMs * 1000) / 1000,
    outstanding: t.outstanding,
    params: t.params.map(jsonParam),
    ...(t.status ? { status: { ...t.status, ...(t.status.param ? { param: jsonParam(t.status.param) } : {}) } } : {}),
    ...(t.errorFrame ? { errorFrame: t.errorFrame } : {}),
    ...(t.problem !== undefined ? { problem: t.problem } : {}),
    ...(t.injected ? { injected: true } : {}),
    request: side(t.request) ?? null,
    reply: side(t.reply) ?? null,
  };
}

const dirs = ['>', '<'] as const;

/** The summary for people, several lines. */
export function formatSummary(s: CaptureSummary): string {
  const per = (x: { '>': number; '<': number }): string => `> ${x['>']} / < ${x['<']}`;
  const kinds = (r: Record<string, number>): string =>
    Object.entries(r)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const discards = dirs
    .map((d) => {
      const x = s.discarded[d];
      const reasons = Object.entries(x.reasons)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      return `${d} ${x.count}${reasons ? ` (${reasons})` : ''}`;
    })
    .join(' / ');
  // "3 PROC_NUMBER x37": the code, its name, how often.
  const coded = (r: Record<string, number>, info: (code: number) => { key: string }): string =>
    Object.entries(r)
      .map(([k, v]) => `${k} ${info(Number(k)).key} x${v}`)
      .join(', ') || 'none';
  const lat = s.latency ? `min ${s.latency.minMs.toFixed(1)} / median ${s.latency.medianMs.toFixed(1)} / max ${s.latency.maxMs.toFixed(1)} ms` : 'none';
  const lines = [
    '--- summary',
    `records             ${per(s.records)}${s.problems ? `  (${s.problems} bad line(s))` : ''}`,
    `frames              ${per(s.frames)}`,
    `discarded           ${discards}`,
    `undecodable frames  ${per(s.undecodableFrames)}`,
    `requests            ${kinds(s.requestKinds)}`,
    `replies             ${kinds(s.replyKinds)}`,
    `transactions        ${s.transactions}: paired ${s.paired}, unanswered ${s.unanswered}, unmatched replies ${s.unmatchedReplies}`,
    `error frames        ${s.errorFrames}${s.errorFrames ? ` (${coded(s.errorFramesByCode, errorFrameInfo)})` : ''}`,
    `status replies      ${coded(s.statusReplies, statusInfo)}`,
    `max outstanding     ${s.maxOutstanding} requests answered in overlap; ${s.maxPending} counting those still waiting for a reply`,
    `latency             ${lat}`,
    `largest DATA        reply ${s.largestData.reply} / request ${s.largestData.request}`,
    `nodes               ${s.nodes.join(', ') || 'none'}`,
  ];
  return lines.join('\n');
}
