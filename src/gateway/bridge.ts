import type { Protocol } from '../codec/index.js';
import type { Direction, ObservedParam, Transaction } from '../observe/index.js';
import { paramByDde, resolveParam, type ParamDef } from '../params/index.js';
import { clip, GatewayError, newId, RefusalLimiter, silentLogger, toHex, type Logger } from '../shared/index.js';
import { openerFor, parseAddress, Transport, type LinkOpener, type ReconnectOptions, type SimulatorFactory, type TransportStatus } from '../transport/index.js';
import { CaptureWriter } from './capture.js';
import { GatewayEvents } from './events.js';
import { loggedFromObserved, observedValues } from './observed.js';
import type {
  BridgeDetails,
  BridgeSide,
  BusView,
  DirectionCounters,
  ForwardLatencyView,
  GatewayService,
  InstrumentView,
  LinkEvent,
  ParamErrorView,
  ReadResult,
  TransactionFilter,
  WriteResult,
} from './service.js';
import { MemorySink, type LoggedTransaction, type TransactionSink } from './sink.js';
import { BridgeTap, type TapCounters } from './tap.js';
import { IDENTITY_PARAMS, buildValueView, errorView, findInstrument, jsonValue, readResult, setIdentityField, type InstrumentIdentity, type ValueView } from './views.js';

/** The `bridge:` section of the config file (the same fields and defaults as `BridgeSchema`). */
export interface BridgeOptions {
  /** The instrument side: a serial path, serial://... or tcp://host:port. */
  readonly instrumentPort: string;
  /** The master side (Bright display adapter, PLC, vendor software). */
  readonly masterPort: string;
  /** Bus name in the log and the API. Default 'bridge'. */
  readonly name?: string;
  /** Line speed of both serial ports. Default 38400. */
  readonly baud?: number;
  /** Framing on the line. Default 'binary'. */
  readonly protocol?: Protocol;
  /** Silence that ends a burst (one capture record), ms. Default 2; 1..1000. */
  readonly burstGapMs?: number;
  /** A request without a reply after this long is logged as unanswered, ms. Default 1000. */
  readonly replyTimeoutMs?: number;
  /** Report when the master, which used to poll, has been silent this long, ms. Default 10000. */
  readonly masterSilenceMs?: number;
  /** Append every burst to this file in socat -x -v format; null or absent writes none. */
  readonly capture?: string | null;
}

export interface BridgeDeps {
  readonly sink?: TransactionSink;
  readonly logger?: Logger;
  /** The event hub to emit on; a new one when absent. */
  readonly events?: GatewayEvents;
  /** Replace the openers the addresses would pick (tests, benchmarks). */
  readonly openers?: { readonly instrument?: LinkOpener; readonly master?: LinkOpener };
  /** For a `sim://` instrument side (composition root only). */
  readonly simulator?: SimulatorFactory;
  readonly reconnect?: Partial<ReconnectOptions>;
  /** Transactions kept in memory for GET /transactions. Default 1000. */
  readonly recentTransactions?: number;
  /** Bytes handed to one side and not yet taken by it, beyond which further bytes to it are dropped (counted). Default 64 KiB. */
  readonly maxUnwrittenBytes?: number;
  /** Link events kept for GET /bus. Default 200. */
  readonly maxEvents?: number;
}

/** Log2 histogram of forward latencies, 1 µs .. 2^24 µs. */
class LatencyHistogram {
  private readonly counts = new Array<number>(26).fill(0);
  private n = 0;
  private sum = 0;
  private max = 0;

  add(us: number): void {
    const v = Math.max(0, us);
    const i = v <= 1 ? 0 : Math.min(25, Math.ceil(Math.log2(v)));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.n++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  private quantile(q: number): number | null {
    if (this.n === 0) return null;
    const want = Math.ceil(q * this.n);
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i] ?? 0;
      if (acc >= want) return Math.min(2 ** i, this.max);
    }
    return this.max;
  }

  view(): ForwardLatencyView {
    return {
      count: this.n,
      meanUs: this.n ? Math.round((this.sum / this.n) * 10) / 10 : null,
      p50Us: this.quantile(0.5),
      p99Us: this.quantile(0.99),
      maxUs: this.n ? Math.round(this.max * 10) / 10 : null,
      buckets: this.counts.map((count, i) => ({ leUs: 2 ** i, count })).filter((b) => b.count > 0),
    };
  }
}

interface Forwarding {
  bytes: number;
  forwarded: number;
  droppedNoPeer: number;
  droppedOverflow: number;
  droppedWriteFailed: number;
  unwritten: number;
}

