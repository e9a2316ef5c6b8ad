/**
 * Timing accuracy of a ramp the gateway steps: a program ramps node 3 from 0 to RAMP_TO over
 * SECONDS at 10 writes per second, on a simulated 38400-baud line (2 ms turnaround) with three
 * instruments polled (the default six parameters). For each written setpoint: the time its write
 * went on the wire against the value, compared with the ideal line (anchored at the ramp's first
 * write), as a deviation in the setpoint's unit, in steps of the ramp, and in ms.
 *
 *   npx tsx bench/ramp.ts [--seconds 30] [--poll 500] [--rate 10]
 */
import { MasterGateway, MemorySink, Programs } from '../src/gateway/index.js';
import { simulatorFactory } from '../src/sim.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const SECONDS = arg('seconds', 30);
const POLL_MS = arg('poll', 500);
const RATE = arg('rate', 10);
const RAMP_TO = 5000;
const PORT = 'sim://?nodes=3,5,7&baud=38400&turnaround=2';

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

async function main(): Promise<void> {
  const sims = simulatorFactory();
  const sink = new MemorySink(1_000_000);
  const gw = new MasterGateway({ buses: [{ name: 'main', port: PORT }], poll: { intervalMs: POLL_MS } }, { simulator: sims, sink });
  await gw.start();
  await gw.discover();
  const programs = new Programs(gw);
  const started = await programs.start(
    { name: 'bench', instruments: ['main:3'], ramp: 'stepped', rate: RATE, steps: [{ type: 'hold', seconds: 0.5, values: { 'main:3': 0 } }, { type: 'ramp', seconds: SECONDS, values: { 'main:3': RAMP_TO } }] },
    'bench',
  );
  const since = sink.count;
  for (;;) {
    const v = programs.get(started.id);
    if (v.state !== 'running') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const all = sink.list({ limit: 1_000_000 });
  const writes = all
    .filter((t) => t.purpose === 'write' && t.node === 3 && t.outcome === 'ok')
    .flatMap((t) => t.params.filter((p) => p.key === 'fSetpoint').map((p) => ({ at: t.startedAt, value: Number(p.value) })))
    .sort((a, b) => a.at - b.at)
    .slice(1); // the hold's 0
  const t0 = writes[0]!.at;
  const slopePerMs = RAMP_TO / (SECONDS * 1000);
  const step = RAMP_TO / (SECONDS * RATE);
  const dev = writes.map((w) => Math.abs(w.value - Math.min(RAMP_TO, slopePerMs * (w.at - t0)))).sort((a, b) => a - b);
  const intervals = writes.slice(1).map((w, i) => w.at - writes[i]!.at).sort((a, b) => a - b);
  const polls = all.filter((t) => t.purpose === 'poll').length;
  const busy = gw.buses()[0]!;
  const row = (name: string, xs: readonly number[], unit: string, f = (x: number) => x.toFixed(1)) => `${name.padEnd(28)} p50 ${f(pct(xs, 50))} ${unit}, p99 ${f(pct(xs, 99))} ${unit}, max ${f(xs.at(-1) ?? NaN)} ${unit}`;
  console.log(`ramp 0 -> ${RAMP_TO} mg/min over ${SECONDS} s at ${RATE} writes/s on ${PORT}, poll every ${POLL_MS} ms of 3 instruments (${polls} polls, wire ${(busy.wireUtilisation * 100).toFixed(0)} % busy)`);
  console.log(`writes on the wire: ${writes.length} (ideal ${SECONDS * RATE + 1}); step ${step.toFixed(2)} mg/min; transactions logged ${sink.count - since}`);
  console.log(row('deviation from the line', dev, 'mg/min', (x) => x.toFixed(2)));
  console.log(row('deviation in steps', dev.map((d) => d / step), 'steps', (x) => x.toFixed(3)));
  console.log(row('deviation in time', dev.map((d) => d / slopePerMs), 'ms'));
  console.log(row('interval between writes', intervals, 'ms'));
  await programs.close();
  await gw.close();
  for (const s of sims.simulators.values()) await s.close();
}

await main();
