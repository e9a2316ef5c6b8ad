import { setMaxListeners } from 'node:events';
import { packetToFrame, statusInfo, type Protocol } from '../codec/index.js';
import {
  Bus,
  BusError,
  ParamClient,
  Priority,
  describeFailure,
  type BusOptions,
  type ParamReading,
  type ParamResult,
  type TransactionRecord,
} from '../bus/index.js';
import { Pairer, type Transaction } from '../observe/index.js';
import { paramByDde, resolveParam, validateValue, type InstrumentRange, type ParamDef } from '../params/index.js';
import { clip, GatewayError, RefusalLimiter, silentLogger, sleep, type Logger } from '../shared/index.js';
import { openerFor, parseAddress, Transport, type ReconnectOptions, type SimulatorFactory } from '../transport/index.js';
import type { BusView, GatewayService, InstrumentView, ParamErrorView, ReadResult, TransactionFilter, WriteResult } from './service.js';
import { MemorySink, type LoggedTransaction, type TransactionSink } from './sink.js';
import { GatewayEvents } from './events.js';
import { OngoingProblem } from './ongoing.js';
import { readAgreed, type PlainValue } from './agree.js';
import {
  FLUID_FIELDS,
  IDENTITY_FIELD_BY_DDE,
  IDENTITY_PARAMS,
  buildValueView,
  errorView,
  findInstrument,
  identityAfterWrite,
  jsonValue,
  readResult,
  setIdentityField,
  type InstrumentIdentity,
  type ValueView,
} from './views.js';
import { capacityRange, isCapacityBound, refuseUnwritable, writeValidation } from './write-checks.js';

export interface MasterBusConfig {
  readonly name: string;
  /** `/dev/ttyUSB0`, `serial:///dev/ttyUSB0?baud=38400`, `tcp://host:port`, `sim://?nodes=3,5`. */
  readonly port: string;
  readonly bus?: Partial<BusOptions>;
  /** Walk the bus at start (and when it comes back) to find instruments. Default true. */
  readonly discover?: boolean;
  /** Nodes known in advance, added whether or not discovery finds them. */
  readonly nodes?: readonly number[];
}

export interface PollConfig {
  readonly parameters: readonly string[];
  readonly intervalMs: number;
}

export interface MasterOptions {
  readonly buses: readonly MasterBusConfig[];
  readonly poll: PollConfig;
  readonly instruments?: readonly { node: number; bus?: string; name?: string; poll?: Partial<PollConfig> }[];
  /** Allow writes to secured parameters, wrapped in Init Reset 64 ... 82. */
  readonly secured?: boolean;
  readonly sink?: TransactionSink;
  readonly logger?: Logger;
  /** The event hub to emit on; a new one when absent. */
  readonly events?: GatewayEvents;
  /** Builds the in-process simulator for `sim://` addresses (from the composition root). */
  readonly simulator?: SimulatorFactory;
  readonly reconnect?: Partial<ReconnectOptions>;
  /** Keep this many transactions in memory for GET /transactions. Default 1000. */
  readonly recentTransactions?: number;
  /** When no instrument answers at node 128 (port open, instrument off), walk again after this long, ms. Default 10000. */
  readonly discoveryRetryMs?: number;
  /** An identity field without two agreeing answers yet is read again from the poll loop after this long, ms. Default 30000. */
  readonly identityRetryMs?: number;
}

export const DEFAULT_POLL: PollConfig = {
  parameters: ['fMeasure', 'fSetpoint', 'measure', 'setpoint', 'valveOutput', 'alarmInfo'],
  intervalMs: 500,
};

const PNA = 2;
const NNA = 4;
const LOCAL = 128;
/**
 * Reads of one walk step or identity field, at most, to get two answers that agree (ProPar has no
 * checksum, so one answer is not proof). Two when the line is clean; the others cover lost and garbled replies.
 */
const AGREE_ATTEMPTS = 4;

type IdentityField = keyof InstrumentIdentity;

