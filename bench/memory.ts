/**
 * Resident memory of `flowbus serve --simulator` as a user runs it (issue 14, part 3).
 *
 * The compiled build as the `flowbus` command runs it (bin/flowbus.js with the environment and
 * node flags of its #! line; it runs the bundle of scripts/bundle.mjs), beside the same bundle
 * without those settings (`node dist/bundle/cli.js`) and the same build unbundled (`node
 * dist/src/cli.js`, tsc's files one by one), each `serve --simulator`: three simulated instruments, the
 * SQLite log, the dashboard and metrics on, MQTT off) runs as a process of its own, in a temporary
 * directory, on a free port. Like a dashboard left open, the bench keeps one event stream open
 * (`GET /api/v1/events`, read and discarded), fetches the dashboard page once, and scrapes
 * `/metrics` every 15 s, as Prometheus would. Every minute, for MINUTES (default 10), it reads the
 * process's VmRSS and VmHWM (the peak) from /proc/PID/status, and the anonymous and file-backed
 * parts of RSS from /proc/PID/smaps_rollup.
 *
 * Where the memory goes, without --inspect and without a debug endpoint: the V8 heap of the main
 * thread (used and committed, external, per heap space) comes from prom-client's standard
 * `nodejs_heap_*` metrics in the scrape the bench does anyway; the file-backed part of RSS (the
 * node binary's code and data, native addons) and the anonymous rest (the SQLite worker's own
 * isolate, malloc arenas, thread stacks, SQLite's page cache) from /proc/PID/smaps.
 *
 *   npx tsx bench/memory.ts [minutes, default 10] [--baseline DIR]... [--node-arg FLAG]...
 *
 * --baseline DIR runs a second build side by side in the same run (another checkout, built: its
 * DIR/dist/src/cli.js), e.g. the commit before a change: `git archive COMMIT | tar -x -C DIR`, link
 * node_modules, `node scripts/ensure-build.mjs` there. Several may be given. --node-arg adds a
 * variant of this build (as the command runs it, its #! settings included) with that node flag as well (several in one value, split at spaces; for experiments: `--node-arg=--max-semi-space-size=1`);
 * FLOWBUS_BENCH_ENV='MALLOC_ARENA_MAX=2' adds a variant with that environment. All variants run at
 * once, so that they share the machine's load.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/serve.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MB = 1024 * 1024;
const SCRAPE_MS = 15_000;
const SAMPLE_MS = Number(process.env.SAMPLE_MS ?? 60_000);

const positional: string[] = [];
const baselines: string[] = [];
const nodeArgs: string[] = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
  if (flag === '--baseline' || flag === '--node-arg') {
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    (flag === '--baseline' ? baselines : nodeArgs).push(v);
  } else positional.push(a);
}
const MINUTES = Number(positional[0] ?? 10);
if (!(MINUTES > 0)) throw new Error(`minutes must be a positive number, got ${positional[0]}`);

interface Variant {
  readonly name: string;
  readonly cli: string;
  readonly nodeArgs: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}
/** The node settings of bin/flowbus.js's `#!/usr/bin/env -S NAME=VALUE... node FLAG...` line, as a command gets them. */
function shebang(): { env: Record<string, string>; nodeArgs: string[] } {
  const words = (readFileSync(join(ROOT, 'bin/flowbus.js'), 'utf8').split('\n')[0] ?? '').replace(/^#!\S*env\s+(-S\s+)?/, '').split(/\s+/).filter(Boolean);
  const at = words.indexOf('node');
  if (at < 0) throw new Error('bin/flowbus.js: no node in its #! line');
  return { env: Object.fromEntries(words.slice(0, at).map((kv) => kv.split('=', 2) as [string, string])), nodeArgs: words.slice(at + 1) };
}
const asCommand = shebang();
const here = join(ROOT, 'dist/bundle/cli.js');
const variants: Variant[] = [
  { name: 'this build', cli: join(ROOT, 'bin/flowbus.js'), ...asCommand },
  { name: 'bundled, without the #! settings', cli: here, nodeArgs: [], env: {} },
  { name: 'unbundled, without them', cli: join(ROOT, 'dist/src/cli.js'), nodeArgs: [], env: {} },
];
for (const dir of baselines) {
  const cli = join(resolve(dir), 'dist/src/cli.js');
  if (!existsSync(cli)) throw new Error(`--baseline ${dir}: no ${cli} (build it there: node scripts/ensure-build.mjs)`);
  variants.push({ name: `baseline ${dir}`, cli, nodeArgs: [], env: {} });
}
for (const flag of nodeArgs) variants.push({ name: `this build, node ${flag}`, cli: join(ROOT, 'bin/flowbus.js'), env: asCommand.env, nodeArgs: [...asCommand.nodeArgs, ...flag.split(/\s+/).filter(Boolean)] });
if (process.env.FLOWBUS_BENCH_ENV) {
  const env = Object.fromEntries(process.env.FLOWBUS_BENCH_ENV.split(/\s+/).filter(Boolean).map((kv) => kv.split('=', 2) as [string, string]));
  variants.push({ name: `bundled, ${process.env.FLOWBUS_BENCH_ENV}`, cli: here, nodeArgs: [], env });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (b: number) => (b / MB).toFixed(1);

interface Running {
  readonly v: Variant;
  readonly child: ChildProcess;
  readonly base: string;
  readonly cwd: string;
  readonly exited: Promise<number | null>;
  /** The last scrape's nodejs_* metrics (name{labels} -> value). */
  metrics: Map<string, number>;
  sseBytes: number;
  readonly abort: AbortController;
}

async function start(v: Variant): Promise<Running> {
  const port = await freePort();
  const cwd = mkdtempSync(join(tmpdir(), 'flowbus-memory-'));
  const child = spawn(process.execPath, [...v.nodeArgs, v.cli, 'serve', '--simulator', '--http-port', String(port), '--log-format', 'json'], {
    cwd,
    env: { ...process.env, NODE_OPTIONS: '', ...v.env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { v, child, base: `http://127.0.0.1:${port}`, cwd, exited, metrics: new Map(), sseBytes: 0, abort: new AbortController() };
}

async function untilHealthy(r: Running, timeoutMs = 120_000): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (r.child.exitCode !== null) throw new Error(`${r.v.name}: serve exited ${r.child.exitCode} before /healthz answered`);
    try {
      if ((await fetch(`${r.base}/healthz`)).ok) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error(`${r.v.name}: /healthz did not answer in ${timeoutMs / 1000} s`);
}

/** Keeps one event stream open and reads it, as the dashboard does. */
async function openStream(r: Running): Promise<void> {
  const res = await fetch(`${r.base}/api/v1/events`, { signal: r.abort.signal, headers: { accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw new Error(`${r.v.name}: GET /api/v1/events answered ${res.status}`);
  const reader = res.body.getReader();
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        r.sseBytes += value.byteLength;
      }
    } catch {
      // aborted at the end
    }
  })();
}

async function fetchDashboard(r: Running): Promise<number> {
  const res = await fetch(`${r.base}/`, { headers: { 'accept-encoding': 'br, gzip' } });
  const body = await res.text();
  if (!res.ok || !body.includes('<')) throw new Error(`${r.v.name}: GET / answered ${res.status}`);
  let bytes = body.length;
  for (const m of body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) bytes += (await (await fetch(`${r.base}${m[1]}`)).arrayBuffer()).byteLength;
  return bytes;
}

async function scrape(r: Running): Promise<void> {
  const text = await (await fetch(`${r.base}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('nodejs_heap') && !line.startsWith('nodejs_external')) continue;
    const at = line.lastIndexOf(' ');
    const key = line.slice(0, at);
    // The plain gauges by name alone (their labels are the gateway's), the per-space ones with theirs.
    m.set(key.startsWith('nodejs_heap_space') ? key : key.replace(/\{.*$/, ''), Number(line.slice(at + 1)));
  }
  r.metrics = m;
}

interface Proc {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
  threads: number;
  /** User + system CPU time so far, s. */
  cpu: number;
}
function proc(pid: number): Proc {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const num = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const rss = num(status, 'VmRSS') * 1024;
  const anon = num(rollup, 'Anonymous') * 1024;
  // /proc/PID/stat: utime and stime are fields 14 and 15, in clock ticks (100 a second on Linux); the name in field 2 may hold spaces.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / 100;
  return { rss, hwm: num(status, 'VmHWM') * 1024, anon, file: num(rollup, 'Rss') * 1024 - anon, threads: num(status, 'Threads'), cpu };
}

/** Resident bytes by mapping: the file-backed ones by file name, the anonymous ones as one. */
function byMapping(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let name = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1] ?? '';
      name = path.startsWith('/') ? path.replace(/^.*\/node_modules\//, 'node_modules/') : path || '[anonymous]';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out.set(name, (out.get(name) ?? 0) + Number(rss[1]) * 1024);
  }
  return out;
}

const heap = (r: Running, key: string) => r.metrics.get(key) ?? NaN;
const HEAP_USED = 'nodejs_heap_size_used_bytes';
const HEAP_TOTAL = 'nodejs_heap_size_total_bytes';
const EXTERNAL = 'nodejs_external_memory_bytes';

execFileSync(process.execPath, [join(ROOT, 'scripts/ensure-build.mjs')], { stdio: 'inherit' });
const loadStart = loadavg()[0]!.toFixed(1);

const running = await Promise.all(variants.map(start));
const startMs = await Promise.all(running.map((r) => untilHealthy(r)));
const starts = running.map((r) => proc(r.child.pid!));
const pageBytes = await Promise.all(
  running.map(async (r) => {
    await openStream(r);
    const bytes = await fetchDashboard(r);
    await scrape(r);
    return bytes;
  }),
);
const scraper = setInterval(() => {
  for (const r of running) void scrape(r).catch((err: unknown) => console.error(`${r.v.name}: scrape failed: ${String(err)}`));
}, SCRAPE_MS);

interface Sample {
  readonly minute: number;
  readonly p: Proc;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}
const samples: Sample[][] = running.map(() => []);
const t0 = performance.now();
const endAt = t0 + MINUTES * 60_000;
for (let minute = 1; performance.now() < endAt - 1; minute++) {
  await sleep(Math.min(SAMPLE_MS, endAt - performance.now()));
  running.forEach((r, i) => {
    if (r.child.exitCode !== null) throw new Error(`${r.v.name}: serve exited ${r.child.exitCode}`);
    const s: Sample = { minute, p: proc(r.child.pid!), heapUsed: heap(r, HEAP_USED), heapTotal: heap(r, HEAP_TOTAL), external: heap(r, EXTERNAL) };
    samples[i]!.push(s);
    console.error(`  sample ${minute} (${((performance.now() - t0) / 1000).toFixed(0)} s), ${r.v.name}: RSS ${mb(s.p.rss)} MB (peak ${mb(s.p.hwm)}), anonymous ${mb(s.p.anon)}, V8 heap ${mb(s.heapUsed)} of ${mb(s.heapTotal)} MB`);
  });
}
clearInterval(scraper);
await Promise.all(running.map(scrape));
const mappings = running.map((r) => byMapping(r.child.pid!));
const ends = running.map((r) => proc(r.child.pid!));
const spaces = running.map((r) => {
  const out: [string, number][] = [];
  for (const [k, v] of r.metrics) {
    const m = /^nodejs_heap_space_size_total_bytes\{.*space="([a-z_]+)".*\}$/.exec(k);
    if (m && v > 0) out.push([m[1]!, v]);
  }
  return out;
});
for (const r of running) r.abort.abort();
for (const r of running) r.child.kill('SIGTERM');
const codes = await Promise.all(running.map((r) => r.exited));
for (const r of running) rmSync(r.cwd, { recursive: true, force: true });
codes.forEach((c, i) => {
  if (c !== 0) console.error(`${variants[i]!.name}: exited ${c} on SIGTERM`);
});

console.log(
  `memory: \`flowbus serve --simulator\` (\`${[...Object.entries(asCommand.env).map(([k, v]) => `${k}=${v}`), 'node', ...asCommand.nodeArgs].join(' ')} bin/flowbus.js\`) and the others above (3 instruments, SQLite log, dashboard, metrics, MQTT off), one event stream open, /metrics every ${SCRAPE_MS / 1000} s, ${MINUTES} min; node ${process.version}; load average ${loadStart} at the start, ${loadavg()[0]!.toFixed(1)} at the end`,
);
console.log('');
const cols = running.map((r) => r.v.name);
console.log(`| ${SAMPLE_MS === 60_000 ? 'minute' : `sample (every ${SAMPLE_MS / 1000} s)`} | ${cols.map((c) => `${c}: RSS / peak, MB`).join(' | ')} |`);
console.log(`|---:|${cols.map(() => '---:').join('|')}|`);
for (let m = 0; m < samples[0]!.length; m++) console.log(`| ${m + 1} | ${samples.map((s) => `${mb(s[m]!.p.rss)} / ${mb(s[m]!.p.hwm)}`).join(' | ')} |`);
console.log('');
console.log(`| at the end | ${cols.join(' | ')} |`);
console.log(`|---|${cols.map(() => '---:').join('|')}|`);
const row = (label: string, f: (i: number) => string) => console.log(`| ${label} | ${running.map((_, i) => f(i)).join(' | ')} |`);
row('start to first /healthz', (i) => `${startMs[i]!.toFixed(0)} ms`);
row('**RSS**', (i) => `**${mb(ends[i]!.rss)} MB**`);
row('RSS peak (VmHWM)', (i) => `${mb(ends[i]!.hwm)} MB`);
row('file-backed (node binary, addons)', (i) => `${mb(ends[i]!.file)} MB`);
row('anonymous', (i) => `${mb(ends[i]!.anon)} MB`);
row('- main V8 heap committed (used)', (i) => `${mb(heap(running[i]!, HEAP_TOTAL))} (${mb(heap(running[i]!, HEAP_USED))}) MB`);
row('- main V8 heap spaces committed', (i) => spaces[i]!.map(([n, v]) => `${n.replace(/_space$/, '')} ${mb(v)}`).join(', '));
row('- external (Buffers, native)', (i) => `${mb(heap(running[i]!, EXTERNAL))} MB`);
row('- the rest: worker isolate, malloc, stacks, SQLite', (i) => `${mb(ends[i]!.anon - heap(running[i]!, HEAP_TOTAL))} MB`);
row('threads', (i) => String(ends[i]!.threads));
row(`CPU time (user + system) in the ${MINUTES} min`, (i) => `${(ends[i]!.cpu - starts[i]!.cpu).toFixed(1)} s`);
row('dashboard page + assets fetched', (i) => `${(pageBytes[i]! / 1024).toFixed(0)} kB`);
row('event stream read', (i) => `${(running[i]!.sseBytes / 1024).toFixed(0)} kB`);
console.log('');
console.log('| largest mappings (resident), MB | ' + cols.join(' | ') + ' |');
console.log(`|---|${cols.map(() => '---:').join('|')}|`);
const names = [...mappings[0]!.entries()].filter(([n]) => n !== '[anonymous]').sort((a, b) => b[1] - a[1]).slice(0, 6).map(([n]) => n);
for (const n of names) row(n, (i) => mb(mappings[i]!.get(n) ?? 0));
console.log('');
console.log(`command: npx tsx bench/memory.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
