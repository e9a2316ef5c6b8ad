/**
 * Master mode: the gateway owns each bus, finds its instruments, polls them, and serves reads and
 * writes of any parameter. This file puts the parts together and answers the API; each part does
 * one job (buses, discovery, poller, registry, identity, writes, transactions), and everything that
 * happens is an event on `events`.
 */
import { setMaxListeners } from 'node:events';
import { Priority, type Bus, type ParamClient, type ParamReading } from '../../bus/index.js';
import { forChannel, resolveParam } from '../../params/index.js';
import { GatewayError, silentLogger, type Logger } from '../../shared/index.js';
import type { Transport } from '../../transport/index.js';
import { GatewayEvents } from '../events.js';
import { TransactionOutlet } from '../outlet.js';
import type { BusView, GatewayService, InstrumentView, MultiWriteResult, ParamErrorView, ReadResult, Snapshot, TransactionFilter, WriteContext, WriteInput, WriteResult } from '../service.js';
import { buildSnapshot, readAll, snapshotParams } from '../snapshot.js';
import { MemorySink, type LoggedTransaction } from '../sink.js';
import { errorView, readResult, type ValueView } from '../views.js';
import { openBus, watchBus, type BusHandle } from './buses.js';
import { Discovery } from './discovery.js';
import { IdentityReader } from './identity.js';
import { resolveMasterOptions, type MasterDeps, type MasterOptions, type MasterOptionsInput } from './options.js';
import { Poller } from './poller.js';
import { Registry, type Instrument } from './registry.js';
import { TransactionDescriber } from './transactions.js';
import { Writer } from './writes.js';
import { MasterLab } from './lab.js';

export class MasterGateway implements GatewayService {
  readonly mode = 'master' as const;
  readonly events: GatewayEvents;
  readonly options: MasterOptions;
  private readonly handles = new Map<string, BusHandle>();
  private readonly stop = new AbortController();
  private readonly log: Logger;
  private readonly recent: MemorySink;
  private readonly outlet: TransactionOutlet;
  private readonly registry: Registry;
  private readonly identity: IdentityReader;
  private readonly discovery: Discovery;
  private readonly poller: Poller;
  private readonly writer: Writer;
  readonly lab: MasterLab;
  /** The snapshot being read, by instrument id: one at a time per instrument, shared by whoever asks meanwhile. */
  private readonly snapshots = new Map<string, Promise<Snapshot>>();

  constructor(
    options: MasterOptionsInput,
    private readonly deps: MasterDeps = {},
  ) {
    this.options = resolveMasterOptions(options);
    this.log = deps.logger ?? silentLogger;
    this.events = deps.events ?? new GatewayEvents(this.log);
    this.recent = new MemorySink(this.options.recentTransactions);
    this.outlet = new TransactionOutlet([this.recent, ...(deps.sink ? [deps.sink] : [])], this.events, this.log);
    // Each instrument's poll loop and its transaction listen on the stop signal: many instruments, many listeners, no leak.
    setMaxListeners(0, this.stop.signal);
    const signal = this.stop.signal;
    this.registry = new Registry(this.options, this.handles, this.events);
    this.identity = new IdentityReader(this.registry, this.options, this.log);
    this.poller = new Poller(this.options, this.registry, this.identity, signal, this.log);
    this.discovery = new Discovery(this.options, this.registry, this.identity, (h, node) => this.addInstrument(h, node), signal, this.log);
    // Channel 1 said it has several channels: each other channel is an instrument of its own.
    this.registry.onChannels = (inst, channels) => {
      for (let c = 2; c <= channels; c++) this.addInstrument(inst.handle, inst.node, c);
    };
    this.writer = new Writer(this.options, this.registry, this.identity, this.events, this.log);
    this.lab = new MasterLab(this, this.registry, this.identity, this.events, this.log);
  }

