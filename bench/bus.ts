/**
 * Bus efficiency (issue: active master mode, benchmarks).
 *
 * The simulator stands in for a 38400-baud line with 2 ms turnaround and four
 * instruments; the gateway's bus polls eight parameters of each (the Bright
 * display adapter's poll) as fast as the scheduler can. Each figure is a ratio
 * measured in this run:
 * - parameter values per second against the one-in-flight wire limit:
 *   per transaction, (request + answer bytes) x 10 bits / baud + turnaround;
 * - pipeline depth 2 against depth 1;
 * - chained reads against one parameter per request.
 *
 *   npx tsx bench/bus.ts [seconds per run, default 5]
 */
import { Bus, ParamClient, Priority } from '../src/bus/index.js';
import { resolveParam } from '../src/params/index.js';
import { Transport } from '../src/transport/index.js';
import { createSimulator } from '../simulator/index.js';

const BAUD = 38400;
const TURNAROUND_MS = 2;
const NODES = [3, 5, 7, 9];
const PARAMS = ['measure', 'setpoint', 'analogInput', 'alarmInfo', 'valveOutput', 'counterValue', 'temperature', 'fMeasure'].map((k) => resolveParam(k));
const SECONDS = Number(process.argv[2] ?? 5);

interface Run {
  label: string;
  valuesPerS: number;
  transactionsPerS: number;
  bytesPerTransaction: number;
  wireLimitValuesPerS: number;
  failures: number;
}

async function run(label: string, depth: number, chained: boolean): Promise<Run> {
  const sim = createSimulator({ nodes: NODES, baud: BAUD, turnaroundMs: TURNAROUND_MS, precisePacing: true, seed: 3 });
  const transport = new Transport('sim://bench', async () => sim.stream);
  await transport.start();
  const bus = new Bus(transport, { pipelineDepth: depth, replyTimeoutMs: 1000, queueDeadlineMs: 60_000, baudRate: BAUD });
  const client = new ParamClient(bus);
  let measuring = false;
  let tx = 0;
  let bytes = 0;
  let values = 0;
  let failures = 0;
  bus.on('transaction', (r) => {
    if (!measuring) return;
    if (r.outcome !== 'ok') failures++;
    tx++;
    bytes += (r.requestBytes?.length ?? 0) + (r.replyBytes?.length ?? 0);
  });
  let stop = false;
  const worker = async (node: number) => {
    while (!stop) {
      const batches = chained ? [PARAMS] : PARAMS.map((p) => [p]);
      for (const batch of batches) {
        const results = await client.read(node, batch, { priority: Priority.Poll });
        if (measuring) values += results.filter((r) => r.ok).length;
      }
    }
  };
  const workers = NODES.map((n) => worker(n));
  await new Promise((r) => setTimeout(r, 500)); // warm up
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const elapsed = (performance.now() - t0) / 1000;
  measuring = false;
  stop = true;
  await Promise.all(workers);
  await bus.close();
  await transport.close();
  await sim.close();
  const bytesPerTransaction = bytes / tx;
  const txTime = (bytesPerTransaction * 10) / BAUD + TURNAROUND_MS / 1000;
  return {
    label,
    valuesPerS: values / elapsed,
    transactionsPerS: tx / elapsed,
    bytesPerTransaction,
    wireLimitValuesPerS: (chained ? PARAMS.length : 1) / txTime,
    failures,
  };
}

const depth1 = await run('chained, pipeline depth 1', 1, true);
const depth2 = await run('chained, pipeline depth 2', 2, true);
const single = await run('one parameter per request, depth 1', 1, false);

const f = (x: number, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
console.log(`bus benchmark: simulator at ${BAUD} baud, ${TURNAROUND_MS} ms turnaround, ${NODES.length} instruments x ${PARAMS.length} parameters, ${SECONDS} s per run, node ${process.version}`);
console.log('| run | values/s | transactions/s | bytes/transaction | one-in-flight wire limit, values/s | ratio to limit | failures |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of [depth1, depth2, single]) {
  console.log(`| ${r.label} | ${f(r.valuesPerS, 1)} | ${f(r.transactionsPerS, 1)} | ${f(r.bytesPerTransaction, 1)} | ${f(r.wireLimitValuesPerS, 1)} | ${f(r.valuesPerS / r.wireLimitValuesPerS, 3)} | ${r.failures} |`);
}
console.log(`depth 2 / depth 1 values per second: ${f(depth2.valuesPerS / depth1.valuesPerS, 2)} (target >= 1.6)`);
console.log(`depth 1 against the wire limit: ${f(depth1.valuesPerS / depth1.wireLimitValuesPerS, 3)} (target >= 0.95)`);
console.log(`chained / one parameter per request, values per second: ${f(depth1.valuesPerS / single.valuesPerS, 2)}`);
