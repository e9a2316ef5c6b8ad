import type { Direction, Transaction } from '../../observe/index.js';
import { findParam, resolveParam } from '../../params/index.js';
import { clip, GatewayError, newId, RefusalLimiter, silentLogger, toHex, type Logger } from '../../shared/index.js';
import { openerFor, parseAddress, Transport } from '../../transport/index.js';
import { askedValue } from '../asked.js';
import { GatewayEvents, type BridgeSide } from '../events.js';
import { BusError, type TransactionRecord } from '../../bus/index.js';
import { statusInfo, type Value } from '../../codec/index.js';
import type { ParamDef } from '../../params/index.js';
import type { BridgeDetails, BusView, DirectionCounters, GatewayService, InstrumentView, ParamErrorView, ReadResult, TransactionFilter, WriteContext, WriteResult } from '../service.js';
import { MemorySink, type LoggedTransaction, type TransactionSink } from '../sink.js';
import { buildValueView, errorView, jsonValue, readResult, type ValueView } from '../views.js';
import { checkedValue, isCapacityBound, refuseUnwritable } from '../write-checks.js';
import { CaptureWriter } from './capture.js';
import { notObserved, readOnly, stale } from './errors.js';
import { Forwarder } from './forwarder.js';
import { Injector } from './injector.js';
import { InstrumentWatch } from './instrument-watch.js';
import { LinkHealth, type SideHandle } from './link-health.js';
import { loggedFromObserved } from './observed.js';
import { ObservedState, valueView } from './observed-state.js';
import { resolveBridgeOptions, type BridgeDeps, type BridgeOptions, type BridgeOptionsInput } from './options.js';
import { BridgeTap, type TapCounters } from './tap.js';
import { TrafficStats } from './traffic.js';

/** Wall-clock microseconds with sub-millisecond resolution. */
function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** How often instruments not seen within the online window are looked for (to say `offline`), ms. */
const ONLINE_CHECK_MS = 1000;

/**
 * Passive bridge mode: forwards every byte between the master side and the instrument side at
 * once and unchanged (Forwarder), and beside it, fully decoupled, decodes (BridgeTap), logs and
 * learns the traffic (ObservedState). It never sends a byte of its own, so writes are refused;
 * reads are answered from what the master was seen to read or write. Everything that happens is
 * an event on `events`, emitted after the fact and never on the forwarding path.
 */
export class BridgeGateway implements GatewayService {
  readonly mode = 'bridge' as const;
  readonly injects: boolean;
  readonly name: string;
  readonly events: GatewayEvents;
  /** The resolved options, every default filled in. */
  readonly options: BridgeOptions;
  private readonly log: Logger;
  /** Refused writes: each client host in full once a minute, the rest counted. */
  private readonly refusals: RefusalLimiter;
  private readonly recent: MemorySink;
  private readonly sink: TransactionSink | undefined;
  private readonly sides: Record<BridgeSide, SideHandle>;
  private readonly forwarder: Forwarder;
  private readonly tap: BridgeTap;
  private readonly health: LinkHealth;
  private readonly observed: ObservedState;
  private readonly watch: InstrumentWatch;
  private readonly traffic = new TrafficStats();
  private capture: CaptureWriter | undefined;
  /** With `inject` on: the API's reads and writes in the gaps of the master's traffic. */
  private readonly injector: Injector | undefined;
  /** The API operation injecting now (one at a time); aborted when the injector gives its request up. */
  private injecting: AbortController | undefined;
  private injectChain: Promise<unknown> = Promise.resolve();
  /** The log id of the last injected write: what a write's answer names as its transaction. */
  private lastInjectedWrite: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastOnlineCheck = 0;
  private readonly startedAt = Date.now();
  private started = false;
  private closed = false;

