/** GET /api/v1/events: the live event stream (SSE), on a real port; and 50 streams on a simulated master gateway. */
import { mkdtempSync, rmSync } from 'node:fs';
import { get, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type EventStreamOptions } from '../../src/api/index.js';
import { eventStreamStats, type EventStreamStats } from '../../src/api/events.js';
import { configFrom } from '../../src/config/index.js';
import type { GatewayEventMap, ValuesEvent } from '../../src/gateway/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { silentLogger } from '../../src/shared/index.js';
import { waitUntil } from '../helpers/wait.js';
import { FakeService, TRANSACTION, valueView } from './fake-service.js';

interface SseEvent {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
}

interface Client {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Everything received, as text. */
  raw(): string;
  events(): SseEvent[];
  ended(): boolean;
  close(): void;
}

/** The blocks of an SSE text, comments and `retry:` left out. */
function parse(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of text.split('\n\n').slice(0, -1)) {
    const e: Record<string, string> = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(': ');
      if (i > 0) e[line.slice(0, i)] = line.slice(i + 2);
    }
    if (e.event !== undefined) out.push(e);
  }
  return out;
}

function open(base: string, path: string, headers: Record<string, string> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const req = get(`${base}${path}`, { headers, agent: false }, (res) => {
      let text = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('close', () => (ended = true));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        raw: () => text,
        events: () => parse(text),
        ended: () => ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

const data = (e: SseEvent): Record<string, unknown> => JSON.parse(e.data ?? 'null') as Record<string, unknown>;

function values(instrument: string, value = 40, extraValues = 0): ValuesEvent {
  const [bus = '', node = '0'] = instrument.split(':');
  const more = Array.from({ length: extraValues }, () => valueView('fSetpoint', value));
  return { instrument, bus, node: Number(node), source: 'poll', values: [valueView('fMeasure', value), ...more] };
}

let service: FakeService;
const apps: FastifyInstance[] = [];
const clients: Client[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of sockets.splice(0)) s.destroy();
  for (const a of apps.splice(0)) await a.close();
});

async function start(events: EventStreamOptions = {}): Promise<{ app: FastifyInstance; base: string; stats: () => EventStreamStats }> {
  service = new FakeService();
  const app = await buildApp({ service, logger: false, version: '9.9.9', events });
  apps.push(app);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, base, stats: () => eventStreamStats(app) as EventStreamStats };
}

async function stream(base: string, path = '/api/v1/events', headers: Record<string, string> = {}): Promise<Client> {
  const c = await open(base, path, headers);
  clients.push(c);
  return c;
}

/**
 * Emits one event and waits until the route has given it its id: each type has its own hub
 * subscription, so events of different types emitted in one go are not numbered in that order.
 */
async function emitted<K extends keyof GatewayEventMap & string>(stats: () => EventStreamStats, name: K, payload: GatewayEventMap[K]): Promise<void> {
  const before = stats().lastId;
  service.events.emit(name, payload);
  await waitUntil(() => stats().lastId > before, { what: `the ${name} event handled by the route` });
}

/** Waits until the route has handled every event emitted so far. */
async function handled(stats: () => EventStreamStats, emitted: number): Promise<void> {
  await waitUntil(() => stats().lastId - stats().firstId + 1 >= emitted, { what: `${emitted} events handled by the route` });
}

