/**
 * The live event stream, `GET /api/v1/events` (Server-Sent Events): the gateway's events as they
 * happen, for a dashboard. One hub subscription per streamed type serves every client: each event
 * gets its id and a place in a ring of recent events; it is serialized once, when a stream first
 * takes it (live or resuming; with no client never), and those same bytes are written to each
 * stream whose filters it passes. Payloads are not changed after they are emitted (the hub's
 * rule), so a frame made later says what the event said. A client that reconnects with `Last-Event-ID` gets what it
 * missed from the ring. A client that does not read is cut off once the bytes the socket has not
 * taken pass a bound, so the gateway's memory does not grow with it.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { parseInstrumentRef, type GatewayEventMap, type GatewayEvents, type InstrumentRef } from '../gateway/index.js';
import { clip, dropped, silentLogger, type Logger } from '../shared/index.js';
import { ApiError } from './errors.js';
import { EventsHeaders, EventsQuery, errorResponses } from './schemas.js';

/** The event types the stream carries. `transaction` is not one: too many, GET /transactions has them. */
export const STREAMED_TYPES = ['values', 'instrument', 'bus', 'store', 'bridge', 'write', 'program', 'alarm', 'counter'] as const;
export type StreamedType = (typeof STREAMED_TYPES)[number];

export interface EventStreamOptions {
  /** Recent events kept for clients that resume with Last-Event-ID. */
  readonly ringSize?: number;
  /** Bytes written to one stream but not yet taken by its socket beyond which the stream is ended. */
  readonly maxBacklogBytes?: number;
  /** Time between two `: keep-alive` comments, ms. */
  readonly keepAliveMs?: number;
  /** Open streams beyond which a new one is 503 API_TOO_MANY_STREAMS. */
  readonly maxStreams?: number;
}

export const EVENT_STREAM_DEFAULTS = {
  ringSize: 1000,
  maxBacklogBytes: 256 * 1024,
  keepAliveMs: 15_000,
  maxStreams: 100,
} as const satisfies Required<EventStreamOptions>;

/** How long an ended stream whose socket does not take the end is given before the socket is destroyed, ms. */
const GRACE_MS = 1_000;

/** Server-side counters, for tests and diagnosis. */
export interface EventStreamStats {
  readonly open: number;
  readonly opened: number;
  /** Refused with 503 API_TOO_MANY_STREAMS. */
  readonly refused: number;
  /** Ended because the client did not read. */
  readonly closedForBacklog: number;
  /** The first id of this run, and the last id given (firstId - 1 before any event). */
  readonly firstId: number;
  readonly lastId: number;
  /** Events held in the ring. */
  readonly held: number;
  /** The most bytes any stream had written but not taken by its socket, after a write. */
  readonly maxBuffered: number;
  readonly streams: readonly { readonly lastId: number; readonly buffered: number; readonly maxBuffered: number }[];
}

interface Entry {
  readonly id: number;
  readonly type: StreamedType;
  /** The instrument the event is about; absent for events about no instrument. */
  readonly target?: InstrumentRef;
  /** Set when the event names an instrument the filter cannot match (a refused write's raw reference). */
  readonly unmatched?: true;
  /** The event as the hub gave it, until it is serialized. */
  payload: unknown;
  /**
   * Its frame, UTF-8 encoded: made when a stream first needs it (written live or resumed), then
   * kept. Kept as bytes rather than as the string JSON.stringify built, which V8 holds as a tree
   * of about 35 pieces: a ring of 1,000 values events held about 1 MB more of the heap that way,
   * and every stream encoded the string again.
   */
  bytes: Buffer | undefined;
}

/** An entry's frame, serialized once, when first needed; the payload is let go then. */
function bytesOf(e: Entry): Buffer {
  if (e.bytes === undefined) {
    e.bytes = Buffer.from(frame(e.id, e.type, serialize(e.payload)));
    e.payload = undefined;
  }
  return e.bytes;
}

interface Filter {
  readonly types: ReadonlySet<StreamedType>;
  readonly instruments: readonly InstrumentRef[] | undefined;
}

interface Stream {
  readonly res: ServerResponse;
  readonly filter: Filter;
  /** The id of the last event written to it (or where it resumed from). */
  lastId: number;
  maxBuffered: number;
}

/** Process start, in µs since the epoch: ids go on growing across restarts. */
function processStartMicros(): number {
  return Math.floor(performance.timeOrigin * 1000);
}

