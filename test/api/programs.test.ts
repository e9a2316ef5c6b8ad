import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/index.js';
import { MasterGateway, Programs, type ProgramEvent } from '../../src/gateway/index.js';
import { simulatorFactory } from '../../src/sim.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'programs-test-token-0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function start() {
  const sims = simulatorFactory();
  const gw = new MasterGateway({ buses: [{ name: 'main', port: 'sim://?nodes=3,5', bus: { replyTimeoutMs: 200 } }], poll: { parameters: ['fMeasure', 'fSetpoint'], intervalMs: 200 } }, { simulator: sims });
  await gw.start();
  await gw.discover();
  const programs = new Programs(gw);
  const app = await buildApp({ service: gw, token: TOKEN, logger: false, version: '1', programs });
  closers.push(async () => {
    await app.close();
    await programs.close();
    await gw.close();
    for (const s of sims.simulators.values()) await s.close();
  });
  const sim = [...sims.simulators.values()][0]!;
  return { app, gw, sim };
}

const PROGRAM = { name: 'purge', instruments: ['main:3', { ref: 'main:5', safe: 'valve-closed' }], steps: [{ type: 'hold', seconds: 30, values: { 'main:3': 1000, 'main:5': 500 } }] };

describe('/api/v1/programs', () => {
  it('starts, shows, pauses, resumes and aborts a program; each change is a program event', async () => {
    const { app, gw, sim } = await start();
    const events: ProgramEvent[] = [];
    gw.events.on('program', (e) => void events.push(e));
    const started = await app.inject({ method: 'POST', url: '/api/v1/programs', headers: AUTH, payload: PROGRAM });
    expect(started.statusCode).toBe(201);
    const { id } = started.json<{ id: string }>();
    const got = await waitUntil(async () => {
      const r = (await app.inject({ url: `/api/v1/programs/${id}` })).json<{ instruments: { id: string; target: number }[]; state: string; step: { index: number; timeLeftMs: number } }>();
      return r.instruments.every((i) => i.target > 0) ? r : undefined;
    });
    expect(got.state).toBe('running');
    expect(got.step.index).toBe(0);
    expect(got.step.timeLeftMs).toBeGreaterThan(0);
    expect(got.step.timeLeftMs).toBeLessThanOrEqual(30_000);
    expect(got.instruments.map((i) => [i.id, i.target])).toEqual([['main:3', 1000], ['main:5', 500]]);
    expect((await app.inject({ url: '/api/v1/programs' })).json<{ programs: unknown[] }>().programs).toHaveLength(1);
    expect((await app.inject({ method: 'POST', url: `/api/v1/programs/${id}/pause`, headers: AUTH, payload: {} })).json<{ state: string }>().state).toBe('paused');
    expect((await app.inject({ method: 'POST', url: `/api/v1/programs/${id}/pause`, headers: AUTH, payload: {} })).json<{ code: string }>().code).toBe('GATEWAY_PROGRAM_STATE');
    expect((await app.inject({ method: 'POST', url: `/api/v1/programs/${id}/resume`, headers: AUTH, payload: {} })).json<{ state: string }>().state).toBe('running');
    const aborted = await app.inject({ method: 'POST', url: `/api/v1/programs/${id}/abort`, headers: AUTH, payload: {} });
    expect(aborted.statusCode).toBe(200);
    expect(aborted.json()).toMatchObject({ state: 'aborted', reason: { code: 'GATEWAY_PROGRAM_ABORTED' }, safe: { applied: true, errors: [] } });
    expect(sim.instruments.get(3)!.get('fSetpoint')).toBe(0);
    expect(sim.instruments.get(5)!.get('controlMode')).toBe(3);
    await waitUntil(() => events.length >= 4);
    expect(events.map((e) => e.change)).toEqual(['started', 'paused', 'resumed', 'aborted']);
  });

  it('answers with error codes: no token, a bad program, no such program', async () => {
    const { app } = await start();
    expect((await app.inject({ method: 'POST', url: '/api/v1/programs', payload: PROGRAM })).statusCode).toBe(401);
    const bad = await app.inject({ method: 'POST', url: '/api/v1/programs', headers: AUTH, payload: { instruments: ['main:3'], steps: [{ type: 'jump' }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'GATEWAY_PROGRAM_INVALID', details: { field: 'steps[0].type' } });
    const none = await app.inject({ url: '/api/v1/programs/nope' });
    expect(none.statusCode).toBe(404);
    expect(none.json<{ code: string }>().code).toBe('GATEWAY_PROGRAM_UNKNOWN');
    const busyFirst = await app.inject({ method: 'POST', url: '/api/v1/programs', headers: AUTH, payload: PROGRAM });
    expect(busyFirst.statusCode).toBe(201);
    const busy = await app.inject({ method: 'POST', url: '/api/v1/programs', headers: AUTH, payload: PROGRAM });
    expect(busy.statusCode).toBe(409);
    expect(busy.json<{ code: string }>().code).toBe('GATEWAY_PROGRAM_BUSY');
  });
});