interface SideHandle {
  readonly side: BridgeSide;
  readonly address: string;
  readonly transport: Transport;
  /** Bytes read from this side travel in this direction. */
  readonly direction: Direction;
  opened: number;
  down: boolean;
}

interface Seen {
  readonly param: ObservedParam;
  /** ms since the epoch. */
  readonly time: number;
}

interface NodeState {
  readonly node: number;
  lastSeen: number;
  lastError?: { code: string; message: string };
  readonly values: Map<number, Seen>;
}

const LOCAL = 128;
/** Primary node address: read at node 128, it tells which real node answers there. */
const PNA_DDE = 2;

/** Wall-clock microseconds with sub-millisecond resolution. */
function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * Passive bridge mode: forwards every byte between the master side and the instrument
 * side at once and unchanged, and beside it, fully decoupled, decodes and logs the
 * traffic. It never sends a byte of its own, so writes are refused; reads are answered
 * from what the master was seen to read or write.
 */
export class BridgeGateway implements GatewayService {
  readonly mode = 'bridge' as const;
  readonly name: string;
  private readonly log: Logger;
  /** Refused writes: each client host in full once a minute, the rest counted. */
  private readonly refusals: RefusalLimiter;
  private readonly recent: MemorySink;
  private readonly sink: TransactionSink | undefined;
  private readonly protocol: Protocol;
  private readonly baud: number;
  private readonly replyTimeoutMs: number;
  private readonly masterSilenceMs: number;
  private readonly maxUnwritten: number;
  private readonly maxEvents: number;
  private readonly sides: Record<BridgeSide, SideHandle>;
  private readonly fwd: Record<Direction, Forwarding> = {
    '>': { bytes: 0, forwarded: 0, droppedNoPeer: 0, droppedOverflow: 0, droppedWriteFailed: 0, unwritten: 0 },
    '<': { bytes: 0, forwarded: 0, droppedNoPeer: 0, droppedOverflow: 0, droppedWriteFailed: 0, unwritten: 0 },
  };
  private readonly latency = new LatencyHistogram();
  private readonly tap: BridgeTap;
  private capture: CaptureWriter | undefined;
  /** Link events kept for GET /bus (newest last, at most maxEvents). */
  private readonly linkEvents: LinkEvent[] = [];
  readonly events: GatewayEvents;
  private readonly nodes = new Map<number, NodeState>();
  /** The real node that answers at 128, once a PNA read at 128 was observed. */
  private localNode: number | undefined;
  private readonly outcomes: Record<string, number> = {};
  private readonly replyLatencies: number[] = [];
  private orphans = 0;
  private lastMasterAt: number | undefined;
  private masterState: 'unknown' | 'active' | 'silent' = 'unknown';
  private silentSince = 0;
  private decodeErrors = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private started = false;
  private closed = false;

  constructor(
    private readonly options: BridgeOptions,
    private readonly deps: BridgeDeps = {},
  ) {
    this.name = options.name ?? 'bridge';
    this.log = (deps.logger ?? silentLogger).child({ bus: this.name, mode: 'bridge' });
    this.refusals = new RefusalLimiter(this.log.child({ write: true }));
    this.events = deps.events ?? new GatewayEvents(this.log);
    this.recent = new MemorySink(deps.recentTransactions ?? 1000);
    this.sink = deps.sink;
    this.protocol = options.protocol ?? 'binary';
    this.baud = options.baud ?? 38_400;
    this.replyTimeoutMs = options.replyTimeoutMs ?? 1000;
    this.masterSilenceMs = options.masterSilenceMs ?? 10_000;
    this.maxUnwritten = deps.maxUnwrittenBytes ?? 64 * 1024;
    this.maxEvents = deps.maxEvents ?? 200;
    const transport = (side: BridgeSide, address: string): Transport => {
      const injected = deps.openers?.[side];
      const opener = injected ?? openerFor(parseAddress(address, this.baud), side === 'instrument' ? deps.simulator : undefined);
      return new Transport(address, opener, deps.reconnect);
    };
    this.sides = {
      instrument: { side: 'instrument', address: options.instrumentPort, transport: transport('instrument', options.instrumentPort), direction: '<', opened: 0, down: false },
      master: { side: 'master', address: options.masterPort, transport: transport('master', options.masterPort), direction: '>', opened: 0, down: false },
    };
    this.tap = new BridgeTap({
      protocol: this.protocol,
      burstGapMs: options.burstGapMs ?? 2,
      replyTimeoutMs: this.replyTimeoutMs,
      onBurst: (dir, time, bytes) => this.capture?.record(dir, time - new Date(time / 1000).getTimezoneOffset() * 60_000_000, bytes),
      onRestart: (dir) => this.capture?.restart(dir),
      onTransaction: (t) => this.observe(t),
      onDiscard: (dir, reason, bytes) => this.log.debug({ direction: dir, reason, bytes: toHex(bytes) }, `discarded ${bytes.length} byte(s) ${dir === '>' ? 'from the master' : 'from the instrument'}: ${reason}`),
      onError: (err) => this.decodeError(err),
    });
  }

