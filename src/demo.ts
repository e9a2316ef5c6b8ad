import type { Command } from 'commander';
import { Priority } from './bus/index.js';
import { openPort } from './commands/oneshot.js';
import { simulatorFactory } from './sim.js';
import { resolveParam } from './params/index.js';
import { sleep } from './shared/index.js';

/**
 * `flowbus demo`: a two-minute tour without hardware. It starts the built-in
 * simulator, reads who the instrument is, changes the setpoint and watches
 * the flow follow, closes the valve, and shows what a bad write gets back.
 */
export async function runDemo(out: (line: string) => void = console.log, stepMs = 400): Promise<void> {
  const sims = simulatorFactory();
  const port = await openPort({ port: 'sim://?nodes=3,5&seed=7' }, sims);
  const p = (k: string) => resolveParam(k);
  const show = async (keys: string[]) => {
    const rs = await port.client.read(3, keys.map(p), { priority: Priority.Interactive });
    return rs.map((r) => (r.ok ? `${r.reading.param.key}=${typeof r.reading.value === 'number' ? +r.reading.value.toFixed(3) : JSON.stringify(r.reading.value)}` : `${r.param.key}: ${r.error.code}`)).join('  ');
  };
  try {
    out('flowbus demo: two simulated instruments on one bus (nodes 3 and 5), spoken to in binary ProPar');
    out(`identity   ${await show(['deviceType', 'bhtModelNumber', 'serialNumber', 'firmwareVersion', 'fluidName', 'capacity', 'capacityUnit'])}`);
    out(`ring       ${await show(['primaryNodeAddress', 'nextNodeAddress'])}`);
    out('setpoint   fSetpoint := 3000 (mg/min)');
    await port.client.write(3, [{ param: p('fSetpoint'), value: 3000 }]);
    for (let i = 0; i < 5; i++) {
      await sleep(stepMs);
      out(`  t+${((i + 1) * stepMs) / 1000}s  ${await show(['fMeasure', 'measure', 'valveOutput'])}`);
    }
    out('valve      controlMode := 3 (close valve)');
    await port.client.write(3, [{ param: p('controlMode'), value: 3 }]);
    await sleep(stepMs * 3);
    out(`  later    ${await show(['fMeasure', 'controlMode'])}`);
    const bad = await port.client.write(3, [{ param: p('fluidsetIndex'), value: 8 }]).catch((e: unknown) => e);
    out(`refused    fluidsetIndex := 8 -> ${bad instanceof Error ? bad.message : 'accepted?'}`);
    const s = port.bus.stats();
    out(`bus        ${s.outcomes.ok} transactions ok, ${s.outcomes.status} refused with a status, mean reply ${s.latency.meanMs?.toFixed(2)} ms`);
    out('Next: npm start (the gateway with its HTTP API on http://127.0.0.1:8080), or flowbus --help');
  } finally {
    await port.close();
    for (const sim of sims.simulators.values()) await sim.close();
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('a short tour against the built-in simulator: identity, a setpoint change, the valve, a refused write')
    .action(async () => {
      await runDemo();
    });
}
