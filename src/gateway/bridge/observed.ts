import { createHash } from 'node:crypto';
import { newId, uuidV7 } from '../../shared/index.js';
import type { ObservedParam, Transaction } from '../../observe/index.js';
import type { LoggedTransaction } from '../sink.js';

/**
 * A transaction seen on the wire (live bridge or replayed capture) as the transaction
 * log stores it: mode 'bridge', purpose 'observed', the Pairer's outcome. Observation
 * times are microseconds; the log keeps ms with microsecond resolution.
 */
export function loggedFromObserved(t: Transaction, bus: string, id: string = newId()): LoggedTransaction {
  const start = t.request?.time ?? t.reply?.time ?? t.time;
  const end = t.reply?.time ?? start;
  return {
    id,
    bus,
    mode: 'bridge',
    node: t.node,
    seq: t.seq,
    command: t.command,
    commandName: t.commandName,
    purpose: 'observed',
    outcome: t.outcome,
    status: t.status?.code,
    errorCode: t.errorFrame?.code,
    requestBytes: t.request?.raw,
    replyBytes: t.reply?.raw,
    startedAt: start / 1000,
    endedAt: end / 1000,
    latencyMs: t.latencyMs,
    attempts: t.request ? 1 : 0,
    params: t.params,
    error: observedError(t),
  };
}

function observedError(t: Transaction): string | undefined {
  switch (t.outcome) {
    case 'ok':
      return t.problem;
    case 'status': {
      const s = t.status;
      if (!s) return t.problem;
      const at = s.param ? ` at ${s.param.key ?? `${s.param.process}/${s.param.fbnr}`}` : '';
      return `status ${s.code} ${s.key} (${s.message}), index ${s.index}${at}`;
    }
    case 'error-frame':
      return t.errorFrame ? `error frame ${t.errorFrame.code} (${t.errorFrame.message})` : 'error frame';
    case 'unanswered':
      return t.problem ? `no reply (${t.problem})` : 'no reply within the reply timeout';
    case 'orphan':
      return t.problem ?? 'a reply that matches no request';
    case 'undecodable':
      return t.problem ?? 'undecodable';
  }
}

/**
 * A UUID-shaped id that depends only on `namespace` (e.g. a capture file's content hash)
 * and `index`: importing the same capture twice yields the same ids, so the store's
 * insert-by-id keeps one copy. Version nibble 8 (RFC 9562 "custom"), RFC variant.
 */
export function deterministicId(namespace: string, index: number, timeMs: number): string {
  // A UUIDv7 whose 48-bit time is the transaction's own (the capture's clock) and whose other
  // bits come from the hash: the same file gives the same ids, and the ids still sort by time,
  // which the store's retention (deleting by id range) and keyset pages rely on.
  return uuidV7(timeMs, createHash('sha256').update(`${namespace}:${index}`).digest());
}

/** Parameters of an observed transaction that state a value at a real address, with the time they were true (µs). */
export function observedValues(t: Transaction): { node: number; params: ObservedParam[]; time: number } | undefined {
  if (t.node === undefined || !t.request || !t.reply) return undefined;
  // A read answered with data, or a write the instrument acknowledged with status 0.
  const read = t.command === 4 && t.outcome === 'ok' && !t.status;
  const written = t.command === 1 && t.outcome === 'ok' && t.status?.code === 0;
  if (!read && !written) return undefined;
  const params = t.params.filter((p) => !p.indexOnly && p.dde !== undefined && p.key !== undefined && p.value !== undefined);
  if (params.length === 0) return undefined;
  return { node: t.node, params, time: t.reply.time };
}