  /** Opens both sides (each reopens itself with backoff when lost); resolves once each side's first attempt is done. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.options.capture) {
      const path = this.options.capture;
      this.capture = new CaptureWriter(path, {
        onError: (err) => this.event('capture', 'capture-failed', `cannot write capture ${path}: ${err.message}; capture stopped, forwarding goes on`),
      });
    }
    for (const h of Object.values(this.sides)) {
      const peer = h.side === 'master' ? this.sides.instrument : this.sides.master;
      const fwd = this.fwd[h.direction];
      h.transport.on('data', (chunk) => this.forward(h.direction, chunk, peer.transport, fwd));
      h.transport.on('state', (s) => this.onState(h, s));
    }
    const tick = Math.max(20, Math.min(250, Math.floor(this.replyTimeoutMs / 4), Math.floor(this.masterSilenceMs / 4)));
    this.timer = setInterval(() => this.housekeeping(), tick);
    this.timer.unref?.();
    this.log.info(
      { instrumentPort: this.options.instrumentPort, masterPort: this.options.masterPort, capture: this.options.capture ?? null },
      `bridge ${this.name}: forwarding between master ${this.options.masterPort} and instrument ${this.options.instrumentPort}`,
    );
    await Promise.all([this.sides.instrument.transport.start(), this.sides.master.transport.start()]);
  }

  // ------------------------------------------------------------------ forwarding

  /**
   * The hot path: one chunk read on one side goes to the other side at once, unchanged.
   * Nothing here waits, and nothing that fails afterwards (decoding, logging, the store,
   * HTTP) can reach it: the decoding side only gets the chunk queued.
   */
  private forward(direction: Direction, chunk: Uint8Array, peer: Transport, fwd: Forwarding): void {
    const t0 = performance.now();
    const n = chunk.length;
    fwd.bytes += n;
    if (peer.state !== 'open') {
      fwd.droppedNoPeer += n;
    } else if (fwd.unwritten + n > this.maxUnwritten) {
      fwd.droppedOverflow += n;
    } else {
      fwd.unwritten += n;
      peer.write(chunk).then(
        () => {
          fwd.unwritten -= n;
          fwd.forwarded += n;
          this.latency.add((performance.now() - t0) * 1000);
        },
        () => {
          fwd.unwritten -= n;
          fwd.droppedWriteFailed += n;
        },
      );
    }
    if (direction === '>') this.lastMasterAt = Date.now();
    try {
      this.tap.push(direction, chunk, Math.round((performance.timeOrigin + t0) * 1000));
    } catch {
      // The tap only queues; should it ever throw, forwarding is already done.
    }
  }

  // ------------------------------------------------------------------ link health

  private onState(h: SideHandle, s: TransportStatus): void {
    if (s.state === 'open') {
      const again = h.opened++ > 0 || h.down;
      h.down = false;
      this.event(h.side, again ? 'reopened' : 'open', again ? `${h.side} port ${h.address} open again (reconnect ${s.reconnects})` : `${h.side} port ${h.address} open`);
    } else if (s.state === 'waiting' && !h.down) {
      h.down = true;
      const reason = s.lastError ?? 'closed';
      const other = h.side === 'master' ? this.sides.instrument : this.sides.master;
      const dropped = h.side === 'master' ? 'bytes from the instrument' : 'bytes from the master';
      this.event(
        h.side,
        'down',
        `${h.side} port ${h.address} is down: ${reason}; reopening with backoff${s.retryAt ? ` (next attempt ${new Date(s.retryAt).toISOString()})` : ''}; the ${other.side} side stays open and ${dropped} are dropped meanwhile`,
      );
      // What this side sends after it returns does not continue what it sent before.
      if (h.opened > 0) this.tap.restart(h.direction, nowMicros());
    }
  }