interface BusHandle {
  readonly name: string;
  readonly config: MasterBusConfig;
  readonly transport: Transport;
  readonly bus: Bus;
  readonly client: ParamClient;
  readonly protocol: Protocol;
  /** Names the parameters of every transaction for the log, with the same decoder the bridge uses. */
  readonly pairer: Pairer;
  localNode?: number;
  discovery?: Promise<number[]>;
  discovered: boolean;
  /** Discovery finds nobody at node 128 (port open, instrument off). */
  readonly silence: OngoingProblem;
}

interface Instrument {
  readonly id: string;
  readonly handle: BusHandle;
  readonly node: number;
  name?: string;
  /** Only values two reads agreed on. */
  identity: InstrumentIdentity;
  /** Identity fields the instrument answered twice with a status error: it does not have them; not asked again. */
  readonly lacks: Set<IdentityField>;
  /** Identity values read (polled, read by a client) that differ from the confirmed ones: confirmed or dropped by `confirmIdentity`. */
  readonly suspect: Map<IdentityField, PlainValue>;
  /** Why the last read of an identity field gave nothing confirmed (its last read's error), until it is confirmed. */
  readonly unread: Map<IdentityField, string>;
  confirming?: Promise<void>;
  online: boolean;
  lastSeen?: number;
  lastError?: { code: string; message: string };
  poll: { params: ParamDef[]; intervalMs: number };
  polling: boolean;
  identityTriedAt: number;
}

/**
 * Master mode: the gateway owns each bus, finds its instruments, polls them,
 * and serves reads and writes of any parameter. Every transaction goes to the sink.
 */
export class MasterGateway implements GatewayService {
  readonly mode = 'master' as const;
  readonly events: GatewayEvents;
  private readonly handles = new Map<string, BusHandle>();
  private readonly registry = new Map<string, Instrument>();
  private readonly stop = new AbortController();
  private readonly log: Logger;
  private readonly recent: MemorySink;
  private readonly sinks: TransactionSink[];
  private readonly defaultPoll: { params: ParamDef[]; intervalMs: number };
  /** Refused writes: each client host and code in full once a minute, the rest counted. Accepted writes are logged one by one. */
  private readonly refusals: RefusalLimiter;

  constructor(private readonly options: MasterOptions) {
    if (options.buses.length === 0) throw new GatewayError('GATEWAY_NO_BUS', 'master mode needs at least one bus');
    this.log = options.logger ?? silentLogger;
    this.events = options.events ?? new GatewayEvents(this.log);
    this.refusals = new RefusalLimiter(this.log.child({ write: true }));
    this.recent = new MemorySink(options.recentTransactions ?? 1000);
    this.sinks = [this.recent, ...(options.sink ? [options.sink] : [])];
    this.defaultPoll = { params: options.poll.parameters.map((p) => resolveParam(p)), intervalMs: options.poll.intervalMs };
    // Each instrument's poll loop and its transaction listen on the stop signal: many instruments, many listeners, no leak.
    setMaxListeners(0, this.stop.signal);
  }

