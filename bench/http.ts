/**
 * The HTTP API under load (issue: benchmarks).
 *
 * The gateway runs in this process on 127.0.0.1 (any free port) against the
 * simulator paced like a real line (38400 baud, 2 ms turnaround, four
 * instruments), polling the default parameters every 500 ms. The clients run in
 * a worker thread (their own event loop, keep-alive node:http agent), so the
 * gateway's loop does not also run them. Measured in this run:
 * - cached reads (maxAge) and the instrument list: requests/s with 50 clients;
 * - live reads (each goes on the bus) with 50 clients over the 4 instruments:
 *   p50/p99 latency, reads/s against the one-in-flight wire limit (per read
 *   transaction: (request + answer bytes) x 10 bits / baud + turnaround, from
 *   the bus's transaction records), and how many polls still got through;
 * - 100 identical live reads fired at once: bus transactions per round (identical
 *   concurrent reads share one transaction);
 * - d. one client, one request after the other, against a paced instrument in its own process:
 *   chained and single reads over HTTP against the bus alone and the wire limit, with a
 *   per-stage breakdown of each request's time (bench/http-sequential.ts).
 *
 *   npx tsx bench/http.ts                        everything
 *   npx tsx bench/http.ts sequential [seconds]   only d (default 5 s per phase), paced and unpaced
 */
import { Worker } from 'node:worker_threads';
import { type TransactionRecord } from '../src/bus/index.js';
import { startBenchGateway } from './gateway.js';
import { resolveParam } from '../src/params/index.js';
import { PACED, sequentialReads, sequentialTables } from './http-sequential.js';
import { WORKER_HTTP_GET } from './worker-http.js';

const BAUD = 38400;
const TURNAROUND_MS = 2;
const NODES = [3, 5, 7, 9];
const POLL_MS = 500;
const CLIENTS = 50;
const CACHED_S = 5;
const LIVE_S = 10;
const BURST = 100;
const ROUNDS = 10;
/** Seconds per phase of the sequential part (d). */
const SEQ_S = Number(process.argv[3] ?? 5);

// d. alone: `npx tsx bench/http.ts sequential [seconds]`
/** d: against the paced instrument, then against an unpaced one (what the software costs per request). */
async function sequential(): Promise<void> {
  for (const line of [PACED, { baud: 0, turnaroundMs: 0 }]) {
    const seq = await sequentialReads(SEQ_S, line);
    for (const l of sequentialTables(seq, SEQ_S)) console.log(l);
    console.log('');
  }
}
if (process.argv[2] === 'sequential') {
  await sequential();
  console.log(`command: npx tsx bench/http.ts sequential ${SEQ_S}`);
  process.exit(0);
}

// ------------------------------------------------------------------ the clients (plain JS, in a worker)

interface LoopJob {
  readonly kind: 'loop';
  readonly paths: readonly string[];
  readonly concurrency: number;
  readonly durationMs: number;
}
interface BurstJob {
  readonly kind: 'burst';
  readonly path: string;
  readonly n: number;
}
interface JobResult {
  readonly elapsedMs: number;
  readonly latencies: Float64Array;
  /** Responses by status code; 0 = socket error. */
  readonly statuses: Record<number, number>;
}

