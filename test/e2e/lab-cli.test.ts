/** `flowbus fluids`, `flowbus fluid` and `flowbus counter` as processes, against a simulator served on TCP. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serveTcp, type TcpServer } from '../../simulator/cli.js';
import { createSimulator } from '../../simulator/index.js';
import { BUILD_TIMEOUT_MS, buildOnce, flowbus } from '../helpers/cli.js';



describe('flowbus fluids, fluid and counter as processes', () => {
  const sim = createSimulator({ instruments: [{ node: 3, noise: 0, tauMs: 0 }] });
  const inst = sim.instruments.get(3)!;
  let server: TcpServer | undefined;
  let port = '';

  beforeAll(async () => {
    await buildOnce();
    server = await serveTcp(sim, '127.0.0.1', 0);
    port = `tcp://127.0.0.1:${server.port}`;
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await server?.close();
    await sim.close();
  });

  beforeEach(() => {
    inst.set('setpoint', 0);
    inst.set('fluidsetIndex', 2);
  });

  it('fluids lists the sets, * on the selected one, and selects it again; --json; refused with a setpoint unless --force', async () => {
    const r = await flowbus('fluids', '3', '--port', port);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(8);
    expect(lines[2]).toMatch(/^\* +2 {2}EtOH 15mba {2}6817 mg\/min {2}density 789 kg\/m3$/);
    expect(lines[5]).toMatch(/^ +5 {2}He +140 mln\/min/);
    expect(inst.get('fluidsetIndex')).toBe(2);
    const json = await flowbus('fluids', '3', '--port', port, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ instrument: 'node 3', active: 2, restored: true, fluids: expect.arrayContaining([{ index: 7, name: 'CO2', capacity: 74, unit: 'mg/min', density: expect.closeTo(1.977, 3) as number }]) as unknown });
    inst.set('setpoint', 16000);
    const busy = await flowbus('fluids', '3', '--port', port);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/^error GATEWAY_FLUID_BUSY: node 3 has setpoint 16000/);
    expect(busy.stdout).toBe('');
    const forced = await flowbus('fluids', '3', '--port', port, '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout.trimEnd().split('\n')).toHaveLength(8);
    expect(inst.get('fluidsetIndex')).toBe(2);
  });

  it('fluid selects by name or number and prints what the instrument tells then; an unknown name names the sets', async () => {
    const byName = await flowbus('fluid', '3', 'he', '--port', port);
    expect(byName.stderr).toBe('');
    expect(byName.code).toBe(0);
    expect(byName.stdout.trim()).toBe('fluidsetIndex=5  fluidName=He  capacity=140  capacityUnit=mln/min');
    expect(inst.get('fluidsetIndex')).toBe(5);
    const byNumber = await flowbus('fluid', '3', '6', '--port', port, '--json');
    expect(JSON.parse(byNumber.stdout)).toEqual({ fluidsetIndex: 6, fluidName: 'H2', capacity: 100, capacityUnit: 'ln/min' });
    expect(inst.get('fluidsetIndex')).toBe(6);
    const unknown = await flowbus('fluid', '3', 'CO3', '--port', port);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error GATEWAY_FLUID_UNKNOWN: node 3 has no fluid set "CO3"; it has 0 N2, 1 Air, .*7 CO2$/m);
    expect(inst.get('fluidsetIndex')).toBe(6);
  });

  it('counter reads, sets limit and mode, resets; a bad limit or mode is refused before anything is written', async () => {
    const read = await flowbus('counter', '3', '--port', port);
    expect(read.code).toBe(0);
    expect(read.stdout.trim()).toMatch(/^counter [\d.]+ mg {2}limit 0 {2}mode 1 \(counting upwards continuously\)$/);
    const set = await flowbus('counter', '3', '--port', port, '--limit', '500', '--mode', '2');
    expect(set.stderr).toBe('');
    expect(set.stdout.trim()).toMatch(/^counter [\d.]+ mg {2}limit 500 {2}mode 2 \(counting up to limit \(batchcounter\)\)$/);
    expect(inst.get('counterLimit')).toBe(500);
    expect(inst.get('counterMode')).toBe(2);
    const reset = await flowbus('counter', '3', '--port', port, '--reset', '--json');
    expect(reset.code).toBe(0);
    expect(JSON.parse(reset.stdout)).toMatchObject({ instrument: 'node 3', limit: 500, mode: 2, batchReached: false });
    expect(inst.get('reset')).toBe(1);
    const bad = await flowbus('counter', '3', '--port', port, '--limit', '-5', '--mode', '1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error PARAM_INVALID_VALUE: .*counterLimit.*-5 is outside 0\.\./m);
    const word = await flowbus('counter', '3', '--port', port, '--limit', 'lots');
    expect(word.code).toBe(2);
    expect(word.stderr).toMatch(/^error PARAM_INVALID_VALUE: .*counterLimit/m);
    const mode = await flowbus('counter', '3', '--port', port, '--mode', 'sideways');
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/^error PARAM_BAD_ENUM: counterMode/m);
    expect(inst.get('counterLimit')).toBe(500);
    expect(inst.get('counterMode')).toBe(2);
  });
});
