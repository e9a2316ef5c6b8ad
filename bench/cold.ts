/**
 * What a pause costs the gateway's own code on this machine: the same HTTP read, through the whole
 * gateway in this process (HTTP parsing, Fastify's routing and validation, the service, the bus, the
 * simulator answering at once on TCP from this thread, decoding, the log's listeners, serialising), made by a
 * minimal keep-alive client on this same thread, so no other thread or process has to be woken.
 * First back to back, then with a pause before each request: asleep (setTimeout) 2, 10 and 20 ms,
 * the gaps of bench/http-sequential.ts's paced reads, and busy (spinning on the clock) 10 ms, so that
 * the CPU never idles. The time of each request is measured alone, pause excluded; the ratios are to
 * back to back, in the same run. bench/loopback.ts measures the wake-ups themselves.
 *
 * A ratio well above 1 after a pause, also after a busy one, means the code runs on cold caches
 * and predictors after any gap (on a VM: the host ran other work on the core meanwhile). Every
 * stage of the paced HTTP trace then costs that many times its unpaced figure.
 *
 *   npx tsx bench/cold.ts [requests per row=300]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { configFrom } from '../src/config/index.js';
import { createLogger } from '../src/logging.js';
import { startGateway } from '../src/main.js';
import { serveTcp } from '../simulator/cli.js';
import { createSimulator } from '../simulator/index.js';

const N = Number(process.argv[2] ?? 300);
const load = () => readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');
const NAMES = 'measure,setpoint,analogInput,alarmInfo,valveOutput,counterValue,temperature,fMeasure';

// As bench/http-sequential.ts runs it: polling off, info-level JSON log (into nothing), SQLite log.
// The instrument answers at once (precisePacing: no timer between request and answer), on TCP from this same thread.
const sim = createSimulator({ nodes: [3], precisePacing: true, seed: 3 });
const simServer = await serveTcp(sim, '127.0.0.1', 0);
const dir = mkdtempSync(join(tmpdir(), 'flowbus-cold-'));
const config = configFrom({
  buses: [{ port: `tcp://127.0.0.1:${simServer.port}`, discover: false, nodes: [3] }],
  poll: { parameters: [] },
  http: { host: '127.0.0.1', port: 0 },
  log: { level: 'info' },
  store: { url: `sqlite:${join(dir, 'flowbus.db')}` },
});
const gateway = await startGateway(config, createLogger('info', 'json', new Writable({ write: (_c, _e, done) => done() })));
const url = new URL(gateway.url);
for (let t = performance.now(); !gateway.service.ready() || gateway.service.instruments().length === 0; ) {
  if (performance.now() - t > 20_000) throw new Error('the simulated bus did not open');
  await new Promise((r) => setTimeout(r, 20));
}

const socket = net.connect(Number(url.port), url.hostname);
socket.setNoDelay(true);
await new Promise((r) => socket.once('connect', r));
let pending: { resolve: (status: number) => void; buf: string } | undefined;
socket.setEncoding('latin1');
socket.on('data', (chunk: string) => {
  if (!pending) throw new Error('an answer nobody asked for');
  pending.buf += chunk;
  const head = pending.buf.indexOf('\r\n\r\n');
  if (head < 0) return;
  const length = /\r\ncontent-length: *(\d+)/i.exec(pending.buf.slice(0, head));
  if (!length) throw new Error(`no content-length: ${pending.buf.slice(0, head)}`);
  if (pending.buf.length < head + 4 + Number(length[1])) return;
  const p = pending;
  pending = undefined;
  p.resolve(Number(p.buf.slice(9, 12)));
});
const get = (path: string) =>
  new Promise<number>((resolve) => {
    pending = { resolve, buf: '' };
    socket.write(`GET ${path} HTTP/1.1\r\nhost: ${url.host}\r\n\r\n`);
  });

type Pause = { label: string; before: () => Promise<void> | void };
const sleep = (ms: number): Pause => ({ label: `asleep ${ms} ms`, before: () => new Promise((r) => setTimeout(r, ms)) });
const spin = (ms: number): Pause => ({
  label: `busy ${ms} ms (spinning)`,
  before: () => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  },
});
const PAUSES: Pause[] = [{ label: 'back to back', before: () => undefined }, sleep(2), sleep(10), sleep(20), spin(10)];

async function row(path: string, pause: Pause): Promise<{ p50: number; mean: number }> {
  const us: number[] = [];
  for (let i = 0; i < N; i++) {
    await pause.before();
    const t = performance.now();
    const status = await get(path);
    us.push((performance.now() - t) * 1000);
    if (status !== 200) throw new Error(`${path}: status ${status}`);
  }
  us.sort((a, b) => a - b);
  return { p50: us[us.length >> 1] as number, mean: us.reduce((a, b) => a + b, 0) / us.length };
}

console.log(`One HTTP read at a time through the whole gateway in one thread (simulator on TCP in this thread, answering at once), ${N} per row, node ${process.version}; load ${load()}`);
console.log('| pause before each request | 8 parameters chained: p50 | mean | x back to back | one parameter: p50 | mean | x back to back |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
const paths = [`/api/v1/instruments/3/parameters?names=${NAMES}`, '/api/v1/instruments/3/parameters/fMeasure'];
for (const path of paths) for (let i = 0; i < 300; i++) await get(path); // warm up: V8 compiles the path
const base: number[] = [];
for (const pause of PAUSES) {
  const cells: string[] = [];
  for (const [k, path] of paths.entries()) {
    const r = await row(path, pause);
    base[k] ??= r.p50;
    cells.push(`${r.p50.toFixed(0)} µs`, `${r.mean.toFixed(0)} µs`, `**${(r.p50 / (base[k] as number)).toFixed(2)}**`);
  }
  console.log(`| ${pause.label} | ${cells.join(' | ')} |`);
}
console.log(`load at the end ${load()}; command: npx tsx bench/cold.ts ${N}`);
socket.destroy();
await gateway.close();
await simServer.close();
rmSync(dir, { recursive: true, force: true });
