/* eslint-disable @typescript-eslint/no-explicit-any -- the payloads are JSON from the broker */
/**
 * Issue 12's features on the real Mosquitto: the alarm names in the state message, a program's
 * state on `<instrument>/program` (retained), a batch end on `<instrument>/event` (not retained).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../../src/main.js';
import { waitUntil } from '../helpers/wait.js';
import { mqttRuns, recorder, removeStoreDirs, simConfig, simGateway, uniqueTopics, type Recorder } from './helpers.js';

const runs = await mqttRuns();
const ctx = { source: 'test' };
const TOKEN = 'mqtt-lab-test-token';
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

const open: { gw?: RunningGateway; rec?: Recorder }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.gw?.close();
    await o.rec?.cleanup();
  }
});
afterAll(() => removeStoreDirs());

async function setup() {
  const t = uniqueTopics();
  const rec = await recorder([`${t.base}/#`]);
  const entry: { gw?: RunningGateway; rec?: Recorder } = { rec };
  open.push(entry);
  const config = simConfig({ baseTopic: t.base, writes: true });
  const gw = await simGateway({ ...config, http: { ...config.http, token: TOKEN } });
  entry.gw = gw;
  await waitUntil(() => gw.service.instruments().length === 2 && gw.service.instruments().every((i) => i.identity.capacity), { what: 'both instruments and their capacity' });
  return { ...t, gw, rec };
}

describe.runIf(runs)('MQTT: alarms, programs, counters', () => {
  it('carries the alarm names in the state message', async () => {
    const { gw, rec, base } = await setup();
    const state = `${base}/h2_line`;
    await waitUntil(() => (rec.json(state) as any)?.alarmInfo === 0, { what: 'a state message without alarms' });
    expect((rec.json(state) as any).alarms).toEqual([]);
    await gw.service.lab!.setAlarmSettings('3', { alarmMode: 1, alarmLimitMaximum: 16000, alarmLimitMinimum: 0 }, ctx);
    await gw.service.writeParam('3', 'setpoint', 24000, ctx);
    await waitUntil(() => ((rec.json(state) as any)?.alarms ?? []).includes('max'), { what: 'the max alarm by name in the state' });
  }, 30_000);

  it("publishes a program's state retained on each of its instruments, and a batch end as an event", async () => {
    const { gw, rec, base } = await setup();
    const topic = `${base}/h2_line/program`;
    const cap = gw.service.instrument('3').identity.capacity as number;
    const res = await fetch(`${gw.url}/api/v1/programs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ instruments: ['main:3'], steps: [{ type: 'ramp', seconds: 600, values: { 'main:3': cap / 2 } }] }),
    });
    expect(res.status, await res.text()).toBe(201);
    await waitUntil(() => (rec.json(topic) as any)?.state === 'running', { what: 'the program running on its topic' });
    const running = rec.json(topic) as any;
    expect(running).toMatchObject({ state: 'running', step: 1, steps: 1 });
    expect(typeof running.id).toBe('string');
    expect(running.timeLeft).toBeGreaterThan(0);
    expect(rec.on(topic).at(-1)?.retain).toBe(false); // live delivery; retained is checked below
    const abort = await fetch(`${gw.url}/api/v1/programs/${running.id}/abort`, { method: 'POST', headers, body: '{}' });
    expect(abort.status, await abort.text()).toBe(200);
    await waitUntil(() => (rec.json(topic) as any)?.state === 'aborted', { what: 'the program aborted on its topic' });
    // A client that subscribes later gets the last state from the broker.
    const late = await recorder([topic]);
    try {
      await waitUntil(() => late.on(topic).length > 0, { what: 'the retained program state' });
      expect(late.on(topic)[0]).toMatchObject({ retain: true });
      expect(late.json(topic)).toMatchObject({ id: running.id, state: 'aborted' });
    } finally {
      await late.client.endAsync();
    }

    const event = `${base}/h2_line/event`;
    // The safe state left the setpoint at 0: flow again, so that the counter reaches its limit.
    await gw.service.lab!.setCounter('3', { limit: 0.01, mode: 2 }, ctx);
    await gw.service.writeParam('3', 'setpoint', 16000, ctx);
    await waitUntil(() => rec.json(event) !== undefined, { what: 'a batch-end event', timeoutMs: 20_000 });
    expect(rec.json(event)).toMatchObject({ event: 'batch-end', instrument: 'main:3' });
    expect(rec.on(event).every((m) => !m.retain)).toBe(true);
  }, 60_000);
});