  constructor(options: BridgeOptionsInput, deps: BridgeDeps = {}) {
    const o = resolveBridgeOptions(options);
    this.options = o;
    this.injects = o.inject;
    this.name = o.name;
    this.log = (deps.logger ?? silentLogger).child({ bus: this.name, mode: 'bridge' });
    this.refusals = new RefusalLimiter(this.log.child({ write: true }));
    this.events = deps.events ?? new GatewayEvents(this.log);
    this.recent = new MemorySink(o.recentTransactions);
    this.sink = deps.sink;
    const reconnect = { initialDelayMs: o.reconnectInitialMs, maxDelayMs: o.reconnectMaxMs };
    const transport = (side: BridgeSide, address: string): Transport => {
      const injected = deps.openers?.[side];
      const opener = injected ?? openerFor(parseAddress(address, o.baud), side === 'instrument' ? deps.simulator : undefined);
      return new Transport(address, opener, reconnect);
    };
    this.sides = {
      instrument: { side: 'instrument', address: o.instrumentPort, transport: transport('instrument', o.instrumentPort), direction: '<', opened: 0, down: false },
      master: { side: 'master', address: o.masterPort, transport: transport('master', o.masterPort), direction: '>', opened: 0, down: false },
    };
    this.health = new LinkHealth(this.sides, { bus: this.name, masterSilenceMs: o.masterSilenceMs, maxEvents: o.maxEvents }, this.log, this.events, {
      discontinuity: (direction) => this.tap.restart(direction, nowMicros()),
    });
    this.tap = new BridgeTap({
      protocol: o.protocol,
      burstGapMs: o.burstGapMs,
      replyTimeoutMs: o.replyTimeoutMs,
      maxQueuedBytes: o.maxDecodeBacklogBytes,
      maxBurstBytes: o.maxBurstBytes,
      onBurst: (dir, time, bytes) => this.capture?.record(dir, time - new Date(time / 1000).getTimezoneOffset() * 60_000_000, bytes),
      onRestart: (dir) => this.capture?.restart(dir),
      onTransaction: (t) => this.observe(t),
      onDiscard: (dir, reason, bytes) => this.log.debug({ direction: dir, reason, bytes: toHex(bytes) }, `discarded ${bytes.length} byte(s) ${dir === '>' ? 'from the master' : 'from the instrument'}: ${reason}`),
      onError: (err) => this.health.decodeError(err),
    });
    this.forwarder = new Forwarder(o.maxUnwrittenBytes, this.tap);
    if (o.inject) {
      const injector = new Injector(
        {
          idleMs: o.injectIdleMs,
          timeoutMs: o.injectTimeoutMs,
          waitMs: o.injectWaitMs,
          masterTimeoutMs: o.replyTimeoutMs,
          maxMasterLatencyMs: o.injectMaxMasterLatencyMs,
          backoffMs: o.injectBackoffMs,
          baud: o.baud,
        },
        {
          toInstrument: (bytes) => {
            this.sides.instrument.transport.write(bytes).then(undefined, (err: unknown) => this.log.debug({ err, inject: true }, 'dropped: an injected request could not be written'));
          },
          toMaster: (bytes) => this.forwarder.pass('<', bytes, this.sides.master.transport),
          transaction: (t) => this.observe(t, 'injected'),
          wire: (dir, time, bytes) => this.capture?.record(dir, time - new Date(time / 1000).getTimezoneOffset() * 60_000_000, bytes, true),
          backoff: (kind, reason) => this.health.record('inject', kind, reason),
          gaveUp: (reason) => this.injecting?.abort(reason),
        },
      );
      this.injector = injector;
      this.forwarder.filter = injector;
    }
    this.observed = new ObservedState(this.name, Math.max(o.masterSilenceMs, 3 * o.replyTimeoutMs));
    this.watch = new InstrumentWatch(this.name, this.observed, this.events, () => {
      const t = this.sides.instrument.transport;
      return { open: t.state === 'open', address: this.sides.instrument.address, state: t.state };
    });
  }

