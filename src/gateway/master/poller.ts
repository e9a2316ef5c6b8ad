/**
 * The poll loop of one instrument: its parameters every interval (a `values` event with source
 * 'poll' for what answered), nothing while its bus is down or its node backed off, and the
 * identity fields still unconfirmed read again every `identityRetryMs`.
 */
import { Priority, type ParamResult } from '../../bus/index.js';
import { sleep, type Logger } from '../../shared/index.js';
import type { IdentityReader } from './identity.js';
import type { MasterOptions } from './options.js';
import type { Instrument, Registry } from './registry.js';

export class Poller {
  constructor(
    private readonly options: MasterOptions,
    private readonly registry: Registry,
    private readonly identity: IdentityReader,
    private readonly signal: AbortSignal,
    private readonly log: Logger,
  ) {}

  /** Polls the instrument until the gateway closes. */
  start(inst: Instrument): void {
    void this.loop(inst).catch((err: unknown) => this.log.error({ err, instrument: inst.id }, `polling of ${inst.id} stopped`));
  }

  private async loop(inst: Instrument): Promise<void> {
    const signal = this.signal;
    // The sleeps reject only when the gateway closes; the loop's condition ends it then.
    const closing = () => undefined;
    // Stagger instruments so their polls do not all land in the same instant.
    await sleep(Math.random() * Math.min(inst.poll.intervalMs, this.options.pollStaggerMs), signal).catch(closing);
    while (!signal.aborted) {
      const started = Date.now();
      // A backed-off node is not polled until its backoff ends (the bus would refuse the poll
      // anyway): no transaction rows that put nothing on the wire.
      if (inst.poll.params.length > 0 && inst.handle.transport.state === 'open' && inst.handle.bus.backoff(inst.node) === undefined) {
        const results = await inst.handle.client.read(inst.node, inst.poll.params, { priority: Priority.Poll, purpose: 'poll', signal }).catch((err: unknown): ParamResult[] => {
          this.log.debug({ err, instrument: inst.id }, 'poll failed before any result; the next poll tries again');
          return [];
        });
        if (signal.aborted) break;
        const ok = this.identity.note(inst, results);
        this.registry.emitValues(inst, 'poll', ok);
        // Discovery may have missed part of the identity (lost replies, answers that never agreed, a bus
        // that came back): read what is missing again, at most every `identityRetryMs`.
        const missing = inst.online ? this.registry.unconfirmed(inst) : [];
        if (missing.length > 0 && Date.now() - inst.identityTriedAt > this.options.identityRetryMs) {
          await this.identity.read(inst, missing).catch((err: unknown) => this.log.debug({ err, instrument: inst.id, missing }, 'identity re-read failed; tried again later'));
        }
      }
      await sleep(Math.max(0, inst.poll.intervalMs - (Date.now() - started)), signal).catch(closing);
    }
  }
}
