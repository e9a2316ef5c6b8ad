/* eslint-disable @typescript-eslint/no-explicit-any -- the bodies are JSON from the API under test */
/**
 * End to end: HTTP API -> gateway -> serialport on a real pseudo-terminal (or TCP)
 * -> socat -> the simulator. The gateway opens the pty with `serialport` exactly
 * as it would open /dev/ttyUSB0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config/index.js';
import { startGateway, type RunningGateway } from '../../src/main.js';
import { silentLogger } from '../../src/shared/index.js';
import { createSimulator, type Simulator } from '../../simulator/index.js';
import { servePty, serveTcp, type PtyServer, type TcpServer } from '../../simulator/cli.js';
import { SOCAT } from '../helpers/socat.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'e2e-secret-token';

async function api(gw: RunningGateway, method: string, path: string, body?: unknown, token: string | null = TOKEN) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
}

const storeDirs: string[] = [];
afterAll(() => {
  for (const d of storeDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function gatewayConfig(port: string) {
  // Each gateway logs into its own SQLite file and spool, away from ./data.
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-e2e-store-'));
  storeDirs.push(dir);
  return configFrom({
    buses: [{ port, replyTimeoutMs: 300 }],
    store: { url: `sqlite:${join(dir, 'log.db')}`, spoolDir: join(dir, 'spool') },
    poll: { intervalMs: 200 },
    http: { host: '127.0.0.1', port: 0, token: TOKEN },
    log: { level: 'silent' },
  });
}

/** The same checks through either link. */
function suite(name: string, setup: () => Promise<{ gw: RunningGateway; sim: Simulator; drop: () => Promise<void>; restore: () => Promise<void> }>) {
  describe(name, () => {
    let ctx: Awaited<ReturnType<typeof setup>>;
    beforeAll(async () => {
      ctx = await setup();
    });
    afterAll(async () => {
      await ctx?.gw.close();
    });

    it('discovery finds every simulated node with its identity', async () => {
      const list = await waitUntil(async () => {
        const r = await api(ctx.gw, 'GET', '/api/v1/instruments');
        const list = r.body.instruments as any[];
        return list.length === 3 && list.every((i) => i.identity.serial) ? list : undefined;
      }, { timeoutMs: 15_000, intervalMs: 100, what: 'three instruments discovered with their serials' });
      expect(list.map((i: any) => i.node)).toEqual([3, 5, 7]);
      expect(list.map((i: any) => i.identity.serial)).toEqual([3, 5, 7].map((n) => ctx.sim.instruments.get(n)!.get('serialNumber')));
    });

    it('GET and PUT of every value type, and a chained read', async () => {
      const cases: [string, unknown][] = [
        ['controlMode', 0], // u8
        ['setpoint', 16000], // u16
        ['fSetpoint', 1234.5], // float
        ['alarmLimitMaximum', 30000], // u16
        ['valveOutput', 1000], // u32
        ['userTag', 'reactor 2'], // string
      ];
      for (const [param, value] of cases) {
        const put = await api(ctx.gw, 'PUT', `/api/v1/instruments/5/parameters/${param}`, { value });
        expect(put.status, `${param}: ${JSON.stringify(put.body)}`).toBe(200);
        const get = await api(ctx.gw, 'GET', `/api/v1/instruments/5/parameters/${param}`);
        expect(get.status).toBe(200);
        if (typeof value === 'number' && param === 'fSetpoint') expect(get.body.value).toBeCloseTo(value, 1);
        else if (param !== 'valveOutput') expect(get.body.value).toBe(value);
      }
      expect(ctx.sim.instruments.get(5)!.get('userTag')).toBe('reactor 2');
      const chained = await api(ctx.gw, 'GET', '/api/v1/instruments/3/parameters?names=fluidName,capacity,capacityUnit,measure,205');
      expect(chained.status).toBe(200);
      expect(chained.body.values.map((v: any) => v.key)).toEqual(['fluidName', 'capacity', 'capacityUnit', 'measure', 'fMeasure']);
      expect(chained.body.values.slice(0, 3).map((v: any) => v.value)).toEqual(['EtOH 15mba', 6817, 'mg/min']);
    });

    it('GET /transactions reads the log, and the mode keeps no second copy of them in memory', async () => {
      const listed = await waitUntil(async () => {
        const r = await api(ctx.gw, 'GET', '/api/v1/transactions?limit=20');
        return (r.body.transactions as any[]).length >= 5 ? (r.body.transactions as any[]) : undefined;
      }, { timeoutMs: 15_000, intervalMs: 200, what: 'transactions in the log' });
      expect(listed[0].id).toMatch(/^\d+\.[0-9a-z]+\.\d+$/);
      expect(ctx.gw.service.recentTransactions({ limit: 1000 })).toEqual([]);
    });

    it('maps each failure to its HTTP status and code', async () => {
      const checks: [string, string, unknown, number, string][] = [
        ['GET', '/api/v1/instruments/3/parameters/warpFactor', undefined, 404, 'PARAM_UNKNOWN'],
        ['GET', '/api/v1/instruments/42', undefined, 404, 'GATEWAY_NODE_UNKNOWN'],
        ['PUT', '/api/v1/instruments/3/parameters/setpoint', { value: 99999 }, 400, 'PARAM_INVALID_VALUE'],
        ['PUT', '/api/v1/instruments/3/parameters/fMeasure', { value: 1 }, 409, 'PARAM_READ_ONLY'],
        ['PUT', '/api/v1/instruments/3/parameters/fluidsetIndex', { value: 8 }, 422, 'BUS_STATUS'],
      ];
      for (const [method, path, body, status, code] of checks) {
        const r = await api(ctx.gw, method, path, body);
        expect([r.status, r.body.code], `${method} ${path}`).toEqual([status, code]);
      }
      const noToken = await api(ctx.gw, 'PUT', '/api/v1/instruments/3/parameters/setpoint', { value: 100 }, null);
      expect([noToken.status, noToken.body.code]).toEqual([401, 'API_UNAUTHORIZED']);
      const wrong = await api(ctx.gw, 'PUT', '/api/v1/instruments/3/parameters/setpoint', { value: 100 }, 'not-the-token');
      expect([wrong.status, wrong.body.code]).toEqual([401, 'API_UNAUTHORIZED']);
    });

    it('the port disappears and returns: the gateway reports it, recovers by itself, and serves again', async () => {
      await ctx.drop();
      const down = await waitUntil(async () => {
        const r = await api(ctx.gw, 'GET', '/api/v1/bus');
        return r.body.buses[0].transport.state !== 'open' ? r.body.buses[0] : undefined;
      }, { timeoutMs: 15_000, intervalMs: 100, what: 'the bus seen down' });
      expect(down.transport.lastError).toBeTruthy();
      const unavailable = await api(ctx.gw, 'GET', '/api/v1/instruments/3/parameters/fluidName');
      expect([unavailable.status, unavailable.body.code]).toEqual([503, 'BUS_UNAVAILABLE']);
      const ready = await fetch(`${ctx.gw.url}/readyz`);
      expect(ready.status).toBe(503);
      await ctx.restore();
      const back = await waitUntil(async () => {
        const r = await api(ctx.gw, 'GET', '/api/v1/instruments/3/parameters/fluidName');
        return r.status === 200 ? r.body : undefined;
      }, { timeoutMs: 15_000, intervalMs: 100, what: 'fluidName read again' });
      expect(back.value).toBe('EtOH 15mba');
      const bus = await api(ctx.gw, 'GET', '/api/v1/bus');
      expect(bus.body.buses[0].transport.reconnects).toBeGreaterThanOrEqual(1);
    });
  });
}

