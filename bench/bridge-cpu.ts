/**
 * The bridge's CPU per round trip, in process (issue 14, part 5): what `bench/bridge.ts` cannot
 * tell apart on a loaded machine, where its round-trip rates move by more than the difference.
 * Each build's compiled BridgeGateway (dist/src: this one, and BENCH_BASELINE_DIR=other/worktree
 * beside it) runs as `flowbus serve --mode bridge` wires it: the event hub, the SSE ring (no
 * client), the SQLite transaction log, the metrics' transaction listener. The master and the
 * instrument are in-memory streams that answer at once with fixed frames (an 8-value chained read
 * or a single read, the instrument's real reply bytes), so nearly all the CPU measured is the
 * bridge's: forwarding, decoding, pairing, naming, events, the log. The builds take turns in
 * rounds; CPU time (process.cpuUsage, all threads: the SQLite worker and GC included) per round
 * trip, and the ratio. No ptys: the read and write of a serial port are not in it (bench/bridge.ts).
 *
 *   npx tsx bench/bridge-cpu.ts [round trips per round, default 2000] [rounds, default 6]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createSimulator } from '../simulator/index.js';
import { buildRequest, createDeframer, encodeFrame, encodeMessage, type ParamAddress } from '../src/codec/index.js';
import { resolveParam } from '../src/params/index.js';
import type * as ApiEvents from '../src/api/events.js';
import type * as Config from '../src/config/index.js';
import type * as Gateway from '../src/gateway/index.js';
import type * as Shared from '../src/shared/index.js';
import type * as Store from '../src/store/index.js';

const PER_ROUND = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 6);
const HERE = resolve(fileURLToPath(new URL('..', import.meta.url)));

const CHAINED = ['measure', 'setpoint', 'analogInput', 'alarmInfo', 'valveOutput', 'counterValue', 'temperature', 'fMeasure'].map((k) => resolveParam(k));
const address = (d: ParamAddress): ParamAddress => ({ process: d.process, fbnr: d.fbnr, wireType: d.wireType });
const requestFrame = (defs: readonly ParamAddress[]): Buffer => Buffer.from(encodeFrame({ kind: 'data', seq: 0x21, node: 3, data: encodeMessage(buildRequest(defs.map(address))) }, 'binary'));

/** The simulator's reply to `request`, once: the instrument below answers every request with it. */
async function replyTo(request: Buffer): Promise<Buffer> {
  const sim = createSimulator({ nodes: [3] });
  const link = sim.connect();
  const reply = await new Promise<Buffer>((res) => {
    const d = createDeframer('binary');
    link.on('data', (c: Buffer) => {
      for (const ev of d.push(c)) if (ev.kind === 'frame') res(Buffer.from(ev.raw));
    });
    link.write(request);
  });
  await sim.close();
  return reply;
}

/** Two connected in-memory streams; a write reaches the other end in a later turn (as a read from a port would). */
function pair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const make = (i: number) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _e, cb) {
        setImmediate(() => ends[1 - i]?.push(chunk));
        cb();
      },
    });
  ends.push(make(0), make(1));
  return [ends[0] as Duplex, ends[1] as Duplex];
}

interface Build {
  readonly name: string;
  readonly dir: string;
  run(request: Buffer, reply: Buffer, n: number): Promise<{ cpuUs: number; wallMs: number }>;
  close(): Promise<void>;
}

