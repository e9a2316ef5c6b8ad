/**
 * GET /metrics on a real gateway: master mode against the simulator over TCP, bridge mode with
 * TCP on both sides; and the Grafana dashboard in deploy/grafana/ asks only for what they export.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bus, ParamClient } from '../../src/bus/index.js';
import { configFrom } from '../../src/config/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { resolveParam } from '../../src/params/index.js';
import { silentLogger } from '../../src/shared/index.js';
import { Transport } from '../../src/transport/index.js';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { serveTcp, type TcpServer } from '../../simulator/cli.js';
import { waitUntil } from '../helpers/wait.js';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}
interface Scrape {
  readonly status: number;
  readonly contentType: string | null;
  readonly types: Map<string, string>;
  readonly samples: Sample[];
}

/** Parses the text exposition format (what prom-client writes: no escapes beyond \" and \\ in values). */
function parseExposition(text: string): Pick<Scrape, 'types' | 'samples'> {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return { types, samples };
}

async function scrape(gw: RunningGateway): Promise<Scrape> {
  const res = await fetch(`${gw.url}/metrics`);
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), ...(res.status === 200 ? parseExposition(text) : { types: new Map(), samples: [] }) };
}

const pick = (s: Scrape, name: string, labels: Record<string, string> = {}) => s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
const one = (s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined => {
  const found = pick(s, name, labels);
  return found.length === 1 ? found[0]!.value : undefined;
};

/** Every sample name a scrape exports (histograms with their _bucket, _sum and _count). */
function exportedNames(s: Scrape): Set<string> {
  return new Set([...s.samples.map((x) => x.name), ...s.types.keys()]);
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function storeIn(): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-metrics-'));
  dirs.push(dir);
  return { url: `sqlite:${join(dir, 'log.db')}`, spoolDir: join(dir, 'spool'), batchMs: 20 };
}

/** What both modes' scrapes are kept for, for the dashboard check. */
const scrapes: { master?: Scrape; bridge?: Scrape } = {};

describe('GET /metrics in master mode (simulator over TCP)', () => {
  const sim: Simulator = createSimulator({ nodes: [3, 5, 7] });
  const mute = { node5: false };
  let tcp: TcpServer;
  let gw: RunningGateway;

  beforeAll(async () => {
    sim.instruments.get(5)!.defineBehavior({ name: 'mute', onMessage: () => (mute.node5 ? { silent: true } : undefined) });
    tcp = await serveTcp(sim, '127.0.0.1', 0);
    gw = await startGateway(
      configFrom({
        buses: [{ port: `tcp://127.0.0.1:${tcp.port}`, replyTimeoutMs: 100, retries: 0 }],
        gateway: { name: 'bench-7' },
        instruments: [{ node: 3, name: 'H2 line' }],
        poll: { intervalMs: 100 },
        http: { host: '127.0.0.1', port: 0, token: 'metrics-test-token' },
        store: storeIn(),
        log: { level: 'silent' },
      }),
      silentLogger,
    );
    await waitUntil(() => gw.service.instruments().length === 3 && gw.service.instruments().every((i) => i.online && i.identity.serial && i.values.fMeasure), {
      what: 'three instruments online and polled',
      timeoutMs: 10_000,
    });
  });
  afterAll(async () => {
    await gw?.close();
    await tcp?.close();
    await sim.close();
  });

  it('answers without a token, in the text format, with each metric under its type', async () => {
    const s = await scrape(gw);
    scrapes.master = s;
    expect(s.status).toBe(200);
    expect(s.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    // Every series names the gateway it comes from: gateway.name of the config.
    expect(s.samples.length).toBeGreaterThan(50);
    expect(s.samples.filter((x) => x.labels.gateway !== 'bench-7').map((x) => x.name)).toEqual([]);
    const expected: Record<string, string> = {
      flowbus_bus_transactions_total: 'counter',
      flowbus_bus_retries_total: 'counter',
      flowbus_bus_late_replies_total: 'counter',
      flowbus_bus_discards_total: 'counter',
      flowbus_bus_reconnects_total: 'counter',
      flowbus_bus_reply_latency_seconds: 'histogram',
      flowbus_bus_wire_utilisation_ratio: 'gauge',
      flowbus_bus_queue_depth: 'gauge',
      flowbus_bus_transport_state: 'gauge',
      flowbus_instrument_online: 'gauge',
      flowbus_instrument_last_seen_age_seconds: 'gauge',
      flowbus_instrument_value: 'gauge',
      flowbus_store_state: 'gauge',
      flowbus_store_rows_waiting: 'gauge',
      flowbus_store_spooled_batches: 'gauge',
      flowbus_store_rows_written_total: 'counter',
      process_cpu_seconds_total: 'counter',
      process_resident_memory_bytes: 'gauge',
      nodejs_eventloop_lag_p99_seconds: 'gauge',
    };
    expect(Object.fromEntries(Object.keys(expected).map((n) => [n, s.types.get(n)]))).toEqual(expected);
    // Bridge metrics only in bridge mode.
    expect([...s.types.keys()].filter((n) => n.startsWith('flowbus_bridge_'))).toEqual([]);
    // Every series carries the gateway label.
    expect(s.samples.filter((x) => !x.labels.gateway)).toEqual([]);
    // The transport is open, and only open.
    expect(pick(s, 'flowbus_bus_transport_state', { bus: 'main' }).filter((x) => x.value === 1).map((x) => x.labels.state)).toEqual(['open']);
    // Polled values with their units, labelled by instrument.
    const flow = pick(s, 'flowbus_instrument_value', { node: '3', param: 'fMeasure' });
    expect(flow).toHaveLength(1);
    expect(flow[0]!.labels).toMatchObject({ bus: 'main', name: 'H2 line', serial: sim.instruments.get(3)!.get('serialNumber') as string, unit: gw.service.instrument('3').values.fMeasure!.unit });
  });

  it('counts polls as they happen: transactions, latency observations, rows written', async () => {
    const a = await scrape(gw);
    await gw.store.flush();
    const okA = one(a, 'flowbus_bus_transactions_total', { bus: 'main', outcome: 'ok' }) ?? 0;
    const latA = one(a, 'flowbus_bus_reply_latency_seconds_count', { bus: 'main' }) ?? 0;
    const b = await waitUntil(
      async () => {
        const s = await scrape(gw);
        return (one(s, 'flowbus_bus_transactions_total', { bus: 'main', outcome: 'ok' }) ?? 0) >= okA + 10 ? s : undefined;
      },
      { what: 'ten more ok transactions' },
    );
    expect(okA).toBeGreaterThan(0);
    expect(one(b, 'flowbus_bus_reply_latency_seconds_count', { bus: 'main' })).toBeGreaterThan(latA);
    expect(one(b, 'flowbus_bus_reply_latency_seconds_bucket', { bus: 'main', le: '+Inf' })).toBe(one(b, 'flowbus_bus_reply_latency_seconds_count', { bus: 'main' }));
    await gw.store.flush();
    const c = await scrape(gw);
    expect(one(c, 'flowbus_store_rows_written_total')).toBeGreaterThanOrEqual(okA);
  });

  it('shows the store state and its queue', async () => {
    const s = await scrape(gw);
    expect(Object.fromEntries(pick(s, 'flowbus_store_state').map((x) => [x.labels.state, x.value]))).toEqual({ healthy: 1, spooling: 0, recovering: 0, closed: 0 });
    expect(one(s, 'flowbus_store_rows_waiting')).toBeGreaterThanOrEqual(0);
    expect(one(s, 'flowbus_store_spooled_batches')).toBe(0);
  });

  it('keeps its label sets to the instruments and buses the gateway knows, whatever clients ask', async () => {
    const before = await scrape(gw);
    for (const ref of ['99', 'other:3', '5', 'main:120', 'fMeasure']) await fetch(`${gw.url}/api/v1/instruments/${ref}`);
    await fetch(`${gw.url}/api/v1/instruments/3/parameters/noSuchParameter`);
    const after = await scrape(gw);
    const nodes = (s: Scrape) => new Set(s.samples.filter((x) => x.name.startsWith('flowbus_instrument_')).map((x) => `${x.labels.bus}:${x.labels.node}`));
    expect([...nodes(after)].sort()).toEqual(['main:3', 'main:5', 'main:7']);
    expect(new Set(after.samples.map((x) => x.labels.bus).filter(Boolean))).toEqual(new Set(['main']));
    const params = new Set(pick(after, 'flowbus_instrument_value').map((x) => x.labels.param));
    expect(params).toEqual(new Set(gw.config.poll.parameters));
    const series = (s: Scrape) => s.samples.filter((x) => x.name.startsWith('flowbus_')).length;
    expect(series(after)).toBe(series(before));
  });

  it('shows an instrument that stops answering as offline (0), the others still online', async () => {
    mute.node5 = true;
    try {
      const s = await waitUntil(
        async () => {
          const s = await scrape(gw);
          // On a loaded machine a poll of 3 or 7 can time out once too and show it offline for a
          // moment: the scrape looked for is one with 5 offline and the others back online.
          const online = (node: string) => one(s, 'flowbus_instrument_online', { node });
          return online('5') === 0 && online('3') === 1 && online('7') === 1 ? s : undefined;
        },
        { what: 'node 5 offline in the metrics, 3 and 7 online', timeoutMs: 10_000 },
      );
      expect(one(s, 'flowbus_instrument_online', { node: '3' })).toBe(1);
      expect(one(s, 'flowbus_instrument_online', { node: '7' })).toBe(1);
      expect(one(s, 'flowbus_bus_transactions_total', { bus: 'main', outcome: 'timeout' })).toBeGreaterThan(0);
      expect(one(s, 'flowbus_instrument_last_seen_age_seconds', { node: '5' })).toBeGreaterThan(0);
    } finally {
      mute.node5 = false;
    }
  });
});

describe('GET /metrics switched off', () => {
  it('is not served with metrics.enabled: false', async () => {
    const gw = await startGateway(
      configFrom({ buses: [{ port: 'sim://?nodes=3' }], http: { host: '127.0.0.1', port: 0 }, store: storeIn(), log: { level: 'silent' }, metrics: { enabled: false } }),
      silentLogger,
    );
    try {
      expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
    } finally {
      await gw.close();
    }
  });
});

describe('GET /metrics in bridge mode (TCP on both sides)', () => {
  const sim = createSimulator({ nodes: [3, 5] });
  let instrument: TcpServer | undefined;
  let masterServer: Server | undefined;
  let gw: RunningGateway | undefined;
  let bus: Bus | undefined;
  let transport: Transport | undefined;
  afterAll(async () => {
    await bus?.close();
    await transport?.close();
    await gw?.close();
    await instrument?.close();
    await new Promise((r) => masterServer?.close(r) ?? r(undefined));
    await sim.close();
  });

  it('counts bytes and frames per direction and the forward latency', async () => {
    instrument = await serveTcp(sim, '127.0.0.1', 0);
    const accepted = new Promise<Socket>((resolve) => {
      masterServer = createServer((s) => resolve(s));
    });
    await new Promise<void>((r) => masterServer!.listen(0, '127.0.0.1', () => r()));
    const masterPort = (masterServer!.address() as { port: number }).port;
    gw = await startGateway(
      configFrom({
        mode: 'bridge',
        bridge: { instrumentPort: `tcp://127.0.0.1:${instrument.port}`, masterPort: `tcp://127.0.0.1:${masterPort}` },
        http: { host: '127.0.0.1', port: 0 },
        store: storeIn(),
        log: { level: 'silent' },
      }),
      silentLogger,
    );
    transport = new Transport('master', async () => accepted);
    await transport.start();
    bus = new Bus(transport, { replyTimeoutMs: 1000 });
    const client = new ParamClient(bus);
    for (let i = 0; i < 5; i++) await client.read(5, ['primaryNodeAddress', 'capacity'].map((k) => resolveParam(k)));
    const s = await waitUntil(
      async () => {
        const s = await scrape(gw!);
        return (one(s, 'flowbus_bridge_frames_total', { direction: 'instrument_to_master' }) ?? 0) >= 5 ? s : undefined;
      },
      { what: 'five replies decoded' },
    );
    scrapes.bridge = s;
    expect(s.types.get('flowbus_bridge_bytes_total')).toBe('counter');
    expect(s.types.get('flowbus_bridge_forward_latency_seconds')).toBe('histogram');
    const view = gw.service.buses()[0]!.bridge!;
    const bytes = Object.fromEntries(pick(s, 'flowbus_bridge_bytes_total').map((x) => [x.labels.direction, x.value]));
    expect(bytes.master_to_instrument).toBeGreaterThan(0);
    expect(bytes.instrument_to_master).toBeGreaterThan(0);
    expect(bytes.master_to_instrument).toBeLessThanOrEqual(view.directions['>'].bytes);
    expect(one(s, 'flowbus_bridge_frames_total', { direction: 'master_to_instrument' })).toBeGreaterThanOrEqual(5);
    expect(new Set(pick(s, 'flowbus_bridge_dropped_bytes_total').map((x) => x.labels.reason))).toEqual(new Set(['no_peer', 'overflow', 'write_failed']));
    // The histogram: cumulative buckets ending in +Inf = count, count = chunks forwarded.
    const buckets = pick(s, 'flowbus_bridge_forward_latency_seconds_bucket').map((x) => x.value);
    expect(buckets.length).toBeGreaterThan(1);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    const count = one(s, 'flowbus_bridge_forward_latency_seconds_count');
    expect(count).toBeGreaterThanOrEqual(10);
    expect(buckets.at(-1)).toBe(count);
    expect(one(s, 'flowbus_bridge_forward_latency_seconds_sum')).toBeGreaterThan(0);
    expect(pick(s, 'flowbus_bridge_side_state', { state: 'open' }).map((x) => [x.labels.side, x.value]).sort()).toEqual([
      ['instrument', 1],
      ['master', 1],
    ]);
  });
});

/** PromQL words that are not metric names. */
const PROMQL_WORDS = new Set([
  'sum', 'avg', 'min', 'max', 'count', 'by', 'without', 'rate', 'irate', 'increase', 'histogram_quantile', 'label_values', 'on', 'ignoring', 'group_left', 'group_right',
  'and', 'or', 'unless', 'bool', 'offset', 'topk', 'bottomk', 'delta', 'deriv', 'abs', 'clamp_min', 'clamp_max', 'time', 'vector', 'scalar', 'avg_over_time', 'max_over_time', 'min_over_time',
]);

/** The metric names a PromQL expression reads. */
export function metricNamesIn(expr: string): string[] {
  // label_values(metric, label): the second argument is a label name.
  const bare = expr
    .replace(/label_values\(([^,)]*(?:\{[^}]*\})?[^,)]*),[^)]*\)/g, 'label_values($1)')
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w) && !/^\d/.test(w));
}

