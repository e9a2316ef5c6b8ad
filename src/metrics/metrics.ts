/**
 * Prometheus metrics of one gateway (GET /metrics), on a registry of its own. Almost everything is
 * read from the gateway's views at scrape time (`collect()` callbacks): nothing is updated per
 * poll. The one exception is the reply-latency histogram, which needs every observation: it is
 * fed by a bounded subscriber to the `transaction` events.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { BusView, DirectionCounters, ForwardLatencyView, GatewayService, InstrumentView } from '../gateway/index.js';
import type { StoreStatus } from '../store/index.js';

/** What the metrics read from the store. */
export interface StoreStatusSource {
  status(): StoreStatus;
}

/** What the metrics read of the MQTT link (src/mqtt's MqttStatus has it; metrics does not import mqtt). */
export interface MqttStatusView {
  readonly state: string;
  readonly queued: number;
  readonly inFlight: number;
  readonly published: number;
  readonly dropped: number;
  readonly reconnects: number;
  readonly commands: { readonly accepted: number; readonly refused: number };
}

export interface MetricsOptions {
  readonly service: GatewayService;
  readonly store?: StoreStatusSource;
  /** The MQTT link, when mqtt.url is set. */
  readonly mqtt?: (() => MqttStatusView) | undefined;
  /** The `gateway` label on every series (the host name until `gateway.name` exists). */
  readonly gateway: string;
  /** prom-client's process metrics (memory, CPU, event-loop lag) under their standard names. Default true. */
  readonly processMetrics?: boolean;
}

/** The transport states of a bus, each a series of `flowbus_bus_transport_state` (1 for the current one). */
export const TRANSPORT_STATES = ['idle', 'opening', 'open', 'waiting', 'closed'] as const;
export const STORE_STATES = ['healthy', 'spooling', 'recovering', 'closed'] as const;

/** Reply latencies on a FLOW-BUS line: a few ms at 38400 baud, up to the reply timeout. */
export const REPLY_LATENCY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2];

/** The bridge's own forward-latency histogram: log2 buckets of 1 µs .. 2^25 µs (src/gateway/bridge/latency.ts). */
const FORWARD_BUCKETS_US = Array.from({ length: 26 }, (_, i) => 2 ** i);

/** Direction label values: `>` is master to instrument. */
const DIRECTIONS = { '>': 'master_to_instrument', '<': 'instrument_to_master' } as const;

/** Counters read from a view: the value is set as it is (prom-client's counters only grow by `inc`). */
function setCounter<T extends string>(c: Counter<T>, labels: Partial<Record<T, string>>, value: number): void {
  c.inc(labels, Math.max(0, value));
}

/** The labels of an instrument: bounded by the instruments the gateway knows. */
function instrumentLabels(i: InstrumentView) {
  return { bus: i.bus, node: String(i.node), name: i.name ?? '', serial: i.identity.serial ?? '' };
}

/**
 * A histogram whose buckets are counted elsewhere (the bridge's forward latency): read at scrape
 * time and written out in the exposition format. Registered as a custom metric on the registry.
 */
class ViewedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => readonly { readonly labels: Record<string, string>; readonly view: ForwardLatencyView }[],
  ) {}

  get(): MetricObjectWithValues<MetricValue<string>> {
    const values: MetricValue<string>[] = [];
    for (const { labels, view } of this.read()) {
      const counts = new Map(view.buckets.map((b) => [b.leUs, b.count]));
      let acc = 0;
      for (const le of FORWARD_BUCKETS_US) {
        acc += counts.get(le) ?? 0;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: le / 1e6 }, value: acc } as MetricValue<string>);
      }
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: view.count } as MetricValue<string>);
      // The view keeps the mean (to 0.1 µs), not the sum: the sum is rebuilt from it.
      values.push({ metricName: `${this.name}_sum`, labels, value: ((view.meanUs ?? 0) * view.count) / 1e6 } as MetricValue<string>);
      values.push({ metricName: `${this.name}_count`, labels, value: view.count } as MetricValue<string>);
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values } as unknown as MetricObjectWithValues<MetricValue<string>>;
  }

  reset(): void {}
}

