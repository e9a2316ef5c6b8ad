/* eslint-disable @typescript-eslint/no-explicit-any -- the bodies are JSON from the API under test */
/**
 * Bridge mode as `flowbus serve --mode bridge` runs it: startGateway with a config, both ports
 * over TCP (as two serial-over-IP converters), the simulator behind the instrument side and our
 * own master behind the master side; the API and the transaction log answer from what passed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Bus, ParamClient } from '../../src/bus/index.js';
import { configFrom } from '../../src/config/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { resolveParam } from '../../src/params/index.js';
import { silentLogger } from '../../src/shared/index.js';
import { Transport } from '../../src/transport/index.js';
import { createSimulator } from '../../simulator/index.js';
import { serveTcp, type TcpServer } from '../../simulator/cli.js';
import { waitUntil } from '../helpers/wait.js';

describe('flowbus serve --mode bridge (TCP on both sides)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-bridge-mode-'));
  const sim = createSimulator({ nodes: [3, 5] });
  let instrument: TcpServer | undefined;
  let masterServer: Server | undefined;
  let gw: RunningGateway | undefined;
  let bus: Bus | undefined;
  let transport: Transport | undefined;

  afterAll(async () => {
    await bus?.close();
    await transport?.close();
    await gw?.close();
    await instrument?.close();
    await new Promise((r) => masterServer?.close(r) ?? r(undefined));
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards, logs and serves what it observed; refuses writes', async () => {
    instrument = await serveTcp(sim, '127.0.0.1', 0);
    // The master side's converter: the bridge connects to it; our master is the socket it accepts.
    const accepted = new Promise<Socket>((resolve) => {
      masterServer = createServer((s) => resolve(s));
    });
    await new Promise<void>((r) => masterServer!.listen(0, '127.0.0.1', () => r()));
    const masterPort = (masterServer!.address() as { port: number }).port;
    const config = configFrom({
      mode: 'bridge',
      bridge: { instrumentPort: `tcp://127.0.0.1:${instrument.port}`, masterPort: `tcp://127.0.0.1:${masterPort}` },
      http: { host: '127.0.0.1', port: 0, token: 'bridge-test-token' },
      store: { url: `sqlite:${join(dir, 'log.db')}`, spoolDir: join(dir, 'spool'), batchMs: 20 },
      log: { level: 'silent' },
    });
    gw = await startGateway(config, silentLogger);
    expect(gw.service.mode).toBe('bridge');
    const socket = await accepted;
    transport = new Transport('master', async () => socket);
    await transport.start();
    bus = new Bus(transport, { replyTimeoutMs: 1000 });
    const client = new ParamClient(bus);
    const results = await client.read(5, ['primaryNodeAddress', 'fluidName', 'capacity'].map((k) => resolveParam(k)));
    expect(results.map((r) => r.ok && r.reading.value)).toEqual([5, 'EtOH 15mba', 6817]);

    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${gw!.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json', authorization: 'Bearer bridge-test-token' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as any };
    };
    // The reply is forwarded at once; it is decoded and learned a little later (the tap ends a
    // burst at the line's next turn or after its settle time, then one transaction a turn).
    const value = await waitUntil(async () => {
      const r = await api('GET', '/api/v1/instruments/5/parameters/fluidName');
      return r.status === 200 ? r : undefined;
    }, { timeoutMs: 5_000, intervalMs: 20, what: 'fluidName observed' });
    expect([value.status, value.body.value]).toEqual([200, 'EtOH 15mba']);
    const never = await api('GET', '/api/v1/instruments/5/parameters/temperature');
    expect([never.status, never.body.code]).toEqual([404, 'BRIDGE_NOT_OBSERVED']);
    const put = await api('PUT', '/api/v1/instruments/5/parameters/setpoint', { value: 100 });
    expect([put.status, put.body.code]).toEqual([409, 'BRIDGE_READ_ONLY']);
    // The transaction is in the log, marked as observed, with its decoded values.
    await gw.store.flush();
    const log = await api('GET', '/api/v1/transactions?node=5');
    const t = log.body.transactions[0];
    expect(t).toMatchObject({ mode: 'bridge', purpose: 'observed', outcome: 'ok', node: 5 });
    // The log's id is the row's key (source.started_us.k in base 36).
    expect(t.id).toMatch(/^[0-9a-z]+\.[0-9a-z]+\.[0-9a-z]+$/);
    expect(t.params.map((p: any) => [p.key, p.value])).toEqual([
      ['primaryNodeAddress', 5],
      ['fluidName', 'EtOH 15mba'],
      ['capacity', 6817],
    ]);
  });
});
