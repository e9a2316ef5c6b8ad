/**
 * One client, one request after the other, against the one-in-flight wire limit (issue 14, part 4).
 * Part of `bench/http.ts` (`npx tsx bench/http.ts sequential [seconds]` runs only this part).
 *
 * The instrument is the simulator in a process of its own (bench/paced-sim.ts), on TCP, paced at
 * 38400 baud with 2 ms turnaround, so its pacing runs on its own event loop, as a real instrument
 * would. In the same run, one phase after the other, against that instrument:
 * - the bus alone: `ParamClient.read` on a `Bus` over a TCP `Transport` in this process, as
 *   bench/bus.ts does (pipelining depth 1), 8 parameters chained, then one parameter;
 * - the gateway (started as `flowbus serve` starts it: info-level JSON log, SQLite log, polling off)
 *   with one keep-alive HTTP client in a worker thread: `GET .../parameters?names=<the 8>` and
 *   `GET .../parameters/fMeasure`, no maxAge, so every request is a bus transaction.
 * Each phase: transactions/s, CPU time of this process per request, the wire limit for the same frames ((request + answer bytes) x 10 /
 * baud + turnaround), the ratio. Then the same HTTP requests again with timestamps along the path
 * (Node's and Fastify's diagnostics channels, and wrappers on the bus and transport objects), for a
 * breakdown of each request's time in µs; the line stage is split into the ideal wire time, the
 * instrument's own lateness as it measures it (bench/paced-sim.ts `stats`), and the rest (loopback
 * TCP both ways, and waking the two processes).
 */
import { spawn } from 'node:child_process';
import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { Bus, ParamClient, Priority, type TransactionRecord } from '../src/bus/index.js';
import { configFrom } from '../src/config/index.js';
import { MasterGateway } from '../src/gateway/index.js';
import { createLogger } from '../src/logging.js';
import { startGateway } from '../src/main.js';
import { resolveParam } from '../src/params/index.js';
import { Transport, tcpOpener } from '../src/transport/index.js';
import { serveTcp } from '../simulator/cli.js';
import { createSimulator, type SimulatorStats } from '../simulator/index.js';
import { WORKER_HTTP_GET } from './worker-http.js';

/** The line the paced instrument models; baud 0: an unpaced instrument that answers at once (what the software alone costs). */
export interface Line {
  readonly baud: number;
  readonly turnaroundMs: number;
}
export const PACED: Line = { baud: 38400, turnaroundMs: 2 };
const NODE = 3;
/** The eight parameters bench/bus.ts polls (the Bright display adapter's poll). */
const NAMES = ['measure', 'setpoint', 'analogInput', 'alarmInfo', 'valveOutput', 'counterValue', 'temperature', 'fMeasure'];
const SINGLE = 'fMeasure';

