/**
 * Passive bridge (issue 5 and issue 14 part 5, benchmarks): what the bridge costs, measured
 * side by side with socat and with a direct link in the same run, on real pseudo-terminals
 * opened with serialport.
 *
 * - Round trips against socat: a master reads as fast as it can, one request at a time, from
 *   the same unpaced simulated instrument through `socat` (two ptys joined) and through
 *   `flowbus serve --mode bridge` (the compiled CLI, a process of its own like socat, with
 *   its SQLite log on and every frame decoded), alternating in rounds: round trips/s, the
 *   ratio bridge / socat, p50 and p99, for 8-value chained reads and single reads. The
 *   master is Node (pyserial is not installed here): it writes a fixed request frame and
 *   waits for the whole reply, as Bronkhorst's Python library does. CPU time of socat and of the
 *   bridge (all threads, /proc/PID/task/TID/schedstat) per round trip, and the bridge's by thread.
 *   Every path first makes BENCH_WARMUP round trips of each kind (default 4000), not counted:
 *   V8 compiles the bridge's code for its first several thousand transactions, on a thread of its
 *   own, and that compiling is not what the bridge costs when it has run for a while.
 *   BENCH_BASELINE=other/bin/flowbus.js adds a third path, that build's bridge, in the same run
 *   (a build from before a change). BENCH_CPU_PROF=DIR writes a V8 CPU profile of the bridge
 *   (sampled every BENCH_CPU_PROF_INTERVAL µs, default 1000);
 *   BENCH_STRACE=FILE runs it under `strace -c -f`; BENCH_BIN=dist/src/cli.js runs the bridge unbundled
 *   (readable names in the profile). Each bridge runs with the node flags and environment of its
 *   bin's `#!` line (`--v8-pool-size=1`, `MALLOC_ARENA_MAX=2`), as the command runs; BENCH_NO_SHEBANG=1
 *   without them.
 *
 * - Latency: one byte written on one end, timed until it is read on the other, alternately
 *   through a direct pty pair and through pty -> bridge -> pty; p50 and p99 of each and of
 *   the difference. The bridge decodes, pairs and logs on the side meanwhile. For these two the
 *   bridge is this build's `flowbus serve --mode bridge` in a process of its own, as socat is (it
 *   ran in the bench's process before, whose reading of the ports then waited for its decoding).
 *   BENCH_SETTLE_MS (default 500) is how long after the flood its counters are read.
 * - Throughput: the master side writes back-to-back ProPar request frames as fast as the
 *   pty takes them (a saturated line, far past any baud rate); bytes/s read at the far end,
 *   direct and bridged, and against what a 38400-baud line carries (3,840 B/s).
 *
 *   npx tsx bench/bridge.ts [latency samples, default 2000] [throughput MB, default 8] [round trips per segment, default 50] [rounds, default 30]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SerialPortStream } from '@serialport/stream';
import { SerialPort } from 'serialport';
import { buildRequest, createDeframer, encodeFrame, encodeMessage, WireType, type ParamAddress } from '../src/codec/index.js';
import { resolveParam } from '../src/params/index.js';
import { createSerialPort } from '../src/transport/index.js';

const SAMPLES = Number(process.argv[2] ?? 2000);
const MEGABYTES = Number(process.argv[3] ?? 8);
const PER_SEGMENT = Number(process.argv[4] ?? 50);
const ROUNDS = Number(process.argv[5] ?? 30);
const LINE_BYTES_PER_S = 38400 / 10;
/** A round trip without its reply after this long ends the bench (something dropped bytes). */
const REPLY_TIMEOUT_MS = 3000;
/** The saturated phase ends when nothing more arrived for this long after the last write. */
const QUIET_MS = 3000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The bridge's CLI; BENCH_BIN=dist/src/cli.js runs it unbundled (readable names in a CPU profile). */
const BIN = process.env.BENCH_BIN ?? fileURLToPath(new URL('../bin/flowbus.js', import.meta.url));