  /** Opens both sides (each reopens itself with backoff when lost); resolves once each side's first attempt is done. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const o = this.options;
    if (o.capture) {
      const path = o.capture;
      this.capture = new CaptureWriter(path, {
        flushMs: o.captureFlushMs,
        maxPendingBytes: o.captureMaxPendingBytes,
        onError: (err) => this.health.record('capture', 'capture-failed', `cannot write capture ${path}: ${err.message}; capture stopped, forwarding goes on`),
      });
    }
    for (const h of Object.values(this.sides)) {
      const peer = (h.side === 'master' ? this.sides.instrument : this.sides.master).transport;
      h.transport.on('data', (chunk) => this.forwarder.forward(h.direction, chunk, peer));
      h.transport.on('state', (s) => {
        this.health.onState(h, s);
        // The instrument side going down takes every instrument offline at once.
        if (h.side === 'instrument') this.guard(() => this.watch.check(Date.now()));
      });
    }
    const tick = Math.max(20, Math.min(250, Math.floor(o.replyTimeoutMs / 4), Math.floor(o.masterSilenceMs / 4)));
    this.timer = setInterval(() => this.housekeeping(), tick);
    this.timer.unref?.();
    this.log.info(
      { instrumentPort: o.instrumentPort, masterPort: o.masterPort, capture: o.capture },
      `bridge ${this.name}: forwarding between master ${o.masterPort} and instrument ${o.instrumentPort}`,
    );
    await Promise.all([this.sides.instrument.transport.start(), this.sides.master.transport.start(), this.injector?.start()]);
  }

  private housekeeping(): void {
    this.guard(() => {
      this.tap.expire(nowMicros());
      this.injector?.tick();
      const now = Date.now();
      this.health.checkMaster(now, this.forwarder.lastMasterAt, this.tap.counters('>').frames);
      if (now - this.lastOnlineCheck >= ONLINE_CHECK_MS) {
        this.lastOnlineCheck = now;
        this.watch.check(now);
      }
    });
  }

  /** Runs work of the decoding side; what fails there is a decode error, never a crash. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.health.decodeError(err);
    }
  }

  /** Each transaction the tap paired (or the injector made): counted, learned, logged, and emitted. */
  private observe(t: Transaction, purpose: 'observed' | 'injected' = 'observed'): void {
    const logged = loggedFromObserved(t, this.name, newId());
    const entry = purpose === 'observed' ? logged : { ...logged, purpose };
    // Operations inject one at a time: the write being answered is this operation's.
    if (purpose === 'injected' && t.commandName === 'write') this.lastInjectedWrite = entry.id;
    if (purpose === 'observed') this.traffic.add(t);
    const learned = this.observed.learn(t);
    this.recent.write(entry);
    if (this.sink) {
      try {
        this.sink.write(entry);
      } catch (err) {
        this.health.decodeError(err);
      }
    }
    this.events.emit('transaction', entry);
    if (learned) this.guard(() => this.watch.seen(learned, Date.now()));
  }

  // ------------------------------------------------------------------ the service

  instruments(): InstrumentView[] {
    const open = this.sides.instrument.transport.state === 'open';
    const now = Date.now();
    return this.observed.listed().map((n) => this.observed.view(n, open, now));
  }

  instrument(ref: string): InstrumentView {
    return this.observed.view(this.observed.find(ref), this.sides.instrument.transport.state === 'open', Date.now());
  }

  /**
   * Serves what was observed: the latest value of each parameter with the time it was
   * seen. `maxAge` (ms) refuses values older than that (BRIDGE_STALE); a parameter never
   * seen is BRIDGE_NOT_OBSERVED. Absent or 0 `maxAge` serves the latest value of any age.
   */
  async readParams(ref: string, names: readonly string[], opts: { maxAge?: number } = {}): Promise<ReadResult> {
    const node = this.observed.find(ref);
    if (names.length === 0) throw new GatewayError('PARAM_NONE', 'name at least one parameter to read', {});
    const defs = names.map((n) => resolveParam(n));
    if (this.injector) return this.injectedRead(this.injector, node, defs, opts.maxAge);
    const values = this.observed.valuesOf(node);
    const identity = this.observed.identityOf(values);
    const id = `${this.name}:${node}`;
    const now = Date.now();
    const results = defs.map((def): ValueView | ParamErrorView => {
      const seen = values.get(def.dde);
      const view = seen ? valueView(def.dde, seen, identity) : undefined;
      if (!seen || !view) return errorView(def, notObserved(def, id));
      const age = Math.max(0, Math.round(now - seen.time));
      if (opts.maxAge && age > opts.maxAge) return errorView(def, stale(def, id, seen.time, age, opts.maxAge));
      return view;
    });
    return readResult(id, results);
  }