  private housekeeping(): void {
    try {
      this.tap.expire(nowMicros());
      const now = Date.now();
      const last = this.lastMasterAt;
      if (last === undefined) return;
      if (this.masterState === 'unknown') this.masterState = 'active';
      if (this.masterState === 'active' && now - last > this.masterSilenceMs && this.tap.counters('>').frames > 0) {
        this.masterState = 'silent';
        this.silentSince = now;
        this.event(
          'master',
          'master-silent',
          `the master has sent nothing for ${Math.round((now - last) / 1000)} s (over masterSilenceMs ${this.masterSilenceMs}); it used to poll; last byte at ${new Date(last).toISOString()}`,
        );
      } else if (this.masterState === 'silent' && last > this.silentSince) {
        this.masterState = 'active';
        this.event('master', 'master-resumed', `the master sends again after ${Math.round((last - this.silentSince + this.masterSilenceMs) / 1000)} s of silence`);
      }
    } catch (err) {
      this.decodeError(err);
    }
  }

  private event(side: LinkEvent['side'], kind: LinkEvent['kind'], reason: string): void {
    const e: LinkEvent = { time: new Date().toISOString(), side, kind, reason };
    this.linkEvents.push(e);
    if (this.linkEvents.length > this.maxEvents) this.linkEvents.splice(0, this.linkEvents.length - this.maxEvents);
    const warn = kind === 'down' || kind === 'master-silent' || kind === 'capture-failed' || kind === 'decode-error';
    try {
      if (warn) this.log.warn({ side, event: kind, at: e.time }, reason);
      else this.log.info({ side, event: kind, at: e.time }, reason);
    } catch {
      // a logger that throws must not stop the bridge
    }
  }

  private decodeError(err: unknown): void {
    this.decodeErrors++;
    // The first, then every 1000th: a decoder bug must not flood the log.
    if (this.decodeErrors === 1 || this.decodeErrors % 1000 === 0) {
      const message = err instanceof Error ? err.message : String(err);
      this.event('decoder', 'decode-error', `decoding failed (${this.decodeErrors} time(s) so far): ${message}; forwarding is not affected`);
    }
  }

  // ------------------------------------------------------------------ observation

  private observe(t: Transaction): void {
    const entry = loggedFromObserved(t, this.name, newId());
    this.outcomes[t.outcome] = (this.outcomes[t.outcome] ?? 0) + 1;
    if (t.outcome === 'orphan') this.orphans++;
    if (t.latencyMs !== undefined) {
      this.replyLatencies.push(t.latencyMs);
      if (this.replyLatencies.length > 2048) this.replyLatencies.shift();
    }
    this.learn(t);
    this.recent.write(entry);
    this.events.emit('transaction', entry);
    if (this.sink) {
      try {
        this.sink.write(entry);
      } catch (err) {
        this.decodeError(err);
      }
    }
  }

  /** Instruments, their values and errors, from what the master was seen to read and write. */
  private learn(t: Transaction): void {
    if (t.node === undefined || !t.reply || !t.request) return;
    const replyMs = t.reply.time / 1000;
    if (t.outcome === 'error-frame') {
      // An absent node answered by the interface: not an instrument. Known ones note the error.
      const known = this.nodes.get(t.node);
      if (known && t.errorFrame) known.lastError = { code: 'BUS_ERROR_FRAME', message: `error frame ${t.errorFrame.code} (${t.errorFrame.message})` };
      return;
    }
    if (t.outcome !== 'ok' && t.outcome !== 'status') return;
    const state = this.nodeState(t.node);
    state.lastSeen = Math.max(state.lastSeen, replyMs);
    if (t.outcome === 'status' && t.status) {
      state.lastError = { code: 'BUS_STATUS', message: `status ${t.status.code} ${t.status.key} (${t.status.message})` };
    } else if (t.outcome === 'ok') {
      delete state.lastError;
    }
    const seen = observedValues(t);
    if (!seen) return;
    for (const p of seen.params) {
      state.values.set(p.dde as number, { param: p, time: seen.time / 1000 });
      if (t.node === LOCAL && p.dde === PNA_DDE && typeof p.value === 'number' && p.value >= 1 && p.value <= 127) this.localNode = p.value;
    }
  }

  private nodeState(node: number): NodeState {
    let s = this.nodes.get(node);
    if (!s) {
      s = { node, lastSeen: 0, values: new Map() };
      this.nodes.set(node, s);
    }
    return s;
  }

