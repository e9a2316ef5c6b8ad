/**
 * The compiled build bundled, as bin/flowbus.js runs it (dist/bundle/cli.js, scripts/bundle.mjs),
 * against the same build unbundled (`node dist/src/cli.js`, tsc's files one by one), as separate
 * processes in one run: `flowbus serve --simulator` (three simulated instruments,
 * the SQLite log in ./data of a temporary directory each):
 *
 * 1. start-up: the time from spawning the process to the first answer of /healthz, with the
 *    program already installed (dist/ built, the files in the page cache after a discarded
 *    round). Rounds alternate the two, one process at a time, so that they do not compete.
 * 2. memory: both run side by side for MINUTES (default 10); their resident memory (VmRSS from
 *    /proc) is sampled every minute, with the peak (VmHWM) and the transactions each logged.
 *
 *   npx tsx bench/startup.ts [minutes, default 10] [start-up rounds, default 5]
 *
 * The bench itself may run under tsx: it measures only the processes it spawns. Each runs in a
 * temporary directory.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/serve.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MINUTES = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.argv[3] ?? 5);
const SAMPLE_MS = 60_000;
const MB = 1024 * 1024;
if (!(MINUTES > 0)) throw new Error(`minutes must be a positive number, got ${process.argv[2]}`);
if (!(Number.isInteger(ROUNDS) && ROUNDS > 0)) throw new Error(`rounds must be a positive integer, got ${process.argv[3]}`);

interface Variant {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** What to run instead of node (a script with a #! line). */
  readonly file?: string;
}
const VARIANTS: readonly Variant[] = [
  { name: 'unbundled', command: 'node dist/src/cli.js', args: [join(ROOT, 'dist/src/cli.js')] },
  // As a command: the #! line's settings apply (bin/flowbus.js).
  { name: 'bundled', command: 'bin/flowbus.js', file: join(ROOT, 'bin/flowbus.js'), args: [] },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  readonly cwd: string;
  readonly exited: Promise<number | null>;
}

async function start(v: Variant): Promise<Running> {
  const port = await freePort();
  const cwd = mkdtempSync(join(tmpdir(), 'flowbus-startup-'));
  const child = spawn(v.file ?? process.execPath, [...v.args, 'serve', '--simulator', '--http-port', String(port), '--log-format', 'json'], {
    cwd,
    env: { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, port, cwd, exited };
}

async function stop(r: Running): Promise<void> {
  r.child.kill('SIGTERM');
  const code = await r.exited;
  rmSync(r.cwd, { recursive: true, force: true });
  if (code !== 0) throw new Error(`serve exited ${code} on SIGTERM`);
}

async function untilHealthy(r: Running, timeoutMs = 120_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (r.child.exitCode !== null) throw new Error(`serve exited ${r.child.exitCode} before /healthz answered`);
    try {
      if ((await fetch(`http://127.0.0.1:${r.port}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error(`/healthz did not answer in ${timeoutMs / 1000} s`);
}

function proc(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function written(r: Running): Promise<number> {
  const bus = (await (await fetch(`http://127.0.0.1:${r.port}/api/v1/bus`)).json()) as { store?: { written?: number } };
  return bus.store?.written ?? NaN;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const mb = (b: number) => (b / MB).toFixed(1);

execFileSync(process.execPath, [join(ROOT, 'scripts/ensure-build.mjs')], { stdio: 'inherit' });

const loadStart = loadavg()[0]!.toFixed(1);

// 1. Start-up, one process at a time; the first round warms the page cache and is not counted.
const startups = new Map<string, number[]>(VARIANTS.map((v) => [v.name, []]));
for (let round = 0; round <= ROUNDS; round++) {
  for (const v of round % 2 ? [...VARIANTS].reverse() : VARIANTS) {
    const t0 = performance.now();
    const r = await start(v);
    await untilHealthy(r);
    const ms = performance.now() - t0;
    await stop(r);
    if (round > 0) startups.get(v.name)!.push(ms);
  }
}
console.error(`start-up: ${ROUNDS} rounds done`);

// 2. Memory, both side by side.
const running = await Promise.all(VARIANTS.map((v) => start(v)));
await Promise.all(running.map((r) => untilHealthy(r)));
const t0 = performance.now();
type Sample = { minute: number; rss: number[]; tx: number[] };
const samples: Sample[] = [];
const endAt = t0 + MINUTES * 60_000;
for (let minute = 1; performance.now() < endAt - 1; minute++) {
  await sleep(Math.min(SAMPLE_MS, endAt - performance.now()));
  const s: Sample = { minute, rss: running.map((r) => proc(r.child.pid!).rss), tx: await Promise.all(running.map(written)) };
  samples.push(s);
  console.error(`  minute ${minute}: ${VARIANTS.map((v, i) => `${v.name} rss ${mb(s.rss[i]!)} MB, ${s.tx[i]} rows`).join('; ')}`);
}
const peaks = running.map((r) => proc(r.child.pid!).hwm);
await Promise.all(running.map(stop));

const last = samples[samples.length - 1]!;
const [a, b] = [0, 1]; // unbundled, bundled (the order of VARIANTS)
console.log(`start-up and memory: flowbus serve --simulator (3 instruments, SQLite log), node ${process.version}, ${ROUNDS} start-up rounds, ${MINUTES} min side by side; load average ${loadStart} at the start, ${loadavg()[0]!.toFixed(1)} at the end`);
console.log('');
console.log('| | ' + VARIANTS.map((v) => `${v.name}: \`${v.command}\``).join(' | ') + ` | ${VARIANTS[b]!.name} / ${VARIANTS[a]!.name} |`);
console.log('|---|---:|---:|---:|');
const st = VARIANTS.map((v) => startups.get(v.name)!);
console.log(`| start to first /healthz, median | ${st.map((x) => `${median(x).toFixed(0)} ms`).join(' | ')} | ${(median(st[b]!) / median(st[a]!)).toFixed(2)} |`);
console.log(`| start to first /healthz, fastest | ${st.map((x) => `${Math.min(...x).toFixed(0)} ms`).join(' | ')} | ${(Math.min(...st[b]!) / Math.min(...st[a]!)).toFixed(2)} |`);
console.log(`| RSS after ${MINUTES} min | ${last.rss.map((x) => `${mb(x)} MB`).join(' | ')} | ${(last.rss[b]! / last.rss[a]!).toFixed(2)} |`);
console.log(`| RSS peak (VmHWM) | ${peaks.map((x) => `${mb(x)} MB`).join(' | ')} | ${(peaks[b]! / peaks[a]!).toFixed(2)} |`);
console.log(`| rows logged in ${MINUTES} min | ${last.tx.join(' | ')} | ${(last.tx[b]! / last.tx[a]!).toFixed(2)} |`);
console.log('');
console.log('| minute | ' + VARIANTS.map((v) => `${v.name} RSS, MB`).join(' | ') + ' |');
console.log('|---:|---:|---:|');
for (const s of samples) console.log(`| ${s.minute} | ${s.rss.map(mb).join(' | ')} |`);
console.log('');
console.log(`command: npx tsx bench/startup.ts ${MINUTES} ${ROUNDS}`);