/** JSON on one line; bytes as hex and bigints as text (a write event's value may hold either). */
function serialize(payload: unknown): string {
  return JSON.stringify(payload, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

function frame(id: number | undefined, type: string, data: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${data}\n\n`;
}

/** What an event is about, for the instrument filter. */
function targetOf(type: StreamedType, payload: unknown): Pick<Entry, 'target' | 'unmatched'> {
  if (type !== 'values' && type !== 'instrument' && type !== 'write' && type !== 'alarm' && type !== 'counter') return {};
  const p = payload as { instrument?: unknown; bus?: unknown; node?: unknown };
  // The id (`bus:node`, `bus:node/channel`) says the channel; a write event has only the id, and a
  // refused one may carry the reference as asked.
  const m = typeof p.instrument === 'string' ? /^([A-Za-z0-9_-]{1,64}):(\d{1,3})(?:\/(\d{1,3}))?$/.exec(p.instrument) : null;
  if (m?.[1] && m[2]) return { target: { bus: m[1], node: Number(m[2]), ...(m[3] && Number(m[3]) > 1 ? { channel: Number(m[3]) } : {}) } };
  if (typeof p.bus === 'string' && typeof p.node === 'number') return { target: { bus: p.bus, node: p.node } };
  return { unmatched: true };
}

function passes(filter: Filter, e: Entry): boolean {
  if (!filter.types.has(e.type)) return false;
  if (!filter.instruments) return true;
  // Bus, store and bridge events are about no instrument: they pass, a dashboard of one instrument needs them.
  if (e.unmatched) return false;
  const t = e.target;
  if (!t) return true;
  return filter.instruments.some((r) => r.node === t.node && (r.channel ?? 1) === (t.channel ?? 1) && (r.bus === undefined || r.bus === t.bus));
}

/** The `types` and `instrument` query parameters as a filter; 400 for what is not streamed. */
export function parseFilter(types: string | undefined, instrument: string | undefined): Filter {
  const names = (types ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const allowed: readonly string[] = STREAMED_TYPES;
  for (const n of names) {
    if (n === 'transaction' || n === 'transactions') {
      throw new ApiError('API_BAD_REQUEST', 'transactions are not streamed (too many): read them with GET /api/v1/transactions', { type: n, allowed: [...STREAMED_TYPES] });
    }
    if (!allowed.includes(n)) {
      throw new ApiError('API_BAD_REQUEST', `unknown event type ${JSON.stringify(clip(n, 40))}; allowed: ${STREAMED_TYPES.join(', ')}`, { type: clip(n, 40), allowed: [...STREAMED_TYPES] });
    }
  }
  const refs = (instrument ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => parseInstrumentRef(s));
  return {
    types: new Set(names.length > 0 ? (names as StreamedType[]) : STREAMED_TYPES),
    instruments: refs.length > 0 ? refs : undefined,
  };
}

/** The streams of one app: the hub subscriptions, the ring, the open streams. */
export class EventStreams {
  readonly firstId = processStartMicros();
  private nextId = this.firstId;
  private readonly ring: (Entry | undefined)[];
  /** Index in `ring` of the oldest entry, and how many entries it holds. */
  private head = 0;
  private held = 0;
  private readonly streams = new Set<Stream>();
  private readonly offs: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly opts: Required<EventStreamOptions>;
  private closed = false;
  private counts = { opened: 0, refused: 0, closedForBacklog: 0, maxBuffered: 0 };

  constructor(
    private readonly events: GatewayEvents,
    options: EventStreamOptions = {},
    private readonly log: Logger = silentLogger,
  ) {
    this.opts = { ...EVENT_STREAM_DEFAULTS, ...options };
    this.ring = new Array<Entry | undefined>(this.opts.ringSize);
  }

  /** Subscribes to the hub (once per type, for every client) and starts the keep-alive timer. */
  start(): void {
    const maxQueued = Math.max(10_000, this.opts.ringSize);
    for (const type of STREAMED_TYPES) {
      this.offs.push(this.events.on(type, (payload: GatewayEventMap[typeof type]) => this.publish(type, payload), { name: `sse-${type}`, maxQueued }));
    }
    this.timer = setInterval(() => {
      for (const s of this.streams) this.write(s, ': keep-alive\n\n');
    }, this.opts.keepAliveMs);
    this.timer.unref();
  }

  /** Unsubscribes and ends every stream without waiting on any. */
  close(): void {
    this.closed = true;
    for (const off of this.offs.splice(0)) off();
    clearInterval(this.timer);
    for (const s of [...this.streams]) {
      this.streams.delete(s);
      const stuck = s.res.writableLength > 0;
      s.res.end();
      // A socket that has not taken what it was given will not take the end either.
      if (stuck) s.res.destroy();
      else this.destroyLater(s.res);
    }
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  stats(): EventStreamStats {
    return {
      open: this.streams.size,
      opened: this.counts.opened,
      refused: this.counts.refused,
      closedForBacklog: this.counts.closedForBacklog,
      firstId: this.firstId,
      lastId: this.lastId,
      held: this.held,
      maxBuffered: this.counts.maxBuffered,
      streams: [...this.streams].map((s) => ({ lastId: s.lastId, buffered: s.res.writableLength, maxBuffered: s.maxBuffered })),
    };
  }

  /** Throws 503 API_TOO_MANY_STREAMS when no stream can be opened now. */
  admit(): void {
    if (this.closed) throw new ApiError('API_TOO_MANY_STREAMS', 'the gateway is shutting down', { maxStreams: this.opts.maxStreams });
    if (this.streams.size >= this.opts.maxStreams) {
      this.counts.refused++;
      throw new ApiError('API_TOO_MANY_STREAMS', `too many open event streams (at most ${this.opts.maxStreams}); close one or try again later`, { maxStreams: this.opts.maxStreams });
    }
  }

  /** Starts a stream on a response nothing has been written to yet; resumes after `lastEventId` when given. */
  open(res: ServerResponse, filter: Filter, lastEventId: number | undefined): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      // The connection is the stream's: when the stream ends, so does the connection.
      connection: 'close',
    });
    const stream: Stream = { res, filter, lastId: this.lastId, maxBuffered: 0 };
    this.counts.opened++;
    const retry = 'retry: 2000\n\n';
    const text = lastEventId === undefined ? retry : Buffer.concat([Buffer.from(retry), ...this.resume(stream, lastEventId)]);
    this.streams.add(stream);
    res.on('close', () => this.streams.delete(stream));
    // A socket reset by the client: the stream closes with it.
    res.on('error', dropped(this.log, 'an event stream whose connection failed'));
    this.write(stream, text);
  }

  /** What a stream resuming after `lastId` is sent first: the events it missed that it wants, or a `missed` event. */
  private resume(stream: Stream, lastId: number): Buffer[] {
    const oldest = this.nextId - this.held;
    let from = lastId + 1;
    let text = '';
    const kept: Buffer[] = [];
    if (lastId > this.lastId || lastId < this.firstId - 1) {
      // An id of another run: everything this run has still kept follows.
      text = frame(oldest - 1, 'missed', serialize({ reason: 'restarted', lastEventId: lastId, firstId: this.firstId }));
      from = oldest;
    } else if (from < oldest) {
      text = frame(oldest - 1, 'missed', serialize({ reason: 'expired', lastEventId: lastId, oldestId: oldest, lost: oldest - from }));
      from = oldest;
    }
    for (let id = from; id < this.nextId; id++) {
      const e = this.ring[(this.head + (id - oldest)) % this.ring.length];
      if (e && passes(stream.filter, e)) kept.push(bytesOf(e));
    }
    stream.lastId = this.lastId;
    return text === '' ? kept : [Buffer.from(text), ...kept];
  }

  private publish(type: StreamedType, payload: unknown): void {
    if (this.closed) return;
    const id = this.nextId++;
    // Serialized only when a stream takes it (now, or when one resumes): with no client, an event
    // costs the ring a slot, not a JSON.stringify (issue 14, part 5: about 30 µs per values event).
    const e: Entry = { id, type, ...targetOf(type, payload), payload, bytes: undefined };
    const size = this.ring.length;
    if (size > 0) {
      if (this.held < size) {
        this.ring[(this.head + this.held) % size] = e;
        this.held++;
      } else {
        this.ring[this.head] = e;
        this.head = (this.head + 1) % size;
      }
    }
    for (const s of this.streams) {
      if (!passes(s.filter, e)) continue;
      s.lastId = id;
      this.write(s, bytesOf(e));
    }
  }

  private write(s: Stream, text: string | Buffer): void {
    s.res.write(text);
    const buffered = s.res.writableLength;
    if (buffered > s.maxBuffered) s.maxBuffered = buffered;
    if (buffered > this.counts.maxBuffered) this.counts.maxBuffered = buffered;
    if (buffered > this.opts.maxBacklogBytes) this.cutOff(s, buffered);
  }

  /** A client that does not read: one `missed` event (small, written over the bound), then the end. */
  private cutOff(s: Stream, buffered: number): void {
    this.streams.delete(s);
    this.counts.closedForBacklog++;
    this.log.debug({ lastId: s.lastId, buffered, maxBacklogBytes: this.opts.maxBacklogBytes }, 'an event stream does not keep up: ended; it resumes with Last-Event-ID');
    s.res.end(frame(undefined, 'missed', serialize({ reason: 'backlog', lastId: s.lastId })));
    this.destroyLater(s.res);
  }

  private destroyLater(res: ServerResponse): void {
    const t = setTimeout(() => res.destroy(), GRACE_MS);
    t.unref();
    res.on('close', () => clearTimeout(t));
  }
}

/** The streams of each app built by buildApp, for `eventStreamStats`. */
const byApp = new WeakMap<FastifyInstance, EventStreams>();

export function attachEventStreams(app: FastifyInstance, streams: EventStreams): void {
  byApp.set(app, streams);
}

/** The counters of an app's event streams (tests; not served over HTTP). */
export function eventStreamStats(app: FastifyInstance): EventStreamStats | undefined {
  return byApp.get(app)?.stats();
}

const DESCRIPTION = [
  'Server-Sent Events: `text/event-stream`, first `retry: 2000`, then each event as `id: <n>`, `event: <type>`, `data: <JSON on one line>`. Types: values (new values of an instrument, with their source), instrument (found, online, offline, identity changed), bus (transport state, node backoff), store (transaction log state), bridge (bridge-mode link events), write (a write accepted or refused), program (a setpoint program started, changed step, paused, resumed, ended), alarm (the alarms of an instrument changed: before, after, raised, cleared), counter (`batch-end`: the batch limit reached). Transactions are not streamed: GET /api/v1/transactions.',
  '`types=values,bus` keeps those types (400 for `transaction` or an unknown type). `instrument=main:3,5` keeps events about those instruments (`main:3/2`: channel 2 of a multi-channel instrument; `main:3` is channel 1); bus, store, bridge and program events, about no single instrument, pass it.',
  'Ids are integers that grow, also across restarts. `Last-Event-ID` (or `lastEventId` for clients that cannot set headers) resumes: the recent events after that id that pass the filters. When they are no longer kept, the first event is `missed` with `{"reason":"expired"}`; for an id of an earlier run, `{"reason":"restarted"}`; both carry the id they resume from, and the kept events follow.',
  'A client that does not read is sent `missed` with `{"reason":"backlog","lastId"}` and the stream is ended: reconnect with Last-Event-ID. A `: keep-alive` comment comes every 15 s, and at most 100 streams are open (503 API_TOO_MANY_STREAMS beyond), by default. Events keep their order within a type; events of different types emitted together may arrive in another order (their ids say the order they were streamed in).',
].join('\n\n');

export interface EventRouteOptions {
  readonly streams: EventStreams;
}

export const eventRoutes: FastifyPluginAsyncTypebox<EventRouteOptions> = async (app, { streams }) => {
  app.get(
    '/events',
    {
      schema: {
        operationId: 'streamEvents',
        tags: ['bus'],
        summary: 'Live events (Server-Sent Events): values, instrument, bus, store, bridge, write, alarm, counter',
        description: DESCRIPTION,
        querystring: EventsQuery,
        headers: EventsHeaders,
        response: {
          200: { description: 'the event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          ...errorResponses(400, 503),
        },
      },
    },
    async (request, reply) => {
      const filter = parseFilter(request.query.types, request.query.instrument);
      // The header (what EventSource sends on reconnecting) wins over the query of the first URL.
      const header = request.headers['last-event-id'];
      const last = typeof header === 'string' ? header : request.query.lastEventId;
      streams.admit();
      reply.hijack();
      // A stream lasts; no socket timeout may end it.
      request.raw.socket.setTimeout(0);
      streams.open(reply.raw, filter, last === undefined ? undefined : Number(last));
      return reply;
    },
  );
};
