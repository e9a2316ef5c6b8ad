/**
 * Injection in bridge mode (issue 13, benchmarks), on real pseudo-terminals: the simulator
 * (38400 baud pacing, nodes 3 and 5) as the instrument, the project's own master (pipeline
 * depth 2, 8 values every 158 ms) as the Bright, the bridge between them. In one run:
 *
 * 1. injection off: the master's transaction latency (p50, p99);
 * 2. injection on, the API writing a setpoint (with its read-back) 10 times a second: the same;
 * 3. injection on, the API writing back to back: injected transactions per second that fit
 *    beside the master, and the share of the line (3,840 B/s each way at 38400 baud) used.
 *
 *   npx tsx bench/inject.ts [seconds per phase, default 10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSimulator } from '../simulator/index.js';
import { Bus, ParamClient, type TransactionRecord } from '../src/bus/index.js';
import { BridgeGateway } from '../src/gateway/index.js';
import { resolveParam } from '../src/params/index.js';
import { createSerialPort, serialOpener, Transport } from '../src/transport/index.js';

const SECONDS = Number(process.argv[2] ?? 10);
const LINE_BYTES_PER_S = 38400 / 10;
const POLL = ['measure', 'setpoint', 'valveOutput', 'temperature'].map((k) => resolveParam(k));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pair(a: string, b: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `pty,rawer,echo=0,link=${a}`, `pty,rawer,echo=0,link=${b}`], { stdio: 'ignore' });
  for (let i = 0; i < 250 && !(existsSync(a) && existsSync(b)); i++) await sleep(20);
  return child;
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

interface Phase {
  readonly name: string;
  readonly master: number[];
  readonly masterTimeouts: number;
  readonly injected: number;
  readonly injectedFailed: number;
  readonly bytesPerS: { '>': number; '<': number };
}

async function rig(inject: boolean, phases: { name: string; writesPerS: number | 'max' }[]): Promise<Phase[]> {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-bench-inject-'));
  const instPath = join(dir, 'inst');
  const masterPath = join(dir, 'master');
  const sim = createSimulator({ nodes: [3, 5], baud: 38400, turnaroundMs: 2 });
  const instPair = await pair(instPath, `${instPath}.sim`);
  const simPort = createSerialPort(`${instPath}.sim`, 38400);
  await new Promise<void>((res, rej) => simPort.open((e) => (e ? rej(e) : res())));
  const line = sim.connect();
  simPort.on('data', (c: Buffer) => line.write(c));
  line.on('data', (c: Buffer) => simPort.isOpen && simPort.write(c));
  const masterPair = await pair(masterPath, `${masterPath}.bridge`);
  const bridge = new BridgeGateway({ instrumentPort: instPath, masterPort: `${masterPath}.bridge`, name: 'bench', inject, injectIdleMs: 10, injectMaxMasterLatencyMs: 1000 });
  await bridge.start();
  const transport = new Transport(masterPath, serialOpener(masterPath, 38400), { initialDelayMs: 50, maxDelayMs: 200 });
  const bus = new Bus(transport, { replyTimeoutMs: 500, retries: 0, pipelineDepth: 2 });
  const client = new ParamClient(bus);
  await transport.start();
  for (let i = 0; i < 100 && !bridge.ready(); i++) await sleep(20);
  let log: TransactionRecord[] = [];
  bus.on('transaction', (r) => log.push(r));
  let polling = true;
  const poller = (async () => {
    while (polling) {
      await Promise.all([client.read(3, POLL), client.read(5, POLL)]);
      await sleep(158);
    }
  })();
  for (let i = 0; i < 100 && bridge.instruments().length < 2; i++) await sleep(20);
  const out: Phase[] = [];
  for (const phase of phases) {
    log = [];
    const before = bridge.details();
    const injectedBefore = before.inject?.answered ?? 0;
    const failedBefore = (before.inject?.timedOut ?? 0) + (before.inject?.noGap ?? 0);
    const end = Date.now() + SECONDS * 1000;
    let v = 0;
    while (Date.now() < end) {
      if (phase.writesPerS === 0) {
        await sleep(100);
        continue;
      }
      const t0 = Date.now();
      await bridge.writeParam('3', 'setpoint', 1000 + (v++ % 30000), { source: 'bench' }).catch(() => undefined);
      if (phase.writesPerS !== 'max') await sleep(Math.max(0, 1000 / phase.writesPerS - (Date.now() - t0)));
    }
    const after = bridge.details();
    out.push({
      name: phase.name,
      master: log.filter((r) => r.outcome === 'ok' && r.latencyMs !== undefined).map((r) => r.latencyMs as number),
      masterTimeouts: log.filter((r) => r.outcome === 'timeout').length,
      injected: (after.inject?.answered ?? 0) - injectedBefore,
      injectedFailed: (after.inject?.timedOut ?? 0) + (after.inject?.noGap ?? 0) - failedBefore,
      bytesPerS: {
        '>': (after.directions['>'].bytes - before.directions['>'].bytes + (after.inject?.requestBytes ?? 0) - (before.inject?.requestBytes ?? 0)) / SECONDS,
        '<': (after.directions['<'].bytes - before.directions['<'].bytes) / SECONDS,
      },
    });
  }
  polling = false;
  await poller;
  await bus.close();
  await transport.close();
  await bridge.close();
  line.destroy();
  await new Promise<void>((r) => simPort.close(() => r()));
  instPair.kill();
  masterPair.kill();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
  return out;
}

async function main(): Promise<void> {
  const results = [
    ...(await rig(false, [{ name: 'injection off', writesPerS: 0 }])),
    ...(await rig(true, [
      { name: 'injection on, idle', writesPerS: 0 },
      { name: 'injection on, 10 writes/s', writesPerS: 10 },
      { name: 'injection on, writes back to back', writesPerS: 'max' },
    ])),
  ];
  console.log(`${SECONDS} s per phase; master: 8 values every 158 ms, pipeline depth 2; a write is a write plus its read-back (2 injected transactions)`);
  console.log('phase                               master p50   master p99   master timeouts   injected/s   injected failed   line used > / <');
  for (const r of results) {
    const used = (d: '>' | '<') => `${((r.bytesPerS[d] / LINE_BYTES_PER_S) * 100).toFixed(1)} %`;
    console.log(
      `${r.name.padEnd(35)} ${pct(r.master, 50).toFixed(2).padStart(7)} ms ${pct(r.master, 99).toFixed(2).padStart(9)} ms ${String(r.masterTimeouts).padStart(11)} ${(r.injected / SECONDS).toFixed(1).padStart(16)} ${String(r.injectedFailed).padStart(14)}      ${used('>')} / ${used('<')}`,
    );
  }
}

await main();
