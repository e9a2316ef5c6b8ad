import type { Direction, Transaction } from '../../observe/index.js';
import { findParam, paramByDde, resolveParam } from '../../params/index.js';
import { clip, GatewayError, newId, RefusalLimiter, silentLogger, toHex, type Logger } from '../../shared/index.js';
import { DirectForwarding, openerFor, parseAddress, Transport } from '../../transport/index.js';
import { askedValue } from '../asked.js';
import { GatewayEvents, type BridgeSide } from '../events.js';
import { BusError, type ParamResult } from '../../bus/index.js';
import { statusInfo, type Value } from '../../codec/index.js';
import type { ParamDef } from '../../params/index.js';
import type { BridgeDetails, BusView, DirectionCounters, GatewayService, InstrumentView, MultiWriteResult, ParamErrorView, ReadResult, Snapshot, TransactionFilter, WriteContext, WriteInput, WriteResult } from '../service.js';
import { MemorySink, type LoggedTransaction, type TransactionSink } from '../sink.js';
import { buildSnapshot, identityFrom, readAll, snapshotParams } from '../snapshot.js';
import { isScaled } from '../units.js';
import { buildValueView, errorView, IDENTITY_PARAMS, jsonValue, parseInstrumentRef, readResult, type InstrumentIdentity, type ValueView } from '../views.js';
import { checkedValue, isCapacityBound, refuseUnwritable } from '../write-checks.js';
import { planWrites, relock, sendChunks, type PreparedWrite, type WriteProblem } from '../write-plan.js';
import { readAgreed } from '../master/agree.js';
import { CaptureWriter } from './capture.js';
import { notObserved, readOnly, stale } from './errors.js';
import { Forwarder } from './forwarder.js';
import { Injector } from './injector.js';
import { InstrumentWatch } from './instrument-watch.js';
import { LinkHealth, type SideHandle } from './link-health.js';
import { loggedFromObserved } from './observed.js';
import { ObservedState, valueView } from './observed-state.js';
import { resolveBridgeOptions, type BridgeDeps, type BridgeOptions, type BridgeOptionsInput } from './options.js';
import { SliceQueue } from './slices.js';
import { BridgeTap, type TapCounters } from './tap.js';
import { TrafficStats } from './traffic.js';

/** Wall-clock microseconds with sub-millisecond resolution. */
function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * A turn of the decoding side's queue of transactions hands the loop back after this long, ms:
 * a chunk read meanwhile waits at most about this long (and one transaction) to be forwarded.
 */
const OBSERVE_TURN_MS = 0.1;

/** How often instruments not seen within the online window are looked for (to say `offline`), ms. */
const ONLINE_CHECK_MS = 1000;