  /** Values of a node, with what was seen at 128 merged in when 128 is that node. Newest wins. */
  private valuesOf(node: number): Map<number, Seen> {
    const own = this.nodes.get(node)?.values ?? new Map<number, Seen>();
    const local = node !== LOCAL && node === this.localNode ? this.nodes.get(LOCAL)?.values : undefined;
    if (!local) return own;
    const out = new Map(own);
    for (const [dde, v] of local) {
      const mine = out.get(dde);
      if (!mine || mine.time < v.time) out.set(dde, v);
    }
    return out;
  }

  /** Nodes listed as instruments: every node that answered, with 128 folded into its real node once known. */
  private listed(): number[] {
    const nodes = [...this.nodes.keys()].filter((n) => !(n === LOCAL && this.localNode !== undefined));
    if (this.localNode !== undefined && this.nodes.has(LOCAL) && !nodes.includes(this.localNode)) nodes.push(this.localNode);
    return nodes.sort((a, b) => a - b);
  }

  // ------------------------------------------------------------------ the service

  instruments(): InstrumentView[] {
    return this.listed().map((n) => this.view(n));
  }

  instrument(ref: string): InstrumentView {
    return this.view(this.find(ref));
  }

  private find(ref: string): number {
    const listed = this.listed().map((node) => ({ id: `${this.name}:${node}`, bus: this.name, node, local: node === this.localNode }));
    return findInstrument(ref, listed, (_ref, text) => {
      throw new GatewayError(
        'GATEWAY_NODE_UNKNOWN',
        `no instrument at node ${text} has been seen on the wire; seen: ${listed.map((n) => n.id).join(', ') || 'none yet'}`,
        { node: text, known: listed.map((n) => n.id) },
      );
    }).node;
  }

  private stateOf(node: number): { lastSeen: number; lastError?: { code: string; message: string } } {
    const own = this.nodes.get(node);
    const local = node === this.localNode ? this.nodes.get(LOCAL) : undefined;
    const newest = [own, local].filter((s): s is NodeState => s !== undefined).sort((a, b) => b.lastSeen - a.lastSeen)[0];
    return { lastSeen: newest?.lastSeen ?? 0, ...(newest?.lastError ? { lastError: newest.lastError } : {}) };
  }

  private identityOf(values: Map<number, Seen>): InstrumentIdentity {
    const identity: InstrumentIdentity = {};
    for (const [field, dde] of IDENTITY_PARAMS) {
      const v = values.get(dde)?.param.value;
      if (v !== undefined) setIdentityField(identity, field, jsonValue(v));
    }
    return identity;
  }

  private view(node: number): InstrumentView {
    const values = this.valuesOf(node);
    const identity = this.identityOf(values);
    const state = this.stateOf(node);
    const out: Record<string, ValueView> = {};
    for (const [dde, seen] of [...values.entries()].sort((a, b) => a[0] - b[0])) {
      const v = this.valueView(dde, seen, identity);
      if (v) out[v.key] = v;
    }
    const online = this.sides.instrument.transport.state === 'open' && state.lastSeen > 0 && Date.now() - state.lastSeen <= Math.max(this.masterSilenceMs, 3 * this.replyTimeoutMs);
    return {
      id: `${this.name}:${node}`,
      bus: this.name,
      node,
      online,
      ...(state.lastSeen > 0 ? { lastSeen: new Date(state.lastSeen).toISOString() } : {}),
      ...(state.lastError ? { lastError: state.lastError } : {}),
      identity,
      values: out,
      // The bridge polls nothing: these are the parameters the master was seen to read or write.
      polling: { parameters: Object.keys(out), intervalMs: 0 },
    };
  }

  private valueView(dde: number, seen: Seen, identity: InstrumentIdentity): ValueView | undefined {
    const def = paramByDde(dde);
    const p = seen.param;
    if (p.value === undefined || p.key === undefined || !def) return undefined;
    return buildValueView(def, { raw: (p.raw ?? '').replace(/\s+/g, ''), value: p.value, time: seen.time, cached: true, ...(p.label ? { label: p.label } : {}) }, identity);
  }