/** The gateway's metrics. `start()` subscribes to the events; `text()` is one scrape. */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly replyLatency: Histogram<'bus'>;
  private off: (() => void) | undefined;
  /** Views read once per scrape, shared by every collect callback of that scrape. */
  private cached: { buses: BusView[]; instruments: InstrumentView[]; store: StoreStatus | undefined } | undefined;

  constructor(private readonly opts: MetricsOptions) {
    const r = this.registry;
    r.setDefaultLabels({ gateway: opts.gateway });
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: r });
    const buses = () => this.views().buses;
    const instruments = () => this.views().instruments;
    const store = () => this.views().store;

    // ------------------------------------------------------------ buses
    const perBusCounter = (name: string, help: string, value: (b: BusView) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['bus'],
        registers: [r],
        collect() {
          this.reset();
          for (const b of buses()) setCounter(this, { bus: b.name }, value(b));
        },
      });
    const perBusGauge = (name: string, help: string, value: (b: BusView) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['bus'],
        registers: [r],
        collect() {
          this.reset();
          for (const b of buses()) this.set({ bus: b.name }, value(b));
        },
      });
    new Counter({
      name: 'flowbus_bus_transactions_total',
      help: 'Transactions on the bus by outcome (ok, timeout, status, error-frame, node-backoff, ...)',
      labelNames: ['bus', 'outcome'],
      registers: [r],
      collect() {
        this.reset();
        for (const b of buses()) for (const [outcome, n] of Object.entries(b.transactions)) setCounter(this, { bus: b.name, outcome }, n);
      },
    });
    perBusCounter('flowbus_bus_retries_total', 'Requests sent again after a timeout or a garbled reply', (b) => b.retries);
    perBusCounter('flowbus_bus_late_replies_total', 'Replies that came after their request had timed out', (b) => b.lateReplies);
    perBusCounter('flowbus_bus_unsolicited_total', 'Frames no request was waiting for', (b) => b.unsolicited);
    perBusCounter('flowbus_bus_discards_total', 'Received byte runs the decoder discarded (noise, bad checksums)', (b) => b.discards);
    perBusCounter('flowbus_bus_reconnects_total', 'Times the transport was opened again after it went down', (b) => b.transport.reconnects);
    perBusGauge('flowbus_bus_wire_utilisation_ratio', 'Share of the line capacity used since start (bits sent and received / baud x seconds)', (b) => b.wireUtilisation);
    perBusGauge('flowbus_bus_queue_depth', 'Requests waiting for the bus', (b) => b.queue.waiting);
    perBusGauge('flowbus_bus_in_flight', 'Requests sent and waiting for their reply', (b) => b.queue.inFlight);
    perBusGauge('flowbus_bus_nodes_backed_off', 'Nodes the bus leaves alone for a while after repeated failures', (b) => b.nodesBackedOff.length);
    new Gauge({
      name: 'flowbus_bus_transport_state',
      help: 'The transport state of the bus: 1 for the current state, 0 for the others',
      labelNames: ['bus', 'state'],
      registers: [r],
      collect() {
        this.reset();
        for (const b of buses()) for (const state of TRANSPORT_STATES) this.set({ bus: b.name, state }, b.transport.state === state ? 1 : 0);
      },
    });
    this.replyLatency = new Histogram({
      name: 'flowbus_bus_reply_latency_seconds',
      help: 'Time from the end of a request to its reply',
      labelNames: ['bus'],
      buckets: REPLY_LATENCY_BUCKETS,
      registers: [r],
    });

    // ------------------------------------------------------------ instruments
    new Gauge({
      name: 'flowbus_instrument_online',
      help: 'Whether the instrument answers its polls (1) or not (0)',
      labelNames: ['bus', 'node', 'name', 'serial'],
      registers: [r],
      collect() {
        this.reset();
        for (const i of instruments()) this.set(instrumentLabels(i), i.online ? 1 : 0);
      },
    });
    new Gauge({
      name: 'flowbus_instrument_last_seen_age_seconds',
      help: 'Seconds since the instrument last answered (absent until it has)',
      labelNames: ['bus', 'node', 'name', 'serial'],
      registers: [r],
      collect() {
        this.reset();
        const now = Date.now();
        for (const i of instruments()) if (i.lastSeen) this.set(instrumentLabels(i), Math.max(0, (now - Date.parse(i.lastSeen)) / 1000));
      },
    });
    new Gauge({
      name: 'flowbus_instrument_value',
      help: 'Latest value of each polled numeric parameter (param: its key, unit: its unit, empty when none)',
      labelNames: ['bus', 'node', 'name', 'serial', 'param', 'unit'],
      registers: [r],
      collect() {
        this.reset();
        for (const i of instruments()) {
          const labels = instrumentLabels(i);
          for (const v of Object.values(i.values)) if (typeof v.value === 'number' && Number.isFinite(v.value)) this.set({ ...labels, param: v.key, unit: v.unit ?? '' }, v.value);
        }
      },
    });

    // ------------------------------------------------------------ store
    if (opts.store) {
      new Gauge({
        name: 'flowbus_store_state',
        help: 'The transaction log state: 1 for the current state, 0 for the others',
        labelNames: ['state'],
        registers: [r],
        collect() {
          this.reset();
          const s = store();
          if (s) for (const state of STORE_STATES) this.set({ state }, s.state === state ? 1 : 0);
        },
      });
      const storeGauge = (name: string, help: string, value: (s: StoreStatus) => number) =>
        new Gauge({
          name,
          help,
          registers: [r],
          collect() {
            const s = store();
            if (s) this.set(value(s));
          },
        });
      const storeCounter = (name: string, help: string, value: (s: StoreStatus) => number) =>
        new Counter({
          name,
          help,
          registers: [r],
          collect() {
            this.reset();
            const s = store();
            if (s) setCounter(this, {}, value(s));
          },
        });
      storeGauge('flowbus_store_rows_waiting', 'Transactions not yet in the database (in memory and in the spool)', (s) => s.rowsWaiting);
      storeGauge('flowbus_store_spooled_batches', 'Batches in the spool file waiting to be written', (s) => s.spooledBatches);
      storeCounter('flowbus_store_rows_written_total', 'Transactions committed to the database since start', (s) => s.written);
      storeCounter('flowbus_store_rows_spooled_total', 'Transactions that went through the spool since start', (s) => s.spooled);
    }

    // ------------------------------------------------------------ MQTT
    const mqtt = opts.mqtt;
    if (mqtt) {
      new Gauge({
        name: 'flowbus_mqtt_connected',
        help: 'Whether the MQTT link is connected to the broker (1) or not (0)',
        registers: [r],
        collect() {
          this.set(mqtt().state === 'connected' ? 1 : 0);
        },
      });
      new Gauge({
        name: 'flowbus_mqtt_queued_messages',
        help: 'Messages waiting for the broker (at most one per topic) or in flight',
        registers: [r],
        collect() {
          const s = mqtt();
          this.set(s.queued + s.inFlight);
        },
      });
      const mqttCounter = (name: string, help: string, value: (s: MqttStatusView) => number) =>
        new Counter({
          name,
          help,
          registers: [r],
          collect() {
            this.reset();
            setCounter(this, {}, value(mqtt()));
          },
        });
      mqttCounter('flowbus_mqtt_published_total', 'Messages the broker took', (s) => s.published);
      mqttCounter('flowbus_mqtt_dropped_total', 'Messages replaced by a newer one of their topic, or pushed out by the bound, before they went out', (s) => s.dropped);
      mqttCounter('flowbus_mqtt_reconnects_total', 'Connections to the broker made again after a loss', (s) => s.reconnects);
      new Counter({
        name: 'flowbus_mqtt_commands_total',
        help: 'Commands received on the set topics, by result',
        labelNames: ['result'],
        registers: [r],
        collect() {
          this.reset();
          const c = mqtt().commands;
          setCounter(this, { result: 'accepted' }, c.accepted);
          setCounter(this, { result: 'refused' }, c.refused);
        },
      });
    }

    // ------------------------------------------------------------ bridge mode
    if (opts.service.mode === 'bridge') {
      const perDirection = (name: string, help: string, value: (d: DirectionCounters) => number) =>
        new Counter({
          name,
          help,
          labelNames: ['bus', 'direction'],
          registers: [r],
          collect() {
            this.reset();
            for (const b of buses()) {
              if (!b.bridge) continue;
              for (const [d, direction] of Object.entries(DIRECTIONS) as [keyof typeof DIRECTIONS, string][]) setCounter(this, { bus: b.name, direction }, value(b.bridge.directions[d]));
            }
          },
        });
      perDirection('flowbus_bridge_bytes_total', 'Bytes read from the source side', (d) => d.bytes);
      perDirection('flowbus_bridge_forwarded_bytes_total', 'Bytes the destination side has taken', (d) => d.forwarded);
      perDirection('flowbus_bridge_frames_total', 'Frames decoded', (d) => d.frames);
      perDirection('flowbus_bridge_discards_total', 'Byte runs the decoder discarded', (d) => d.discards);
      new Counter({
        name: 'flowbus_bridge_dropped_bytes_total',
        help: 'Bytes not forwarded, by reason: no_peer (the other side was down), overflow (it did not keep up), write_failed',
        labelNames: ['bus', 'direction', 'reason'],
        registers: [r],
        collect() {
          this.reset();
          for (const b of buses()) {
            if (!b.bridge) continue;
            for (const [d, direction] of Object.entries(DIRECTIONS) as [keyof typeof DIRECTIONS, string][]) {
              const c = b.bridge.directions[d];
              setCounter(this, { bus: b.name, direction, reason: 'no_peer' }, c.droppedNoPeer);
              setCounter(this, { bus: b.name, direction, reason: 'overflow' }, c.droppedOverflow);
              setCounter(this, { bus: b.name, direction, reason: 'write_failed' }, c.droppedWriteFailed);
            }
          }
        },
      });
      new Gauge({
        name: 'flowbus_bridge_side_state',
        help: 'The transport state of each side of the bridge: 1 for the current state, 0 for the others',
        labelNames: ['bus', 'side', 'state'],
        registers: [r],
        collect() {
          this.reset();
          for (const b of buses()) {
            if (!b.bridge) continue;
            for (const [side, s] of Object.entries(b.bridge.sides)) for (const state of TRANSPORT_STATES) this.set({ bus: b.name, side, state }, s.state === state ? 1 : 0);
          }
        },
      });
      perBusGauge('flowbus_bridge_master_silent', 'Whether the master has stopped sending (1) or not (0)', (b) => (b.bridge?.masterSilent ? 1 : 0));
      r.registerMetric(
        new ViewedHistogram('flowbus_bridge_forward_latency_seconds', 'Time a byte spends in the gateway: read on one side until the other side has taken it', () =>
          buses().flatMap((b) => (b.bridge ? [{ labels: { bus: b.name }, view: b.bridge.forwardLatency }] : [])),
        ) as unknown as Metric,
      );
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Subscribes to the transactions (for the latency histogram). */
  start(): void {
    if (this.off) return;
    this.off = this.opts.service.events.on(
      'transaction',
      (t) => {
        if (t.latencyMs !== undefined) this.replyLatency.observe({ bus: t.bus }, t.latencyMs / 1000);
      },
      { name: 'metrics', maxQueued: 1000 },
    );
  }

  close(): void {
    this.off?.();
    this.off = undefined;
  }

  /** One scrape in the text exposition format. */
  async text(): Promise<string> {
    this.cached = undefined;
    try {
      return await this.registry.metrics();
    } finally {
      this.cached = undefined;
    }
  }

  /** The views, read once per scrape. */
  private views(): NonNullable<GatewayMetrics['cached']> {
    if (!this.cached) this.cached = { buses: this.opts.service.buses(), instruments: this.opts.service.instruments(), store: this.opts.store?.status() };
    return this.cached;
  }
}
