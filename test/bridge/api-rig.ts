/** The HTTP API over a bridge in process (no ptys): the simulator as the instrument, our master on a duplex pair, buildApp on top. */
import { expect } from 'vitest';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { buildApp } from '../../src/api/index.js';
import { Bus, ParamClient } from '../../src/bus/index.js';
import { BridgeGateway, type BridgeDeps, type BridgeOptions } from '../../src/gateway/index.js';
import { resolveParam } from '../../src/params/index.js';
import { Transport } from '../../src/transport/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { waitUntil } from '../helpers/wait.js';

export interface BridgeApi {
  readonly sim: Simulator;
  readonly bridge: BridgeGateway;
  readonly client: ParamClient;
  readonly app: Awaited<ReturnType<typeof buildApp>>;
  close(): Promise<void>;
}

/**
 * A bridge named `tap` with `options`, over a simulator with `nodes` (default [3]); the master
 * reads `read` of the first node once, so that it is observed, then the API is built with `token`.
 */
export async function startBridgeApi(opts: { token: string; read: readonly string[]; nodes?: number[]; bridge?: Partial<BridgeOptions>; deps?: BridgeDeps }): Promise<BridgeApi> {
  const sim = createSimulator({ nodes: opts.nodes ?? [3] });
  const node = (opts.nodes ?? [3])[0] as number;
  const [bridgeEnd, masterEnd] = duplexPair();
  const bridge = new BridgeGateway(
    { instrumentPort: 'sim://', masterPort: 'in-process', name: 'tap', ...opts.bridge },
    { ...opts.deps, openers: { instrument: async () => sim.connect(), master: async () => bridgeEnd } },
  );
  await bridge.start();
  const transport = new Transport('in-process', async () => masterEnd);
  await transport.start();
  const bus = new Bus(transport, { replyTimeoutMs: 300 });
  const client = new ParamClient(bus);
  const r = await client.read(node, opts.read.map((k) => resolveParam(k)));
  expect(r.every((x) => x.ok)).toBe(true);
  await waitUntil(() => bridge.instruments().length === 1 || undefined, { timeoutMs: 3000, what: 'the read observed' });
  const app = await buildApp({ service: bridge, token: opts.token, version: 'test' });
  return {
    sim,
    bridge,
    client,
    app,
    async close() {
      await app.close();
      await bus.close();
      await transport.close();
      await bridge.close();
      await sim.close();
    },
  };
}