describe('deploy/grafana/flowbus.json', () => {
  it('asks only for metrics the gateway exports (master and bridge mode)', () => {
    expect(scrapes.master, 'the master-mode scrape ran').toBeDefined();
    expect(scrapes.bridge, 'the bridge-mode scrape ran').toBeDefined();
    const exported = new Set([...exportedNames(scrapes.master!), ...exportedNames(scrapes.bridge!)]);
    type Panel = { title: string; targets?: { expr: string }[]; panels?: Panel[] };
    const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/flowbus.json', import.meta.url), 'utf8')) as {
      panels: Panel[];
      templating: { list: { name: string; query: { query: string } }[] };
    };
    const queries: { where: string; expr: string }[] = [];
    const walk = (ps: readonly Panel[]) => {
      for (const p of ps) {
        for (const t of p.targets ?? []) queries.push({ where: p.title, expr: t.expr });
        walk(p.panels ?? []);
      }
    };
    walk(dashboard.panels);
    for (const v of dashboard.templating.list) queries.push({ where: `variable ${v.name}`, expr: v.query.query });
    expect(queries.length).toBeGreaterThan(20);
    const unknown: string[] = [];
    const used = new Set<string>();
    for (const q of queries) {
      const names = metricNamesIn(q.expr);
      expect(names.length, `${q.where}: ${q.expr} names no metric`).toBeGreaterThan(0);
      for (const n of names) {
        used.add(n);
        if (!exported.has(n)) unknown.push(`${q.where}: ${n}`);
      }
    }
    expect(unknown).toEqual([]);
    // The dashboard covers what the issue asks for.
    for (const n of ['flowbus_instrument_value', 'flowbus_bus_transactions_total', 'flowbus_bus_reply_latency_seconds_bucket', 'flowbus_store_state', 'flowbus_bridge_bytes_total']) expect(used).toContain(n);
  });

  it('reads the names out of PromQL (the check above is only as good as this)', () => {
    expect(metricNamesIn('histogram_quantile(0.99, sum by (bus, le) (rate(flowbus_x_bucket{bus=~"$bus",a="b{c}"}[5m])))')).toEqual(['flowbus_x_bucket']);
    expect(metricNamesIn('rate(a_total[1m]) / on (bus) b_count')).toEqual(['a_total', 'b_count']);
    expect(metricNamesIn('label_values(flowbus_y{gateway=~"$gateway"}, bus)')).toEqual(['flowbus_y']);
  });
});
