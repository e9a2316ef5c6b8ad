/**
 * A master transaction as the log stores it: the bus's record with its parameters named through
 * the observation layer's pairer (one decoder for both modes).
 *
 * Naming the parameters is most of what logging a transaction costs (a chained read of eight
 * parameters takes longer to describe than the bus takes to send it and decode its answer), and
 * the bus hands out its records before the reply goes to whoever waits for it. So an entry comes
 * back at once with every field the bus knows, and its `command`, `commandName` and `params` are
 * filled in afterwards: for every entry made so far, oldest first (the pairer sees them in the
 * bus's order, as before), in the next turn of the event loop or on the first read of any of
 * those fields, whichever comes first. Whoever reads an entry sees the same values as before.
 */
import { describeFailure, type TransactionRecord } from '../../bus/index.js';
import { packetToFrame } from '../../codec/index.js';
import type { Transaction } from '../../observe/index.js';
import type { LoggedTransaction } from '../sink.js';
import type { BusHandle } from './buses.js';

/** The fields named by the pairer, filled in later. */
const DESCRIBED = ['command', 'commandName', 'params'] as const;

interface Waiting {
  readonly record: TransactionRecord;
  readonly entry: LoggedTransaction;
}

/** Builds one bus's logged transactions; see the file comment for when their parameters are named. */
export class TransactionDescriber {
  private waiting: Waiting[] = [];
  private scheduled: NodeJS.Immediate | undefined;

  constructor(private readonly handle: BusHandle) {}

  logged(r: TransactionRecord): LoggedTransaction {
    // The fields in the order they always had (JSON and logs show them so), the described ones as placeholders.
    const entry: LoggedTransaction = {
      id: r.id,
      bus: this.handle.name,
      mode: 'master',
      node: r.node,
      seq: r.seq,
      command: undefined,
      commandName: '',
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
      params: [],
      error: r.failure ? describeFailure(r.failure, r.node) : undefined,
    };
    const flush = () => {
      this.flush();
      return entry;
    };
    for (const key of DESCRIBED) {
      Object.defineProperty(entry, key, { enumerable: true, configurable: true, get: () => flush()[key] });
    }
    this.waiting.push({ record: r, entry });
    this.scheduled ??= setImmediate(() => this.flush());
    return entry;
  }

  /** Names the parameters of every entry still waiting, oldest first. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    const list = this.waiting;
    this.waiting = [];
    for (const { record, entry } of list) {
      const described = describe(this.handle, record);
      const values = { command: described?.command, commandName: described?.commandName ?? record.request.kind, params: described?.params ?? [] };
      for (const key of DESCRIBED) Object.defineProperty(entry, key, { value: values[key], enumerable: true, writable: true, configurable: true });
    }
  }
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