async function pair(a: string, b: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `pty,rawer,echo=0,link=${a}`, `pty,rawer,echo=0,link=${b}`], { stdio: 'ignore' });
  for (let i = 0; i < 250 && !(existsSync(a) && existsSync(b)); i++) await sleep(20);
  return child;
}

/** socat joining two existing ptys, as python-flowmeter's setups bridge a port. */
async function join2(a: string, b: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `${a},rawer,echo=0`, `${b},rawer,echo=0`], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (t: string) => {
      err += t;
      if (err.includes('starting data transfer loop')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`socat ${a} ${b} exited with ${code}: ${err}`)));
  });
  return child;
}

async function open(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 38400, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  return port;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Time from writing one byte on `from` until it is read on `to`, ms. */
function oneByte(from: SerialPort, to: SerialPort, byte: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    to.once('data', () => resolve(performance.now() - t0));
    from.write(Buffer.of(byte));
  });
}

interface Saturated {
  readonly bps: number;
  readonly got: number;
  /** False when the bytes stopped short of `total` (the bridge dropped some past maxUnwrittenBytes). */
  readonly complete: boolean;
}

/**
 * Writes `total` bytes of `pattern` as fast as `from` takes them; resolves with bytes/s read on `to`.
 * Ends, incomplete, once nothing arrived for QUIET_MS after the last write.
 */
function saturate(from: SerialPort, to: SerialPort, pattern: Buffer, total: number): Promise<Saturated> {
  return new Promise((resolve) => {
    let got = 0;
    let sent = 0;
    let lastAt = performance.now();
    const t0 = performance.now();
    const finish = (complete: boolean): void => {
      clearInterval(watch);
      to.off('data', onData);
      resolve({ bps: got / ((lastAt - t0) / 1000), got, complete });
    };
    const onData = (c: Buffer): void => {
      got += c.length;
      lastAt = performance.now();
      if (got >= total) finish(true);
    };
    const watch = setInterval(() => {
      if (sent >= total && performance.now() - lastAt > QUIET_MS) finish(false);
    }, 250);
    to.on('data', onData);
    const pump = (): void => {
      while (sent < total) {
        const chunk = pattern.subarray(0, Math.min(pattern.length, total - sent));
        sent += chunk.length;
        lastAt = performance.now();
        if (!from.write(chunk)) return void from.once('drain', pump);
      }
    };
    pump();
  });
}

function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

// ------------------------------------------------------------------ round trips: the master

/** A master as Bronkhorst's library is one: writes one request frame, waits for the whole reply frame, again. */
class RawMaster {
  private readonly deframer = createDeframer('binary');
  private waiting: ((ok: boolean) => void) | undefined;
  constructor(private readonly port: SerialPortStream) {
    port.on('data', (chunk: Buffer) => {
      for (const ev of this.deframer.push(chunk)) {
        if (ev.kind === 'frame' && this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w(true);
        }
      }
    });
  }

  /** One round trip, ms; throws when no reply came within REPLY_TIMEOUT_MS. */
  async roundTrip(frame: Uint8Array, label: string): Promise<number> {
    const t0 = performance.now();
    const ok = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve(false);
      }, REPLY_TIMEOUT_MS);
      this.waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.port.write(frame);
    });
    if (!ok) throw new Error(`no reply within ${REPLY_TIMEOUT_MS} ms through ${label}: bytes were lost on the way; the bench stops here`);
    return performance.now() - t0;
  }
}

const CHAINED = ['measure', 'setpoint', 'analogInput', 'alarmInfo', 'valveOutput', 'counterValue', 'temperature', 'fMeasure'].map((k) => resolveParam(k));
const address = (d: { process: number; fbnr: number; wireType: WireType }): ParamAddress => ({ process: d.process, fbnr: d.fbnr, wireType: d.wireType });
const requestFrame = (defs: readonly { process: number; fbnr: number; wireType: WireType }[]): Uint8Array =>
  encodeFrame({ kind: 'data', seq: 0x21, node: 3, data: encodeMessage(buildRequest(defs.map(address))) }, 'binary');

