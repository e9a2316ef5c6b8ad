/**
 * What the dashboard knows of the gateway right now: the instruments (from GET /instruments,
 * then kept current by the event stream), the bus and store status, and the last minutes of
 * measure, setpoint and valve output per instrument for the sparklines and the live chart.
 *
 * One EventSource per page (`/api/v1/events`), which the browser reconnects by itself with
 * Last-Event-ID. A `missed` event (the gateway restarted, or this tab fell too far behind)
 * makes it fetch everything again. /bus is also fetched every few seconds: its counters
 * (wire utilisation, transactions) change with every poll and are not sent as events.
 * While the stream is down and a fetch fails, the gateway counts as unreachable: /bus is not
 * polled (the EventSource's own reconnects are the probe), and everything shown is stale until
 * the stream opens again and a reload succeeds.
 */
import { ApiError, get, withQuery, type BusStatus, type Identity, type Instrument, type ProgramView, type ValueView } from './api';

/** How much of the past the sparklines and the live chart keep in memory. */
export const KEEP_MS = 15 * 60_000;
const BUS_REFRESH_MS = 3000;
/** How far back the sparklines are filled from the history API at load. */
const BACKFILL_MS = 5 * 60_000;
/** History requests in flight at once while filling. */
const BACKFILL_CONCURRENCY = 3;
/** The window of the error rate. */
const ERROR_WINDOW_MS = 60_000;
/** Outcomes counted as errors in the strip. */
export const ERROR_OUTCOMES = ['timeout', 'status', 'error-frame', 'bus-unavailable', 'queue-deadline'];

export function errorTotal(transactions: Readonly<Record<string, number>> | undefined): number {
  let n = 0;
  for (const k of ERROR_OUTCOMES) n += transactions?.[k] ?? 0;
  return n;
}

export interface Samples {
  /** Seconds since the epoch (uPlot's time scale). */
  readonly t: number[];
  readonly measure: (number | null)[];
  readonly setpoint: (number | null)[];
  /** Percent of full drive. */
  readonly valve: (number | null)[];
}

export interface LinkEvent {
  readonly time: string;
  readonly side: string;
  readonly kind: string;
  readonly reason: string;
  readonly [more: string]: unknown;
}

export interface ValuesEvent {
  readonly instrument: string;
  readonly bus: string;
  readonly node: number;
  readonly source: string;
  readonly values: readonly ValueView[];
}

export interface InstrumentEvent {
  readonly instrument: string;
  readonly kind: string;
  readonly online: boolean;
  readonly identity: Identity;
}

export interface WriteEvent {
  readonly instrument: string;
  readonly param: string;
  readonly value: unknown;
  readonly source: string;
  readonly result: 'accepted' | 'refused';
  readonly code?: string;
  readonly message?: string;
  readonly readBack?: unknown;
}

export interface AlarmEvent {
  readonly instrument: string;
  readonly after: readonly string[];
  readonly value: number;
  readonly time: string;
}

export interface CounterEvent {
  readonly instrument: string;
  readonly kind: string;
  readonly value?: number;
  readonly time: string;
}

/** How long a card says "batch ended" after a `counter` event. */
export const BATCH_NOTICE_MS = 5 * 60_000;

export type StreamState = 'connecting' | 'live' | 'reconnecting';

