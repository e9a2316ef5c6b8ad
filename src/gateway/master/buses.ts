/**
 * The buses master mode owns: each one's transport, scheduler and parameter client, built from its
 * options, and what happens to it (the transport's state, node backoff) said once in the log and
 * as `bus` events. What the rest of the mode does about it (walk again, instruments offline) is
 * the service's hook.
 */
import { Bus, ParamClient } from '../../bus/index.js';
import type { Protocol } from '../../codec/index.js';
import { Pairer } from '../../observe/index.js';
import type { Logger } from '../../shared/index.js';
import { openerFor, parseAddress, Transport, type SimulatorFactory, type TransportStatus } from '../../transport/index.js';
import type { GatewayEvents } from '../events.js';
import { OngoingProblem } from '../ongoing.js';
import { busOptionsOf, type MasterBusOptions, type MasterOptions } from './options.js';

export interface BusHandle {
  readonly name: string;
  readonly config: MasterBusOptions;
  readonly transport: Transport;
  readonly bus: Bus;
  readonly client: ParamClient;
  readonly protocol: Protocol;
  /** Names the parameters of every transaction for the log, with the same decoder the bridge uses. */
  readonly pairer: Pairer;
  localNode?: number;
  discovery?: Promise<number[]> | undefined;
  discovered: boolean;
  /** Discovery finds nobody at node 128 (port open, instrument off). */
  readonly silence: OngoingProblem;
}

export function openBus(cfg: MasterBusOptions, options: MasterOptions, simulator: SimulatorFactory | undefined): BusHandle {
  const busOptions = busOptionsOf(cfg);
  const addr = parseAddress(cfg.port, busOptions.baudRate);
  const transport = new Transport(cfg.port, openerFor(addr, simulator), options.reconnect);
  const bus = new Bus(transport, { ...busOptions, ...(addr.kind === 'serial' ? { baudRate: addr.baudRate } : {}) });
  const protocol = bus.options.protocol;
  return {
    name: cfg.name,
    config: cfg,
    transport,
    bus,
    client: new ParamClient(bus),
    protocol,
    pairer: new Pairer({ mode: protocol, timeoutMs: options.pairerTimeoutMs }),
    discovered: false,
    silence: new OngoingProblem(),
  };
}

export interface BusHooks {
  /** The transport is open (first time or again). */
  opened(handle: BusHandle): void;
  /** The transport is lost and waits to reopen. */
  lost(handle: BusHandle, reason: string): void;
}

/**
 * Logs the transport's state changes (an outage once, with a reminder; its end with how long it
 * lasted), emits each as a `bus` 'state' event, and the scheduler's node backoff as 'node-backoff'
 * and 'node-recovered'.
 */
export function watchBus(handle: BusHandle, log: Logger, events: GatewayEvents, hooks: BusHooks): void {
  const { name, config } = handle;
  const outage = new OngoingProblem();
  handle.transport.on('state', (s: TransportStatus) => {
    if (events.listened('bus')) {
      events.emit('bus', {
        bus: name,
        kind: 'state',
        state: s.state,
        reconnects: s.reconnects,
        ...(s.lastError ? { reason: s.lastError } : {}),
        ...(s.retryAt ? { retryAt: new Date(s.retryAt).toISOString() } : {}),
      });
    }
    if (s.state === 'open') {
      const was = outage.over();
      log.info(
        { address: config.port, reconnects: s.reconnects, ...(was ? { downForS: was.forS, attempts: was.attempts } : {}) },
        was ? `bus ${name} open again` : `bus ${name} open`,
      );
      hooks.opened(handle);
    } else if (s.state === 'waiting') {
      const reason = s.lastError ?? 'closed';
      const say = outage.seen(reason);
      if (say) {
        log.warn(
          {
            address: config.port,
            reason,
            attempts: say.attempts,
            downSince: new Date(say.since).toISOString(),
            retryAt: s.retryAt ? new Date(s.retryAt).toISOString() : undefined,
          },
          say.first ? `bus ${name} unavailable; reopening with backoff` : `bus ${name} still unavailable`,
        );
      }
      hooks.lost(handle, reason);
    }
  });
  handle.bus.on('node-backoff', (node, until) => {
    if (events.listened('bus')) events.emit('bus', { bus: name, kind: 'node-backoff', node, until: new Date(until).toISOString() });
  });
  handle.bus.on('node-recovered', (node) => {
    if (events.listened('bus')) events.emit('bus', { bus: name, kind: 'node-recovered', node });
  });
}