/** The instrument, in a process of its own: one simulator, one pty line for each path. */
async function serveInstrument(paths: string[]): Promise<void> {
  const { createSimulator } = await import('../simulator/index.js');
  const { servePty } = await import('../simulator/cli.js');
  const sim = createSimulator({ nodes: [3] });
  const servers: { close(): Promise<void> }[] = [];
  for (const path of paths) servers.push(await servePty(sim, path));
  console.log('ready');
  const stop = async (): Promise<void> => {
    for (const s of servers) await s.close();
    await sim.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  // The bench gone (killed, its output cut by a pipe): so is the instrument.
  process.stdin.once('close', () => void stop());
  process.stdin.resume();
}

function waitLine(child: ChildProcess, text: string, what: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${out}`)), timeoutMs);
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (t: string) => {
      out += t;
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}: ${out}`));
    });
  });
}

/** CPU time of a process, all its threads, ns (Linux schedstat); 0 when it cannot be read. */
function cpuNs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    return ns;
  } catch {
    return 0;
  }
}

/** CPU time of a process by thread name, ns. */
function cpuByThread(pid: number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (pid === undefined) return out;
  try {
    // Threads named by their order of creation ("thread 3": the third after the main thread):
    // Node names none of them, and their ids differ from run to run.
    const tids = readdirSync(`/proc/${pid}/task`).sort((a, b) => Number(a) - Number(b));
    for (const [i, tid] of tids.entries()) {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const name = tid === String(pid) ? 'main thread' : comm === 'node' ? `thread ${i}` : comm;
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out.set(name, (out.get(name) ?? 0) + ns);
    }
  } catch {
    // the process is gone
  }
  return out;
}

async function httpJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  return res.json();
}

interface PathRun {
  readonly name: string;
  readonly label: string;
  readonly master: RawMaster;
  /** The process between master and instrument (socat or the bridge). */
  readonly pid: number | undefined;
  samples: number[];
  elapsedMs: number;
  cpuNs: number;
  threads: Map<string, number>;
}

interface BridgeProcess {
  readonly child: ChildProcess;
  readonly base: string;
  readonly db: string;
}

/**
 * The environment and node flags of `bin`'s `#!/usr/bin/env -S VAR=x node --flag` line: what the
 * command gets when run as one (`flowbus`, `npx flowbus`, the systemd unit), and `node bin` does
 * not. BENCH_NO_SHEBANG=1 runs the bridge without them.
 */
function shebangOf(bin: string): { env: Record<string, string>; args: string[] } {
  const out = { env: {} as Record<string, string>, args: [] as string[] };
  if (process.env.BENCH_NO_SHEBANG) return out;
  const first = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S (.*)$/.exec(first);
  if (!m?.[1]) return out;
  const words = m[1].trim().split(/\s+/);
  const node = words.indexOf('node');
  if (node < 0) return out;
  for (const w of words.slice(0, node)) {
    const i = w.indexOf('=');
    if (i > 0) out.env[w.slice(0, i)] = w.slice(i + 1);
  }
  out.args = words.slice(node + 1);
  return out;
}