const CLIENT_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { host, port } = workerData;
const agents = new Map();
function agent(n) {
  let a = agents.get(n);
  if (!a) { a = new http.Agent({ keepAlive: true, maxSockets: n }); agents.set(n, a); }
  return a;
}
${WORKER_HTTP_GET}
parentPort.on('message', async (job) => {
  const latencies = [];
  const statuses = {};
  const ag = agent(job.kind === 'loop' ? job.concurrency : job.n);
  const one = async (path) => {
    const t = performance.now();
    const status = await get(path, ag);
    latencies.push(performance.now() - t);
    statuses[status] = (statuses[status] || 0) + 1;
  };
  const t0 = performance.now();
  if (job.kind === 'loop') {
    const end = t0 + job.durationMs;
    await Promise.all(Array.from({ length: job.concurrency }, async (_, c) => {
      for (let i = c; performance.now() < end; i += job.concurrency) await one(job.paths[i % job.paths.length]);
    }));
  } else {
    await Promise.all(Array.from({ length: job.n }, () => one(job.path)));
  }
  const elapsedMs = performance.now() - t0;
  parentPort.postMessage({ elapsedMs, latencies: Float64Array.from(latencies), statuses });
});
`;

// ------------------------------------------------------------------ the gateway

const { gateway, service, url, discoveryS, startedAt: tStart, port: PORT, pollParameters } = await startBenchGateway({ nodes: NODES, pollMs: POLL_MS, baud: BAUD, turnaroundMs: TURNAROUND_MS });
const { bus, client } = service.bus();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bus transaction records while a phase runs. */
let records: TransactionRecord[] = [];
let recording = false;
bus.on('transaction', (r) => {
  if (recording) records.push(r);
});
const record = () => {
  records = [];
  recording = true;
};
const stopRecording = () => {
  recording = false;
  return records;
};

const worker = new Worker(CLIENT_CODE, { eval: true, workerData: { host: url.hostname, port: Number(url.port) } });
let pending: { resolve: (r: JobResult) => void; reject: (e: unknown) => void } | undefined;
worker.on('message', (r: JobResult) => pending?.resolve(r));
worker.on('error', (e) => pending?.reject(e));
/** One job at a time: the worker answers each with one message. */
const run = (job: LoopJob | BurstJob) =>
  new Promise<JobResult>((resolve, reject) => {
    pending = { resolve, reject };
    worker.postMessage(job);
  });

const pct = (sorted: Float64Array, q: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number) : NaN);
const ok = (r: JobResult) => r.statuses[200] ?? 0;
const failed = (r: JobResult) => Object.entries(r.statuses).filter(([s]) => s !== '200').reduce((a, [, n]) => a + n, 0);
const describeFailed = (r: JobResult) =>
  Object.entries(r.statuses)
    .filter(([s]) => s !== '200')
    .map(([s, n]) => `${n} x ${s === '0' ? 'socket error' : `HTTP ${s}`}`)
    .join(', ') || '0';

// ------------------------------------------------------------------ a. cached reads

await run({ kind: 'loop', paths: ['/api/v1/instruments/3/parameters/fMeasure?maxAge=60000'], concurrency: CLIENTS, durationMs: 1000 }); // warm-up
const cachedPaths = {
  'GET /api/v1/instruments/3/parameters/fMeasure?maxAge=60000': '/api/v1/instruments/3/parameters/fMeasure?maxAge=60000',
  'GET /api/v1/instruments': '/api/v1/instruments',
};
const cached: { label: string; result: JobResult; busReads: number }[] = [];
for (const [label, path] of Object.entries(cachedPaths)) {
  record();
  const result = await run({ kind: 'loop', paths: [path], concurrency: CLIENTS, durationMs: CACHED_S * 1000 });
  cached.push({ label, result, busReads: stopRecording().filter((r) => r.purpose === 'read').length });
}

// ------------------------------------------------------------------ b. live reads

const livePaths = NODES.map((n) => `/api/v1/instruments/${n}/parameters?names=fMeasure,fSetpoint`);
const valveOutput = resolveParam('valveOutput');
record();
const live = await run({ kind: 'loop', paths: livePaths, concurrency: CLIENTS, durationMs: LIVE_S * 1000 });
const liveRecords = stopRecording();
const now = Date.now();
// valveOutput is polled but not read by the clients: its age shows how fresh polling kept the instruments.
const pollAges = NODES.map((n) => now - (client.latest(n, valveOutput.dde)?.at ?? 0));
const onlineAfter = service.instruments().filter((i) => i.online).length;
const liveS = live.elapsedMs / 1000;
const reads = liveRecords.filter((r) => r.purpose === 'read');
const readsOk = reads.filter((r) => r.outcome === 'ok');
const readBytes = readsOk.reduce((a, r) => a + (r.requestBytes?.length ?? 0) + (r.replyBytes?.length ?? 0), 0) / readsOk.length;
const wireS = (readBytes * 10) / BAUD + TURNAROUND_MS / 1000;
const wireLimit = 1 / wireS;
const polls = liveRecords.filter((r) => r.purpose === 'poll');
const pollsOk = polls.filter((r) => r.outcome === 'ok').length;
const pollOutcomes = Object.entries(
  polls.reduce<Record<string, number>>((a, r) => ({ ...a, [r.outcome]: (a[r.outcome] ?? 0) + 1 }), {}),
)
  .map(([o, n]) => `${n} ${o}`)
  .join(', ');
const pollsExpected = (NODES.length * LIVE_S * 1000) / POLL_MS;
const liveSorted = Float64Array.from(live.latencies).sort();

// ------------------------------------------------------------------ c. identical concurrent live reads

const burstPath = '/api/v1/instruments/5/parameters/fluidName';
const perRound: number[] = [];
let burstOk = 0;
let burstFailed = 0;
const burstLatencies: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  record();
  const r = await run({ kind: 'burst', path: burstPath, n: BURST });
  perRound.push(stopRecording().filter((t) => t.purpose === 'read').length);
  burstOk += ok(r);
  burstFailed += failed(r);
  burstLatencies.push(...r.latencies);
  await sleep(100);
}
const burstSorted = Float64Array.from(burstLatencies).sort();

await worker.terminate();
await gateway.close();

// ------------------------------------------------------------------ the table

const f = (x: number, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const ms = (x: number) => `${f(x, 1)} ms`;
const totalS = (performance.now() - tStart) / 1000;
console.log(
  `HTTP benchmark: gateway in process on ${url.host}, bus ${PORT}, poll ${POLL_MS} ms x ${pollParameters} parameters, ${CLIENTS} keep-alive clients in a worker thread, node ${process.version}; discovery ${f(discoveryS, 1)} s, whole run ${f(totalS, 0)} s`,
);
console.log('| measurement | result |');
console.log('|---|---:|');
for (const c of cached) {
  const sorted = Float64Array.from(c.result.latencies).sort();
  console.log(
    `| a. ${c.label}, ${CLIENTS} clients, ${f(c.result.elapsedMs / 1000, 1)} s | ${f(ok(c.result) / (c.result.elapsedMs / 1000))} req/s (p50 ${ms(pct(sorted, 0.5))}, p99 ${ms(pct(sorted, 0.99))}; failed ${describeFailed(c.result)}; bus reads ${c.busReads}) |`,
  );
}
console.log(`| b. live reads fMeasure,fSetpoint over nodes ${NODES.join(', ')}, ${CLIENTS} clients, ${f(liveS, 1)} s: latency p50 / p99 | ${ms(pct(liveSorted, 0.5))} / ${ms(pct(liveSorted, 0.99))} (max ${ms(pct(liveSorted, 1))}) |`);
console.log(`| b. live reads answered (HTTP 200) | ${f(ok(live) / liveS, 1)} reads/s (failed ${describeFailed(live)}) |`);
console.log(`| b. bus read transactions they cost | ${f(reads.length / liveS, 1)} /s, ${f(ok(live) / Math.max(1, reads.length), 1)} HTTP reads per transaction (identical concurrent reads share one) |`);
console.log(`| b. one-in-flight wire limit for such a transaction | ${f(wireLimit, 1)} /s (${f(readBytes, 1)} bytes x 10 / ${BAUD} + ${TURNAROUND_MS} ms = ${ms(wireS * 1000)}) |`);
console.log(`| b. ratio to the wire limit: bus read transactions/s; HTTP live reads/s | ${f(reads.length / liveS / wireLimit, 3)}; ${f(ok(live) / liveS / wireLimit, 2)} |`);
console.log(
  `| b. polls meanwhile (expected ${f(pollsExpected)} unloaded) | ${pollsOk} ok (${f((pollsOk / pollsExpected) * 100, 0)} %); outcomes: ${pollOutcomes || 'none'} |`,
);
console.log(`| b. age of polled-only valveOutput at the end, nodes ${NODES.join(', ')} | ${pollAges.map((a) => f(a / 1000, 1)).join(', ')} s; ${onlineAfter}/${NODES.length} instruments online |`);
console.log(`| c. ${BURST} identical live reads at once (${burstPath}), ${ROUNDS} rounds: bus read transactions per round | ${perRound.join(', ')} (mean ${f(perRound.reduce((a, b) => a + b, 0) / ROUNDS, 1)}) |`);
console.log(`| c. answered / failed; latency p50 / p99 | ${burstOk} / ${burstFailed}; ${ms(pct(burstSorted, 0.5))} / ${ms(pct(burstSorted, 0.99))} |`);
console.log('');
// ------------------------------------------------------------------ d. one client, one request after the other
await sequential();
console.log('command: npx tsx bench/http.ts');