  /**
   * With injection: values the master polls are served from what was observed while within
   * `maxAge`; without `maxAge`, or older, or never seen, they are read by an injected request.
   */
  private async injectedRead(injector: Injector, node: number, defs: readonly ParamDef[], maxAge: number | undefined): Promise<ReadResult> {
    const id = `${this.name}:${node}`;
    const now = Date.now();
    const values = this.observed.valuesOf(node);
    const served = new Map<number, ValueView>();
    if (maxAge) {
      const identity = this.observed.identityOf(values);
      for (const def of defs) {
        const seen = values.get(def.dde);
        const view = seen && now - seen.time <= maxAge ? valueView(def.dde, seen, identity) : undefined;
        if (view) served.set(def.dde, view);
      }
    }
    const toRead = defs.filter((d) => !served.has(d.dde));
    if (toRead.length > 0) this.refusePaused(injector);
    const results = toRead.length > 0 ? await this.serialized((signal) => injector.client.read(node, toRead, { purpose: 'read', signal })) : [];
    const identity = this.observed.identityOf(this.observed.valuesOf(node));
    const read = new Map(results.map((r) => [r.ok ? r.reading.param.dde : r.param.dde, r]));
    return readResult(
      id,
      defs.map((def): ValueView | ParamErrorView => {
        const hit = served.get(def.dde);
        if (hit) return hit;
        const r = read.get(def.dde);
        if (!r) return errorView(def, notObserved(def, id));
        if (!r.ok) return errorView(def, this.injectError(injector, r.error));
        return buildValueView(def, { raw: toHex(r.reading.raw).replace(/\s+/g, ''), value: jsonValue(r.reading.value), time: r.reading.at, cached: false }, identity);
      }),
    );
  }