/** `flowbus serve --mode bridge` from `bin` as a process of its own, with its SQLite log; resolves once both sides are open. */
async function startBridge(bin: string, dir: string, name: string, instrumentPort: string, masterPort: string, profile: boolean): Promise<BridgeProcess> {
  const httpPort = await freePort();
  const db = join(dir, `${name}.db`);
  // BENCH_STRACE=FILE runs the bridge under `strace -c -f` (a syscall summary; its CPU figures then include strace's).
  const traced = profile && process.env.BENCH_STRACE ? [...(process.env.BENCH_STRACE_ARGS ?? 'strace -c -f').split(' '), '-o', process.env.BENCH_STRACE, process.execPath] : [process.execPath];
  const shebang = shebangOf(bin);
  const child = spawn(
    traced[0] as string,
    [
      ...traced.slice(1),
      ...shebang.args,
      // BENCH_NODE_ARGS="--flag ..." adds node flags to this build's bridge (not the baseline's).
      ...(profile && process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : []),
      ...(profile && process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF, '--cpu-prof-interval', process.env.BENCH_CPU_PROF_INTERVAL ?? '1000'] : []),
      bin,
      'serve',
      '--mode',
      'bridge',
      '--instrument-port',
      instrumentPort,
      '--master-port',
      masterPort,
      '--store',
      `sqlite:${db}`,
      '--http-port',
      String(httpPort),
      '--log-level',
      'warn',
    ],
    // BENCH_STDOUT=FILE: this build's bridge writes its standard output there (with BENCH_NODE_ARGS="--trace-deopt", say).
    { stdio: ['ignore', profile && process.env.BENCH_STDOUT ? openSync(process.env.BENCH_STDOUT, 'w') : 'pipe', 'inherit'], cwd: dir, env: { ...process.env, ...shebang.env } },
  );
  const base = `http://127.0.0.1:${httpPort}`;
  for (let i = 0; ; i++) {
    try {
      const bus = (await httpJson(`${base}/api/v1/bus`)) as { buses: { bridge: { sides: Record<string, { state: string }> } }[] };
      const sides = bus.buses[0]?.bridge.sides;
      if (sides && sides.instrument?.state === 'open' && sides.master?.state === 'open') break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`the bridge ${bin} exited with ${child.exitCode}`);
    if (i > 300) throw new Error(`the bridge ${bin} did not open both sides within 30 s`);
    await sleep(100);
  }
  return { child, base, db };
}

type BusAnswer = {
  buses: {
    transactions: Record<string, number>;
    bridge: {
      directions: Record<string, { bytes: number; forwarded: number; bursts: number; frames: number; droppedNoPeer: number; droppedOverflow: number; droppedWriteFailed: number; undecodedBytes: number }>;
      forwardLatency: { p50Us: number; p99Us: number; count: number };
      forwarding: string;
    };
  }[];
};

/** The bridge's bus as GET /api/v1/bus shows it. */
async function bridgeBus(b: BridgeProcess): Promise<BusAnswer['buses'][number]> {
  const bus = ((await httpJson(`${b.base}/api/v1/bus`)) as BusAnswer).buses[0];
  if (!bus) throw new Error('the bridge shows no bus');
  return bus;
}