  /** Opens every bus and starts discovery and polling in the background; resolves once each bus's first open attempt is done. */
  async start(): Promise<void> {
    for (const cfg of this.options.buses) {
      const addr = parseAddress(cfg.port, cfg.bus?.baudRate);
      const transport = new Transport(cfg.port, openerFor(addr, this.options.simulator), this.options.reconnect);
      const bus = new Bus(transport, { ...cfg.bus, ...(addr.kind === 'serial' ? { baudRate: addr.baudRate } : {}) });
      const protocol = bus.options.protocol;
      const handle: BusHandle = {
        name: cfg.name,
        config: cfg,
        transport,
        bus,
        client: new ParamClient(bus),
        protocol,
        pairer: new Pairer({ mode: protocol, timeoutMs: 60_000 }),
        discovered: false,
        silence: new OngoingProblem(),
      };
      this.handles.set(cfg.name, handle);
      const log = this.log.child({ bus: cfg.name });
      const outage = new OngoingProblem();
      transport.on('state', (s) => {
        if (s.state === 'open') {
          const was = outage.over();
          log.info(
            { address: cfg.port, reconnects: s.reconnects, ...(was ? { downForS: was.forS, attempts: was.attempts } : {}) },
            was ? `bus ${cfg.name} open again` : `bus ${cfg.name} open`,
          );
          if (!handle.discovered) void this.discoverBus(handle).catch(() => {});
        } else if (s.state === 'waiting') {
          // What is on the line may differ when it comes back (another adapter, another bus): walk it again then.
          handle.discovered = false;
          const reason = s.lastError ?? 'closed';
          const say = outage.seen(reason);
          if (say) {
            log.warn(
              {
                address: cfg.port,
                reason,
                attempts: say.attempts,
                downSince: new Date(say.since).toISOString(),
                retryAt: s.retryAt ? new Date(s.retryAt).toISOString() : undefined,
              },
              say.first ? `bus ${cfg.name} unavailable; reopening with backoff` : `bus ${cfg.name} still unavailable`,
            );
          }
          for (const inst of this.registry.values()) {
            if (inst.handle === handle) {
              inst.online = false;
              inst.lastError = { code: 'BUS_UNAVAILABLE', message: `bus unavailable: ${s.lastError ?? 'closed'}` };
            }
          }
        }
      });
      bus.on('transaction', (r) => this.logTransaction(handle, r));
      for (const node of cfg.nodes ?? []) this.addInstrument(handle, node);
      for (const inst of this.options.instruments ?? []) {
        if ((inst.bus ?? cfg.name) === cfg.name && (inst.bus !== undefined || this.options.buses.length === 1)) this.addInstrument(handle, inst.node);
      }
      await transport.start();
    }
  }

  // ------------------------------------------------------------------ discovery

  async discover(): Promise<InstrumentView[]> {
    await Promise.all([...this.handles.values()].map((h) => this.discoverBus(h, true)));
    return this.instruments();
  }

  private discoverBus(handle: BusHandle, force = false): Promise<number[]> {
    if (handle.discovery && !force) return handle.discovery;
    if (handle.config.discover === false) {
      handle.discovered = true;
      return Promise.resolve([...this.registry.values()].filter((i) => i.handle === handle).map((i) => i.node));
    }
    const run = this.walk(handle).finally(() => {
      if (handle.discovery === run) handle.discovery = undefined;
    });
    handle.discovery = run;
    return run;
  }

  /**
   * Walks the bus as PROTOCOL.md section 1 describes: the local address from
   * node 128, the first node that answers at or below it, then the chain of
   * next-node addresses until it loops or a node does not answer.
   */
  private async walk(handle: BusHandle): Promise<number[]> {
    const log = this.log.child({ bus: handle.name });
    const pna = paramByDde(PNA) as ParamDef;
    const nna = paramByDde(NNA) as ParamDef;
    const scan = { priority: Priority.Scan, purpose: 'scan' } as const;
    // Each walk step is read until two answers agree: a lost reply must not hide an instrument, and a
    // garbled one (ProPar has no checksum) must not invent one. An error frame (absent node) is final.
    const agreed = (node: number, params: ParamDef[]) => readAgreed(handle.client, node, params, { ...scan, attempts: AGREE_ATTEMPTS });
    const local = await agreed(LOCAL, [pna]);
    // A close during the walk (a stop, or a start that failed later, such as a port in use) is no
    // news about the bus: say nothing, and do not try again.
    if (this.stop.signal.aborted) return [];
    const localNode = local.values.get(PNA);
    if (typeof localNode !== 'number' || !isNodeAddress(localNode)) {
      const say = handle.silence.seen('no answer at node 128');
      if (say) {
        const retryS = (this.options.discoveryRetryMs ?? 10_000) / 1000;
        const last = local.reads.at(-1)?.[0];
        log.warn(
          {
            error: last && !last.ok ? last.error.message : localNode !== undefined ? `node address ${localNode} is not 1..127` : local.reads.length > 1 ? 'answers disagree' : undefined,
            attempts: say.attempts,
            since: new Date(say.since).toISOString(),
          },
          say.first ? `discovery: no instrument answers at node 128; trying again every ${retryS} s` : `discovery: still no instrument answers at node 128; trying every ${retryS} s`,
        );
      }
      this.retryDiscovery(handle);
      return [];
    }
    const silent = handle.silence.over();
    if (silent) log.info({ attempts: silent.attempts, silentForS: silent.forS }, 'discovery: an instrument answers at node 128 again');
    handle.localNode = localNode;
    let start = localNode;
    for (let n = 1; n < localNode; n++) {
      // A quick probe of the addresses below the local one (Bronkhorst's library waits 50 ms; a
      // USB adapter or a pty at start-up can need more, and a probe that times out looks like a flaky bus).
      const [r] = await handle.client.read(n, [pna], { ...scan, retries: 0, replyTimeoutMs: 150 });
      if (r?.ok && r.reading.value === n) {
        start = n;
        break;
      }
    }
    // A node is listed only when it said twice that it is at the address asked, and the walk follows a
    // next-node address only when two reads agree on it.
    const found: number[] = [];
    const seen = new Set<number>();
    const chain = async (from: number) => {
      for (let node = from; isNodeAddress(node) && !seen.has(node) && !this.stop.signal.aborted; ) {
        seen.add(node);
        const step = await agreed(node, [pna, nna]);
        if (step.values.get(PNA) !== node) break;
        found.push(node);
        const next = step.values.get(NNA);
        if (typeof next !== 'number') break;
        node = next;
      }
    };
    await chain(start);
    // The local instrument is on the bus (it answered at 128) even when the chain broke before reaching it.
    if (!found.includes(localNode)) await chain(localNode);
    for (const node of found) {
      const inst = this.addInstrument(handle, node);
      await this.readIdentity(inst);
    }
    handle.discovered = true;
    log.info({ nodes: found }, `discovery on ${handle.name}: ${found.length} instrument(s) at node(s) ${found.join(', ')}`);
    return found;
  }