  /** Runs one API operation's injected requests, after those before it. */
  private serialized<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const controller = new AbortController();
      this.injecting = controller;
      try {
        return await fn(controller.signal);
      } finally {
        if (this.injecting === controller) this.injecting = undefined;
      }
    };
    const next = this.injectChain.then(run, run);
    this.injectChain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  private refusePaused(injector: Injector): void {
    const v = injector.view();
    if (v.state !== 'paused') return;
    throw new GatewayError(
      'BRIDGE_INJECT_PAUSED',
      `injection is paused until ${v.pausedUntil ?? '?'} because the master's own traffic suffered (${v.lastBackoff ?? 'see GET /bus'}); try again then`,
      { until: v.pausedUntil, reason: v.lastBackoff },
    );
  }

  /** A timeout of an injected request says whether no gap came or no reply. */
  private injectError(injector: Injector, err: GatewayError): GatewayError {
    if (err.code !== 'BUS_TIMEOUT' && err.code !== 'BUS_ABORTED') return err;
    if (err.code === 'BUS_ABORTED' && this.closed) return err;
    const o = this.options;
    return injector.lastFailure === 'no-gap'
      ? new GatewayError('BUS_TIMEOUT', `no gap in the master's traffic within injectWaitMs ${o.injectWaitMs} ms: the request was not sent`, { ...err.details, reason: 'no-gap' })
      : new GatewayError('BUS_TIMEOUT', `the instrument did not answer the injected request within injectTimeoutMs ${o.injectTimeoutMs} ms`, { ...err.details, reason: 'no-reply' });
  }

  /** With injection: checked as master mode checks a write, written in a gap, read back. */
  private async injectedWrite(injector: Injector, ref: string, name: string, value: unknown, ctx: WriteContext): Promise<WriteResult> {
    const log = this.log.child({ write: true, source: ctx.source });
    let def: ParamDef | undefined;
    let id = clip(ref);
    try {
      const node = this.observed.find(ref);
      id = `${this.name}:${node}`;
      def = resolveParam(name);
      refuseUnwritable(def, false, 'bridge mode does not write secured parameters (it would unlock them for the other master too); use master mode with "secured: true"');
      const identity = this.observed.identityOf(this.observed.valuesOf(node));
      const v = checkedValue(def, value, ctx.unit, identity, injector.client, isCapacityBound(def) ? 'the master was not seen reading it' : undefined);
      const written = v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
      this.refusePaused(injector);
      const param = def;
      const { record, reading } = await this.serialized(async (signal) => {
        this.lastInjectedWrite = undefined;
        const rec = await this.injectedWriteOnce(injector, node, param, v, written, signal);
        const logged = this.lastInjectedWrite ?? rec.id;
        const [r] = param.read ? await injector.client.read(node, [param], { purpose: 'read-back', signal }) : [];
        return { record: { id: logged }, reading: r };
      });
      let readBack: ValueView | undefined;
      if (reading?.ok) {
        readBack = buildValueView(def, { raw: toHex(reading.reading.raw).replace(/\s+/g, ''), value: jsonValue(reading.reading.value), time: reading.reading.at, cached: false }, this.observed.identityOf(this.observed.valuesOf(node)));
      }
      log.info({ instrument: id, param: def.key, dde: def.dde, value: written, readBack: readBack?.value, transaction: record.id, injected: true }, `write ${id} ${def.key}=${String(written)} from ${ctx.source} (injected)`);
      if (this.events.listened('write')) {
        this.events.emit('write', { instrument: id, param: def.key, dde: def.dde, value: written, source: ctx.source, result: 'accepted', transactionId: record.id, ...(readBack ? { readBack: readBack.value } : {}) });
      }
      return {
        instrument: id,
        param: { dde: def.dde, key: def.key, name: def.name },
        written,
        status: { code: 0, name: statusInfo(0).key },
        ...(readBack ? { readBack } : {}),
        transactionId: record.id,
      };
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
      this.refusals.refused(ctx.source, e.code, () => log.warn({ instrument: id, param: def?.key ?? clip(name), code: e.code }, `write refused: ${clip(e.message, 500)} (from ${ctx.source})`));
      if (this.events.listened('write')) {
        this.events.emit('write', { instrument: id, param: def?.key ?? clip(name), ...(def ? { dde: def.dde } : {}), value: askedValue(value), source: ctx.source, result: 'refused', code: e.code, message: clip(e.message, 500) });
      }
      throw e;
    }
  }

  private async injectedWriteOnce(injector: Injector, node: number, def: ParamDef, v: Value, written: number | string, signal: AbortSignal): Promise<TransactionRecord> {
    try {
      return await injector.client.write(node, [{ param: def, value: v }], { purpose: 'write', signal });
    } catch (err) {
      if (err instanceof BusError && err.failure.kind === 'status') {
        const st = statusInfo(err.failure.status);
        throw new GatewayError('BUS_STATUS', `node ${node} refused ${def.key} = ${String(written)}: status ${err.failure.status} ${st.key} (${st.message})`, { ...err.details, param: def.key, dde: def.dde, value: written });
      }
      throw err instanceof GatewayError ? this.injectError(injector, err) : err;
    }
  }

  async writeParam(ref: string, param: string, value: unknown, ctx: WriteContext): Promise<WriteResult> {
    if (this.injector) return this.injectedWrite(this.injector, ref, param, value, ctx);
    const err = readOnly(ref, param, this.options.masterPort);
    this.refusals.refused(ctx.source, err.code, () =>
      this.log.warn({ write: true, instrument: clip(ref), param: clip(param), code: err.code, source: ctx.source }, `write refused: bridge mode (from ${ctx.source})`),
    );
    if (this.events.listened('write')) {
      let instrument: string;
      try {
        instrument = `${this.name}:${this.observed.find(ref)}`;
      } catch (e) {
        // Not an instrument seen (or not a reference at all): the event names what was asked.
        this.log.debug({ write: true, code: (e as GatewayError).code }, 'refused write names no instrument seen');
        instrument = clip(String(ref), 100);
      }
      const def = typeof param === 'string' ? findParam(param) : undefined;
      this.events.emit('write', {
        instrument,
        param: def?.key ?? clip(String(param), 100),
        ...(def ? { dde: def.dde } : {}),
        value: askedValue(value),
        source: ctx.source,
        result: 'refused',
        code: err.code,
        message: err.message,
      });
    }
    throw err;
  }

  async discover(): Promise<InstrumentView[]> {
    // A passive bridge cannot walk the bus: it lists what it has seen.
    return this.instruments();
  }

  buses(): BusView[] {
    const inst = this.sides.instrument.transport.status();
    const master = this.sides.master.transport.status();
    const worst = [inst, master].find((s) => s.state !== 'open') ?? inst;
    const seconds = Math.max(1, (Date.now() - this.startedAt) / 1000);
    const fwd = this.forwarder.counters;
    const bits = (fwd['>'].bytes + fwd['<'].bytes) * 10;
    const c = { '>': this.tap.counters('>'), '<': this.tap.counters('<') };
    const o = this.options;
    return [
      {
        name: this.name,
        address: `${o.masterPort} <-> ${o.instrumentPort}`,
        transport: {
          state: worst.state,
          since: new Date(worst.since).toISOString(),
          ...(worst.lastError ? { lastError: `${worst === inst ? 'instrument' : 'master'} side: ${worst.lastError}` } : {}),
          reconnects: inst.reconnects + master.reconnects,
          ...(worst.retryAt ? { retryAt: new Date(worst.retryAt).toISOString() } : {}),
        },
        queue: { waiting: 0, inFlight: this.tap.outstanding },
        transactions: { ...this.traffic.outcomes },
        retries: 0,
        lateReplies: 0,
        unsolicited: this.traffic.orphans,
        discards: c['>'].discards + c['<'].discards,
        latency: this.traffic.latency(),
        wireUtilisation: bits / (o.baud * seconds),
        nodesBackedOff: [],
        protocol: o.protocol,
        pipelineDepth: 0,
        bridge: this.details(c),
      },
    ];
  }

  /** Counters, forward latency, link health and events (also in `buses()[0].bridge`). */
  details(c: Record<Direction, TapCounters> = { '>': this.tap.counters('>'), '<': this.tap.counters('<') }): BridgeDetails {
    const side = (h: SideHandle) => {
      const s = h.transport.status();
      return { address: h.address, state: s.state, since: new Date(s.since).toISOString(), ...(s.lastError ? { lastError: s.lastError } : {}), reconnects: s.reconnects };
    };
    const dir = (d: Direction): DirectionCounters => {
      const f = this.forwarder.counters[d];
      const t = c[d];
      return {
        bytes: f.bytes,
        forwarded: f.forwarded,
        droppedNoPeer: f.droppedNoPeer,
        droppedOverflow: f.droppedOverflow,
        droppedWriteFailed: f.droppedWriteFailed,
        bursts: t.bursts,
        frames: t.frames,
        discards: t.discards,
        discardedBytes: t.discardedBytes,
        discardReasons: t.discardReasons,
        undecodedBytes: t.undecodedBytes,
        restarts: t.restarts,
      };
    };
    const cap = this.capture;
    const lastMasterAt = this.forwarder.lastMasterAt;
    return {
      sides: { instrument: side(this.sides.instrument), master: side(this.sides.master) },
      directions: { '>': dir('>'), '<': dir('<') },
      forwardLatency: this.forwarder.latency.view(),
      masterSilent: this.health.masterSilent,
      ...(lastMasterAt !== undefined ? { lastMasterByte: new Date(lastMasterAt).toISOString() } : {}),
      outstandingRequests: this.tap.outstanding,
      decodeBacklogBytes: this.tap.backlog,
      ...(cap ? { capture: { path: cap.path, records: cap.records, dropped: cap.dropped, ...(cap.error ? { error: cap.error.message } : {}) } } : {}),
      events: this.health.recorded(),
      ...(this.injector ? { inject: this.injector.view() } : {}),
    };
  }

  recentTransactions(filter: TransactionFilter): LoggedTransaction[] {
    return this.recent.list(filter);
  }

  ready(): boolean {
    return this.sides.instrument.transport.state === 'open' && this.sides.master.transport.state === 'open';
  }

  /** The two transports, for tests (drop a side) and benchmarks. */
  transport(side: BridgeSide): Transport {
    return this.sides[side].transport;
  }

  /** Stops forwarding, decodes what is left (open requests are logged as unanswered) and closes the capture. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refusals.close();
    if (this.timer) clearInterval(this.timer);
    await Promise.all([this.sides.instrument.transport.close(), this.sides.master.transport.close()]);
    await this.injector?.close();
    await this.tap.close(nowMicros());
    await this.capture?.close();
  }
}