/** Unknown nodes identified by injection within a minute, at most (an outsider cannot make the gateway scan the bus). */
const IDENTIFY_PER_MINUTE = 8;
/** An unknown node that did not answer its identity read is not asked again for this long, ms. */
const UNANSWERED_MS = 60_000;
/** Reads of an identity field (and of the capacity before a setpoint) until two agree, at most. */
const AGREE_ATTEMPTS = 3;
/** The identity read that tells whether an unknown node is there at all: device type. */
const PROBE_DDE = 90;

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
  /**
   * The master's transactions as the tap paired them, each counted, learned, logged and emitted in
   * a turn of the loop of its own (not in the tap's): the forwarding gets the loop in between.
   */
  private readonly observing = new SliceQueue<Transaction>((t) => this.guard(() => this.observe(t)), OBSERVE_TURN_MS);
  private capture: CaptureWriter | undefined;
  /** With `inject` on: the API's reads and writes in the gaps of the master's traffic. */
  private readonly injector: Injector | undefined;
  /** The API operation injecting now (one at a time); aborted when the injector gives its request up. */
  private injecting: AbortController | undefined;
  private injectChain: Promise<unknown> = Promise.resolve();
  /** The log id of the last injected write: what a write's answer names as its transaction. */
  private lastInjectedWrite: string | undefined;
  /** The config's `secured: true`: secured parameters are written (inside Init Reset 64 ... 82, one injected request). */
  private readonly secured: boolean;
  /** Nodes the master addressed (and answered). */
  private readonly masterNodes = new Set<number>();
  /** Nodes identified by an injected identity read. */
  private readonly byInjection = new Set<number>();
  /** Unknown nodes that did not answer an identity read: node -> until when they are not asked again (ms). */
  private readonly unanswered = new Map<number, number>();
  /** Identifications under way, by node. */
  private readonly identifying = new Map<number, Promise<number>>();
  /** When each identification of the last minute started (ms). */
  private identifications: number[] = [];
  /** The snapshot being read, per node: a second request meanwhile gets the same one. */
  private readonly snapshots = new Map<number, Promise<Snapshot>>();
  /** With injection: several parameters, checked together (all or nothing), written chained in injected requests. */
  readonly writeParams?: (ref: string, values: Readonly<Record<string, WriteInput>>, ctx: { source: string }) => Promise<MultiWriteResult>;
  /** With injection: every readable parameter, one injected chained read at a time. */
  readonly snapshot?: (ref: string) => Promise<Snapshot>;
  private timer: NodeJS.Timeout | undefined;
  /** While both sides are open serial ports (and `forwardThreads`, no injection): the threads that forward. */
  private direct: DirectForwarding | undefined;
  /** A direct forwarding being stopped: the next starts after it. */
  private directStopping: Promise<void> | undefined;
  /** Why the forwarding threads failed, once they did: the loop forwards from then on. */
  private directBroken: string | undefined;
  private lastOnlineCheck = 0;
  private readonly startedAt = Date.now();
  private started = false;
  private closed = false;

  constructor(options: BridgeOptionsInput, deps: BridgeDeps = {}) {
    const o = resolveBridgeOptions(options);
    this.options = o;
    this.injects = o.inject;
    this.secured = deps.secured === true;
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
      onTransaction: (t) => this.observing.push(t),
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
          masterToInstrument: (bytes) => this.forwarder.pass('>', bytes, this.sides.instrument.transport, false),
          transaction: (t) => {
            // In the log's order: the master's transactions paired before it come first.
            this.observing.flush();
            this.observe(t, 'injected');
          },
          wire: (dir, time, bytes) => this.capture?.record(dir, time - new Date(time / 1000).getTimezoneOffset() * 60_000_000, bytes, true),
          backoff: (kind, reason) => this.health.record('inject', kind, reason),
          gaveUp: (reason) => this.injecting?.abort(reason),
        },
      );
      this.injector = injector;
      this.forwarder.filter = injector;
      this.writeParams = (ref, values, ctx) => this.injectedWriteMany(injector, ref, values, ctx);
      this.snapshot = (ref) => this.injectedSnapshot(injector, ref);
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
      this.forwarder.sources[h.direction] = h.transport;
      h.transport.on('data', (chunk) => this.forwarder.forward(h.direction, chunk, peer));
      h.transport.on('state', (s) => {
        this.health.onState(h, s);
        this.directOnState();
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

  /**
   * Forwarding in threads (DirectForwarding) while both sides are open serial ports, on the loop
   * otherwise: started when both are open, stopped when either is not.
   */
  private directOnState(): void {
    if (this.closed || !this.options.forwardThreads || this.injector || this.directBroken !== undefined) return;
    const open = this.sides.master.transport.state === 'open' && this.sides.instrument.transport.state === 'open';
    if (!open) {
      this.stopDirect();
      return;
    }
    if (this.direct || this.directStopping) return;
    const sides = [this.sides.master, this.sides.instrument] as const;
    this.direct = DirectForwarding.start([sides[0].transport, sides[1].transport], {
      chunk: (from, bytes, time, forwardUs) => this.forwarder.forwarded(sides[from].direction, bytes, time, forwardUs),
      skipped: (from, bytes) => this.forwarder.skipped(sides[from].direction, bytes),
      // The failed side's read fails with the reason (its transport reopens it); should no read be
      // under way to fail, the transport is told directly.
      failed: (side, reason) => {
        const t = sides[side].transport;
        if (t.state === 'open') t.drop(reason);
      },
      broken: (reason) => {
        this.directBroken = reason;
        this.health.record('forwarding', 'threads-failed', `${reason}; the event loop forwards from now on`);
      },
    });
    if (this.direct) this.log.debug('forwarding in threads: both sides are serial ports');
  }

  private stopDirect(): Promise<void> {
    const direct = this.direct;
    if (!direct) return this.directStopping ?? Promise.resolve();
    this.direct = undefined;
    const stopping = direct.stop().finally(() => {
      if (this.directStopping === stopping) this.directStopping = undefined;
      // A side that came back while the threads stopped: forward in threads again.
      this.directOnState();
    });
    this.directStopping = stopping;
    return stopping;
  }

  private housekeeping(): void {
    this.guard(() => {
      // What the threads forwarded first: a reply they already moved is not taken for a missing one.
      this.direct?.drain();
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
    if (purpose === 'observed' && t.node !== undefined && t.reply && !this.masterNodes.has(t.node)) this.masterNodes.add(t.node);
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
    return this.observed.listed().map((n) => this.view(n, open, now));
  }

  instrument(ref: string): InstrumentView {
    return this.view(this.observed.find(ref), this.sides.instrument.transport.state === 'open', Date.now());
  }

  private view(node: number, open: boolean, now: number): InstrumentView {
    const v = this.observed.view(node, open, now);
    return this.byInjection.has(node) && !this.masterNodes.has(node) ? { ...v, knownBy: 'injection' } : v;
  }

  /**
   * The node a reference names: one seen on the wire, or, with injection, one the master never
   * addressed, identified first by an injected identity read (bounded: IDENTIFY_PER_MINUTE, and a
   * node that did not answer is not asked again for UNANSWERED_MS).
   */
  private async nodeOf(ref: string): Promise<number> {
    try {
      return this.observed.find(ref);
    } catch (err) {
      const injector = this.injector;
      if (!injector || !(err instanceof GatewayError) || err.code !== 'GATEWAY_NODE_UNKNOWN' || err.details.instrument !== undefined) throw err;
      const parsed = parseInstrumentRef(ref);
      if ((parsed.bus !== undefined && parsed.bus !== this.name) || (parsed.channel ?? 1) !== 1 || parsed.node > 127) throw err;
      // Two requests for the same unknown node at once share one identification.
      const pending = this.identifying.get(parsed.node);
      if (pending) return pending;
      const p = this.identify(injector, parsed.node).finally(() => this.identifying.delete(parsed.node));
      this.identifying.set(parsed.node, p);
      return p;
    }
  }

  private async identify(injector: Injector, node: number): Promise<number> {
    this.refusePaused(injector);
    const now = Date.now();
    const until = this.unanswered.get(node) ?? 0;
    if (until > now) {
      throw new GatewayError('GATEWAY_NODE_UNKNOWN', `node ${node} has not been seen on the wire and did not answer an injected identity read; it is not asked again before ${new Date(until).toISOString()}`, {
        node: String(node),
        retryAt: new Date(until).toISOString(),
      });
    }
    this.identifications = this.identifications.filter((t) => now - t < 60_000);
    if (this.identifications.length >= IDENTIFY_PER_MINUTE) {
      const at = new Date((this.identifications[0] as number) + 60_000).toISOString();
      throw new GatewayError(
        'BRIDGE_IDENTIFY_LIMIT',
        `node ${node} has not been seen on the wire, and ${IDENTIFY_PER_MINUTE} unknown nodes were already identified by injection within the last minute (at most ${IDENTIFY_PER_MINUTE} a minute); try again after ${at}`,
        { node, max: IDENTIFY_PER_MINUTE, retryAt: at },
      );
    }
    this.identifications.push(now);
    const probe = paramByDde(PROBE_DDE) as ParamDef;
    const identity = IDENTITY_PARAMS.map(([, dde]) => paramByDde(dde)).filter((p): p is ParamDef => p !== undefined);
    const [first] = await this.serialized((signal) => injector.client.read(node, [probe], { purpose: 'scan', signal }));
    const answered = first !== undefined && (first.ok || (first.error instanceof BusError && first.error.failure.kind === 'status'));
    if (!answered) {
      const why = first && !first.ok ? this.injectError(injector, first.error) : undefined;
      this.unanswered.set(node, Date.now() + UNANSWERED_MS);
      this.log.info({ node, code: why?.code }, `node ${node}: no answer to an injected identity read (${why?.message ?? 'no result'})`);
      throw new GatewayError(
        'GATEWAY_NODE_UNKNOWN',
        `node ${node} has not been seen on the wire and did not answer an injected identity read (${why?.message ?? 'no result'}); it is not asked again for ${UNANSWERED_MS / 1000} s`,
        { node: String(node), reason: why?.code ?? 'no-result' },
      );
    }
    // The rest of who it is, each field until two reads agree (as master discovery reads it).
    const seed = new Map(first.ok ? [[PROBE_DDE, [jsonValue(first.reading.value)]]] : []);
    await this.serialized((signal) => readAgreed(injector.client, node, identity, { purpose: 'scan', signal, attempts: AGREE_ATTEMPTS, seed }));
    this.byInjection.add(node);
    this.log.info({ node, instrument: `${this.name}:${node}` }, `${this.name}:${node} identified by injection (the master never addressed it)`);
    return node;
  }

  /**
   * Serves what was observed: the latest value of each parameter with the time it was
   * seen. `maxAge` (ms) refuses values older than that (BRIDGE_STALE); a parameter never
   * seen is BRIDGE_NOT_OBSERVED. Absent or 0 `maxAge` serves the latest value of any age.
   */
  async readParams(ref: string, names: readonly string[], opts: { maxAge?: number } = {}): Promise<ReadResult> {
    if (names.length === 0) throw new GatewayError('PARAM_NONE', 'name at least one parameter to read', {});
    if (this.injector) {
      const defs = names.map((n) => resolveParam(n));
      return this.injectedRead(this.injector, await this.nodeOf(ref), defs, opts.maxAge);
    }
    const node = this.observed.find(ref);
    const defs = names.map((n) => resolveParam(n));
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

  /**
   * One value checked as master mode checks it: who may write it (secured only with the config's
   * `secured: true`, factory parameters never), its unit, the instrument's range. A setpoint whose
   * capacity was never observed gets the capacity read first by injection, until two reads agree;
   * else PARAM_CAPACITY_UNKNOWN and nothing is sent.
   */
  private async prepare(injector: Injector, node: number, name: string, value: unknown, unit: string | undefined, seen: { param?: ParamDef }): Promise<PreparedWrite> {
    const param = resolveParam(name);
    seen.param = param;
    refuseUnwritable(param, this.secured, 'set "secured: true" in the config (it is then written inside Init Reset 64 ... 82, all in one injected request)');
    let identity = this.observed.identityOf(this.observed.valuesOf(node));
    let why: string | undefined;
    if ((isCapacityBound(param) || (unit !== undefined && isScaled(param))) && !(identity.capacity !== undefined && identity.capacity > 0)) {
      const known = await this.knownCapacity(injector, node, identity);
      identity = known.identity;
      why = known.why;
    }
    const v = checkedValue(param, value, unit, identity, injector.client, why);
    return { param, value: v, written: v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v };
  }

  /** The capacity (and its unit) read by injection until two reads agree, as master mode reads a missing one. */
  private async knownCapacity(injector: Injector, node: number, identity: InstrumentIdentity): Promise<{ identity: InstrumentIdentity; why?: string }> {
    this.refusePaused(injector);
    const capacity = paramByDde(21) as ParamDef;
    const unit = paramByDde(129) as ParamDef;
    let why: string | undefined;
    const got = await this.serialized((signal) => readAgreed(injector.client, node, [capacity, unit], { purpose: 'scan', signal, attempts: AGREE_ATTEMPTS })).catch((err: unknown) => {
      why = err instanceof Error ? err.message : String(err);
      return undefined;
    });
    const c = got?.values.get(21);
    if (typeof c === 'number' && c > 0) {
      const u = got?.values.get(129);
      return { identity: { ...identity, capacity: c, ...(typeof u === 'string' ? { capacityUnit: u.trim() } : {}) } };
    }
    const last = got?.reads.flat().filter((r) => !r.ok && r.param.dde === 21).at(-1);
    why ??= last && !last.ok ? this.injectError(injector, last.error).message : `no two of ${got?.reads.length ?? 0} injected reads agreed`;
    const { capacity: _unknown, ...rest } = identity;
    return { identity: rest, why: `the master was not seen reading it, and reading it by injection failed: ${why}` };
  }

  /**
   * One chained write, injected. With `unlock` it is Init Reset 64, the values, Init Reset 82 in
   * one frame, which the instrument processes in order, so no request of the master comes between.
   * Should it fail part way (the instrument stops at the first value it refuses, and the 82 may never
   * come), Init Reset 82 is sent again on its own and the answer says how that went.
   */
  private async injectedWriteOnce(injector: Injector, node: number, values: readonly { param: ParamDef; value: Value }[], unlock: boolean, signal: AbortSignal): Promise<{ id: string }> {
    this.lastInjectedWrite = undefined;
    try {
      const rec = await injector.client.write(node, values, { purpose: 'write', signal, unlock });
      return { id: this.lastInjectedWrite ?? rec.id };
    } catch (err) {
      let e: GatewayError;
      if (err instanceof BusError && err.failure.kind === 'status') {
        const st = statusInfo(err.failure.status);
        const what = values.map((x) => `${x.param.key} = ${x.value instanceof Uint8Array ? Buffer.from(x.value).toString('hex') : String(x.value)}`).join(', ');
        const one = values.length === 1 ? values[0] : undefined;
        e = new GatewayError('BUS_STATUS', `node ${node} refused ${what}: status ${err.failure.status} ${st.key} (${st.message})`, {
          ...err.details,
          ...(one ? { param: one.param.key, dde: one.param.dde, value: one.value instanceof Uint8Array ? Buffer.from(one.value).toString('hex') : one.value } : {}),
        });
      } else e = err instanceof GatewayError ? this.injectError(injector, err) : new GatewayError('GATEWAY_INTERNAL', String(err));
      if (!unlock || this.closed) throw e;
      const r = await this.relockInjected(injector, node);
      this.log.warn({ node, code: e.code, relock: r.details.relock }, `secured write on node ${node} failed (${e.message}); ${r.note}`);
      throw new GatewayError(e.code, `${e.message}; ${r.note}`, { ...e.details, ...r.details });
    }
  }

  /** Init Reset 82 on its own, injected, with a signal of its own (the failed request's may be aborted). */
  private relockInjected(injector: Injector, node: number): ReturnType<typeof relock> {
    const controller = new AbortController();
    const outer = this.injecting;
    this.injecting = controller;
    return relock(node, (values) => injector.client.write(node, values, { purpose: 'write', signal: controller.signal })).finally(() => {
      this.injecting = outer;
    });
  }

  /** With injection: checked as master mode checks a write, written in a gap, read back. */
  private async injectedWrite(injector: Injector, ref: string, name: string, value: unknown, ctx: WriteContext): Promise<WriteResult> {
    const log = this.log.child({ write: true, source: ctx.source });
    const seen: { param?: ParamDef } = {};
    let id = clip(ref);
    try {
      const node = await this.nodeOf(ref);
      id = `${this.name}:${node}`;
      const { param: def, value: v, written } = await this.prepare(injector, node, name, value, ctx.unit, seen);
      this.refusePaused(injector);
      const { record, reading } = await this.serialized(async (signal) => {
        const rec = await this.injectedWriteOnce(injector, node, [{ param: def, value: v }], def.secured, signal);
        const [r] = def.read ? await injector.client.read(node, [def], { purpose: 'read-back', signal }) : [];
        return { record: rec, reading: r };
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
      const def = seen.param;
      const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
      this.refusals.refused(ctx.source, e.code, () => log.warn({ instrument: id, param: def?.key ?? clip(name), code: e.code }, `write refused: ${clip(e.message, 500)} (from ${ctx.source})`));
      if (this.events.listened('write')) {
        this.events.emit('write', { instrument: id, param: def?.key ?? clip(name), ...(def ? { dde: def.dde } : {}), value: askedValue(value), source: ctx.source, result: 'refused', code: e.code, message: clip(e.message, 500) });
      }
      throw e;
    }
  }

  /**
   * With injection: several parameters of one instrument, planned as master mode plans them
   * (write-plan.ts: all checked first, all or nothing; chained within maxRequestBytes; a request
   * holding a secured parameter inside Init Reset 64 ... 82), each request injected in turn, then
   * one chained read back. The operation holds the injection queue until it is done.
   */
  private async injectedWriteMany(injector: Injector, ref: string, inputs: Readonly<Record<string, WriteInput>>, ctx: { source: string }): Promise<MultiWriteResult> {
    const log = this.log.child({ write: true, source: ctx.source });
    const node = await this.nodeOf(ref);
    const id = `${this.name}:${node}`;
    let prepared: PreparedWrite[];
    try {
      prepared = await planWrites(inputs, (name, value, unit, seen) => this.prepare(injector, node, name, value, unit, seen));
      this.refusePaused(injector);
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
      const problems = (e.details.problems as WriteProblem[] | undefined) ?? [];
      this.refusals.refused(ctx.source, e.code, () => log.warn({ instrument: id, problems: problems.map((p) => ({ param: p.param, code: p.code })), code: e.code }, `write refused: ${clip(e.message, 500)} (from ${ctx.source})`));
      if (this.events.listened('write')) {
        for (const p of problems) {
          this.events.emit('write', { instrument: id, param: p.param, value: askedValue(inputs[p.param]), source: clip(ctx.source), result: 'refused', code: p.code as GatewayError['code'], message: clip(p.message, 500) });
        }
      }
      throw e;
    }
    const chunks = injector.client.packWrites(prepared.map((p) => ({ param: p.param, value: p.value })));
    const { sent, results } = await this.serialized(async (signal) => {
      const done = await sendChunks(node, prepared, chunks, (chunk) => this.injectedWriteOnce(injector, node, chunk.values, chunk.unlock, signal)).catch((err: unknown) => {
        const e = err as GatewayError;
        log.warn({ instrument: id, written: e.details.written, failed: e.details.failed, notSent: e.details.notSent, code: e.code }, e.message);
        throw err;
      });
      const readable = prepared.filter((p) => p.param.read).map((p) => p.param);
      const back = readable.length > 0 ? await injector.client.read(node, readable, { purpose: 'read-back', signal }) : [];
      return { sent: done, results: back };
    });
    const identity = this.observed.identityOf(this.observed.valuesOf(node));
    const readBack = new Map(results.filter((r) => r.ok).map((r) => [r.reading.param.dde, r.reading]));
    const parameters: MultiWriteResult['parameters'] = {};
    for (const p of prepared) {
      const r = readBack.get(p.param.dde);
      const view = r ? buildValueView(p.param, { raw: toHex(r.raw).replace(/\s+/g, ''), value: jsonValue(r.value), time: r.at, cached: false }, identity) : undefined;
      const transactionId = sent.txOf.get(p.param.dde) as string;
      parameters[p.param.key] = { param: { dde: p.param.dde, key: p.param.key, name: p.param.name }, written: p.written, status: { code: 0, name: statusInfo(0).key }, ...(view ? { readBack: view } : {}), transactionId };
      if (this.events.listened('write')) {
        this.events.emit('write', { instrument: id, param: p.param.key, dde: p.param.dde, value: p.written, source: ctx.source, result: 'accepted', transactionId, ...(view ? { readBack: view.value } : {}) });
      }
    }
    log.info(
      { instrument: id, values: Object.fromEntries(prepared.map((p) => [p.param.key, p.written])), transactions: sent.transactionIds, injected: true },
      `write ${id} ${prepared.map((p) => `${p.param.key}=${String(p.written)}`).join(' ')} from ${ctx.source} (${sent.transactionIds.length} injected request${sent.transactionIds.length === 1 ? '' : 's'})`,
    );
    return { instrument: id, parameters, transactionIds: sent.transactionIds };
  }

  /**
   * With injection: every readable parameter, in chained reads injected one at a time (each
   * waits for a gap, and for the end of a back-off), other API operations between them. One
   * snapshot per instrument at a time: a second request meanwhile gets the same one.
   */
  private injectedSnapshot(injector: Injector, ref: string): Promise<Snapshot> {
    const run = async (): Promise<Snapshot> => {
      const node = await this.nodeOf(ref);
      const pending = this.snapshots.get(node);
      if (pending) return pending;
      this.refusePaused(injector);
      const reading = (async () => {
        const results = await readAll(injector.client, node, snapshotParams(), {
          each: async (read) => {
            const once = () =>
              this.serialized(async (signal) => {
                await this.whilePaused(injector);
                return read(signal);
              });
            // Injected requests are never retried by the bus (a write must not go twice): a chunk whose request found no gap, or whose reply was lost, is read once more.
            const first = await once();
            return first.some((r) => !r.ok && (r.error.code === 'BUS_TIMEOUT' || r.error.code === 'BUS_ABORTED')) ? once() : first;
          },
        });
        const mapped = results.map((r): ParamResult => (r.ok ? r : { ...r, error: this.injectError(injector, r.error) }));
        return buildSnapshot(`${this.name}:${node}`, identityFrom(mapped), mapped);
      })().finally(() => this.snapshots.delete(node));
      this.snapshots.set(node, reading);
      return reading;
    };
    return run();
  }

  /** Waits out a back-off (at most twice injectBackoffMs): a snapshot goes on after it. */
  private async whilePaused(injector: Injector): Promise<void> {
    const limit = Date.now() + 2 * this.options.injectBackoffMs;
    while (injector.paused && Date.now() < limit && !this.closed) await new Promise((r) => setTimeout(r, Math.min(100, this.options.injectBackoffMs)));
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
        heldBack: f.pauses,
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
      forwarding: this.direct ? 'threads' : 'loop',
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
    await this.stopDirect();
    await Promise.all([this.sides.instrument.transport.close(), this.sides.master.transport.close()]);
    await this.injector?.close();
    await this.tap.close(nowMicros());
    this.observing.flush();
    await this.capture?.close();
  }
}