/** Rows in a stopped bridge's SQLite log. */
async function loggedRows(db: string): Promise<number> {
  const { default: Database } = await import('better-sqlite3');
  const conn = new Database(db, { readonly: true });
  try {
    // The compact log (issue 14 part 1) keeps transactions in log_transactions; `transactions` is the old layout's.
    const table = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'log_transactions'").get() ? 'log_transactions' : 'transactions';
    return (conn.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    conn.close();
  }
}

async function roundTrips(dir: string, children: ChildProcess[], closers: (() => Promise<void>)[]): Promise<void> {
  const p = (n: string) => join(dir, n);
  // BENCH_BASELINE=path/to/bin/flowbus.js adds a third path: that build's bridge (e.g. the one before a change), in the same run.
  const baseline = process.env.BENCH_BASELINE;
  const names = ['socat', 'bridge', ...(baseline ? ['baseline'] : [])];
  const inst = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--instrument', ...names.map((n) => p(`inst.${n}`))], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(inst);
  await waitLine(inst, 'ready', 'the simulator');
  for (const n of names) children.push(await pair(p(`rt.master.${n}`), p(`rt.far.${n}`)));
  const joiner = await join2(p('rt.far.socat'), p('inst.socat'));
  children.push(joiner);
  const bridges = new Map<string, BridgeProcess>();
  bridges.set('bridge', await startBridge(BIN, dir, 'bridge', p('inst.bridge'), p('rt.far.bridge'), true));
  if (baseline) bridges.set('baseline', await startBridge(baseline, dir, 'baseline', p('inst.baseline'), p('rt.far.baseline'), false));
  for (const b of bridges.values()) children.push(b.child);
  const openMaster = async (path: string): Promise<RawMaster> => {
    const port = createSerialPort(path, 38400);
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    closers.push(() => new Promise((r) => port.close(() => r())));
    return new RawMaster(port);
  };
  const masters = new Map<string, RawMaster>();
  for (const n of names) masters.set(n, await openMaster(p(`rt.master.${n}`)));
  const labels: Record<string, string> = {
    socat: 'master -> socat -> instrument',
    bridge: 'master -> flowbus bridge -> instrument',
    baseline: `master -> baseline bridge (${baseline ?? ''}) -> instrument`,
  };
  const pidOf = (n: string) => (n === 'socat' ? joiner.pid : bridges.get(n)?.child.pid);

  const kinds = [
    { name: '8-value chained read', frame: requestFrame(CHAINED) },
    { name: 'single read', frame: requestFrame(CHAINED.slice(0, 1)) },
  ];
  const WARMUP = Number(process.env.BENCH_WARMUP ?? 4000);
  const results: { kind: string; runs: PathRun[] }[] = [];
  for (const kind of kinds) {
    const runs: PathRun[] = names.map((n) => ({ name: n, label: labels[n] as string, master: masters.get(n) as RawMaster, pid: pidOf(n), samples: [], elapsedMs: 0, cpuNs: 0, threads: new Map() }));
    // Warm up every path (JIT, the bridge's first transactions).
    for (const run of runs) for (let i = 0; i < WARMUP; i++) await run.master.roundTrip(kind.frame, run.name);
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate which path goes first, so that none always follows another.
      const order = runs.map((_, i) => runs[(i + r) % runs.length] as PathRun);
      for (const run of order) {
        const cpu0 = cpuNs(run.pid);
        const threads0 = cpuByThread(run.pid);
        const t0 = performance.now();
        for (let i = 0; i < PER_SEGMENT; i++) run.samples.push(await run.master.roundTrip(kind.frame, run.name));
        run.elapsedMs += performance.now() - t0;
        run.cpuNs += cpuNs(run.pid) - cpu0;
        for (const [name, ns] of cpuByThread(run.pid)) run.threads.set(name, (run.threads.get(name) ?? 0) + ns - (threads0.get(name) ?? 0));
      }
    }
    results.push({ kind: kind.name, runs });
  }
  await sleep(1500);
  const answers = new Map<string, BusAnswer>();
  for (const [n, b] of bridges) answers.set(n, (await httpJson(`${b.base}/api/v1/bus`)) as BusAnswer);

  const f = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  console.log(`\nRound trips, one request at a time to one unpaced simulated instrument, ${ROUNDS} rounds of ${f(PER_SEGMENT)} per path, rotating:\n`);
  console.log('| request | path | round trips/s | p50 ms | p99 ms | CPU µs per round trip (that process) | x socat |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const { kind, runs } of results) {
    const rate = (x: PathRun) => x.samples.length / (x.elapsedMs / 1000);
    const socat = runs[0] as PathRun;
    for (const x of runs) {
      const sorted = Float64Array.from(x.samples).sort();
      const ratio = x === socat ? '' : x.name === 'bridge' ? `**${f(rate(x) / rate(socat), 3)}**` : f(rate(x) / rate(socat), 3);
      console.log(`| ${kind} | ${x.label} | ${f(rate(x))} | ${f(quantile(sorted, 0.5), 3)} | ${f(quantile(sorted, 0.99), 3)} | ${f(x.cpuNs / 1000 / x.samples.length)} | ${ratio} |`);
    }
    for (const x of runs.slice(1)) {
      console.log(`| ${kind} | added by the ${x.name}, per round trip (mean) | | ${f((x.elapsedMs / x.samples.length - socat.elapsedMs / socat.samples.length) * 1000)} µs | | | |`);
    }
  }
  for (const { kind, runs } of results) {
    for (const x of runs.slice(1)) {
      const parts = [...x.threads].filter(([, ns]) => ns > 0).sort((m, n) => n[1] - m[1]);
      console.log(`\nThe ${x.name}'s CPU per round trip by thread, ${kind}: ${parts.map(([name, ns]) => `${name} ${f(ns / 1000 / x.samples.length)} µs`).join(', ')}.`);
    }
  }
  for (const [n, answer] of answers) {
    const bb = answer.buses[0];
    if (!bb) continue;
    const d = bb.bridge.directions;
    const drops = (x: { droppedNoPeer: number; droppedOverflow: number; droppedWriteFailed: number } | undefined) => (x ? x.droppedNoPeer + x.droppedOverflow + x.droppedWriteFailed : 0);
    console.log(
      `\nThe ${n} (GET /api/v1/bus): frames decoded > ${f(d['>']?.frames ?? 0)}, < ${f(d['<']?.frames ?? 0)}; transactions ${JSON.stringify(bb.transactions)}; ` +
        `dropped ${drops(d['>']) + drops(d['<'])} bytes, not decoded ${(d['>']?.undecodedBytes ?? 0) + (d['<']?.undecodedBytes ?? 0)}; ` +
        `its forward latency (read until the other side took it) p50 <= ${bb.bridge.forwardLatency.p50Us} µs, p99 <= ${bb.bridge.forwardLatency.p99Us} µs over ${f(bb.bridge.forwardLatency.count)} chunks.`,
    );
  }
  for (const [n, b] of bridges) {
    b.child.kill('SIGTERM');
    await new Promise((r) => b.child.once('exit', r));
    let logged = 'unknown';
    try {
      logged = f(await loggedRows(b.db));
    } catch (err) {
      logged = `not counted (${(err as Error).message})`;
    }
    const through = results.reduce((m, r) => m + (r.runs.find((x) => x.name === n)?.samples.length ?? 0) + WARMUP, 0);
    console.log(`Transactions in the ${n}'s SQLite log after it stopped: ${logged} (round trips through it: ${f(through)}).`);
  }
}

