/**
 * The instruments master mode knows: their records, finding one by reference, their views, and the
 * two things that change about them: online or offline (on each transition, an `instrument` event
 * with the reason), and the identity (`setIdentity`, the one place it changes, with an 'identity'
 * event naming what changed and what it was).
 */
import { BusError, type ParamReading, type ParamResult } from '../../bus/index.js';
import { forChannel, MAX_CHANNELS, resolveParam, type ParamDef } from '../../params/index.js';
import { GatewayError, type ErrorCode } from '../../shared/index.js';
import type { GatewayEvents, InstrumentEvent, InstrumentEventKind, ValueSource } from '../events.js';
import type { InstrumentView } from '../service.js';
import { buildValueView, findInstrument, IDENTITY_PARAMS, instrumentId, jsonValue, type InstrumentIdentity, type ValueView } from '../views.js';
import type { PlainValue } from './agree.js';
import type { BusHandle } from './buses.js';
import type { MasterOptions } from './options.js';

export type IdentityField = keyof InstrumentIdentity;

export interface Instrument {
  readonly id: string;
  readonly handle: BusHandle;
  readonly node: number;
  /** 1, or the channel (2 and up) of a multi-channel instrument: its own id, identity and poll loop. */
  readonly channel: number;
  name?: string;
  /** Only values two reads agreed on. */
  identity: InstrumentIdentity;
  /** Identity fields the instrument answered twice with a status error: it does not have them; not asked again. */
  readonly lacks: Set<IdentityField>;
  /** Identity values read (polled, read by a client) that differ from the confirmed ones: confirmed or dropped by `confirmIdentity`. */
  readonly suspect: Map<IdentityField, PlainValue>;
  /** Why the last read of an identity field gave nothing confirmed (its last read's error), until it is confirmed. */
  readonly unread: Map<IdentityField, string>;
  confirming?: Promise<void> | undefined;
  /** Confirmed values dropped because a write made them doubtful (`forget`), until they are confirmed again: what they were. */
  forgotten?: InstrumentIdentity | undefined;
  online: boolean;
  /** What the last `instrument` event said (none yet: neither). */
  announced?: 'online' | 'offline';
  lastSeen?: number;
  lastError?: { code: ErrorCode; message: string } | undefined;
  readonly poll: { readonly params: readonly ParamDef[]; readonly intervalMs: number };
  identityTriedAt: number;
  /** Set while the gateway does something that refuses writes meanwhile (listing the fluid sets). */
  busy?: string | undefined;
}

/** How many channels an identity says the instrument has: 1 unless `channels` says 2..MAX_CHANNELS (more are clipped). */
export function channelCount(identity: InstrumentIdentity): number {
  const n = identity.channels;
  return n !== undefined && Number.isInteger(n) && n > 1 ? Math.min(n, MAX_CHANNELS) : 1;
}

export class Registry {
  private readonly byId = new Map<string, Instrument>();
  private readonly defaultPoll: Instrument['poll'];
  /** Sees every fresh reading (polled, read, read back), listened to or not: the alarm watch. */
  observer?: (i: Instrument, fresh: readonly ParamReading[]) => void;

  constructor(
    private readonly options: MasterOptions,
    private readonly handles: ReadonlyMap<string, BusHandle>,
    private readonly events: GatewayEvents,
  ) {
    this.defaultPoll = { params: options.poll.parameters.map((p) => resolveParam(p)), intervalMs: options.poll.intervalMs };
  }

  /**
   * Called when channel 1 of an instrument confirms that it has several channels (the service
   * adds one instrument per channel).
   */
  onChannels: ((inst: Instrument, channels: number) => void) | undefined;