  private retryDiscovery(handle: BusHandle): void {
    void sleep(this.options.discoveryRetryMs ?? 10_000, this.stop.signal).then(
      () => {
        if (handle.transport.state === 'open') void this.discoverBus(handle, true).catch(() => {});
      },
      () => {},
    );
  }

  /**
   * Reads identity fields (by default every one) until two reads agree on each, and applies what
   * they agreed on. A field without agreement keeps what was confirmed before, or stays absent and
   * is read again from the poll loop. `seed`: answers already in hand, each counting as one read.
   */
  private async readIdentity(inst: Instrument, fields: readonly IdentityField[] = IDENTITY_PARAMS.map(([f]) => f), seed?: ReadonlyMap<number, readonly PlainValue[]>): Promise<IdentityField[]> {
    inst.identityTriedAt = Date.now();
    const wanted = IDENTITY_PARAMS.filter(([field]) => fields.includes(field));
    const defs = wanted.map(([, dde]) => paramByDde(dde) as ParamDef);
    const got = await readAgreed(inst.handle.client, inst.node, defs, {
      priority: Priority.Scan,
      purpose: 'scan',
      attempts: AGREE_ATTEMPTS,
      ...(seed ? { seed } : {}),
    });
    const next: InstrumentIdentity = {};
    for (const [field, dde] of wanted) {
      const v = got.values.get(dde);
      if (v !== undefined) setIdentityField(next, field, field === 'capacity' || field === 'channels' ? Number(v) : String(v));
      if (got.lacking.has(dde)) inst.lacks.add(field);
      if (v !== undefined) inst.unread.delete(field);
      else inst.unread.set(field, lastFailure(got.reads, dde) ?? `no two of ${got.reads.length} reads agreed`);
    }
    const last = got.reads.at(-1);
    if (last) this.noteResults(inst, last, false);
    return this.setIdentity(inst, next);
  }