const CLIENT_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { host, port } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
${WORKER_HTTP_GET}
parentPort.on('message', async (job) => {
  const latencies = [];
  let failed = 0;
  const end = performance.now() + job.durationMs;
  const t0 = performance.now();
  while (performance.now() < end) {
    const t = performance.now();
    const status = await get(job.path, agent);
    latencies.push(performance.now() - t);
    if (status !== 200) failed++;
  }
  parentPort.postMessage({ elapsedMs: performance.now() - t0, latencies: Float64Array.from(latencies), failed });
});
`;

interface Phase {
  readonly label: string;
  readonly requests: number;
  readonly elapsedS: number;
  readonly transactions: number;
  readonly failed: number;
  /** Mean request + answer bytes of a transaction. */
  readonly bytes: number;
  /** CPU time of this process (every thread: the gateway, the HTTP client's worker, SQLite's) per request, µs; less shaken by other load than the rates. */
  readonly cpuUs: number;
}

const wireS = (line: Line, bytes: number) => (line.baud ? (bytes * 10) / line.baud : 0) + line.turnaroundMs / 1000;

/** CPU time of this process since `from` (process.cpuUsage()), µs. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return d.user + d.system;
};

function summarise(label: string, records: readonly TransactionRecord[], requests: number, elapsedS: number, failed: number, cpuUs: number): Phase {
  const ok = records.filter((r) => r.outcome === 'ok');
  const bytes = ok.reduce((a, r) => a + (r.requestBytes?.length ?? 0) + (r.replyBytes?.length ?? 0), 0) / Math.max(1, ok.length);
  return { label, requests, elapsedS, transactions: records.length, failed: failed + records.length - ok.length, bytes, cpuUs: cpuUs / Math.max(1, requests) };
}

/**
 * Where the instrument runs: `process`, bench/paced-sim.ts in a process of its own (its pacing on its
 * own event loop, as a real instrument's); `inline`, the same simulator served on TCP from this
 * process (its pacing on the gateway's event loop, as bench/bus.ts has it, but no wake-up of
 * another process per frame).
 */
export type Where = 'process' | 'inline';

/** The simulator's own lateness, as it measures it (SimulatorStats.pacing). */
type Pacing = SimulatorStats['pacing'];

/**
 * Starts the instrument; resolves with its TCP port, a stop function, and `pacing()`: the
 * simulator's own lateness since the last call (then counted again from zero).
 */
async function startInstrument(line: Line, where: Where): Promise<{ port: number; stop: () => Promise<void>; pacing: () => Promise<Pacing> }> {
  if (where === 'inline') {
    const sim = createSimulator({ nodes: [NODE], ...(line.baud > 0 ? { baud: line.baud } : {}), turnaroundMs: line.turnaroundMs, precisePacing: true, seed: 3 });
    const server = await serveTcp(sim, '127.0.0.1', 0);
    const pacing = async () => {
      const p = sim.stats.pacing;
      sim.stats.pacing = { pushes: 0, lateMs: 0, maxLateMs: 0 };
      return p;
    };
    return { port: server.port, stop: () => server.close().then(() => sim.close()), pacing };
  }
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'paced-sim.ts'), String(line.baud), String(line.turnaroundMs), String(NODE)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the paced simulator exited (${code})`)));
    lines.once('line', (l) => resolve((JSON.parse(l) as { port: number }).port));
  });
  const pacing = () =>
    new Promise<Pacing>((resolve) => {
      lines.once('line', (l) => resolve((JSON.parse(l) as { pacing: Pacing }).pacing));
      child.stdin.write('stats\n');
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { port, stop, pacing };
}

/** The bus alone, as bench/bus.ts drives it: one read after the other for `seconds`. */
async function busAlone(port: number, seconds: number, baudRate: number): Promise<Phase[]> {
  const transport = new Transport(`tcp://127.0.0.1:${port}`, tcpOpener('127.0.0.1', port));
  await transport.start();
  const bus = new Bus(transport, { pipelineDepth: 1, baudRate: baudRate || 38400 });
  const client = new ParamClient(bus);
  const out: Phase[] = [];
  for (const [label, names] of [
    [`bus alone, ${NAMES.length} parameters chained`, NAMES],
    ['bus alone, one parameter', [SINGLE]],
  ] as const) {
    const defs = names.map((n) => resolveParam(n));
    const records: TransactionRecord[] = [];
    const onTx = (r: TransactionRecord) => records.push(r);
    for (let i = 0; i < 20; i++) await client.read(NODE, defs, { priority: Priority.Interactive }); // warm-up
    bus.on('transaction', onTx);
    let n = 0;
    let failed = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    while (performance.now() < end) {
      const results = await client.read(NODE, defs, { priority: Priority.Interactive });
      n++;
      if (!results.every((r) => r.ok)) failed++;
    }
    const elapsedS = (performance.now() - t0) / 1000;
    bus.off('transaction', onTx);
    out.push(summarise(label, records, n, elapsedS, failed, cpuSince(cpu0)));
  }
  await bus.close();
  await transport.close();
  return out;
}

/** Per-request timestamps along the path, from the diagnostics channels and wrappers; one request at a time. */
const STAGES = [
  ['requestStart', 'HTTP request parsed (node http.server.request.start)'],
  ['handlerStart', 'Fastify routing, onRequest hooks, validation: route handler starts'],
  ['readParams', 'route: service.readParams called'],
  ['transact', 'names resolved, cache checked, request built: bus.transact called'],
  ['write', 'queued and dispatched, frame encoded: transport.write called'],
  ['data', 'the line: request out, turnaround, answer in (transport data)'],
  ['recorded', 'deframed, matched, decoded: transaction record emitted'],
  ['sinksDone', 'transaction listeners (log record, in-memory ring, store, events)'],
  ['readParamsDone', 'values decoded, cached, identity noted, events, views: readParams resolves'],
  ['handlerDone', 'route handler resolves'],
  ['sent', 'response serialised and handed to the socket (reply.send returns)'],
  ['finish', 'response finished (node http.server.response.finish)'],
] as const;
type Stage = (typeof STAGES)[number][0];
type Trace = Partial<Record<Stage, number>>;

/**
 * Timestamps along the path of each request, one request at a time: Node's and Fastify's
 * diagnostics channels and wrappers on the gateway's own objects, installed only while tracing
 * (the throughput phases run without them).
 */
function tracer(service: MasterGateway, bus: Bus, transport: Transport) {
  let current: Trace = {};
  const traces: Trace[] = [];
  const mark = (s: Stage) => {
    if (current[s] === undefined) current[s] = performance.now();
  };
  const onRequest = () => {
    current = {};
    traces.push(current);
    mark('requestStart');
  };
  const onFinish = () => mark('finish');
  const handler = {
    start: () => mark('handlerStart'),
    end: () => undefined,
    asyncStart: () => mark('handlerDone'),
    asyncEnd: () => mark('sent'),
    error: () => undefined,
  };
  const onData = () => mark('data');
  const onRecorded = () => mark('recorded');
  const onListened = () => mark('sinksDone');
  const originals = { transact: bus.transact, write: transport.write, readParams: service.readParams };
  return {
    start: () => {
      traces.length = 0;
      subscribe('http.server.request.start', onRequest);
      subscribe('http.server.response.finish', onFinish);
      tracingChannel('fastify.request.handler').subscribe(handler);
      transport.prependListener('data', onData);
      bus.prependListener('transaction', onRecorded);
      bus.on('transaction', onListened);
      const transact = originals.transact.bind(bus);
      (bus as { transact: typeof transact }).transact = (...a) => {
        mark('transact');
        return transact(...a);
      };
      const write = originals.write.bind(transport);
      (transport as { write: typeof write }).write = (bytes) => {
        mark('write');
        return write(bytes);
      };
      const readParams = originals.readParams.bind(service);
      (service as { readParams: typeof readParams }).readParams = (...a) => {
        mark('readParams');
        return readParams(...a).finally(() => mark('readParamsDone'));
      };
    },
    stop: () => {
      unsubscribe('http.server.request.start', onRequest);
      unsubscribe('http.server.response.finish', onFinish);
      tracingChannel('fastify.request.handler').unsubscribe(handler);
      transport.off('data', onData);
      bus.off('transaction', onRecorded);
      bus.off('transaction', onListened);
      delete (bus as { transact?: unknown }).transact;
      delete (transport as { write?: unknown }).write;
      delete (service as { readParams?: unknown }).readParams;
      return traces.filter((t) => STAGES.every(([st]) => t[st] !== undefined));
    },
  };
}

export interface SequentialResult {
  readonly phases: Phase[];
  /** Per traced HTTP phase: label, µs per stage (mean), client-side cycle (mean, µs), ideal wire µs. */
  readonly breakdowns: { label: string; stages: Record<string, number>; cycleUs: number; wireUs: number; n: number; instrumentLateUs: number; instrumentMaxLateUs: number }[];
  readonly logLevel: string;
  readonly line: Line;
  readonly where: Where;
}

/** `onPhase` is called as each measured HTTP phase starts and ends (a profiler can watch one). */
export async function sequentialReads(seconds: number, line: Line = PACED, where: Where = 'process', onPhase?: (label: string, at: 'start' | 'end') => Promise<void>): Promise<SequentialResult> {
  const instrument = await startInstrument(line, where);
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-http-seq-'));
  try {
    const phases = await busAlone(instrument.port, seconds, line.baud);
    const logLevel = 'info';
    const config = configFrom({
      buses: [{ port: `tcp://127.0.0.1:${instrument.port}`, discover: false, nodes: [NODE] }],
      poll: { parameters: [] },
      http: { host: '127.0.0.1', port: 0 },
      log: { level: logLevel },
      store: { url: `sqlite:${join(dir, 'flowbus.db')}` },
    });
    // The log as `flowbus serve` writes it (JSON lines at info), into nothing.
    const nowhere = new Writable({ write: (_c, _e, done) => done() });
    const gateway = await startGateway(config, createLogger(config.log.level, 'json', nowhere));
    const service = gateway.service;
    if (!(service instanceof MasterGateway)) throw new Error('expected master mode');
    const t0 = performance.now();
    // No discovery and no polling: node 3 is known from the config, and the warm-up's reads bring it online.
    while (!service.ready() || service.instruments().length === 0) {
      if (performance.now() - t0 > 20_000) throw new Error('the bus did not open');
      await new Promise((r) => setTimeout(r, 50));
    }
    const { bus, transport } = service.bus();
    const trace = tracer(service, bus, transport);
    const url = new URL(gateway.url);
    const worker = new Worker(CLIENT_CODE, { eval: true, workerData: { host: url.hostname, port: Number(url.port) } });
    const run = (path: string, durationMs: number) =>
      new Promise<{ elapsedMs: number; latencies: Float64Array; failed: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.postMessage({ path, durationMs });
      });
    const paths = [
      [`HTTP, ${NAMES.length} parameters chained (GET /api/v1/instruments/${NODE}/parameters?names=...)`, `/api/v1/instruments/${NODE}/parameters?names=${NAMES.join(',')}`],
      [`HTTP, one parameter (GET /api/v1/instruments/${NODE}/parameters/${SINGLE})`, `/api/v1/instruments/${NODE}/parameters/${SINGLE}`],
    ] as const;
    const breakdowns: SequentialResult['breakdowns'] = [];
    for (const [label, path] of paths) {
      await run(path, 500); // warm-up
      const records: TransactionRecord[] = [];
      const onTx = (r: TransactionRecord) => records.push(r);
      bus.on('transaction', onTx);
      await onPhase?.(label, 'start');
      const cpu0 = process.cpuUsage();
      const r = await run(path, seconds * 1000);
      const cpu = cpuSince(cpu0);
      await onPhase?.(label, 'end');
      bus.off('transaction', onTx);
      phases.push(summarise(label, records, r.latencies.length, r.elapsedMs / 1000, r.failed, cpu));
    }
    for (const [label, path] of paths) {
      const records: TransactionRecord[] = [];
      const onTx = (r: TransactionRecord) => records.push(r);
      bus.on('transaction', onTx);
      await instrument.pacing(); // from zero
      trace.start();
      const r = await run(path, Math.max(2, seconds / 2) * 1000);
      const traces = trace.stop();
      const late = await instrument.pacing();
      bus.off('transaction', onTx);
      const stages: Record<string, number> = {};
      for (let i = 1; i < STAGES.length; i++) {
        const [from] = STAGES[i - 1] as (typeof STAGES)[number];
        const [to] = STAGES[i] as (typeof STAGES)[number];
        stages[to] = (traces.reduce((a, t) => a + ((t[to] as number) - (t[from] as number)), 0) / traces.length) * 1000;
      }
      const ph = summarise(label, records, r.latencies.length, r.elapsedMs / 1000, r.failed, 0);
      breakdowns.push({
        label,
        stages,
        cycleUs: (Array.from(r.latencies).reduce((a, b) => a + b, 0) / r.latencies.length) * 1000,
        wireUs: wireS(line, ph.bytes) * 1e6,
        n: traces.length,
        instrumentLateUs: (late.lateMs / Math.max(1, late.pushes)) * 1000,
        instrumentMaxLateUs: late.maxLateMs * 1000,
      });
    }
    await worker.terminate();
    await gateway.close();
    return { phases, breakdowns, logLevel, line, where };
  } finally {
    await instrument.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The tables, as Markdown. */
export function sequentialTables(r: SequentialResult, seconds: number): string[] {
  const f = (x: number, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  const { line } = r;
  const paced = line.baud > 0;
  const lines: string[] = [];
  lines.push(
    `One client, one request after the other: ${paced ? `the simulator paced at ${line.baud} baud, ${line.turnaroundMs} ms turnaround` : 'the simulator unpaced (answers at once)'}, ${r.where === 'process' ? 'in its own process' : 'in this process'}, on TCP, node ${NODE}; gateway with polling off, ${r.logLevel}-level JSON log, SQLite log; ${seconds} s per phase; node ${process.version}`,
  );
  lines.push(
    paced
      ? '| phase | requests/s | transactions/s | bytes/transaction | wire limit, transactions/s | ratio to the limit | per transaction above the wire | CPU per request | failed |'
      : '| phase | requests/s | transactions/s | bytes/transaction | µs per request | CPU per request | failed |',
  );
  lines.push(paced ? '|---|---:|---:|---:|---:|---:|---:|---:|---:|' : '|---|---:|---:|---:|---:|---:|---:|');
  for (const p of r.phases) {
    const tps = p.transactions / p.elapsedS;
    const limit = 1 / wireS(line, p.bytes);
    lines.push(
      paced
        ? `| ${p.label} | ${f(p.requests / p.elapsedS, 1)} | ${f(tps, 1)} | ${f(p.bytes, 1)} | ${f(limit, 1)} | **${f(tps / limit, 3)}** | ${f((1 / tps - wireS(line, p.bytes)) * 1e6)} µs | ${f(p.cpuUs)} µs | ${p.failed} |`
        : `| ${p.label} | ${f(p.requests / p.elapsedS, 1)} | ${f(tps, 1)} | ${f(p.bytes, 1)} | **${f((p.elapsedS / p.requests) * 1e6)}** | ${f(p.cpuUs)} µs | ${p.failed} |`,
    );
  }
  lines.push('');
  lines.push(`Where a request's time goes (mean µs per request, the same requests traced, ${r.breakdowns.map((b) => `${b.n}`).join(' and ')} requests):`);
  lines.push(`| stage (time since the previous one) | ${r.breakdowns.map((b) => b.label.replace(/ \(GET.*\)$/, '')).join(' | ')} |`);
  lines.push(`|---|${r.breakdowns.map(() => '---:').join('|')}|`);
  for (let i = 1; i < STAGES.length; i++) {
    const [key, what] = STAGES[i] as (typeof STAGES)[number];
    lines.push(`| ${what} | ${r.breakdowns.map((b) => f(b.stages[key] as number)).join(' | ')} |`);
  }
  if (paced) {
    lines.push(`| of which the ideal wire time, (bytes x 10 / baud) + turnaround | ${r.breakdowns.map((b) => f(b.wireUs)).join(' | ')} |`);
    lines.push(`| of which the instrument's own timer past the ideal time, as it measured (mean; max) | ${r.breakdowns.map((b) => `${f(b.instrumentLateUs)}; ${f(b.instrumentMaxLateUs)}`).join(' | ')} |`);
    lines.push(
      `| of which the rest: loopback TCP both ways, waking the instrument's process and this one | ${r.breakdowns.map((b) => f((b.stages.data as number) - b.wireUs - b.instrumentLateUs)).join(' | ')} |`,
    );
  }
  lines.push(
    `| the client's side: response to the client, next request to the server (client cycle less the server's time) | ${r.breakdowns
      .map((b) => f(b.cycleUs - Object.values(b.stages).reduce((a, x) => a + x, 0)))
      .join(' | ')} |`,
  );
  lines.push(`| **client cycle, per request** | ${r.breakdowns.map((b) => `**${f(b.cycleUs)}**`).join(' | ')} |`);
  if (paced) lines.push(`| **above the ideal wire time** | ${r.breakdowns.map((b) => `**${f(b.cycleUs - b.wireUs)}**`).join(' | ')} |`);
  return lines;
}
