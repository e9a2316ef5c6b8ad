/**
 * Memory over a long run (issue: benchmarks, README figure).
 *
 * The gateway runs in this process against the in-process simulator with four
 * instruments, unpaced (no baud: a transaction costs only CPU), polling the
 * default parameters every 100 ms (five times denser than the default 500 ms).
 * After 30 s of warm-up, and then every minute, it samples RSS and heapUsed,
 * after a full GC when the process has one (--expose-gc). It prints RSS and heap
 * at the start and the end, the growth in MB and in %, the transactions done,
 * and the RSS growth per 1000 transactions.
 *
 *   node --expose-gc --import tsx bench/memory.ts [minutes, default 10]
 *
 * (`npx tsx bench/memory.ts` runs too, but without forced GC the samples are noisier.)
 */
import { configFrom } from '../src/config/index.js';
import { MasterGateway } from '../src/gateway/index.js';
import { createLogger } from '../src/logging.js';
import { startGateway } from '../src/main.js';

const MINUTES = Number(process.argv[2] ?? 10);
const WARMUP_MS = Number(process.env.WARMUP_MS ?? 30_000);
const SAMPLE_MS = 60_000;
const PORT = 'sim://?nodes=3,5,7,9';
const POLL_MS = 100;
const MB = 1024 * 1024;

if (!(MINUTES > 0)) throw new Error(`minutes must be a positive number, got ${process.argv[2]}`);

const gc = (globalThis as { gc?: () => void }).gc;

interface Sample {
  label: string;
  atS: number;
  rss: number;
  heapUsed: number;
  /** C++ objects bound to JS, and Buffers/ArrayBuffers among them (not in heapUsed). */
  external: number;
  arrayBuffers: number;
  transactions: number;
  failures: number;
}

const config = configFrom({
  buses: [{ port: PORT }],
  poll: { intervalMs: POLL_MS },
  http: { host: '127.0.0.1', port: 0 },
  log: { level: 'silent' },
});
const gateway = await startGateway(config, createLogger(config.log.level, 'json'));
if (!(gateway.service instanceof MasterGateway)) throw new Error('expected master mode');
const { bus } = gateway.service.bus();

let transactions = 0;
let failures = 0;
bus.on('transaction', (r) => {
  transactions++;
  if (r.outcome !== 'ok') failures++;
});

const t0 = performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sample = (label: string): Sample => {
  if (gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { label, atS: (performance.now() - t0) / 1000, rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, transactions, failures };
};

await sleep(WARMUP_MS);
const samples: Sample[] = [sample(`start (after ${WARMUP_MS / 1000} s warm-up)`)];
const first = samples[0] as Sample;
const mb = (b: number) => (b / MB).toFixed(1);
const log = (s: Sample) =>
  console.error(`  ${s.label}: rss ${mb(s.rss)} MB, heapUsed ${mb(s.heapUsed)} MB, ${s.transactions - first.transactions} transactions since start`);
log(first);
const endAt = performance.now() + MINUTES * 60_000;
for (let minute = 1; performance.now() < endAt - 1; minute++) {
  await sleep(Math.min(SAMPLE_MS, endAt - performance.now()));
  const s = sample(`minute ${minute}`);
  samples.push(s);
  log(s);
}
const instruments = gateway.service.instruments();
await gateway.close();

const last = samples[samples.length - 1] as Sample;
const tx = last.transactions - first.transactions;
const seconds = last.atS - first.atS;
const rssGrowth = last.rss - first.rss;
const heapGrowth = last.heapUsed - first.heapUsed;
const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)} %`;
const signed = (b: number) => `${b >= 0 ? '+' : ''}${mb(b)}`;

console.log(
  `memory benchmark: gateway + simulator in one process, ${PORT} unpaced, ${instruments.length} instruments (${instruments.filter((i) => i.online).length} online at the end), poll ${POLL_MS} ms x ${config.poll.parameters.length} parameters, ${MINUTES} min after ${WARMUP_MS / 1000} s warm-up, forced GC ${gc ? 'yes' : 'no (run with node --expose-gc --import tsx)'}, node ${process.version}`,
);
console.log('| sample | time, s | RSS, MB | heapUsed, MB | external, MB | arrayBuffers, MB | transactions since start |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const s of samples) console.log(`| ${s.label} | ${s.atS.toFixed(0)} | ${mb(s.rss)} | ${mb(s.heapUsed)} | ${mb(s.external)} | ${mb(s.arrayBuffers)} | ${s.transactions - first.transactions} |`);
console.log('');
console.log('| figure | value |');
console.log('|---|---:|');
console.log(`| RSS start -> end | ${mb(first.rss)} -> ${mb(last.rss)} MB |`);
console.log(`| RSS growth | ${signed(rssGrowth)} MB (${pct(first.rss, last.rss)}) |`);
console.log(`| heapUsed start -> end | ${mb(first.heapUsed)} -> ${mb(last.heapUsed)} MB |`);
console.log(`| heapUsed growth | ${signed(heapGrowth)} MB (${pct(first.heapUsed, last.heapUsed)}) |`);
console.log(`| transactions in the run | ${tx} (${(tx / seconds).toFixed(1)}/s, ${last.failures - first.failures} not ok) |`);
console.log(`| RSS growth per 1000 transactions | ${((rssGrowth / tx) * 1000).toFixed(0)} bytes |`);
console.log(`| heapUsed growth per 1000 transactions | ${((heapGrowth / tx) * 1000).toFixed(0)} bytes |`);
console.log('');
console.log(`command: node --expose-gc --import tsx bench/memory.ts${process.argv[2] ? ' ' + process.argv[2] : ''}`);