  /**
   * The one place an instrument's identity changes: applies confirmed values, returns the fields
   * that changed. Another serial number means another instrument at that address: what was
   * confirmed about the one before is dropped. (An "identity changed" event belongs here.)
   */
  private setIdentity(inst: Instrument, next: InstrumentIdentity): IdentityField[] {
    const before: InstrumentIdentity = inst.identity;
    const replaced = next.serial !== undefined && before.serial !== undefined && next.serial !== before.serial;
    const merged: InstrumentIdentity = { ...(replaced ? {} : before), ...next };
    const changed = IDENTITY_PARAMS.map(([field]) => field).filter((f) => merged[f] !== before[f]);
    for (const field of Object.keys(next) as IdentityField[]) {
      inst.lacks.delete(field);
      inst.suspect.delete(field);
    }
    if (replaced) inst.lacks.clear();
    if (changed.length > 0) inst.identity = merged;
    return changed;
  }

  /** Identity fields not confirmed yet, nor known to be missing from the instrument. */
  private unconfirmed(inst: Instrument): IdentityField[] {
    return IDENTITY_PARAMS.map(([field]) => field).filter((f) => inst.identity[f] === undefined && !inst.lacks.has(f));
  }

  /**
   * A read (a poll, a client's read) gave an identity value other than the confirmed one: a change
   * at the instrument, or a garbled reply. It counts as one read; the field is read again, and
   * adopted only when another read agrees with it (the fluid's name, capacity and unit together).
   */
  private suspectIdentity(inst: Instrument, ok: readonly ParamReading[]): void {
    for (const r of ok) {
      const field = IDENTITY_FIELD_BY_DDE.get(r.param.dde);
      if (!field || r.cached) continue;
      const v = jsonValue(r.value);
      // Compared as the identity keeps it (the ID string without its device type byte).
      const asKept: InstrumentIdentity = {};
      setIdentityField(asKept, field, v);
      if (inst.identity[field] !== asKept[field]) inst.suspect.set(field, v);
    }
    if (inst.suspect.size === 0 || inst.confirming) return;
    inst.confirming = this.confirmIdentity(inst)
      .catch(() => {})
      .finally(() => {
        inst.confirming = undefined;
      });
  }

  private async confirmIdentity(inst: Instrument): Promise<void> {
    // One pass over what is suspect now; a value that turns up later starts another pass.
    const suspect = new Map(inst.suspect);
    inst.suspect.clear();
    const fields = new Set(suspect.keys());
    if ([...fields].some((f) => FLUID_FIELDS.includes(f))) for (const f of FLUID_FIELDS) fields.add(f);
    const seed = new Map<number, PlainValue[]>();
    for (const [field, dde] of IDENTITY_PARAMS) {
      const known = [suspect.get(field), inst.identity[field]].filter((v): v is PlainValue => v !== undefined);
      if (known.length > 0) seed.set(dde, known);
    }
    await this.readIdentity(inst, [...fields], seed);
  }

  /**
   * The identity with the capacity for a capacity-bound write: as discovery (or the polls) confirmed
   * it, or read now (twice alike) when it is missing: a reply lost during discovery, a fluid set
   * changed since. The caller refuses with PARAM_CAPACITY_UNKNOWN when it is still unknown: such a
   * write is never sent unchecked.
   */
  private async knownCapacity(inst: Instrument): Promise<{ identity: InstrumentIdentity; why?: string }> {
    if (inst.identity.capacity !== undefined && inst.identity.capacity > 0) return { identity: inst.identity };
    let why: string | undefined;
    await this.readIdentity(inst, ['capacity', 'capacityUnit']).catch((err: unknown) => {
      why = err instanceof Error ? err.message : String(err);
    });
    if (inst.identity.capacity !== undefined && inst.identity.capacity > 0) return { identity: inst.identity };
    return { identity: inst.identity, why: `reading it failed: ${why ?? inst.unread.get('capacity') ?? 'no answer'}` };
  }

  private addInstrument(handle: BusHandle, node: number): Instrument {
    const id = `${handle.name}:${node}`;
    const existing = this.registry.get(id);
    if (existing) return existing;
    const cfg = (this.options.instruments ?? []).find((i) => i.node === node && (i.bus ?? handle.name) === handle.name);
    const poll = cfg?.poll
      ? {
          params: (cfg.poll.parameters ?? this.options.poll.parameters).map((p) => resolveParam(p)),
          intervalMs: cfg.poll.intervalMs ?? this.defaultPoll.intervalMs,
        }
      : this.defaultPoll;
    const inst: Instrument = { id, handle, node, identity: {}, lacks: new Set(), suspect: new Map(), unread: new Map(), online: false, poll, polling: false, identityTriedAt: 0, ...(cfg?.name ? { name: cfg.name } : {}) };
    this.registry.set(id, inst);
    void this.pollLoop(inst);
    return inst;
  }