/** Measure and setpoint in the capacity unit, and valve output as percent, from one instrument's values. */
export function readings(values: Readonly<Record<string, ValueView>>, identity: Identity): { measure: number | null; setpoint: number | null; valve: number | null } {
  const num = (k: string): number | null => {
    const v = values[k]?.value;
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  const cap = identity.capacity;
  // fMeasure is in the capacity unit; without it, measure on its 0..32000 scale times capacity.
  const fromRaw = (k: string): number | null => {
    const r = num(k);
    return r === null || !cap ? null : (r / 32000) * cap;
  };
  const valve = num('valveOutput');
  return {
    measure: num('fMeasure') ?? fromRaw('measure'),
    setpoint: num('fSetpoint') ?? fromRaw('setpoint'),
    valve: valve === null ? null : (valve / 16777215) * 100,
  };
}

/**
 * Whether this gateway's writes are closed because another master owns the bus: bridge mode
 * without injection (`bridge.inject`). With injection the gateway writes in the master's gaps.
 */
export function bridgeReadOnly(bus: BusStatus | null): boolean {
  if (bus?.mode !== 'bridge') return false;
  return !bus.buses.some((b) => (b as { bridge?: { inject?: unknown } }).bridge?.inject !== undefined);
}

export function percentOf(value: number | null, capacity: number | undefined): number | null {
  return value === null || !capacity ? null : (value / capacity) * 100;
}

/**
 * Events that come while a list of the same things is on its way (GET /instruments, GET
 * /programs) are at least as new as the list: its answer may have been made before they came,
 * and must not undo them (an instrument that went offline meanwhile would show online, a program
 * started meanwhile none, until their next event). Each fetch in flight keeps the last event per
 * id that came, for the caller to apply over the answer in the same turn (no event comes between).
 */
class NewerThanList<E> {
  private readonly inFlight = new Set<Map<string, E>>();

  /** An event that came: kept for every list still on its way. */
  seen(id: string, e: E): void {
    for (const newer of this.inFlight) newer.set(id, e);
  }

  /** `list()`'s answer and the events that came while it was on its way, to be applied after it. */
  async fetch<T>(list: () => Promise<T>): Promise<[T, ReadonlyMap<string, E>]> {
    const newer = new Map<string, E>();
    this.inFlight.add(newer);
    try {
      return [await list(), newer];
    } finally {
      this.inFlight.delete(newer);
    }
  }
}

/** An instrument as an `instrument` event says it is now. */
function withEvent(i: Instrument, e: InstrumentEvent): Instrument {
  return { ...i, online: e.online, identity: e.identity };
}

export class Live {
  readonly instruments = new Map<string, Instrument>();
  readonly samples = new Map<string, Samples>();
  bus: BusStatus | null = null;
  stream: StreamState = 'connecting';
  /** Bridge mode: the link events seen (newest last), bounded. */
  readonly linkEvents: LinkEvent[] = [];
  /** The last write results seen on the stream, newest last, bounded. */
  readonly writes: WriteEvent[] = [];
  loadError: string | null = null;
  /** Setpoint programs by id: from GET /programs, then the `program` events. */
  readonly programs = new Map<string, ProgramView>();
  /** The `program` events of each GET /programs in flight, which its answer must not undo. */
  private readonly programEvents = new NewerThanList<ProgramView>();
  /** The `instrument` events of each GET /instruments in flight, likewise. */
  private readonly instrumentEvents = new NewerThanList<InstrumentEvent>();
  /** Per instrument: the last batch end seen (a `counter` event), while it is recent. */
  readonly batchEnds = new Map<string, CounterEvent>();
  /** The stream is down and the last fetch failed: what is shown is stale. */
  unreachable = false;
  /** Per bus: (time, error total) at each /bus answer of the last minute, oldest first. */
  private readonly errorSamples = new Map<string, { at: number; total: number }[]>();
  /** Instruments whose sparklines were filled (or asked to be) from the history API. */
  private readonly backfilled = new Set<string>();
  /** Bumped on every change, so that views can tell. */
  version = 0;

  private readonly listeners = new Set<() => void>();
  private source: EventSource | null = null;
  private busTimer: ReturnType<typeof setInterval> | undefined;
  private notifyQueued = false;

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Coalesces the changes of one turn into one render. */
  private changed(): void {
    this.version++;
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    queueMicrotask(() => {
      this.notifyQueued = false;
      for (const l of this.listeners) l();
    });
  }

  start(): void {
    void this.reload();
    this.openStream();
    // While the gateway is unreachable the stream's reconnects are the probe: no /bus polls.
    this.busTimer = setInterval(() => {
      if (!this.unreachable) void this.refreshBus();
    }, BUS_REFRESH_MS);
  }

  stop(): void {
    this.source?.close();
    this.source = null;
    if (this.busTimer) clearInterval(this.busTimer);
  }

  private reloading: Promise<void> | null = null;
  private reloadAgain = false;

  /**
   * Fetches the instruments and the bus anew. One fetch at a time: asked again while one runs
   * (values of an instrument not listed yet arrive before the list), it runs once more after it,
   * not once per event, so that 50 tabs reconnecting at once cost 50 fetches, not thousands.
   */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.fetchAll().finally(() => {
      this.reloading = null;
      if (this.reloadAgain) {
        this.reloadAgain = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async fetchAll(): Promise<void> {
    try {
      const [[list], newer] = await this.instrumentEvents.fetch(() => Promise.all([get<{ instruments: Instrument[] }>('/instruments'), this.refreshBus()]));
      this.instruments.clear();
      for (const listed of list.instruments) {
        const e = newer.get(listed.id);
        const i = e ? withEvent(listed, e) : listed;
        this.instruments.set(i.id, i);
        this.sample(i.id, i.values, i.identity);
      }
      this.loadError = null;
      void this.backfill();
      void this.refreshPrograms();
    } catch (err) {
      this.failed(err);
    }
    this.changed();
  }

  async refreshPrograms(): Promise<void> {
    // A program started just after the page asked would be dropped until its next event, minutes
    // later for a long step: the `program` events that came meanwhile win (NewerThanList).
    try {
      const [{ programs }, newer] = await this.programEvents.fetch(() => get<{ programs: ProgramView[] }>('/programs'));
      this.programs.clear();
      for (const p of programs) this.programs.set(p.id, p);
      for (const [id, p] of newer) this.programs.set(id, p);
      this.changed();
    } catch {
      // An older gateway or a failed fetch: the panel shows none until a `program` event.
    }
  }

  async refreshBus(): Promise<void> {
    try {
      const bus = await get<BusStatus>('/bus');
      this.bus = bus;
      this.countErrors(bus);
      this.reached();
    } catch (err) {
      this.failed(err);
    }
    this.changed();
  }

  /** A fetch answered. An API error is an answer too: the gateway is there. */
  private reached(): void {
    if (this.stream === 'live') this.unreachable = false;
  }

  private failed(err: unknown): void {
    this.loadError = err instanceof Error ? err.message : String(err);
    if (!(err instanceof ApiError) && this.stream !== 'live') this.unreachable = true;
  }

  /** Errors of `bus` in the last minute, from the deltas of its counters; null before two answers. */
  errorsPerMinute(bus: string): number | null {
    const s = this.errorSamples.get(bus);
    if (!s || s.length < 2) return null;
    const first = s[0]!;
    const last = s[s.length - 1]!;
    return Math.max(0, last.total - first.total);
  }

  private countErrors(status: BusStatus): void {
    const now = Date.now();
    for (const b of status.buses) {
      let s = this.errorSamples.get(b.name);
      if (!s) {
        s = [];
        this.errorSamples.set(b.name, s);
      }
      const total = errorTotal(b.transactions);
      // A restarted gateway counts from 0 again: start over.
      if (s.length > 0 && total < s[s.length - 1]!.total) s.length = 0;
      s.push({ at: now, total });
      // Keep one sample at or before the window's start, so that the delta spans the whole minute.
      while (s.length > 2 && s[1]!.at <= now - ERROR_WINDOW_MS) s.shift();
    }
  }

  /**
   * Fills the sparklines of instruments not filled yet with the last minutes from the history
   * API (5 s buckets of fMeasure and fSetpoint): once per instrument and page, a few at a time.
   * Without a store (none in /bus, or 503) or on any error they just start empty.
   */
  private async backfill(): Promise<void> {
    // No store, no history: not asked (each 503 would be a console error).
    if (this.bus && !this.bus.store) return;
    // The log keeps history for channel 1 only (`main:5`, not `main:5/2`): a channel is not asked.
    const todo = [...this.instruments.values()].filter((i) => !this.backfilled.has(i.id) && !i.id.includes('/'));
    for (const i of todo) this.backfilled.add(i.id);
    const since = new Date(Date.now() - BACKFILL_MS).toISOString();
    const one = async (i: Instrument) => {
      const history = (param: string) =>
        get<{ points: { time: string; mean?: number }[] }>(withQuery(`/instruments/${encodeURIComponent(i.id)}/parameters/${param}/history`, { since, bucket: '5s' })).then(
          (h) => h.points,
          // 503: no store; 404 and the rest: nothing to fill with. The live samples still come.
          () => [] as { time: string; mean?: number }[],
        );
      const [m, sp] = await Promise.all([history('fMeasure'), history('fSetpoint')]);
      this.prepend(i.id, m, sp);
    };
    let next = 0;
    const worker = async () => {
      while (next < todo.length) await one(todo[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(BACKFILL_CONCURRENCY, todo.length) }, worker));
    if (todo.length > 0) this.changed();
  }

  /** Puts history points (5 s buckets) before the samples this tab has seen. */
  private prepend(id: string, measure: readonly { time: string; mean?: number }[], setpoint: readonly { time: string; mean?: number }[]): void {
    const byT = new Map<number, { m: number | null; s: number | null }>();
    for (const p of measure) if (typeof p.mean === 'number') byT.set(Date.parse(p.time) / 1000, { m: p.mean, s: null });
    for (const p of setpoint) {
      if (typeof p.mean !== 'number') continue;
      const t = Date.parse(p.time) / 1000;
      byT.set(t, { m: byT.get(t)?.m ?? null, s: p.mean });
    }
    let s = this.samples.get(id);
    if (!s) {
      s = { t: [], measure: [], setpoint: [], valve: [] };
      this.samples.set(id, s);
    }
    const firstSeen = s.t[0] ?? Infinity;
    const older = [...byT.entries()].filter(([t]) => Number.isFinite(t) && t < firstSeen).sort((a, b) => a[0] - b[0]);
    if (older.length === 0) return;
    s.t.unshift(...older.map(([t]) => t));
    s.measure.unshift(...older.map(([, v]) => v.m));
    s.setpoint.unshift(...older.map(([, v]) => v.s));
    s.valve.unshift(...older.map(() => null));
  }

  private openStream(): void {
    const es = new EventSource('/api/v1/events?types=values,instrument,bus,store,bridge,write,program,alarm,counter');
    this.source = es;
    es.onopen = () => {
      const wasDown = this.unreachable;
      this.stream = 'live';
      // Back after an outage: what is shown is stale, fetch it all again.
      if (wasDown) void this.reload();
      this.changed();
    };
    es.onerror = () => {
      const wasLive = this.stream === 'live';
      this.stream = 'reconnecting';
      // One probe: if it fails too, the gateway is unreachable (and polls stop).
      if (wasLive) void this.refreshBus();
      // A stream refused outright (not a dropped connection) is not retried by the browser.
      if (es.readyState === EventSource.CLOSED) {
        this.source = null;
        setTimeout(() => {
          if (this.source === null) this.openStream();
        }, 5000);
      }
      this.changed();
    };
    es.addEventListener('values', (m) => this.onValues(JSON.parse((m as MessageEvent<string>).data) as ValuesEvent));
    es.addEventListener('instrument', (m) => this.onInstrument(JSON.parse((m as MessageEvent<string>).data) as InstrumentEvent));
    es.addEventListener('bus', () => void this.refreshBus());
    es.addEventListener('store', (m) => {
      const s = JSON.parse((m as MessageEvent<string>).data) as { state: string; rowsWaiting: number };
      if (this.bus?.store) this.bus = { ...this.bus, store: { ...this.bus.store, state: s.state, rowsWaiting: s.rowsWaiting } };
      this.changed();
    });
    es.addEventListener('bridge', (m) => {
      this.linkEvents.push(JSON.parse((m as MessageEvent<string>).data) as LinkEvent);
      if (this.linkEvents.length > 200) this.linkEvents.splice(0, this.linkEvents.length - 200);
      void this.refreshBus();
    });
    es.addEventListener('write', (m) => {
      this.writes.push(JSON.parse((m as MessageEvent<string>).data) as WriteEvent);
      if (this.writes.length > 50) this.writes.splice(0, this.writes.length - 50);
      this.changed();
    });
    es.addEventListener('program', (m) => {
      const p = JSON.parse((m as MessageEvent<string>).data) as ProgramView;
      this.programs.set(p.id, p);
      this.programEvents.seen(p.id, p);
      this.changed();
    });
    es.addEventListener('alarm', (m) => this.onAlarm(JSON.parse((m as MessageEvent<string>).data) as AlarmEvent));
    es.addEventListener('counter', (m) => this.onCounter(JSON.parse((m as MessageEvent<string>).data) as CounterEvent));
    // The gateway restarted or this tab fell behind: what it holds may be stale.
    es.addEventListener('missed', () => void this.reload());
  }

  /** Handlers that want each values event as it arrives (the latency benchmark, the live chart). */
  readonly valueListeners = new Set<(e: ValuesEvent) => void>();

  private onValues(e: ValuesEvent): void {
    const known = this.instruments.get(e.instrument);
    if (!known) {
      // The list being fetched will hold it; otherwise the instrument is new to this tab.
      if (!this.reloading) void this.reload();
      return;
    }
    const values = { ...known.values };
    for (const v of e.values) values[v.key] = v;
    this.instruments.set(e.instrument, { ...known, values, online: true, lastSeen: e.values[0]?.time ?? known.lastSeen ?? null });
    this.sample(e.instrument, values, known.identity);
    for (const l of this.valueListeners) l(e);
    this.changed();
  }

  private onAlarm(e: AlarmEvent): void {
    const known = this.instruments.get(e.instrument);
    if (!known) return;
    const was = known.values.alarmInfo;
    const alarmInfo: ValueView = { ...(was ?? { dde: 28, key: 'alarmInfo', name: 'Alarm info' }), value: e.value, alarms: e.after, time: e.time };
    // The label of the old value would be wrong now; the names say it.
    delete (alarmInfo as { label?: string }).label;
    this.instruments.set(e.instrument, { ...known, values: { ...known.values, alarmInfo } });
    this.changed();
  }

  private onCounter(e: CounterEvent): void {
    if (e.kind !== 'batch-end') return;
    this.batchEnds.set(e.instrument, e);
    setTimeout(() => {
      if (this.batchEnds.get(e.instrument) === e) {
        this.batchEnds.delete(e.instrument);
        this.changed();
      }
    }, BATCH_NOTICE_MS);
    this.changed();
  }

  private onInstrument(e: InstrumentEvent): void {
    // Kept for a list on its way even when not known yet: the list may hold it, as it was before.
    this.instrumentEvents.seen(e.instrument, e);
    const known = this.instruments.get(e.instrument);
    if (!known || e.kind === 'found') {
      void this.reload();
      return;
    }
    this.instruments.set(e.instrument, withEvent(known, e));
    this.changed();
  }

  private sample(id: string, values: Readonly<Record<string, ValueView>>, identity: Identity): void {
    const r = readings(values, identity);
    if (r.measure === null && r.setpoint === null && r.valve === null) return;
    const time = Date.parse(values.fMeasure?.time ?? values.measure?.time ?? '') || Date.now();
    let s = this.samples.get(id);
    if (!s) {
      s = { t: [], measure: [], setpoint: [], valve: [] };
      this.samples.set(id, s);
    }
    const t = time / 1000;
    // The same reading again (a snapshot after an event) is not a new point.
    if (s.t.length > 0 && t <= (s.t[s.t.length - 1] ?? 0)) return;
    s.t.push(t);
    s.measure.push(r.measure);
    s.setpoint.push(r.setpoint);
    s.valve.push(r.valve);
    const cut = t - KEEP_MS / 1000;
    let drop = 0;
    while (drop < s.t.length && (s.t[drop] ?? 0) < cut) drop++;
    if (drop > 0) {
      s.t.splice(0, drop);
      s.measure.splice(0, drop);
      s.setpoint.splice(0, drop);
      s.valve.splice(0, drop);
    }
  }
}

/** The page's one live model. */
export const live = new Live();
