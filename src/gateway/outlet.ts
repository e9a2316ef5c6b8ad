/**
 * Where every logged transaction goes, in either mode: each sink (the in-memory list behind
 * GET /transactions, the store while main.ts still hands it in as a sink), then the `transaction`
 * event. A sink that throws is logged and isolated; the event is queued by the hub, so no listener
 * runs inside the bus's or the bridge's call.
 */
import type { Logger } from '../shared/index.js';
import type { GatewayEvents } from './events.js';
import type { LoggedTransaction, TransactionSink } from './sink.js';

export class TransactionOutlet {
  constructor(
    private readonly sinks: readonly TransactionSink[],
    private readonly events: GatewayEvents,
    private readonly log: Logger,
  ) {}

  deliver(entry: LoggedTransaction): void {
    for (const s of this.sinks) {
      try {
        s.write(entry);
      } catch (err) {
        this.log.error({ err }, 'transaction sink failed');
      }
    }
    this.events.emit('transaction', entry);
  }
}