  /** Opens every bus and starts discovery and polling in the background; resolves once each bus's first open attempt is done. */
  async start(): Promise<void> {
    for (const cfg of this.options.buses) {
      const handle = openBus(cfg, this.options, this.deps.simulator);
      this.handles.set(cfg.name, handle);
      watchBus(handle, this.log.child({ bus: cfg.name }), this.events, {
        opened: (h) => {
          if (!h.discovered) this.discovery.start(h);
        },
        lost: (h, reason) => {
          // What is on the line may differ when it comes back (another adapter, another bus): walk it again then.
          h.discovered = false;
          for (const inst of this.registry.onBus(h)) this.registry.setOffline(inst, { code: 'BUS_UNAVAILABLE', message: `bus unavailable: ${reason}` });
        },
      });
      const describer = new TransactionDescriber(handle);
      handle.bus.on('transaction', (r) => this.outlet.deliver(describer.logged(r)));
      for (const node of cfg.nodes ?? []) this.addInstrument(handle, node);
      for (const inst of this.options.instruments) {
        if ((inst.bus ?? cfg.name) === cfg.name && (inst.bus !== undefined || this.options.buses.length === 1)) this.addInstrument(handle, inst.node);
      }
      await handle.transport.start();
    }
  }

  private addInstrument(handle: BusHandle, node: number, channel = 1): Instrument {
    const { inst, added } = this.registry.add(handle, node, channel);
    if (added) this.poller.start(inst);
    return inst;
  }

  async discover(): Promise<InstrumentView[]> {
    await Promise.all([...this.handles.values()].map((h) => this.discovery.discover(h, true)));
    return this.instruments();
  }

  instruments(): InstrumentView[] {
    return this.registry
      .all()
      .sort((a, b) => a.handle.name.localeCompare(b.handle.name) || a.node - b.node || a.channel - b.channel)
      .map((i) => this.registry.view(i));
  }

  instrument(ref: string): InstrumentView {
    return this.registry.view(this.registry.find(ref));
  }

  async readParams(ref: string, names: readonly string[], opts: { maxAge?: number } = {}): Promise<ReadResult> {
    const inst = this.registry.find(ref);
    if (names.length === 0) throw new GatewayError('PARAM_NONE', 'name at least one parameter to read', {});
    const defs = names.map((n) => forChannel(resolveParam(n), inst.channel));
    const results = await inst.handle.client.read(inst.node, defs, { priority: Priority.Interactive, purpose: 'read', ...(opts.maxAge ? { maxAge: opts.maxAge } : {}) });
    const ok = this.identity.note(inst, results);
    // One view per value, for the caller and the `values` event alike.
    const views = new Map<ParamReading, ValueView>();
    const view = (r: ParamReading): ValueView => {
      let v = views.get(r);
      if (!v) views.set(r, (v = this.registry.valueView(inst, r)));
      return v;
    };
    this.registry.emitValues(inst, 'read', ok, view);
    return readResult(
      inst.id,
      results.map((r): ValueView | ParamErrorView => (r.ok ? view(r.reading) : errorView(r.param, r.error))),
    );
  }

  writeParam(ref: string, name: string, value: unknown, ctx: WriteContext): Promise<WriteResult> {
    return this.writer.write(ref, name, value, ctx);
  }

  writeParams(ref: string, values: Readonly<Record<string, WriteInput>>, ctx: { source: string }): Promise<MultiWriteResult> {
    return this.writer.writeMany(ref, values, ctx);
  }

  /**
   * Every readable parameter of one instrument, read chunk by chunk at scan priority, so that the
   * poll loops and people's reads go first. While one is being read, asking again gets the same one.
   */
  snapshot(ref: string): Promise<Snapshot> {
    const inst = this.registry.find(ref);
    const running = this.snapshots.get(inst.id);
    if (running) return running;
    const p = (async () => {
      const results = await readAll(inst.handle.client, inst.node, snapshotParams().map((p) => forChannel(p, inst.channel)), { signal: this.stop.signal });
      this.identity.note(inst, results);
      // Every parameter failing alike (the bus down, the node silent) is that failure, not a snapshot.
      const first = results[0];
      if (first && !first.ok && first.error.code !== 'BUS_STATUS' && results.every((r) => !r.ok && r.error.code === first.error.code)) throw first.error;
      return buildSnapshot(inst.id, { ...inst.identity }, results);
    })().finally(() => this.snapshots.delete(inst.id));
    this.snapshots.set(inst.id, p);
    return p;
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
    this.writer.close();
    for (const h of this.handles.values()) {
      await h.bus.close();
      await h.transport.close();
    }
  }
}
