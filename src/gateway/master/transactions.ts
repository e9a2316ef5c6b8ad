/**
 * A master transaction as the log stores it: the bus's record with its parameters named through
 * the observation layer's pairer (one decoder for both modes).
 */
import { describeFailure, type TransactionRecord } from '../../bus/index.js';
import { packetToFrame } from '../../codec/index.js';
import type { Transaction } from '../../observe/index.js';
import type { LoggedTransaction } from '../sink.js';
import type { BusHandle } from './buses.js';

export function loggedTransaction(handle: BusHandle, r: TransactionRecord): LoggedTransaction {
  const described = describe(handle, r);
  return {
    id: r.id,
    bus: handle.name,
    mode: 'master',
    node: r.node,
    seq: r.seq,
    command: described?.command,
    commandName: described?.commandName ?? r.request.kind,
    purpose: r.purpose,
    outcome: r.outcome,
    status: r.reply?.kind === 'status' ? r.reply.status : undefined,
    errorCode: r.reply?.kind === 'error' ? r.reply.code : undefined,
    requestBytes: r.requestBytes,
    replyBytes: r.replyBytes,
    startedAt: r.startedAt ?? r.enqueuedAt,
    endedAt: r.endedAt,
    latencyMs: r.latencyMs,
    attempts: r.attempts,
    params: described?.params ?? [],
    error: r.failure ? describeFailure(r.failure, r.node) : undefined,
  };
}

/** The frames come from the messages the bus already has; nothing is parsed again. */
function describe(handle: BusHandle, r: TransactionRecord): Transaction | undefined {
  if (!r.requestBytes) return undefined; // never sent (queue deadline, node backoff, bus down)
  const t0 = (r.startedAt ?? r.enqueuedAt) * 1000;
  const req = packetToFrame({ seq: r.seq, node: r.node, message: r.request });
  const out = handle.pairer.request({ frame: req, raw: r.requestBytes, time: t0 });
  if (r.reply && r.replyBytes) {
    const rep = packetToFrame({ seq: r.seq, node: r.node, message: r.reply });
    out.push(...handle.pairer.reply({ frame: rep, raw: r.replyBytes, time: r.endedAt * 1000 }));
  } else {
    out.push(...handle.pairer.flush(r.endedAt * 1000));
  }
  return out[out.length - 1];
}