  /**
   * Serves what was observed: the latest value of each parameter with the time it was
   * seen. `maxAge` (ms) refuses values older than that (BRIDGE_STALE); a parameter never
   * seen is BRIDGE_NOT_OBSERVED. Absent or 0 `maxAge` serves the latest value of any age.
   */
  async readParams(ref: string, names: readonly string[], opts: { maxAge?: number } = {}): Promise<ReadResult> {
    const node = this.find(ref);
    if (names.length === 0) throw new GatewayError('PARAM_NONE', 'name at least one parameter to read', {});
    const defs = names.map((n) => resolveParam(n));
    const values = this.valuesOf(node);
    const identity = this.identityOf(values);
    const id = `${this.name}:${node}`;
    const now = Date.now();
    const results = defs.map((def): ValueView | ParamErrorView => {
      const seen = values.get(def.dde);
      const view = seen ? this.valueView(def.dde, seen, identity) : undefined;
      if (!seen || !view) return errorView(def, notObserved(def, id));
      const age = Math.max(0, Math.round(now - seen.time));
      if (opts.maxAge && age > opts.maxAge) return errorView(def, stale(def, id, seen.time, age, opts.maxAge));
      return view;
    });
    return readResult(id, results);
  }

  async writeParam(ref: string, param: string, _value: unknown, ctx: { source: string }): Promise<WriteResult> {
    const err = new GatewayError(
      'BRIDGE_READ_ONLY',
      `the gateway runs as a passive bridge and does not own the bus: it forwards the master's traffic and never sends anything itself; write through the master (${this.options.masterPort}) or run the gateway in master mode`,
      { mode: 'bridge', node: ref, param },
    );
    this.refusals.refused(ctx.source, err.code, () =>
      this.log.warn({ write: true, instrument: clip(ref), param: clip(param), code: err.code, source: ctx.source }, `write refused: bridge mode (from ${ctx.source})`),
    );
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
    const sorted = [...this.replyLatencies].sort((a, b) => a - b);
    const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null;
    const p99 = sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] as number) : null;
    const seconds = Math.max(1, (Date.now() - this.startedAt) / 1000);
    const bits = (this.fwd['>'].bytes + this.fwd['<'].bytes) * 10;
    const c = { '>': this.tap.counters('>'), '<': this.tap.counters('<') };
    return [
      {
        name: this.name,
        address: `${this.options.masterPort} <-> ${this.options.instrumentPort}`,
        transport: {
          state: worst.state,
          since: new Date(worst.since).toISOString(),
          ...(worst.lastError ? { lastError: `${worst === inst ? 'instrument' : 'master'} side: ${worst.lastError}` } : {}),
          reconnects: inst.reconnects + master.reconnects,
          ...(worst.retryAt ? { retryAt: new Date(worst.retryAt).toISOString() } : {}),
        },
        queue: { waiting: 0, inFlight: this.tap.outstanding },
        transactions: { ...this.outcomes },
        retries: 0,
        lateReplies: 0,
        unsolicited: this.orphans,
        discards: c['>'].discards + c['<'].discards,
        latency: { count: sorted.length, meanMs: mean === null ? null : Math.round(mean * 1000) / 1000, p99Ms: p99 },
        wireUtilisation: bits / (this.baud * seconds),
        nodesBackedOff: [],
        protocol: this.protocol,
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
      const f = this.fwd[d];
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
    return {
      sides: { instrument: side(this.sides.instrument), master: side(this.sides.master) },
      directions: { '>': dir('>'), '<': dir('<') },
      forwardLatency: this.latency.view(),
      masterSilent: this.masterState === 'silent',
      ...(this.lastMasterAt !== undefined ? { lastMasterByte: new Date(this.lastMasterAt).toISOString() } : {}),
      outstandingRequests: this.tap.outstanding,
      decodeBacklogBytes: this.tap.backlog,
      ...(cap ? { capture: { path: cap.path, records: cap.records, dropped: cap.dropped, ...(cap.error ? { error: cap.error.message } : {}) } } : {}),
      events: [...this.linkEvents],
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
    await this.tap.close(nowMicros());
    await this.capture?.close();
  }
}

function notObserved(def: ParamDef, id: string): GatewayError {
  return new GatewayError(
    'BRIDGE_NOT_OBSERVED',
    `${def.key} (DDE ${def.dde}) of ${id} has not been observed yet: a passive bridge knows only what the master reads or writes`,
    { param: def.key, dde: def.dde, instrument: id },
  );
}

function stale(def: ParamDef, id: string, seenAt: number, age: number, maxAge: number): GatewayError {
  return new GatewayError(
    'BRIDGE_STALE',
    `${def.key} (DDE ${def.dde}) of ${id} was last observed ${age} ms ago, longer ago than maxAge ${maxAge} ms; a passive bridge cannot read it now`,
    { param: def.key, dde: def.dde, instrument: id, observedAt: new Date(seenAt).toISOString(), ageMs: age, maxAge },
  );
}
