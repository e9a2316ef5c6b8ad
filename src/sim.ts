import type { Duplex } from 'node:stream';
import type { SimulatorFactory } from './transport/index.js';
import { createSimulator, defaultChannels, parseChannelSpec, type Simulator, type SimulatorOptions } from '../simulator/index.js';

/** Options of a `sim://` address, e.g. `sim://?nodes=3,5,7&protocol=ascii&baud=38400&turnaround=2&seed=1`; `&channels=5:3` gives node 5 three channels. */
export function simulatorOptions(params: Readonly<Record<string, string>>): SimulatorOptions {
  const nodes = (params.nodes ?? '3')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n));
  // `channels=5:3,7:2`: node 5 has 3 channels, node 7 has 2 (each channel its own fluid and capacity).
  const { channels } = parseChannelSpec(params.channels ?? '');
  return {
    nodes,
    ...(channels.size > 0 ? { instruments: nodes.map((node) => ({ node, ...(channels.has(node) ? { channels: defaultChannels(channels.get(node) as number) } : {}) })) } : {}),
    ...(params.protocol === 'ascii' ? { protocol: 'ascii' as const } : {}),
    ...(params.baud ? { baud: Number(params.baud) } : {}),
    ...(params.turnaround ? { turnaroundMs: Number(params.turnaround) } : {}),
    ...(params.seed ? { seed: Number(params.seed) } : {}),
  };
}

/**
 * The in-process simulator for `sim://` addresses. One simulator per address,
 * so that a reconnect reaches the same instruments again, as with real hardware.
 */
export function simulatorFactory(): SimulatorFactory & { simulators: Map<string, Simulator> } {
  const simulators = new Map<string, Simulator>();
  const factory = (params: Readonly<Record<string, string>>): Duplex => {
    const key = JSON.stringify(params);
    let sim = simulators.get(key);
    if (!sim) {
      sim = createSimulator(simulatorOptions(params));
      simulators.set(key, sim);
      return sim.stream;
    }
    return sim.connect();
  };
  return Object.assign(factory, { simulators });
}