  // ------------------------------------------------------------------ polling

  private async pollLoop(inst: Instrument): Promise<void> {
    const signal = this.stop.signal;
    // Stagger instruments so their polls do not all land in the same instant.
    await sleep(Math.random() * Math.min(inst.poll.intervalMs, 200), signal).catch(() => {});
    while (!signal.aborted) {
      const started = Date.now();
      // A backed-off node is not polled until its backoff ends (the bus would refuse the poll
      // anyway): no transaction rows that put nothing on the wire.
      if (inst.poll.params.length > 0 && inst.handle.transport.state === 'open' && inst.handle.bus.backoff(inst.node) === undefined) {
        const results = await inst.handle.client.read(inst.node, inst.poll.params, { priority: Priority.Poll, purpose: 'poll', signal }).catch(() => []);
        if (signal.aborted) break;
        this.noteResults(inst, results);
        // Discovery may have missed part of the identity (lost replies, answers that never agreed, a bus
        // that came back): read what is missing again, at most every 30 s.
        const missing = inst.online ? this.unconfirmed(inst) : [];
        if (missing.length > 0 && Date.now() - inst.identityTriedAt > (this.options.identityRetryMs ?? 30_000)) await this.readIdentity(inst, missing).catch(() => {});
      }
      await sleep(Math.max(0, inst.poll.intervalMs - (Date.now() - started)), signal).catch(() => {});
    }
  }

  /**
   * Online when anything answered; offline with the error when nothing did. An identity value that
   * differs from the confirmed one is checked by reading it again (`watchIdentity`), never taken as is.
   */
  private noteResults(inst: Instrument, results: readonly ParamResult[], watchIdentity = true): void {
    const ok = results.filter((r) => r.ok);
    if (ok.length > 0) {
      inst.online = true;
      inst.lastSeen = Date.now();
      const answered = results.find((r) => !r.ok && r.error instanceof BusError && r.error.failure.kind === 'status');
      inst.lastError = answered && !answered.ok ? { code: answered.error.code, message: answered.error.message } : undefined;
      if (watchIdentity) this.suspectIdentity(inst, ok.map((r) => r.reading));
    } else if (results.length > 0) {
      const first = results[0];
      if (first && !first.ok) {
        // A request that never reached the instrument (shutdown, a full queue) says nothing about it.
        if (first.error instanceof BusError && ['aborted', 'queue-deadline'].includes(first.error.failure.kind)) return;
        inst.online = false;
        inst.lastError = { code: first.error.code, message: first.error.message };
      }
    }
  }

  // ------------------------------------------------------------------ the service

  instruments(): InstrumentView[] {
    return [...this.registry.values()].sort((a, b) => a.handle.name.localeCompare(b.handle.name) || a.node - b.node).map((i) => this.view(i));
  }

  instrument(ref: string): InstrumentView {
    return this.view(this.find(ref));
  }