  /** The instrument at `node` of the bus (or its channel), added (an `instrument` 'found' event) when it is new. */
  add(handle: BusHandle, node: number, channel = 1): { inst: Instrument; added: boolean } {
    const id = instrumentId(handle.name, node, channel);
    const existing = this.byId.get(id);
    if (existing) return { inst: existing, added: false };
    const cfg = this.options.instruments.find((i) => i.node === node && (i.bus ?? handle.name) === handle.name);
    const configured = cfg?.poll
      ? {
          params: (cfg.poll.parameters ?? this.options.poll.parameters).map((p) => resolveParam(p)),
          intervalMs: cfg.poll.intervalMs ?? this.defaultPoll.intervalMs,
        }
      : this.defaultPoll;
    // A channel polls the same parameters at its own process numbers.
    const poll = channel > 1 ? { params: configured.params.map((p) => forChannel(p, channel)), intervalMs: configured.intervalMs } : configured;
    const name = cfg?.name ? (channel > 1 ? `${cfg.name}/${channel}` : cfg.name) : undefined;
    const inst: Instrument = { id, handle, node, channel, identity: {}, lacks: new Set(), suspect: new Map(), unread: new Map(), online: false, poll, identityTriedAt: 0, ...(name ? { name } : {}) };
    this.byId.set(id, inst);
    this.announce(inst, 'found');
    return { inst, added: true };
  }

  all(): Instrument[] {
    return [...this.byId.values()];
  }

  onBus(handle: BusHandle): Instrument[] {
    return this.all().filter((i) => i.handle === handle);
  }

  find(ref: string): Instrument {
    const located = this.all().map((inst) => ({
      id: inst.id,
      bus: inst.handle.name,
      node: inst.node,
      channel: inst.channel,
      channels: channelCount(inst.identity),
      local: inst.node === inst.handle.localNode,
      inst,
    }));
    return findInstrument(ref, located, ({ bus: busName }, text) => {
      // Not found while a bus is down: the instrument may well be there, behind the missing port.
      const down = [...this.handles.values()].filter((h) => (busName === undefined || h.name === busName) && h.transport.state !== 'open');
      if (down.length > 0) {
        const h = down[0] as BusHandle;
        const t = h.transport.status();
        throw new GatewayError(
          'BUS_UNAVAILABLE',
          `node ${text} is not known yet because bus ${h.name} (${h.config.port}) is unavailable: ${t.lastError ?? t.state}; it is retried with backoff`,
          { node: text, bus: h.name, state: t.state, ...(t.retryAt ? { retryAt: new Date(t.retryAt).toISOString() } : {}) },
        );
      }
      throw new GatewayError('GATEWAY_NODE_UNKNOWN', `no instrument at node ${text}; known: ${[...this.byId.values()].map((i) => i.id).join(', ') || 'none'}`, {
        node: text,
        known: [...this.byId.keys()],
      });
    }).inst;
  }

  view(i: Instrument): InstrumentView {
    const values: Record<string, ValueView> = {};
    for (const p of i.poll.params) {
      const r = i.handle.client.latest(i.node, p.dde, p.channel);
      if (r) values[p.key] = this.valueView(i, r);
    }
    return {
      id: i.id,
      bus: i.handle.name,
      node: i.node,
      ...(i.channel > 1 || channelCount(i.identity) > 1 ? { channel: i.channel } : {}),
      ...(i.name ? { name: i.name } : {}),
      online: i.online,
      ...(i.lastSeen ? { lastSeen: new Date(i.lastSeen).toISOString() } : {}),
      ...(i.lastError ? { lastError: i.lastError } : {}),
      identity: { ...i.identity },
      values,
      polling: { parameters: i.poll.params.map((p) => p.key), intervalMs: i.poll.intervalMs },
    };
  }

  valueView(i: Instrument, r: ParamReading): ValueView {
    return buildValueView(r.param, { raw: Buffer.from(r.raw).toString('hex'), value: jsonValue(r.value), time: r.at, cached: r.cached }, i.identity);
  }

  /**
   * A `values` event of the fresh readings among `readings` (cached ones say nothing new); nothing
   * built when nobody listens. `view` makes each value's view (a read that answers its caller with
   * the same views passes its own, so they are built once).
   */
  emitValues(i: Instrument, source: ValueSource, readings: readonly ParamReading[], view: (r: ParamReading) => ValueView = (r) => this.valueView(i, r)): void {
    const fresh = readings.filter((r) => !r.cached);
    if (fresh.length === 0) return;
    this.observer?.(i, fresh);
    if (!this.events.listened('values')) return;
    this.events.emit('values', { instrument: i.id, bus: i.handle.name, node: i.node, source, values: fresh.map(view) });
  }