async function load(name: string, dir: string, tmp: string): Promise<Build> {
  const mod = <T>(p: string) => import(join(dir, 'dist/src', p)) as Promise<T>;
  const gw = await mod<typeof Gateway>('gateway/index.js');
  const api = await mod<typeof ApiEvents>('api/events.js');
  const store = await mod<typeof Store>('store/index.js');
  const cfg = await mod<typeof Config>('config/index.js');
  const shared = await mod<typeof Shared>('shared/index.js');
  const events = new gw.GatewayEvents();
  const config = cfg.configFrom({ mode: 'bridge', bridge: { instrumentPort: '/dev/null-i', masterPort: '/dev/null-m' }, store: { url: `sqlite:${join(tmp, `${name}.db`)}`, spoolDir: join(tmp, `${name}.spool`) } });
  const log = await store.openStore(config.store, { logger: shared.silentLogger, gateway: 'bench' });
  const offLog = events.on('transaction', (t) => log.write(t), { name: 'transaction-log', maxQueued: Infinity });
  // The metrics' listener (a histogram of latencies), as cheap here as there.
  const latencies: number[] = [];
  const offMetrics = events.on('transaction', (t) => void (t.latencyMs !== undefined && latencies.length < 1 && latencies.push(t.latencyMs)), { name: 'metrics', maxQueued: 1000 });
  const sse = new api.EventStreams(events);
  sse.start();
  const [bridgeMaster, master] = pair();
  const [bridgeInstrument, instrument] = pair();
  const bridge = new gw.BridgeGateway({ instrumentPort: 'sim://', masterPort: 'in-process', name: 'bench' }, { events, openers: { instrument: async () => bridgeInstrument, master: async () => bridgeMaster } });
  await bridge.start();
  let answer: Buffer = Buffer.alloc(0);
  instrument.on('data', () => instrument.write(answer));
  let got: (() => void) | undefined;
  const deframer = createDeframer('binary');
  master.on('data', (c: Buffer) => {
    for (const ev of deframer.push(c)) if (ev.kind === 'frame') got?.();
  });
  return {
    name,
    dir,
    async run(request, reply, n) {
      answer = reply;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        await new Promise<void>((res) => {
          got = res;
          master.write(request);
        });
      }
      // The work behind the last round trips (events, the log's rows) counts too.
      await events.settled(10_000);
      const cpu = process.cpuUsage(cpu0);
      return { cpuUs: cpu.user + cpu.system, wallMs: performance.now() - t0 };
    },
    async close() {
      await bridge.close();
      await events.settled(10_000);
      offLog();
      offMetrics();
      sse.close();
      await log.close();
    },
  };
}

const tmp = mkdtempSync(join(tmpdir(), 'flowbus-bench-bridge-cpu-'));
try {
  const { readFileSync } = await import('node:fs');
  console.log(`load average before: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  const baseDir = process.env.BENCH_BASELINE_DIR;
  const builds = [await load('this build', HERE, tmp), ...(baseDir ? [await load(`baseline (${baseDir})`, resolve(baseDir), tmp)] : [])];
  const kinds = [
    { name: '8-value chained read', request: requestFrame(CHAINED) },
    { name: 'single read', request: requestFrame(CHAINED.slice(0, 1)) },
  ];
  console.log(`\n${ROUNDS} rounds of ${PER_ROUND.toLocaleString('en-US')} round trips per build, taking turns:\n`);
  console.log('| request | build | CPU µs per round trip | wall µs per round trip | CPU x baseline |');
  console.log('|---|---|---:|---:|---:|');
  for (const kind of kinds) {
    const reply = await replyTo(kind.request);
    const totals = builds.map(() => ({ cpuUs: 0, wallMs: 0, n: 0 }));
    for (const b of builds) await b.run(kind.request, reply, 200); // warm-up: JIT, the log's first rows
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < builds.length; k++) {
        const i = (k + r) % builds.length;
        const out = await (builds[i] as Build).run(kind.request, reply, PER_ROUND);
        const t = totals[i] as { cpuUs: number; wallMs: number; n: number };
        t.cpuUs += out.cpuUs;
        t.wallMs += out.wallMs;
        t.n += PER_ROUND;
      }
    }
    const base = totals[1];
    builds.forEach((b, i) => {
      const t = totals[i] as { cpuUs: number; wallMs: number; n: number };
      const ratio = base && i === 0 ? (t.cpuUs / t.n / (base.cpuUs / base.n)).toFixed(3) : '';
      console.log(`| ${kind.name} | ${b.name} | ${(t.cpuUs / t.n).toFixed(0)} | ${((t.wallMs * 1000) / t.n).toFixed(0)} | ${ratio} |`);
    });
  }
  for (const b of builds) await b.close();
  console.log(`\nload average after: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