  private find(ref: string): Instrument {
    const located = [...this.registry.values()].map((inst) => ({ id: inst.id, bus: inst.handle.name, node: inst.node, local: inst.node === inst.handle.localNode, inst }));
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
      throw new GatewayError('GATEWAY_NODE_UNKNOWN', `no instrument at node ${text}; known: ${[...this.registry.values()].map((i) => i.id).join(', ') || 'none'}`, {
        node: text,
        known: [...this.registry.keys()],
      });
    }).inst;
  }

  private view(i: Instrument): InstrumentView {
    const values: Record<string, ValueView> = {};
    for (const p of i.poll.params) {
      const r = i.handle.client.latest(i.node, p.dde);
      if (r) values[p.key] = this.valueView(i, r);
    }
    return {
      id: i.id,
      bus: i.handle.name,
      node: i.node,
      ...(i.name ? { name: i.name } : {}),
      online: i.online,
      ...(i.lastSeen ? { lastSeen: new Date(i.lastSeen).toISOString() } : {}),
      ...(i.lastError ? { lastError: i.lastError } : {}),
      identity: { ...i.identity },
      values,
      polling: { parameters: i.poll.params.map((p) => p.key), intervalMs: i.poll.intervalMs },
    };
  }

  private valueView(i: Instrument, r: ParamReading): ValueView {
    return buildValueView(r.param, { raw: Buffer.from(r.raw).toString('hex'), value: jsonValue(r.value), time: r.at, cached: r.cached }, i.identity);
  }

  async readParams(ref: string, names: readonly string[], opts: { maxAge?: number } = {}): Promise<ReadResult> {
    const inst = this.find(ref);
    if (names.length === 0) throw new GatewayError('PARAM_NONE', 'name at least one parameter to read', {});
    const defs = names.map((n) => resolveParam(n));
    const results = await inst.handle.client.read(inst.node, defs, { priority: Priority.Interactive, purpose: 'read', ...(opts.maxAge ? { maxAge: opts.maxAge } : {}) });
    this.noteResults(inst, results);
    return readResult(
      inst.id,
      results.map((r): ValueView | ParamErrorView => (r.ok ? this.valueView(inst, r.reading) : errorView(r.param, r.error))),
    );
  }

  async writeParam(ref: string, name: string, value: unknown, ctx: { source: string }): Promise<WriteResult> {
    const log = this.log.child({ write: true, source: ctx.source });
    let param: ParamDef | undefined;
    try {
      const inst = this.find(ref);
      param = resolveParam(name);
      refuseUnwritable(param, this.options.secured === true, 'set "secured: true" in the config');
      let range: InstrumentRange | undefined;
      if (isCapacityBound(param)) {
        const known = await this.knownCapacity(inst);
        range = capacityRange(param, known.identity, known.why);
      }
      const v = validateValue(param, value, writeValidation(param, inst.handle.client, range));
      const written = v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
      let record: TransactionRecord;
      try {
        record = await inst.handle.client.write(inst.node, [{ param, value: v }], { unlock: param.secured });
      } catch (err) {
        // Name what was refused: a status INDEX ("at index 7") means nothing to the person writing.
        if (err instanceof BusError && err.failure.kind === 'status') {
          const st = statusInfo(err.failure.status);
          throw new GatewayError(
            'BUS_STATUS',
            `node ${inst.node} refused ${param.key} = ${String(written)}: status ${err.failure.status} ${st.key} (${st.message})`,
            { ...err.details, param: param.key, dde: param.dde, value: written },
          );
        }
        throw err;
      }
      // A new fluid set or calibration changes the capacity: the old one is forgotten before it is read
      // again (below), so that should the new one not be confirmed, the next setpoint reads it first
      // instead of being checked against the old one.
      if (CAPACITY_SOURCES.has(param.dde)) delete inst.identity.capacity;
      let readBack: ParamReading | undefined;
      if (param.read) {
        const [r] = await inst.handle.client.read(inst.node, [param], { priority: Priority.Write, purpose: 'read-back' });
        if (r?.ok) readBack = r.reading;
      }
      // A write of an identity parameter (user tag, capacity, the fluidset: fluid, capacity and unit) changes
      // the identity: read what it affects again, confirmed, before answering. The read-back counts as one read.
      const affected = identityAfterWrite(param.dde);
      if (affected.length > 0) {
        const seed = new Map<number, PlainValue[]>(readBack && IDENTITY_FIELD_BY_DDE.has(param.dde) ? [[param.dde, [jsonValue(readBack.value)]]] : []);
        const changed = await this.readIdentity(inst, affected, seed).catch(() => []);
        if (changed.length > 0) log.info({ instrument: inst.id, changed, identity: inst.identity }, `identity of ${inst.id} changed: ${changed.join(', ')}`);
      }
      const readBackView = readBack ? this.valueView(inst, readBack) : undefined;
      log.info({ instrument: inst.id, param: param.key, dde: param.dde, value: written, readBack: readBackView?.value, transaction: record.id }, `write ${inst.id} ${param.key}=${String(written)} from ${ctx.source}`);
      return {
        instrument: inst.id,
        param: { dde: param.dde, key: param.key, name: param.name },
        written,
        status: { code: 0, name: statusInfo(0).key },
        ...(readBackView ? { readBack: readBackView } : {}),
        transactionId: record.id,
      };
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
      this.refusals.refused(ctx.source, e.code, () =>
        log.warn({ instrument: clip(ref), param: param?.key ?? clip(name), value: loggedValue(value), code: e.code }, `write refused: ${clip(e.message, 500)} (from ${ctx.source})`),
      );
      throw e;
    }
  }

  buses(): BusView[] {
    return [...this.handles.values()].map((h) => {
      const s = h.bus.stats();
      const t = h.transport.status();
      return {
        name: h.name,
        address: h.config.port,
        transport: {
          state: t.state,
          since: new Date(t.since).toISOString(),
          ...(t.lastError ? { lastError: t.lastError } : {}),
          reconnects: t.reconnects,
          ...(t.retryAt ? { retryAt: new Date(t.retryAt).toISOString() } : {}),
        },
        queue: { waiting: s.queued, inFlight: s.inFlight },
        transactions: s.outcomes,
        retries: s.retries,
        lateReplies: s.lateReplies,
        unsolicited: s.unsolicited,
        discards: s.discards,
        latency: { count: s.latency.count, meanMs: s.latency.meanMs ?? null, p99Ms: s.latency.p99Ms ?? null },
        wireUtilisation: s.wireUtilisation,
        nodesBackedOff: s.nodesBackedOff,
        protocol: h.protocol,
        pipelineDepth: h.bus.options.pipelineDepth,
      };
    });
  }

  recentTransactions(filter: TransactionFilter): LoggedTransaction[] {
    return this.recent.list(filter);
  }

  ready(): boolean {
    return [...this.handles.values()].every((h) => h.transport.state === 'open');
  }

  /** The bus objects, for tests and benchmarks. */
  bus(name?: string): { bus: Bus; transport: Transport; client: ParamClient } {
    const h = name ? this.handles.get(name) : this.handles.values().next().value;
    if (!h) throw new GatewayError('GATEWAY_NO_BUS', `no bus ${name ?? ''}`);
    return { bus: h.bus, transport: h.transport, client: h.client };
  }

  async close(): Promise<void> {
    this.stop.abort();
    this.refusals.close();
    for (const h of this.handles.values()) {
      await h.bus.close();
      await h.transport.close();
    }
  }

  // ------------------------------------------------------------------ logging

  private logTransaction(handle: BusHandle, r: TransactionRecord): void {
    const described = describe(handle, r);
    const entry: LoggedTransaction = {
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
    this.events.emit('transaction', entry);
    for (const s of this.sinks) {
      try {
        s.write(entry);
      } catch (err) {
        this.log.error({ err }, 'transaction sink failed');
      }
    }
  }
}

/**
 * Names the parameters of a master transaction through the observation layer's pairer (one decoder
 * for both modes). The frames come from the messages the bus already has; nothing is parsed again.
 */
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

/** Writes after which the capacity may differ: fluidset index, capacity, capacity unit. */
const CAPACITY_SOURCES: ReadonlySet<number> = new Set([24, 21, 129]);

/** The error of the last read of `dde` that failed, if any. */
function lastFailure(reads: readonly (readonly ParamResult[])[], dde: number): string | undefined {
  for (let i = reads.length - 1; i >= 0; i--) {
    const r = reads[i]?.find((x) => (x.ok ? x.reading.param.dde : x.param.dde) === dde);
    if (r && !r.ok) return r.error.message;
  }
  return undefined;
}

/** A bus address an instrument can have (128 is "the local one", not an address). */
function isNodeAddress(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 127;
}


/** A written value as the log shows it: numbers as they are, anything else as bounded text. */
function loggedValue(v: unknown): unknown {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'string') return clip(v);
  try {
    return clip(JSON.stringify(v) ?? String(v));
  } catch {
    return clip(String(v));
  }
}
