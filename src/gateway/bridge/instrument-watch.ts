import type { ErrorCode } from '../../shared/index.js';
import type { GatewayEvents, InstrumentEvent, InstrumentEventKind, ValuesEvent } from '../events.js';
import { IDENTITY_FIELD_BY_DDE, type InstrumentIdentity, type ValueView } from '../views.js';
import type { Learned, ObservedState } from './observed-state.js';
import { hasView, valueView } from './observed-state.js';

interface Reported {
  online: boolean;
  identity: InstrumentIdentity;
}

/**
 * Turns what the observed state learns into `instrument` and `values` events: `found` the first
 * time a node answers, `online`/`offline` as the instrument view computes online, `identity` when
 * an identity parameter is seen with a new value (a field seen for the first time counts: the
 * bridge learns the identity only as the master reads it). Without polling, `offline` is found by
 * `check`, which the bridge runs once a second and whenever the instrument side changes state.
 */
export class InstrumentWatch {
  private readonly reported = new Map<number, Reported>();

  constructor(
    private readonly bus: string,
    private readonly state: ObservedState,
    private readonly events: GatewayEvents,
    private readonly instrumentSide: () => { readonly open: boolean; readonly address: string; readonly state: string },
  ) {}

  /** After a transaction taught `learned`. */
  seen(learned: Learned, now: number): void {
    const node = learned.node;
    const was = this.reported.get(node);
    const open = this.instrumentSide().open;
    const online = this.state.isOnline(node, open, now);
    if (!was) {
      const identity = this.state.identityOf(this.state.valuesOf(node));
      this.reported.set(node, { online, identity });
      this.emit(node, 'found', online, identity);
    } else {
      if (online && !was.online) {
        was.online = true;
        this.emit(node, 'online', true, was.identity);
      }
      if (learned.values?.params.some((p) => IDENTITY_FIELD_BY_DDE.has(p.dde as number))) this.identity(node, was);
    }
    if (learned.values && this.events.listened('values')) {
      const time = learned.values.time;
      // The parameters that have a view, in the order seen.
      const params = learned.values.params.filter((p) => hasView(p));
      if (params.length > 0) {
        // The identity as it is now (capacity and its unit feed the views); the views themselves are
        // made when a consumer first reads `values` (with no SSE client and no MQTT: never), from
        // what is kept here, so they say what they would have said now (issue 14, part 5).
        const identity = this.state.identityOf(this.state.valuesOf(node));
        let views: ValueView[] | undefined;
        const event = { instrument: `${this.bus}:${node}`, bus: this.bus, node, source: 'observed' as const } as { -readonly [K in keyof ValuesEvent]: ValuesEvent[K] };
        Object.defineProperty(event, 'values', {
          enumerable: true,
          get: () => (views ??= params.map((param) => valueView(param.dde as number, { param, time }, identity) as ValueView)),
        });
        this.events.emit('values', event);
      }
    }
  }

  /** Compares every listed instrument's online state with what was last said. */
  check(now: number): void {
    const side = this.instrumentSide();
    const listed = new Set(this.state.listed());
    for (const [node, was] of this.reported) {
      // 128 folded into its real node once its PNA was seen: that one is reported from now on.
      if (!listed.has(node)) {
        this.reported.delete(node);
        continue;
      }
      const online = this.state.isOnline(node, side.open, now);
      if (online === was.online) continue;
      was.online = online;
      if (online) {
        this.emit(node, 'online', true, was.identity);
        continue;
      }
      const age = Math.round(now - this.state.stateOf(node).lastSeen);
      const reason: { code: ErrorCode; message: string } = side.open
        ? { code: 'BRIDGE_STALE', message: `not seen on the wire for ${age} ms, longer than ${this.state.onlineWindowMs} ms (the larger of masterSilenceMs and 3 x replyTimeoutMs)` }
        : { code: 'TRANSPORT_UNAVAILABLE', message: `the instrument side ${side.address} is ${side.state}` };
      this.emit(node, 'offline', false, was.identity, { reason });
    }
  }

  private identity(node: number, was: Reported): void {
    const identity = this.state.identityOf(this.state.valuesOf(node));
    const fields = new Set([...Object.keys(identity), ...Object.keys(was.identity)] as (keyof InstrumentIdentity)[]);
    const changed = [...fields].filter((f) => identity[f] !== was.identity[f]);
    if (changed.length === 0) return;
    const previous = was.identity;
    was.identity = identity;
    this.emit(node, 'identity', was.online, identity, { changed, previous });
  }

  private emit(node: number, kind: InstrumentEventKind, online: boolean, identity: InstrumentIdentity, extra: Partial<Pick<InstrumentEvent, 'changed' | 'previous' | 'reason'>> = {}): void {
    if (!this.events.listened('instrument')) return;
    this.events.emit('instrument', { instrument: `${this.bus}:${node}`, bus: this.bus, node, kind, online, identity: { ...identity }, ...extra });
  }
}