describe.skipIf(!SOCAT)('through a real pseudo-terminal opened with serialport', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-e2e-'));
  const path = join(dir, 'ttyFB0');
  let pty: PtyServer | undefined;
  const sim = createSimulator({ nodes: [3, 5, 7], baud: 38400, turnaroundMs: 2 });
  afterAll(async () => {
    await pty?.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  suite('pty', async () => {
    pty = await servePty(sim, path);
    const gw = await startGateway(gatewayConfig(path), silentLogger);
    return {
      gw,
      sim,
      drop: async () => {
        await pty?.close();
        pty = undefined;
      },
      restore: async () => {
        pty = await servePty(sim, path);
      },
    };
  });
});

describe('through TCP (a serial-over-IP converter)', () => {
  let tcp: TcpServer | undefined;
  const sim = createSimulator({ nodes: [3, 5, 7] });
  afterAll(async () => {
    await tcp?.close();
    await sim.close();
  });
  suite('tcp', async () => {
    tcp = await serveTcp(sim, '127.0.0.1', 0);
    const port = tcp.port;
    const gw = await startGateway(gatewayConfig(`tcp://127.0.0.1:${port}`), silentLogger);
    return {
      gw,
      sim,
      drop: async () => {
        await tcp?.close();
        tcp = undefined;
      },
      restore: async () => {
        tcp = await serveTcp(sim, '127.0.0.1', port);
      },
    };
  });
});
