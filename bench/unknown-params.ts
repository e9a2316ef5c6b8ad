/**
 * Unknown parameter names from outsiders (issue 8, section 1): do they slow the bus or the
 * gateway's event loop?
 *
 * The gateway runs in this process on 127.0.0.1 (any free port) against the simulator paced
 * like a real line (38400 baud, 2 ms turnaround, four instruments), polling the default
 * parameters every 500 ms. The clients run in a worker thread (their own event loop,
 * keep-alive node:http agents), so the gateway's loop does not also run them. One run, phases
 * of PHASE_S seconds each:
 * - idle: nobody but a `/healthz` prober (one request every 10 ms, its own connection);
 * - 50 clients asking, as fast as they can, for unknown 80-character names
 *   (`GET /api/v1/instruments/3/parameters/<80 random letters>`, a different name each time);
 * - the same with 64-character names, the longest that still get "did you mean" suggestions;
 * - for reference, 50 clients reading a known parameter from the cache (`fMeasure?maxAge=60000`),
 *   about the cheapest request there is: what any flood of requests costs, whatever it asks.
 * For each: polls completed per second (the bus's transaction records with purpose 'poll' and
 * outcome ok), its ratio to the idle run, and `/healthz` p50/p99 latency.
 * Target: polls within 5 % of idle, `/healthz` p99 under 20 ms. PHASE_S=4 shortens the runs.
 *
 *   npx tsx bench/unknown-params.ts
 */
import { Worker } from 'node:worker_threads';
import { type TransactionRecord } from '../src/bus/index.js';
import { startBenchGateway } from './gateway.js';
import { WORKER_HTTP_GET } from './worker-http.js';

const BAUD = 38400;
const TURNAROUND_MS = 2;
const NODES = [3, 5, 7, 9];
const POLL_MS = 500;
const CLIENTS = 50;
const PHASE_S = Number(process.env.PHASE_S ?? 10);
const PROBE_MS = 10;

// ------------------------------------------------------------------ the clients (plain JS, in a worker)

interface Job {
  /** Length of the unknown names; 0 = no attackers. */
  readonly nameLength: number;
  /** Ask this path instead of unknown names. */
  readonly path?: string;
  readonly clients: number;
  readonly durationMs: number;
}
interface JobResult {
  readonly elapsedMs: number;
  readonly attacks: number;
  /** Attack responses by status code; 0 = socket error. */
  readonly statuses: Record<number, number>;
  readonly health: Float64Array;
  readonly healthFailed: number;
}

const CLIENT_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { host, port, probeMs } = workerData;
${WORKER_HTTP_GET}
let seed = 12345;
function name(n) {
  let s = '';
  for (let i = 0; i < n; i++) { seed = (seed * 1103515245 + 12345) >>> 0; s += String.fromCharCode(97 + (seed >>> 8) % 26); }
  return s;
}
const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
parentPort.on('message', async (job) => {
  const statuses = {};
  const health = [];
  let healthFailed = 0;
  let attacks = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, job.clients) });
  const t0 = performance.now();
  const end = t0 + job.durationMs;
  const prober = (async () => {
    while (performance.now() < end) {
      const t = performance.now();
      const status = await get('/healthz', probeAgent);
      health.push(performance.now() - t);
      if (status !== 200) healthFailed++;
      const wait = probeMs - (performance.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  const attackers = job.clients === 0 ? [] : Array.from({ length: job.clients }, async () => {
    while (performance.now() < end) {
      const status = await get(job.path || '/api/v1/instruments/3/parameters/' + name(job.nameLength), agent);
      attacks++;
      statuses[status] = (statuses[status] || 0) + 1;
    }
  });
  await Promise.all([prober, ...attackers]);
  agent.destroy();
  parentPort.postMessage({ elapsedMs: performance.now() - t0, attacks, statuses, health: Float64Array.from(health), healthFailed });
});
`;

// ------------------------------------------------------------------ the gateway

const { gateway, service, url, discoveryS, port: PORT, pollParameters } = await startBenchGateway({ nodes: NODES, pollMs: POLL_MS, baud: BAUD, turnaroundMs: TURNAROUND_MS });
const { bus } = service.bus();

let records: TransactionRecord[] = [];
bus.on('transaction', (r) => records.push(r));

const worker = new Worker(CLIENT_CODE, { eval: true, workerData: { host: url.hostname, port: Number(url.port), probeMs: PROBE_MS } });
let pending: { resolve: (r: JobResult) => void; reject: (e: unknown) => void } | undefined;
worker.on('message', (r: JobResult) => pending?.resolve(r));
worker.on('error', (e) => pending?.reject(e));
const run = (job: Job) =>
  new Promise<JobResult>((resolve, reject) => {
    pending = { resolve, reject };
    worker.postMessage(job);
  });

interface Phase {
  readonly label: string;
  readonly result: JobResult;
  readonly pollsPerS: number;
  readonly pollsFailed: number;
}

async function phase(label: string, nameLength: number, path?: string): Promise<Phase> {
  records = [];
  const result = await run({ nameLength, ...(path ? { path } : {}), clients: nameLength === 0 && !path ? 0 : CLIENTS, durationMs: PHASE_S * 1000 });
  const polls = records.filter((r) => r.purpose === 'poll');
  const ok = polls.filter((r) => r.outcome === 'ok').length;
  return { label, result, pollsPerS: ok / (result.elapsedMs / 1000), pollsFailed: polls.length - ok };
}

await run({ nameLength: 80, clients: CLIENTS, durationMs: 1000 }); // warm-up
const phases = [
  await phase('idle (healthz prober only)', 0),
  await phase(`${CLIENTS} clients, unknown 80-character names`, 80),
  await phase(`${CLIENTS} clients, unknown 64-character names`, 64),
  await phase(`reference: ${CLIENTS} clients, cached reads of fMeasure`, 0, '/api/v1/instruments/3/parameters/fMeasure?maxAge=60000'),
];

await worker.terminate();
await gateway.close();

// ------------------------------------------------------------------ the table

const f = (x: number, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
const pct = (sorted: Float64Array, q: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number) : NaN);
const idle = phases[0]!;
console.log(
  `Unknown-name benchmark: gateway in process on ${url.host}, bus ${PORT}, poll ${POLL_MS} ms x ${pollParameters} parameters on ${NODES.length} instruments, clients in a worker thread, /healthz every ${PROBE_MS} ms, ${PHASE_S} s per run, node ${process.version}; discovery ${f(discoveryS, 1)} s`,
);
console.log('| run | requests/s (statuses) | polls/s ok (failed) | ratio to idle | /healthz p50 / p99 (failed) |');
console.log('|---|---:|---:|---:|---:|');
for (const p of phases) {
  const s = p.result.elapsedMs / 1000;
  const h = Float64Array.from(p.result.health).sort();
  const statuses = Object.entries(p.result.statuses).map(([code, n]) => `${n} x ${code === '0' ? 'socket error' : code}`).join(', ') || '-';
  console.log(
    `| ${p.label} | ${f(p.result.attacks / s)} (${statuses}) | ${f(p.pollsPerS, 2)} (${p.pollsFailed}) | ${f(p.pollsPerS / idle.pollsPerS, 3)} | ${f(pct(h, 0.5), 2)} / ${f(pct(h, 0.99), 2)} ms (${p.result.healthFailed}) |`,
  );
}
console.log('');
console.log('command: npx tsx bench/unknown-params.ts');