  /**
   * What a read's results say about the instrument: online when anything answered, offline with
   * the error when nothing did. Returns the readings that answered.
   */
  note(inst: Instrument, results: readonly ParamResult[]): ParamReading[] {
    const ok = results.flatMap((r) => (r.ok ? [r.reading] : []));
    if (ok.length > 0) {
      inst.lastSeen = Date.now();
      const answered = results.find((r) => !r.ok && r.error instanceof BusError && r.error.failure.kind === 'status');
      inst.lastError = answered && !answered.ok ? { code: answered.error.code, message: answered.error.message } : undefined;
      this.setOnline(inst);
    } else if (results.length > 0) {
      const first = results[0];
      if (first && !first.ok) {
        // A request that never reached the instrument (shutdown, a full queue) says nothing about it.
        if (first.error instanceof BusError && ['aborted', 'queue-deadline'].includes(first.error.failure.kind)) return ok;
        this.setOffline(inst, { code: first.error.code, message: first.error.message });
      }
    }
    return ok;
  }

  setOnline(inst: Instrument): void {
    inst.online = true;
    if (inst.announced !== 'online') {
      inst.announced = 'online';
      this.announce(inst, 'online');
    }
  }

  setOffline(inst: Instrument, reason: { code: ErrorCode; message: string }): void {
    inst.online = false;
    inst.lastError = reason;
    if (inst.announced !== 'offline') {
      inst.announced = 'offline';
      this.announce(inst, 'offline', { reason });
    }
  }

  /**
   * The one place an instrument's identity changes: applies confirmed values, returns the fields
   * that changed (and says so in an 'identity' event). Another serial number means another
   * instrument at that address: what was confirmed about the one before is dropped.
   */
  setIdentity(inst: Instrument, next: InstrumentIdentity): IdentityField[] {
    const before: InstrumentIdentity = inst.identity;
    // A value forgotten after a write and confirmed now is compared with what it was before the write.
    const previous: InstrumentIdentity = { ...inst.forgotten, ...before };
    const replaced = next.serial !== undefined && before.serial !== undefined && next.serial !== before.serial;
    const merged: InstrumentIdentity = { ...(replaced ? {} : before), ...next };
    const fields = IDENTITY_PARAMS.map(([field]) => field);
    const applied = fields.filter((f) => merged[f] !== before[f]);
    const changed = fields.filter((f) => merged[f] !== previous[f] && (merged[f] !== undefined || before[f] !== undefined));
    for (const field of Object.keys(next) as IdentityField[]) {
      inst.lacks.delete(field);
      inst.suspect.delete(field);
      if (inst.forgotten) delete (inst.forgotten as Record<string, unknown>)[field];
    }
    if (replaced) {
      inst.lacks.clear();
      inst.forgotten = undefined;
    }
    if (applied.length > 0) inst.identity = merged;
    if (changed.length > 0) this.announce(inst, 'identity', { changed, previous });
    if (inst.channel === 1 && channelCount(inst.identity) > 1) this.onChannels?.(inst, channelCount(inst.identity));
    return changed;
  }

  /**
   * Drops confirmed identity fields that a write has made doubtful (a new fluidset: its capacity),
   * so that nothing is checked against the old value before the new one is confirmed. What they
   * were is kept for the 'identity' event that confirms the new ones.
   */
  forget(inst: Instrument, fields: readonly IdentityField[]): void {
    for (const f of fields) {
      if (inst.identity[f] === undefined) continue;
      inst.forgotten = { ...inst.forgotten, [f]: inst.identity[f] };
      delete inst.identity[f];
    }
  }

  /** Identity fields not confirmed yet, nor known to be missing from the instrument. */
  unconfirmed(inst: Instrument): IdentityField[] {
    return IDENTITY_PARAMS.map(([field]) => field).filter((f) => inst.identity[f] === undefined && !inst.lacks.has(f));
  }

  private announce(inst: Instrument, kind: InstrumentEventKind, extra: Pick<InstrumentEvent, 'changed' | 'previous' | 'reason'> = {}): void {
    if (!this.events.listened('instrument')) return;
    this.events.emit('instrument', { instrument: inst.id, bus: inst.handle.name, node: inst.node, kind, online: inst.online, identity: { ...inst.identity }, ...extra });
  }
}