describe('GET /api/v1/events', () => {
  it('streams each event as id, event and one line of JSON, ids growing from the process start in µs; never transactions', async () => {
    const { base, stats } = await start();
    const c = await stream(base);
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe('text/event-stream');
    expect(c.headers['cache-control']).toBe('no-cache');
    expect(c.headers['x-accel-buffering']).toBe('no');
    await waitUntil(() => stats().open === 1, { what: 'the stream open' });
    const v = values('main:3');
    await emitted(stats, 'values', v);
    service.events.emit('transaction', TRANSACTION);
    await emitted(stats, 'bus', { bus: 'main', kind: 'state', state: 'waiting', reason: 'ENOENT\nsecond line' });
    await emitted(stats, 'values', values('main:3', 41));
    const events = await waitUntil(() => (c.events().length >= 3 ? c.events() : undefined), { what: 'three events' });
    expect(c.raw().startsWith('retry: 2000\n\n')).toBe(true);
    expect(events.map((e) => e.event)).toEqual(['values', 'bus', 'values']);
    const ids = events.map((e) => Number(e.id));
    expect(ids[0]).toBeGreaterThanOrEqual(Math.floor(performance.timeOrigin * 1000));
    expect(ids).toEqual([ids[0], (ids[0] ?? 0) + 1, (ids[0] ?? 0) + 2]);
    // Exactly one block per event, the JSON on one line (a newline in a string stays escaped).
    expect(c.raw()).toContain(`id: ${ids[0]}\nevent: values\ndata: ${JSON.stringify(v)}\n\n`);
    expect(data(events[1] ?? {})).toEqual({ bus: 'main', kind: 'state', state: 'waiting', reason: 'ENOENT\nsecond line' });
    expect(c.raw()).not.toContain('transaction');
  });

  it('filters by type and by instrument; events about no instrument pass an instrument filter', async () => {
    const { base, stats } = await start();
    const byType = await stream(base, '/api/v1/events?types=values,bus');
    const byInstrument = await stream(base, '/api/v1/events?instrument=main:3');
    const bare = await stream(base, '/api/v1/events?instrument=3&types=values');
    await waitUntil(() => stats().open === 3, { what: 'three streams open' });
    await emitted(stats, 'values', values('main:3'));
    await emitted(stats, 'values', values('main:4'));
    await emitted(stats, 'values', values('other:3'));
    await emitted(stats, 'instrument', { instrument: 'main:3', bus: 'main', node: 3, kind: 'online', online: true, identity: {} });
    await emitted(stats, 'bus', { bus: 'main', kind: 'state', state: 'open' });
    await emitted(stats, 'store', { state: 'spooling', previous: 'healthy', rowsWaiting: 3 });
    await emitted(stats, 'write', { instrument: 'main:3', param: 'fSetpoint', value: 50, source: 'cli', result: 'accepted' });
    await emitted(stats, 'write', { instrument: 'main:4', param: 'fSetpoint', value: 50, source: 'cli', result: 'accepted' });
    await emitted(stats, 'bus', { bus: 'main', kind: 'state', state: 'closed' });
    // The last event reached every stream that wants it: the earlier ones too.
    await waitUntil(() => byType.events().at(-1)?.data?.includes('closed') && byInstrument.events().at(-1)?.data?.includes('closed'), { what: 'the last bus event' });
    await waitUntil(() => bare.events().length >= 2, { what: 'values of node 3' });
    const shown = (c: Client) => c.events().map((e) => `${e.event} ${String(data(e).instrument ?? data(e).bus ?? data(e).state)}`);
    expect(shown(byType)).toEqual(['values main:3', 'values main:4', 'values other:3', 'bus main', 'bus main']);
    expect(shown(byInstrument)).toEqual(['values main:3', 'instrument main:3', 'bus main', 'store spooling', 'write main:3', 'bus main']);
    expect(shown(bare)).toEqual(['values main:3', 'values other:3']);
  });

  it('answers 400 for transactions, an unknown type or a bad instrument, naming what to do', async () => {
    const { app } = await start();
    const tx = await app.inject('/api/v1/events?types=values,transaction');
    expect(tx.statusCode).toBe(400);
    expect(tx.json()).toMatchObject({ code: 'API_BAD_REQUEST' });
    expect(tx.json<{ message: string }>().message).toContain('GET /api/v1/transactions');
    const unknown = await app.inject('/api/v1/events?types=valuez');
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json<{ message: string }>().message).toContain('allowed: values, instrument, bus, store, bridge, write');
    const node = await app.inject('/api/v1/events?instrument=main:300');
    expect(node.statusCode).toBe(400);
    expect(node.json()).toMatchObject({ code: 'GATEWAY_BAD_NODE' });
    const id = await app.inject({ url: '/api/v1/events', headers: { 'last-event-id': 'abc' } });
    expect(id.statusCode).toBe(400);
  });

  it('resumes after Last-Event-ID (header or lastEventId) with exactly the missed events that pass its filters', async () => {
    const { base, stats } = await start();
    await emitted(stats, 'values', values('main:3', 1));
    await emitted(stats, 'bus', { bus: 'main', kind: 'state', state: 'open' });
    await emitted(stats, 'values', values('main:3', 2));
    await emitted(stats, 'values', values('main:4', 3));
    await emitted(stats, 'store', { state: 'healthy', previous: 'spooling', rowsWaiting: 0 });
    await emitted(stats, 'values', values('main:3', 4));
    const first = stats().firstId;
    const header = await stream(base, '/api/v1/events?types=values&instrument=main:3', { 'last-event-id': String(first) });
    const query = await stream(base, `/api/v1/events?lastEventId=${first + 2}`);
    await waitUntil(() => stats().open === 2, { what: 'both streams open' });
    service.events.emit('values', values('main:3', 5));
    await waitUntil(() => header.events().length >= 3 && query.events().length >= 4, { what: 'the replayed events and the live one' });
    expect(header.events().map((e) => [Number(e.id) - first, (data(e).values as { value: number }[])[0]?.value])).toEqual([
      [2, 2],
      [5, 4],
      [6, 5],
    ]);
    expect(query.events().map((e) => [Number(e.id) - first, e.event])).toEqual([
      [3, 'values'],
      [4, 'store'],
      [5, 'values'],
      [6, 'values'],
    ]);
  });

  it('serializes an event only when a stream takes it, and once: none with no client, one for any number of resumes', async () => {
    const { base, stats } = await start();
    let serialized = 0;
    // A payload that counts how often it is turned into JSON.
    const counted = (value: number): ValuesEvent => Object.assign(values('main:3', value), { toJSON: () => (serialized++, values('main:3', value)) });
    await emitted(stats, 'values', counted(1));
    await emitted(stats, 'values', counted(2));
    expect(serialized).toBe(0);
    const first = stats().firstId;
    const a = await stream(base, '/api/v1/events', { 'last-event-id': String(first - 1) });
    const b = await stream(base, '/api/v1/events', { 'last-event-id': String(first) });
    await waitUntil(() => a.events().length >= 2 && b.events().length >= 1, { what: 'the resumed events' });
    expect(a.events().map((e) => (data(e).values as { value: number }[])[0]?.value)).toEqual([1, 2]);
    expect(b.events().map((e) => (data(e).values as { value: number }[])[0]?.value)).toEqual([2]);
    expect(serialized).toBe(2);
    // Live, with two streams open: once for both.
    await emitted(stats, 'values', counted(3));
    await waitUntil(() => a.events().length >= 3 && b.events().length >= 2, { what: 'the live event on both streams' });
    expect(serialized).toBe(3);
  });

  it('starts with a missed event for an id of another run (restarted) or one no longer kept (expired)', async () => {
    const { base, stats } = await start({ ringSize: 3 });
    for (let i = 1; i <= 6; i++) service.events.emit('values', values('main:3', i));
    await handled(stats, 6);
    const { firstId, lastId } = stats();
    const later = await stream(base, '/api/v1/events', { 'last-event-id': String(lastId + 1_000_000) });
    const earlier = await stream(base, '/api/v1/events', { 'last-event-id': String(firstId - 5) });
    const expired = await stream(base, '/api/v1/events', { 'last-event-id': String(firstId + 1) });
    const current = await stream(base, '/api/v1/events', { 'last-event-id': String(firstId + 2) });
    await waitUntil(() => [later, earlier, expired, current].every((c) => c.events().length >= 3), { what: 'the first events of each stream' });
    for (const c of [later, earlier]) {
      expect(c.events()[0]?.event).toBe('missed');
      expect(data(c.events()[0] ?? {})).toMatchObject({ reason: 'restarted' });
    }
    expect(expired.events()[0]?.event).toBe('missed');
    expect(data(expired.events()[0] ?? {})).toEqual({ reason: 'expired', lastEventId: firstId + 1, oldestId: firstId + 3, lost: 1 });
    // What the ring holds follows, after the id the missed event resumes from.
    expect(expired.events().map((e) => Number(e.id) - firstId)).toEqual([2, 3, 4, 5]);
    // Right at the edge of the ring nothing is lost.
    expect(current.events().map((e) => [e.event, Number(e.id) - firstId])).toEqual([
      ['values', 3],
      ['values', 4],
      ['values', 5],
    ]);
  });

  it('ends a stream whose client does not read, with its buffered bytes bounded', async () => {
    const maxBacklogBytes = 64 * 1024;
    const { base, stats } = await start({ maxBacklogBytes });
    const { port } = new URL(base);
    // A client that sends its request and never reads a byte.
    const socket = connect(Number(port), '127.0.0.1');
    sockets.push(socket);
    socket.pause();
    socket.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    let closed = false;
    socket.on('close', () => (closed = true));
    await waitUntil(() => stats().open === 1, { what: 'the stream open' });
    const reader = await stream(base, '/api/v1/events?types=store');
    await waitUntil(() => stats().open === 2, { what: 'a second stream open' });
    // Events of about 2 KB, as fast as the hub takes them, until the server gives up on the client.
    const big = values('main:3', 40, 12);
    const eventBytes = JSON.stringify(big).length + 60;
    let emitted = 0;
    while (stats().closedForBacklog === 0 && emitted < 20_000) {
      for (let i = 0; i < 500; i++) service.events.emit('values', big);
      emitted += 500;
      await new Promise((r) => setImmediate(r));
    }
    expect(stats().closedForBacklog).toBe(1);
    expect(stats().open).toBe(1);
    expect(stats().maxBuffered).toBeLessThanOrEqual(maxBacklogBytes + 2 * eventBytes);
    // The other stream goes on.
    service.events.emit('store', { state: 'healthy', previous: 'spooling', rowsWaiting: 0 });
    await waitUntil(() => reader.events().length === 1, { what: 'the reader still served' });
    // The server closed the connection: once the client reads what reached it, it sees the end.
    socket.resume();
    await waitUntil(() => closed, { what: 'the stuck connection closed by the server' });
  });

  it('answers 503 API_TOO_MANY_STREAMS beyond maxStreams', async () => {
    const { base, stats } = await start({ maxStreams: 2 });
    await stream(base);
    await stream(base);
    await waitUntil(() => stats().open === 2, { what: 'two streams open' });
    const res = await fetch(`${base}/api/v1/events`);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { code: string }).code).toBe('API_TOO_MANY_STREAMS');
    expect(stats().refused).toBe(1);
  });

  it('sends a keep-alive comment', async () => {
    const { base } = await start({ keepAliveMs: 20 });
    const c = await stream(base);
    await waitUntil(() => c.raw().includes('\n: keep-alive\n\n'), { what: 'a keep-alive comment' });
  });

  it('app.close() with open streams resolves and ends them, a client that does not read included', async () => {
    const { app, base, stats } = await start();
    const a = await stream(base);
    const b = await stream(base, '/api/v1/events?types=values');
    const { port } = new URL(base);
    const socket = connect(Number(port), '127.0.0.1');
    sockets.push(socket);
    socket.pause();
    socket.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    let closed = false;
    socket.on('close', () => (closed = true));
    await waitUntil(() => stats().open === 3, { what: 'three streams open' });
    await app.close();
    apps.splice(0);
    await waitUntil(() => a.ended() && b.ended(), { what: 'both readers see the end' });
    socket.resume();
    await waitUntil(() => closed, { what: 'the unread connection closed' });
    expect(stats().open).toBe(0);
  });
});

describe('event streams on a simulated master gateway', () => {
  let gw: RunningGateway | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await gw?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('50 open streams all receive values events', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowbus-sse-'));
    gw = await startGateway(
      configFrom({
        buses: [{ port: 'sim://?nodes=3,5' }],
        poll: { intervalMs: 200 },
        http: { host: '127.0.0.1', port: 0 },
        store: { url: `sqlite:${join(dir, 'log.db')}` },
        log: { level: 'silent' },
      }),
      silentLogger,
    );
    const url = gw.url;
    const all = await Promise.all(Array.from({ length: 50 }, () => stream(url, '/api/v1/events?types=values')));
    expect(all.every((c) => c.status === 200)).toBe(true);
    await waitUntil(() => all.every((c) => c.events().filter((e) => e.event === 'values').length >= 3), {
      timeoutMs: 15_000,
      what: 'three values events on each of the 50 streams',
    });
    const sample = data(all[0]?.events()[0] ?? {});
    expect(sample).toMatchObject({ bus: expect.any(String), node: expect.any(Number), source: expect.any(String) });
    expect(Array.isArray(sample.values)).toBe(true);
  });
});
