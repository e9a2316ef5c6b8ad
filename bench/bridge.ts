/**
 * Passive bridge (issue 5, benchmarks): what the bridge costs a byte, measured side by
 * side with a direct link in the same run, on real pseudo-terminals opened with serialport.
 *
 * - Latency: one byte written on one end, timed until it is read on the other, alternately
 *   through a direct pty pair and through pty -> bridge -> pty; p50 and p99 of each and of
 *   the difference. The bridge decodes, pairs and logs on the side meanwhile.
 * - Throughput: the master side writes back-to-back ProPar request frames as fast as the
 *   pty takes them (a saturated line, far past any baud rate); bytes/s read at the far end,
 *   direct and bridged, and against what a 38400-baud line carries (3,840 B/s).
 *
 *   npx tsx bench/bridge.ts [latency samples, default 2000] [throughput MB, default 8]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { buildRequest, encodeFrame, encodeMessage, WireType } from '../src/codec/index.js';
import { BridgeGateway, MemorySink } from '../src/gateway/index.js';

const SAMPLES = Number(process.argv[2] ?? 2000);
const MEGABYTES = Number(process.argv[3] ?? 8);
const LINE_BYTES_PER_S = 38400 / 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pair(a: string, b: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `pty,rawer,echo=0,link=${a}`, `pty,rawer,echo=0,link=${b}`], { stdio: 'ignore' });
  for (let i = 0; i < 250 && !(existsSync(a) && existsSync(b)); i++) await sleep(20);
  return child;
}

async function open(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 38400, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  return port;
}

/** Time from writing one byte on `from` until it is read on `to`, ms. */
function oneByte(from: SerialPort, to: SerialPort, byte: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    to.once('data', () => resolve(performance.now() - t0));
    from.write(Buffer.of(byte));
  });
}

/** Writes `total` bytes of `pattern` as fast as `from` takes them; resolves with bytes/s read on `to`. */
function saturate(from: SerialPort, to: SerialPort, pattern: Buffer, total: number): Promise<number> {
  return new Promise((resolve) => {
    let got = 0;
    let sent = 0;
    const t0 = performance.now();
    const onData = (c: Buffer): void => {
      got += c.length;
      if (got >= total) {
        to.off('data', onData);
        resolve(got / ((performance.now() - t0) / 1000));
      }
    };
    to.on('data', onData);
    const pump = (): void => {
      while (sent < total) {
        const chunk = pattern.subarray(0, Math.min(pattern.length, total - sent));
        sent += chunk.length;
        if (!from.write(chunk)) return void from.once('drain', pump);
      }
    };
    pump();
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-bridge-'));
const children: ChildProcess[] = [];
const ports: SerialPort[] = [];
const p = (n: string) => join(dir, n);
try {
  children.push(await pair(p('direct.a'), p('direct.b')));
  children.push(await pair(p('master'), p('master.bridge')));
  children.push(await pair(p('inst.bridge'), p('inst')));
  const sink = new MemorySink(1000);
  const bridge = new BridgeGateway({ instrumentPort: p('inst.bridge'), masterPort: p('master.bridge'), burstGapMs: 2 }, { sink });
  await bridge.start();
  const [da, db, master, inst] = await Promise.all([open(p('direct.a')), open(p('direct.b')), open(p('master')), open(p('inst'))]);
  ports.push(da, db, master, inst);
  while (!bridge.ready()) await sleep(10);

  // Latency, interleaved so both links see the same machine load.
  const direct: number[] = [];
  const bridged: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    direct.push(await oneByte(da, db, 0x41));
    bridged.push(await oneByte(master, inst, 0x41));
  }
  const afterLatency = bridge.details().forwardLatency;
  direct.sort((a, b) => a - b);
  bridged.sort((a, b) => a - b);
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
  const directBps = await saturate(da, db, pattern, total);
  const bridgedBps = await saturate(master, inst, pattern, total);
  await sleep(500);
  const d = bridge.details();

  const f = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  console.log(`\nLatency of one byte, ${f(SAMPLES)} samples each (µs):\n`);
  console.log('| link | p50 | p99 |');
  console.log('|---|---:|---:|');
  console.log(`| direct pty pair | ${f(q(direct, 0.5))} | ${f(q(direct, 0.99))} |`);
  console.log(`| pty -> bridge -> pty | ${f(q(bridged, 0.5))} | ${f(q(bridged, 0.99))} |`);
  console.log(`| **added by the bridge** | **${f(q(bridged, 0.5) - q(direct, 0.5))}** | **${f(q(bridged, 0.99) - q(direct, 0.99))}** |`);
  console.log(`\nThe bridge's own histogram (a chunk read on one side until the write to the other side completed), latency phase: p50 <= ${afterLatency.p50Us} µs, p99 <= ${afterLatency.p99Us} µs (${f(afterLatency.count)} chunks); including the saturated phase: p50 <= ${d.forwardLatency.p50Us} µs, p99 <= ${d.forwardLatency.p99Us} µs.`);
  console.log(`\nThroughput at a saturated line, ${MEGABYTES} MiB of back-to-back request frames:\n`);
  console.log('| link | MB/s | x 38400-baud line |');
  console.log('|---|---:|---:|');
  console.log(`| direct pty pair | ${f(directBps / 1e6, 2)} | ${f(directBps / LINE_BYTES_PER_S)} |`);
  console.log(`| pty -> bridge -> pty | ${f(bridgedBps / 1e6, 2)} | ${f(bridgedBps / LINE_BYTES_PER_S)} |`);
  console.log(`| ratio bridged / direct | ${f(bridgedBps / directBps, 3)} | |`);
  const m = d.directions['>'];
  console.log(
    `\nBridge counters '>': ${f(m.bytes)} bytes read, ${f(m.forwarded)} forwarded, dropped ${m.droppedNoPeer + m.droppedOverflow + m.droppedWriteFailed}; ` +
      `${f(m.frames)} frames decoded in ${f(m.bursts)} bursts, ${f(m.undecodedBytes)} bytes not decoded (decoder behind), ${f(sink.count)} transactions logged (unanswered).`,
  );
  await bridge.close();
} finally {
  for (const port of ports) if (port.isOpen) await new Promise((r) => port.close(() => r(undefined)));
  for (const c of children) c.kill('SIGTERM');
  await sleep(100);
  rmSync(dir, { recursive: true, force: true });
}