// ------------------------------------------------------------------ main

if (process.argv[2] === '--instrument') {
  await serveInstrument(process.argv.slice(3));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-bridge-'));
  const children: ChildProcess[] = [];
  const ports: SerialPort[] = [];
  const closers: (() => Promise<void>)[] = [];
  const p = (n: string) => join(dir, n);
  // However the bench ends (an error, Ctrl-C, its output cut by a pipe), no socat, simulator or bridge stays behind.
  process.once('exit', () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGPIPE'] as const) process.once(signal, () => process.exit(1));
  try {
    console.log(`load average before: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
    await roundTrips(dir, children, closers);
    children.push(await pair(p('direct.a'), p('direct.b')));
    children.push(await pair(p('master'), p('master.bridge')));
    children.push(await pair(p('inst.bridge'), p('inst')));
    children.push(await pair(p('socat.a'), p('socat.a.far')));
    children.push(await pair(p('socat.b.far'), p('socat.b')));
    children.push(await join2(p('socat.a.far'), p('socat.b.far')));
    // This build's bridge as `flowbus serve --mode bridge` runs it, in a process of its own (as socat
    // is), so that the bench's own reading and writing of the ports never waits for its decoding.
    const bridge = await startBridge(BIN, dir, 'flood', p('inst.bridge'), p('master.bridge'), false);
    children.push(bridge.child);
    const [da, db, sa, sb, master, inst] = await Promise.all([open(p('direct.a')), open(p('direct.b')), open(p('socat.a')), open(p('socat.b')), open(p('master')), open(p('inst'))]);
    ports.push(da, db, sa, sb, master, inst);

    // Latency, interleaved so that every link sees the same machine load.
    const direct: number[] = [];
    const socat: number[] = [];
    const bridged: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      direct.push(await oneByte(da, db, 0x41));
      socat.push(await oneByte(sa, sb, 0x41));
      bridged.push(await oneByte(master, inst, 0x41));
    }
    const afterLatency = (await bridgeBus(bridge)).bridge.forwardLatency;
    for (const s of [direct, socat, bridged]) s.sort((a, b) => a - b);
    const q = (s: number[], x: number) => quantile(s, x) * 1000;

    // Throughput with real frames, so the decoding side does real work meanwhile.
    const frame = Buffer.from(
      encodeFrame(
        { kind: 'data', seq: 0x10, node: 3, data: encodeMessage(buildRequest([1, 2, 3, 4, 5, 6].map((fbnr) => ({ process: 1, fbnr, wireType: WireType.Int16 })))) },
        'binary',
      ),
    );
    const pattern = Buffer.concat(Array.from({ length: Math.ceil(4096 / frame.length) }, () => frame));
    const total = MEGABYTES * 1024 * 1024;
    const directT = await saturate(da, db, pattern, total);
    const socatT = await saturate(sa, sb, pattern, total);
    const bridgedT = await saturate(master, inst, pattern, total);
    await sleep(Number(process.env.BENCH_SETTLE_MS ?? 500));
    const flooded = await bridgeBus(bridge);
    const d = flooded.bridge;

    const f = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
    console.log(`\nLatency of one byte, ${f(SAMPLES)} samples each (µs):\n`);
    console.log('| link | p50 | p99 |');
    console.log('|---|---:|---:|');
    console.log(`| direct pty pair | ${f(q(direct, 0.5))} | ${f(q(direct, 0.99))} |`);
    console.log(`| pty -> socat -> pty | ${f(q(socat, 0.5))} | ${f(q(socat, 0.99))} |`);
    console.log(`| pty -> bridge -> pty | ${f(q(bridged, 0.5))} | ${f(q(bridged, 0.99))} |`);
    console.log(`| **added by the bridge, against socat** | **${f(q(bridged, 0.5) - q(socat, 0.5))}** | **${f(q(bridged, 0.99) - q(socat, 0.99))}** |`);
    console.log(`\nThe bridge's own histogram (a chunk read on one side until the write to the other side completed), latency phase: p50 <= ${afterLatency.p50Us} µs, p99 <= ${afterLatency.p99Us} µs (${f(afterLatency.count)} chunks); including the saturated phase: p50 <= ${d.forwardLatency.p50Us} µs, p99 <= ${d.forwardLatency.p99Us} µs.`);
    console.log(`\nThroughput at a saturated line, ${MEGABYTES} MiB of back-to-back request frames:\n`);
    console.log('| link | MB/s | x 38400-baud line |');
    console.log('|---|---:|---:|');
    for (const [name, t] of [['direct pty pair', directT], ['pty -> socat -> pty', socatT], ['pty -> bridge -> pty', bridgedT]] as const) {
      console.log(`| ${name} | ${f(t.bps / 1e6, 2)} | ${f(t.bps / LINE_BYTES_PER_S)} |`);
    }
    console.log(`| ratio bridged / socat | ${f(bridgedT.bps / socatT.bps, 3)} | |`);
    for (const [name, t] of [['direct pty pair', directT], ['pty -> socat -> pty', socatT], ['pty -> bridge -> pty', bridgedT]] as const) {
      if (!t.complete) console.log(`\n**${name}: only ${f(t.got)} of ${f(total)} bytes arrived** (nothing more for ${QUIET_MS} ms after the last write); the rate above is over what arrived.`);
    }
    const m = d.directions['>'];
    if (!m) throw new Error("the bridge shows no '>' direction");
    // The transactions still on their way to the log 500 ms after the flood are logged by the close.
    const seen = Object.values(flooded.transactions).reduce((a, b) => a + b, 0);
    bridge.child.kill('SIGTERM');
    await new Promise((r) => bridge.child.once('exit', r));
    const logged = await loggedRows(bridge.db);
    console.log(
      `\nBridge counters '>' (forwarding: ${d.forwarding}): ${f(m.bytes)} bytes read, ${f(m.forwarded)} forwarded, dropped ${m.droppedNoPeer + m.droppedOverflow + m.droppedWriteFailed} (past maxUnwrittenBytes: ${f(m.droppedOverflow)}); ` +
        `${f(m.frames)} frames decoded in ${f(m.bursts)} bursts, ${f(m.undecodedBytes)} bytes not decoded (decoder behind); ${f(seen)} transactions counted 500 ms after the flood (unanswered), ${f(logged)} in its SQLite log after it stopped (latency and flood phases).`,
    );
    console.log(`\nload average after: ${(await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim()}`);
  } finally {
    for (const c of closers) await c();
    for (const port of ports) if (port.isOpen) await new Promise((r) => port.close(() => r(undefined)));
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}
