/**
 * What the paced instrument of the HTTP bench (bench/paced-sim.ts, 38400 baud, 2 ms turnaround,
 * `precisePacing`) costs the machine: its process's CPU time per transaction (utime + stime from
 * /proc, Linux), while this process reads through a `Bus` at depth 1 as fast as it answers, one
 * parameter and then 8 chained, SECONDS each, with the reads' ratio to the one-in-flight wire limit. On a 2-core machine the instrument's spin competes
 * with the gateway it is measuring.
 *
 * With several source trees (each with its node_modules), each tree's own bench/paced-sim.ts is
 * run, in turn, ROUNDS times, side by side in one table (the bus reading them is this tree's).
 *
 *   npx tsx bench/paced-sim-cpu.ts [seconds=5] [rounds=2] [tree ...]   (default tree: this one)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Bus, ParamClient, Priority, type TransactionRecord } from '../src/bus/index.js';
import { resolveParam } from '../src/params/index.js';
import { Transport, tcpOpener } from '../src/transport/index.js';

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 2);
const TREES = process.argv.length > 4 ? process.argv.slice(4) : [join(import.meta.dirname, '..')];
const NODE = 3;
const READS: [string, string[]][] = [
  ['one parameter', ['fMeasure']],
  ['8 parameters chained', ['measure', 'setpoint', 'analogInput', 'alarmInfo', 'valveOutput', 'counterValue', 'temperature', 'fMeasure']],
];
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** CPU time of a process so far, ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function measure(tree: string): Promise<{ tps: number; ratio: number; cpuUs: number }[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(tree, 'bench/paced-sim.ts'), '38400', '2', String(NODE)], { stdio: ['pipe', 'pipe', 'inherit'], cwd: tree });
  const port = await new Promise<number>((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve((JSON.parse(l) as { port: number }).port)));
  const transport = new Transport(`tcp://127.0.0.1:${port}`, tcpOpener('127.0.0.1', port));
  await transport.start();
  const bus = new Bus(transport, { pipelineDepth: 1, baudRate: 38400 });
  const client = new ParamClient(bus);
  const out: { tps: number; ratio: number; cpuUs: number }[] = [];
  let bytes = 0;
  bus.on('transaction', (r: TransactionRecord) => {
    bytes = (r.requestBytes?.length ?? 0) + (r.replyBytes?.length ?? 0);
  });
  for (const [, names] of READS) {
    const defs = names.map((n) => resolveParam(n));
    for (let i = 0; i < 20; i++) await client.read(NODE, defs, { priority: Priority.Interactive });
    const cpu0 = cpuMs(child.pid as number);
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      await client.read(NODE, defs, { priority: Priority.Interactive });
      n++;
    }
    const elapsed = (performance.now() - t0) / 1000;
    // The one-in-flight wire limit for these frames: (request + answer bytes) x 10 / baud + turnaround.
    const limit = 1 / ((bytes * 10) / 38400 + 0.002);
    out.push({ tps: n / elapsed, ratio: n / elapsed / limit, cpuUs: ((cpuMs(child.pid as number) - cpu0) / n) * 1000 });
  }
  await bus.close();
  await transport.close();
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  return out;
}

console.log(`the paced instrument's CPU per transaction, ${SECONDS} s per read, ${ROUNDS} rounds, node ${process.version}; load at the start ${load()}`);
console.log(`| tree | round | ${READS.map(([l]) => `${l}: transactions/s | ratio to the wire limit | instrument CPU per transaction`).join(' | ')} |`);
console.log(`|---|---:|${READS.map(() => '---:|---:|---:').join('|')}|`);
for (let round = 1; round <= ROUNDS; round++) {
  for (const tree of TREES) {
    const r = await measure(tree);
    console.log(`| ${tree} | ${round} | ${r.map((x) => `${x.tps.toFixed(1)} | **${x.ratio.toFixed(3)}** | ${x.cpuUs.toFixed(0)} µs`).join(' | ')} |`);
  }
}
console.log(`load at the end ${load()}; command: npx tsx bench/paced-sim-cpu.ts ${process.argv.slice(2).join(' ')}`);
process.exit(0);
