/**
 * The dashboard and the event stream: what a browser sees, and what open dashboards cost the gateway.
 *
 * The gateway is `flowbus serve` as a process of its own (test/helpers/serve.ts: the compiled
 * build, the SQLite log, as `npm start` runs it) against four simulated instruments paced like a
 * real line (`sim://?nodes=3,5,7,9&baud=38400&turnaround=2`), polling the default parameters every
 * 500 ms. Its CPU is read from /proc/PID/stat (utime + stime, every thread of it). The browser is
 * Debian's Chromium (headless, test/helpers/browser.ts). One run:
 * 1. Event latency: one dashboard tab. An init script wraps `EventSource` so that the dashboard's
 *    own stream gets two more `values` listeners: one registered before the dashboard's (arrival)
 *    and one after it (the dashboard's handler and its Preact re-render done). Times are
 *    `performance.timeOrigin + performance.now()`; the end of each event's bus transaction is the
 *    transaction's `endedAt` (µs resolution) from GET /api/v1/transactions, found by node and the
 *    values' read time (that endedAt, to the ms). The gateway and the browser share the clock.
 * 2. Open dashboards: phases of PHASE_S seconds alternating none / 50 emulated dashboards (from this
 *    process: each one SSE stream with the dashboard's URL read to the end, GET /instruments and
 *    /bus at its start, GET /bus every 3 s and on each `bus` event, keep-alive) / none / a few real
 *    Chromium tabs (TABS, each in its own browser context). For each: transactions completed on the
 *    bus per second (GET /api/v1/bus counters) and the gateway's CPU per second.
 * 3. Page weight of the overview as Chromium loads it (encoded response bytes, Playwright's
 *    request sizes), each file of dist/dashboard raw/gz/br, and the time from navigation start to
 *    the first `article[data-instrument]` (a MutationObserver), median of LOADS cold loads.
 *
 *   node scripts/ensure-build.mjs && npx tsx bench/dashboard.ts
 *   LATENCY_S=30 PHASE_S=15 ROUNDS=2 TABS=5 LOADS=7 (the defaults); argv: [LATENCY_S [PHASE_S]]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { join, relative } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { HAVE_CHROMIUM, CHROMIUM, launchBrowser } from '../test/helpers/browser.js';
import { ROOT } from '../test/helpers/cli.js';
import { startServe, untilReady } from '../test/helpers/serve.js';

const NODES = [3, 5, 7, 9];
const PORT = `sim://?nodes=${NODES.join(',')}&baud=38400&turnaround=2`;
const LATENCY_S = Number(process.argv[2] ?? process.env.LATENCY_S ?? 30);
const PHASE_S = Number(process.argv[3] ?? process.env.PHASE_S ?? 15);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const DASHBOARDS = Number(process.env.DASHBOARDS ?? 50);
const TABS = Number(process.env.TABS ?? 5);
const LOADS = Number(process.env.LOADS ?? 7);
const SETTLE_MS = 2000;
const BUS_REFRESH_MS = 3000;
const EVENTS_PATH = '/api/v1/events?types=values,instrument,bus,store,bridge,write';
const TICKS_PER_S = 100; // getconf CLK_TCK on Linux

if (!HAVE_CHROMIUM) throw new Error(`this benchmark needs Chromium (${CHROMIUM})`);

// ------------------------------------------------------------------ helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f = (x: number, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const pct = (sorted: readonly number[], q: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number) : NaN);
const median = (xs: readonly number[]) => pct([...xs].sort((a, b) => a - b), 0.5);

/** The gateway's CPU time so far, in seconds (all its threads). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from the state field (3).
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
}

// ------------------------------------------------------------------ the gateway

const serve = await startServe({ args: ['--simulator', '-p', PORT] });
const pid = serve.child.pid;
if (pid === undefined) throw new Error('no gateway process');
const base = serve.url;
const { hostname, port } = new URL(base);
await untilReady(serve, NODES.length);

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(base + path);
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return (await res.json()) as T;
}

interface BusBody {
  readonly buses: readonly { readonly transactions: Readonly<Record<string, number>> }[];
}
async function busCounters(): Promise<{ ok: number; all: number }> {
  const b = await getJson<BusBody>('/api/v1/bus');
  let ok = 0;
  let all = 0;
  for (const bus of b.buses) {
    for (const [k, n] of Object.entries(bus.transactions)) {
      all += n;
      if (k === 'ok') ok += n;
    }
  }
  return { ok, all };
}

interface Tx {
  readonly node: number | null;
  readonly endedAt: number;
}
/** Transactions that ended at or after `since` (ms since the epoch), newest first, every page. */
async function transactionsSince(since: number): Promise<Tx[]> {
  const out: Tx[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await getJson<{ transactions: Tx[]; nextCursor?: string | null }>(
      `/api/v1/transactions?limit=1000&since=${encodeURIComponent(new Date(since).toISOString())}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    out.push(...page.transactions);
    if (!page.nextCursor || page.transactions.length === 0) return out;
    cursor = page.nextCursor;
  }
}

// ------------------------------------------------------------------ the page's instrumentation

/**
 * Runs in the page before its scripts (page.addInitScript). Plain JS in a string: tsx would add
 * helpers of its own to a function's text, which the page does not have.
 */
const INSTRUMENT_PAGE = `(() => {
  const now = () => performance.timeOrigin + performance.now();
  const bench = { arrived: [], handled: [], firstCard: null, firstCardFrame: null, skewMs: Date.now() - now() };
  window.__bench = bench;
  const Native = window.EventSource;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      // Before the dashboard's own listener: the arrival.
      this.addEventListener('values', (m) => bench.arrived.push([now(), m.data]));
      let added = false;
      this.addEventListener('open', () => {
        if (added) return;
        added = true;
        // After the dashboard's listener (registered right after construction) and the render it queued.
        this.addEventListener('values', (m) => bench.handled.push([now(), m.data]));
      });
    }
  };
  const watch = new MutationObserver(() => {
    if (bench.firstCard !== null || !document.querySelector('article[data-instrument]')) return;
    bench.firstCard = performance.now();
    watch.disconnect();
    requestAnimationFrame(() => (bench.firstCardFrame = performance.now()));
  });
  watch.observe(document, { childList: true, subtree: true });
})();`;

interface PageBench {
  readonly arrived: [number, string][];
  readonly handled: [number, string][];
  readonly firstCard: number | null;
  readonly firstCardFrame: number | null;
  readonly skewMs: number;
}
const pageBench = (page: Page) => page.evaluate(() => (globalThis as unknown as { __bench: PageBench }).__bench);

let browser: Browser = await launchBrowser();
const chromiumVersion = browser.version();

async function openDashboard(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(INSTRUMENT_PAGE);
  const page = await context.newPage();
  await page.goto(base + '/');
  await page.waitForSelector('article[data-instrument]');
  return { context, page };
}

type Arrival = readonly [number, string];

/** Latencies (ms) of values events against the ends of their transactions; `lists[i]` are [arrival time, data] pairs. */
async function latencies(lists: readonly (readonly Arrival[])[], since: number): Promise<{ sorted: number[]; unmatched: number }> {
  await sleep(1000); // the store commits every 250 ms
  const txs = await transactionsSince(since - 1000);
  const ends = new Map<string, number>();
  for (const t of txs) ends.set(`${t.node}@${Math.floor(t.endedAt)}`, t.endedAt);
  const out = { sorted: [] as number[], unmatched: 0 };
  for (const list of lists) {
    for (const [t, data] of list) {
      const e = JSON.parse(data) as { node: number; source: string; values: { time: string }[] };
      if (e.source !== 'poll') continue;
      const last = Math.max(...e.values.map((v) => Date.parse(v.time)));
      if (last < since) continue;
      const end = ends.get(`${e.node}@${last}`);
      if (end === undefined) out.unmatched++;
      else out.sorted.push(t - end);
    }
  }
  out.sorted.sort((a, b) => a - b);
  return out;
}

/** A stream read by this process, for reference: the values events' arrival times. */
function nodeListener(): { arrived: [number, string][]; stop: () => void } {
  const arrived: [number, string][] = [];
  const req = http.get({ host: hostname, port, path: '/api/v1/events?types=values', headers: { accept: 'text/event-stream' } }, (res) => {
    let rest = '';
    res.setEncoding('utf8');
    res.on('data', (text: string) => {
      const t = performance.timeOrigin + performance.now();
      const frames = (rest + text).split('\n\n');
      rest = frames.pop() ?? '';
      for (const fr of frames) {
        const data = /^data: (.*)$/m.exec(fr)?.[1];
        if (data && fr.includes('event: values')) arrived.push([t, data]);
      }
    });
    res.on('error', () => undefined); // destroyed by stop()
  });
  req.on('error', () => undefined); // destroyed by stop()
  return { arrived, stop: () => req.destroy() };
}

// ------------------------------------------------------------------ 1. event latency, one tab

const lat1 = await (async () => {
  const { context, page } = await openDashboard();
  const reference = nodeListener();
  await sleep(SETTLE_MS);
  const since = Date.now();
  await sleep(LATENCY_S * 1000);
  const b = await pageBench(page);
  reference.stop();
  await context.close();
  return {
    arrived: await latencies([b.arrived], since),
    handled: await latencies([b.handled], since),
    node: await latencies([reference.arrived], since),
    skewMs: b.skewMs,
  };
})();

// ------------------------------------------------------------------ 2. open dashboards

/** One dashboard's network traffic, without a browser. */
function emulatedDashboard(stats: { events: number; bytes: number; gets: number; failed: number }): () => void {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  let closed = false;
  const get = (path: string) =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: hostname, port, path, agent }, (res) => {
        res.on('data', () => {});
        res.on('end', () => {
          stats.gets++;
          if (res.statusCode !== 200) stats.failed++;
          resolve();
        });
      });
      req.on('error', () => {
        if (!closed) stats.failed++;
        resolve();
      });
    });
  void get('/api/v1/instruments');
  void get('/api/v1/bus');
  // The browser's timer starts with the page; spread them as pages opened at different times would be.
  let timer: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    void get('/api/v1/bus');
    timer = setInterval(() => void get('/api/v1/bus'), BUS_REFRESH_MS);
  }, Math.random() * BUS_REFRESH_MS);
  const sse = http.get({ host: hostname, port, path: EVENTS_PATH, headers: { accept: 'text/event-stream' } }, (res) => {
    if (res.statusCode !== 200) stats.failed++;
    let rest = '';
    res.setEncoding('utf8');
    res.on('data', (text: string) => {
      stats.bytes += Buffer.byteLength(text);
      const frames = (rest + text).split('\n\n');
      rest = frames.pop() ?? '';
      for (const fr of frames) {
        if (!fr.includes('\ndata: ') && !fr.startsWith('data: ')) continue;
        stats.events++;
        if (fr.includes('event: bus\n') || fr.includes('event: bridge\n')) void get('/api/v1/bus');
      }
    });
    res.on('error', () => undefined); // destroyed by the stop
  });
  sse.on('error', () => {
    if (!closed) stats.failed++;
  });
  return () => {
    closed = true;
    clearTimeout(first);
    clearInterval(timer);
    sse.destroy();
    agent.destroy();
  };
}

interface Phase {
  readonly label: string;
  readonly seconds: number;
  readonly txPerS: number;
  readonly okPerS: number;
  readonly cpuPerS: number;
  readonly events?: number;
  readonly bytes?: number;
  readonly gets?: number;
  readonly failed?: number;
  readonly latency?: Awaited<ReturnType<typeof latencies>>;
}

async function measure(label: string): Promise<Omit<Phase, 'label'> & { label: string }> {
  const t0 = performance.now();
  const c0 = cpuSeconds(pid!);
  const b0 = await busCounters();
  await sleep(PHASE_S * 1000);
  const b1 = await busCounters();
  const c1 = cpuSeconds(pid!);
  const s = (performance.now() - t0) / 1000;
  return { label, seconds: s, txPerS: (b1.all - b0.all) / s, okPerS: (b1.ok - b0.ok) / s, cpuPerS: (c1 - c0) / s };
}

async function phaseNone(): Promise<Phase> {
  await sleep(SETTLE_MS);
  return measure('none open');
}

async function phaseEmulated(): Promise<Phase> {
  const stats = { events: 0, bytes: 0, gets: 0, failed: 0 };
  const stops = Array.from({ length: DASHBOARDS }, () => emulatedDashboard(stats));
  await sleep(SETTLE_MS);
  const e0 = { ...stats };
  const m = await measure(`${DASHBOARDS} emulated dashboards`);
  const r = { ...m, events: stats.events - e0.events, bytes: stats.bytes - e0.bytes, gets: stats.gets - e0.gets, failed: stats.failed };
  for (const stop of stops) stop();
  return r;
}

async function phaseTabs(): Promise<Phase> {
  const tabs = [];
  for (let i = 0; i < TABS; i++) tabs.push(await openDashboard());
  await sleep(SETTLE_MS);
  const since = Date.now();
  const m = await measure(`${TABS} Chromium tabs`);
  const seen = await Promise.all(tabs.map((t) => pageBench(t.page)));
  const latency = await latencies(
    seen.map((b) => b.arrived),
    since,
  );
  for (const t of tabs) await t.context.close();
  return { ...m, latency };
}

const phases: Phase[] = [];
for (let round = 0; round < ROUNDS; round++) {
  phases.push(await phaseNone());
  phases.push(await phaseEmulated());
  phases.push(await phaseNone());
  if (TABS > 0) phases.push(await phaseTabs());
}
phases.push(await phaseNone());

// ------------------------------------------------------------------ 3. page weight, time to the first card

interface Loaded {
  readonly url: string;
  readonly type: string;
  readonly encoding: string;
  readonly acceptEncoding: string;
  readonly bytes: number;
  readonly contentLength: string | undefined;
}
const loads: { files: Loaded[]; firstCard: number; firstCardFrame: number }[] = [];
// A fresh browser: its cache and connections are none of the earlier phases'.
await browser.close();
browser = await launchBrowser();
for (let i = 0; i < LOADS; i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addInitScript(INSTRUMENT_PAGE);
  const page = await context.newPage();
  const files: Promise<Loaded>[] = [];
  page.on('requestfinished', (req) => {
    files.push(
      (async () => {
        const res = await req.response();
        const sizes = await req.sizes();
        const headers = res ? await res.allHeaders() : {};
        const asked = await req.allHeaders();
        return {
          url: new URL(req.url()).pathname,
          type: req.resourceType(),
          encoding: headers['content-encoding'] ?? 'identity',
          acceptEncoding: asked['accept-encoding'] ?? '',
          bytes: sizes.responseBodySize,
          contentLength: headers['content-length'],
        };
      })(),
    );
  });
  await page.goto(base + '/');
  await page.waitForSelector('article[data-instrument]');
  await page.waitForFunction(() => (globalThis as unknown as { __bench: PageBench }).__bench.firstCardFrame !== null);
  await sleep(500);
  const b = await pageBench(page);
  loads.push({ files: await Promise.all(files), firstCard: b.firstCard ?? NaN, firstCardFrame: b.firstCardFrame ?? NaN });
  await context.close();
}
await browser.close();
await serve.stop();

// ------------------------------------------------------------------ the tables

const cores = readFileSync('/proc/cpuinfo', 'utf8').split('\n').filter((l) => l.startsWith('processor')).length;
console.log(
  `Dashboard benchmark: flowbus serve --simulator -p '${PORT}' as its own process (compiled build, SQLite log, poll every 500 ms), Chromium ${chromiumVersion} headless, node ${process.version}, ${cores} cores, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} at the end`,
);
console.log('');

const latRow = (label: string, xs: readonly number[]) => `| ${label} | ${xs.length} | ${f(pct(xs, 0.5), 1)} | ${f(pct(xs, 0.9), 1)} | ${f(pct(xs, 0.99), 1)} | ${f(xs[xs.length - 1] ?? NaN, 1)} |`;
const unmatched = lat1.arrived.unmatched + lat1.handled.unmatched + lat1.node.unmatched;
console.log(`1. end of the poll transaction (endedAt) -> the values event in the dashboard's EventSource, one tab, ${LATENCY_S} s (${unmatched} events not matched to a transaction; the page's clock vs its Date.now() ${f(lat1.skewMs, 2)} ms):`);
console.log('| ms | count | p50 | p90 | p99 | max |');
console.log('|---|---:|---:|---:|---:|---:|');
console.log(latRow("arrival (listener before the dashboard's)", lat1.arrived.sorted));
console.log(latRow("handled (listener after the dashboard's and its render)", lat1.handled.sorted));
console.log(latRow('reference: a Node client of the stream in the bench process, meanwhile', lat1.node.sorted));
for (const p of phases) if (p.latency) console.log(latRow(`arrival, ${p.label} open (all tabs)`, p.latency.sorted));
console.log('');

const none = phases.filter((p) => p.label === 'none open');
const noneTx = median(none.map((p) => p.txPerS));
const noneCpu = median(none.map((p) => p.cpuPerS));
console.log(`2. open dashboards: ${PHASE_S} s phases, in this order; ratios to the median of the "none" phases (${f(noneTx, 2)} transactions/s, ${f(noneCpu * 1000)} ms CPU/s):`);
console.log('| phase | transactions/s (ok) | ratio | gateway CPU ms/s | x none | client side |');
console.log('|---|---:|---:|---:|---:|---|');
for (const p of phases) {
  const client =
    p.events !== undefined
      ? `${f(p.events / p.seconds)} events/s, ${f(p.bytes! / p.seconds / 1024, 1)} kB/s of SSE, ${f(p.gets! / p.seconds, 1)} GETs/s, ${p.failed} failed`
      : p.latency
        ? `event p50 / p99 ${f(pct(p.latency.sorted, 0.5), 1)} / ${f(pct(p.latency.sorted, 0.99), 1)} ms`
        : '';
  console.log(`| ${p.label} | ${f(p.txPerS, 2)} (${f(p.okPerS, 2)}) | ${f(p.txPerS / noneTx, 3)} | ${f(p.cpuPerS * 1000)} | ${f(p.cpuPerS / noneCpu, 2)} | ${client} |`);
}
console.log('');

const first = loads[0]!;
const overview = first.files.filter((x) => x.type === 'document' || x.type === 'script' || x.type === 'stylesheet');
const weight = overview.reduce((n, x) => n + x.bytes, 0);
console.log(`3. the overview as Chromium loads it (first of ${LOADS} cold loads; Accept-Encoding: ${overview[0]?.acceptEncoding}): ${f(weight / 1000, 1)} kB of HTML, JS and CSS transferred`);
console.log('| request | type | content-encoding | bytes (body as sent) | content-length |');
console.log('|---|---|---|---:|---:|');
for (const x of first.files) console.log(`| ${x.url} | ${x.type} | ${x.encoding} | ${f(x.bytes)} | ${x.contentLength ?? '-'} |`);
console.log('');
const dir = join(ROOT, 'dist', 'dashboard');
const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
const loadedPaths = new Set(overview.map((x) => (x.url === '/' ? '/index.html' : x.url)));
const size = (p: string) => {
  try {
    return statSync(p).size;
  } catch {
    return NaN;
  }
};
console.log('| dist/dashboard file | raw | gz | br | loaded by the overview |');
console.log('|---|---:|---:|---:|---|');
for (const p of walk(dir).filter((p) => !p.endsWith('.gz') && !p.endsWith('.br')).sort()) {
  const rel = '/' + relative(dir, p);
  console.log(`| ${rel} | ${f(size(p))} | ${f(size(`${p}.gz`))} | ${f(size(`${p}.br`))} | ${loadedPaths.has(rel) ? 'yes' : 'no (lazy)'} |`);
}
console.log('');
const cards = loads.map((l) => l.firstCard).sort((a, b) => a - b);
const frames = loads.map((l) => l.firstCardFrame).sort((a, b) => a - b);
console.log(`navigation start -> first article[data-instrument] in the DOM, ${LOADS} cold loads: median ${f(median(cards))} ms (min ${f(cards[0]!)}, max ${f(cards[cards.length - 1]!)}); -> the next animation frame: median ${f(median(frames))} ms`);
console.log('');
console.log('command: node scripts/ensure-build.mjs && npx tsx bench/dashboard.ts');
