/**
 * The gateway the HTTP benchmarks measure: in this process, on 127.0.0.1 (any free port), against
 * simulated instruments paced like a real line (38400 baud, 2 ms turnaround), polling the default
 * parameters. Resolves once discovery has found every instrument with its identity.
 */
import { configFrom } from '../src/config/index.js';
import { MasterGateway } from '../src/gateway/index.js';
import { createLogger } from '../src/logging.js';
import { startGateway, type RunningGateway } from '../src/main.js';

export interface BenchGateway {
  readonly gateway: RunningGateway;
  readonly service: MasterGateway;
  readonly url: URL;
  /** Seconds from the start until every instrument was online with its identity. */
  readonly discoveryS: number;
  /** performance.now() at the start. */
  readonly startedAt: number;
  /** The bus address, e.g. sim://?nodes=3,5&baud=38400&turnaround=2. */
  readonly port: string;
  /** Parameters each poll reads. */
  readonly pollParameters: number;
}

export async function startBenchGateway(opts: { readonly nodes: readonly number[]; readonly pollMs: number; readonly baud?: number; readonly turnaroundMs?: number; readonly discoveryTimeoutMs?: number }): Promise<BenchGateway> {
  const port = `sim://?nodes=${opts.nodes.join(',')}&baud=${opts.baud ?? 38400}&turnaround=${opts.turnaroundMs ?? 2}`;
  const config = configFrom({ buses: [{ port }], poll: { intervalMs: opts.pollMs }, http: { host: '127.0.0.1', port: 0 }, log: { level: 'silent' } });
  const tStart = performance.now();
  const gateway = await startGateway(config, createLogger(config.log.level, 'json'));
  if (!(gateway.service instanceof MasterGateway)) throw new Error('expected master mode');
  const service = gateway.service;
  for (;;) {
    const list = service.instruments();
    if (list.length === opts.nodes.length && list.every((i) => i.online && i.identity.serial !== undefined)) break;
    if (performance.now() - tStart > (opts.discoveryTimeoutMs ?? 20_000)) throw new Error(`discovery did not find ${opts.nodes.length} instruments: ${JSON.stringify(list.map((i) => i.id))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { gateway, service, url: new URL(gateway.url), discoveryS: (performance.now() - tStart) / 1000, startedAt: tStart, port, pollParameters: config.poll.parameters.length };
}
