/* eslint-disable @typescript-eslint/no-explicit-any -- the payloads are JSON from the broker */
/**
 * The gateway on the real Mosquitto (FLOWBUS_TEST_MQTT_URL, default mqtt://127.0.0.1:1883): state
 * per poll, availability, Home Assistant discovery, commands. Each test has topics of its own.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/logging.js';
import type { RunningGateway, StartOptions } from '../../src/main.js';
import type { Logger } from '../../src/shared/index.js';
import { HA_REQUIRED_KEYS, controlModeOptions, type HaComponent } from '../../src/mqtt/index.js';
import { waitUntil } from '../helpers/wait.js';
import { mqttRuns, recorder, removeStoreDirs, simConfig, simGateway, uniqueTopics, type Recorder } from './helpers.js';

const runs = await mqttRuns();

const open: { gw?: RunningGateway; rec?: Recorder }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.gw?.close();
    await o.rec?.cleanup();
  }
});
afterAll(() => removeStoreDirs());

async function setup(mqtt: Record<string, unknown>, more: Parameters<typeof simConfig>[1] = {}, start: { opts?: StartOptions; logger?: Logger } = {}) {
  const t = uniqueTopics();
  const rec = await recorder([`${t.base}/#`, `${t.prefix}/#`]);
  const entry: { gw?: RunningGateway; rec?: Recorder } = { rec };
  open.push(entry);
  const gw = await simGateway(simConfig({ baseTopic: t.base, ...mqtt, homeAssistant: { enabled: true, prefix: t.prefix, ...((mqtt.homeAssistant as object) ?? {}) } }, more), start.opts, start.logger);
  entry.gw = gw;
  await waitUntil(() => gw.service.instruments().length === 2 && gw.service.instruments().every((i) => i.identity.serial), { what: 'both instruments and their identity' });
  return { ...t, gw, rec };
}

/** The configs of one device: component -> object -> payload. */
function configsOf(rec: Recorder, prefix: string): Map<string, { component: HaComponent; object: string; device: string; payload: any }> {
  const out = new Map<string, { component: HaComponent; object: string; device: string; payload: any }>();
  for (const m of rec.on((t) => t.startsWith(`${prefix}/`) && t.endsWith('/config'))) {
    const [, component, device, object] = m.topic.split('/') as [string, HaComponent, string, string];
    if (m.text === '') out.delete(m.topic);
    else out.set(m.topic, { component, object, device, payload: JSON.parse(m.text) });
  }
  return out;
}

describe.runIf(runs)('MQTT', () => {
  it('publishes Home Assistant discovery with every key each component requires, one device per instrument', async () => {
    const { gw, rec, base, prefix } = await setup({ writes: true });
    const h2 = gw.service.instrument('3');
    const serial = h2.identity.serial as string;
    const wanted = ['sensor/flow', 'number/setpoint', 'select/control_mode', 'sensor/valve_output', 'binary_sensor/alarm'];
    await waitUntil(() => wanted.every((w) => [...configsOf(rec, prefix).keys()].includes(`${prefix}/${w.split('/')[0]}/flowbus_${serial}/${w.split('/')[1]}/config`)), {
      what: `discovery configs ${wanted.join(', ')}`,
    });
    const devices = new Set(gw.service.instruments().map((i) => `flowbus_${i.identity.serial}`));
    await waitUntil(() => [...devices].every((d) => [...configsOf(rec, prefix).values()].filter((c) => c.device === d).length === wanted.length), { what: 'the configs of both devices' });
    const configs = [...configsOf(rec, prefix).values()];
    expect(new Set(configs.map((c) => c.device))).toEqual(new Set(gw.service.instruments().map((i) => `flowbus_${i.identity.serial}`)));
    for (const c of configs) {
      for (const key of [...HA_REQUIRED_KEYS[c.component], 'unique_id', 'name', 'device', 'availability']) expect(c.payload, `${c.component}/${c.object} lacks ${key}`).toHaveProperty(key);
      expect(c.payload.device.identifiers).toEqual([c.device]);
      expect(c.payload.device.manufacturer).toBe('Bronkhorst');
      expect(c.payload.availability).toEqual([{ topic: `${base}/bridge/state` }, { topic: expect.stringMatching(new RegExp(`^${base}/[a-z0-9_-]+/availability$`)) }]);
    }
    const mine = configs.filter((c) => c.device === `flowbus_${serial}`);
    const by = (o: string) => mine.find((c) => c.object === o)?.payload;
    expect(by('flow')).toMatchObject({ state_topic: `${base}/h2_line`, state_class: 'measurement', unit_of_measurement: h2.identity.capacityUnit, value_template: '{{ value_json.fMeasure }}' });
    expect(by('flow').device).toMatchObject({
      name: 'H2 line',
      serial_number: serial,
      model: h2.identity.model,
      sw_version: h2.identity.firmware,
      configuration_url: `${gw.url}/#/instrument/main%3A3`,
    });
    expect(by('setpoint')).toMatchObject({ command_topic: `${base}/h2_line/set`, min: 0, max: h2.identity.capacity, command_template: '{"fSetpoint": {{ value }}}' });
    expect(by('control_mode').options).toEqual(controlModeOptions());
    expect(by('control_mode').options).toContain('close valve');
    expect(by('alarm').device_class).toBe('problem');
    // The instrument without a name is published as bus-node.
    await waitUntil(() => rec.on(`${base}/main-5/availability`).at(-1)?.text === 'online', { what: 'main-5 online' });
    expect(rec.on(`${base}/bridge/state`).at(-1)?.text).toBe('online');
  });

  it('publishes a state message per poll, with units and the poll time, and shows the link in GET /bus', async () => {
    const { gw, rec, base } = await setup({});
    const polls: string[] = [];
    const off = gw.events.on('values', (e) => {
      if (e.instrument === 'main:3' && e.source === 'poll') polls.push(e.values.map((v) => v.time).sort().at(-1) as string);
    });
    await waitUntil(() => polls.length >= 5, { what: 'five polls' });
    off();
    const first = polls.slice(0, 5);
    await waitUntil(() => first.every((t) => rec.on(`${base}/h2_line`).some((m) => (JSON.parse(m.text) as { time: string }).time === t)), { what: 'a state message for each of five polls' });
    const state = rec.json(`${base}/h2_line`) as any;
    expect(typeof state.fMeasure).toBe('number');
    expect(typeof state.fSetpoint).toBe('number');
    expect(state.units.fMeasure).toBe(gw.service.instrument('3').identity.capacityUnit);
    expect(Date.parse(state.time)).toBeGreaterThan(0);
    const bus = (await (await fetch(`${gw.url}/api/v1/bus`)).json()) as any;
    expect(bus.mqtt).toMatchObject({ state: 'connected', url: expect.stringMatching(/^mqtt:\/\//), dropped: expect.any(Number), reconnects: 0 });
    expect(bus.mqtt.published).toBeGreaterThan(5);
    expect(gw.mqtt?.status().state).toBe('connected');
    // And in the metrics: connected, with what the broker took.
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const sample = (name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(sample('flowbus_mqtt_connected')).toBe(1);
    expect(sample('flowbus_mqtt_published_total')).toBeGreaterThan(5);
    expect(sample('flowbus_mqtt_reconnects_total')).toBe(0);
  });

  it('publishes only changes beyond the deadband with publish: change', async () => {
    // Noise in the simulated flow is far below a deadband of a million: after the first message, nothing changes enough.
    const { gw, rec, base } = await setup({ publish: 'change', deadband: 1e6 });
    let polls = 0;
    const off = gw.events.on('values', (e) => {
      if (e.instrument === 'main:3' && e.source === 'poll') polls++;
    });
    await waitUntil(() => polls >= 6, { what: 'six polls' });
    off();
    await waitUntil(() => rec.on(`${base}/h2_line`).length >= 1, { what: 'the first state message' });
    expect(rec.on(`${base}/h2_line`).length).toBeLessThan(3);
  });

  it('applies commands through the validated write path, and answers each with its result or the precise refusal', async () => {
    const { gw, rec, base } = await setup({ writes: true, clientId: 'flowbus-cmd-test' });
    const capacity = gw.service.instrument('3').identity.capacity as number;
    const writes: { source: string; result: string }[] = [];
    gw.events.on('write', (w) => void writes.push({ source: w.source, result: w.result }));
    const result = `${base}/h2_line/set/result`;
    const target = Number((capacity / 4).toFixed(3));
    await rec.publish(`${base}/h2_line/set`, JSON.stringify({ fSetpoint: target }));
    const ok = await waitUntil(() => rec.json(result), { what: 'the result of the setpoint command' });
    expect(ok).toMatchObject({ ok: true, instrument: 'main:3', results: [{ param: 'fSetpoint', ok: true }] });
    const read = await gw.service.readParams('3', ['fSetpoint'], { maxAge: 0 });
    expect((read.values[0] as { value: number }).value).toBeCloseTo(target, 2);
    expect(writes).toContainEqual({ source: 'mqtt:flowbus-cmd-test', result: 'accepted' });

    // Out of range: refused with the instrument's range.
    await rec.publish(`${base}/h2_line/set`, JSON.stringify({ fSetpoint: capacity * 10 }));
    await waitUntil(() => rec.on(result).length >= 2, { what: 'the refusal' });
    const refused = rec.json(result) as any;
    expect(refused.ok).toBe(false);
    expect(refused.results[0].error.code).toBe('PARAM_INVALID_VALUE');
    expect(refused.results[0].error.details).toMatchObject({ max: expect.any(Number) });
    expect(refused.results[0].error.details.max).toBeLessThan(capacity * 1.1);

    // A label of the control mode; malformed JSON; an unknown parameter; an unknown instrument.
    await rec.publish(`${base}/h2_line/set`, JSON.stringify({ controlMode: 'close valve' }));
    await waitUntil(() => rec.on(result).length >= 3, { what: 'the control mode result' });
    expect(rec.json(result)).toMatchObject({ ok: true, results: [{ param: 'controlMode', written: 3 }] });
    await rec.publish(`${base}/h2_line/set`, '{"fSetpoint": ');
    await waitUntil(() => rec.on(result).length >= 4, { what: 'the malformed JSON refusal' });
    expect(rec.json(result)).toMatchObject({ ok: false, error: { code: 'MQTT_BAD_COMMAND', message: expect.stringContaining('not JSON') } });
    await rec.publish(`${base}/h2_line/set`, JSON.stringify({ noSuchParameter: 1 }));
    await waitUntil(() => rec.on(result).length >= 5, { what: 'the unknown parameter refusal' });
    expect(rec.json(result)).toMatchObject({ ok: false, results: [{ ok: false, error: { code: 'PARAM_UNKNOWN' } }] });
    await rec.publish(`${base}/nobody/set`, JSON.stringify({ fSetpoint: 1 }));
    await waitUntil(() => rec.json(`${base}/nobody/set/result`), { what: 'the unknown instrument refusal' });
    expect(rec.json(`${base}/nobody/set/result`)).toMatchObject({ ok: false, error: { code: 'MQTT_UNKNOWN_INSTRUMENT', details: { known: ['h2_line', 'main-5'] } } });

    // MQTT 5 request/response: the answer goes to the response topic with the correlation data too.
    await rec.publish(`${base}/main-5/set`, JSON.stringify({ fSetpoint: 0 }), { properties: { responseTopic: `${base}/reply/me`, correlationData: Buffer.from('req-42') } });
    const reply = await waitUntil(() => rec.on(`${base}/reply/me`).at(-1), { what: 'the MQTT 5 response' });
    expect(reply.correlation).toBe('req-42');
    expect(JSON.parse(reply.text)).toMatchObject({ ok: true, instrument: 'main:5' });
    // Nothing of this stopped the gateway.
    expect(gw.lifecycle.states().every((s) => s.state === 'running')).toBe(true);
  });

  it('refuses commands when mqtt.writes is off, and writes nothing', async () => {
    const { gw, rec, base } = await setup({ writes: false });
    const before = (await gw.service.readParams('3', ['fSetpoint'], { maxAge: 0 })).values[0] as { value: number };
    await rec.publish(`${base}/h2_line/set`, JSON.stringify({ fSetpoint: before.value + 1 }));
    const answer = await waitUntil(() => rec.json(`${base}/h2_line/set/result`), { what: 'the refusal' });
    expect(answer).toMatchObject({ ok: false, error: { code: 'MQTT_WRITES_DISABLED', message: expect.stringContaining('mqtt.writes: true') } });
    const after = (await gw.service.readParams('3', ['fSetpoint'], { maxAge: 0 })).values[0] as { value: number };
    expect(after.value).toBe(before.value);
  });

  it('publishes discovery again when Home Assistant announces itself', async () => {
    const { gw, rec, prefix } = await setup({});
    const serial = gw.service.instrument('3').identity.serial as string;
    const flow = `${prefix}/sensor/flowbus_${serial}/flow/config`;
    await waitUntil(() => rec.on(flow).length >= 1, { what: 'the flow sensor config' });
    const seen = rec.on(flow).length;
    await rec.publish(`${prefix}/status`, 'online');
    await waitUntil(() => rec.on(flow).length > seen, { what: 'the config published again' });
  });

  it('removes the discovery configs of an instrument taken out (empty retained messages)', async () => {
    const t = uniqueTopics();
    const rec = await recorder([`${t.base}/#`, `${t.prefix}/#`]);
    const entry: { gw?: RunningGateway; rec?: Recorder } = { rec };
    open.push(entry);
    const mqtt = { baseTopic: t.base, homeAssistant: { enabled: true, prefix: t.prefix } };
    const first = await simGateway(simConfig(mqtt, { nodes: '3,5' }));
    await waitUntil(() => first.service.instruments().filter((i) => i.identity.serial).length === 2, { what: 'two instruments' });
    const serial5 = first.service.instrument('5').identity.serial as string;
    const serial3 = first.service.instrument('3').identity.serial as string;
    await waitUntil(() => [...configsOf(rec, t.prefix).values()].some((c) => c.device === `flowbus_${serial5}`), { what: 'node 5 discovered' });
    await waitUntil(() => (rec.json(`${t.base}/bridge/discovery`) as { configs?: string[] } | undefined)?.configs?.some((c) => c.includes(serial5)), { what: 'the record naming node 5' });
    await first.close();
    const second = await simGateway(simConfig(mqtt, { nodes: '3' }), { mqtt: { staleAfterMs: 500 } });
    entry.gw = second;
    await waitUntil(() => ![...configsOf(rec, t.prefix).values()].some((c) => c.device === `flowbus_${serial5}`), { what: "node 5's configs cleared", timeoutMs: 10_000 });
    const cleared = rec.on((topic) => topic.includes(`flowbus_${serial5}/`) && topic.endsWith('/config')).filter((m) => m.text === '');
    expect(cleared.every((m) => m.topic.startsWith(`${t.prefix}/`))).toBe(true);
    expect(cleared.length).toBeGreaterThanOrEqual(3);
    // Node 3's stay.
    expect([...configsOf(rec, t.prefix).values()].some((c) => c.device === `flowbus_${serial3}`)).toBe(true);
  });

  it('bounds what a flood of commands costs (answers, log lines), keeps publishing state, and never logs the password', async () => {
    let log = '';
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        log += chunk.toString('utf8');
        done();
      },
    });
    const { gw, rec, base } = await setup({ writes: false, username: 'flowbus' }, {}, { opts: { mqtt: { password: 'hunter2-mqtt-pw' } }, logger: createLogger('debug', 'json', out) });
    const flood = 500;
    for (let i = 0; i < flood; i++) rec.client.publish(`${base}/${i % 2 ? 'h2_line' : `x${i}`}/set`, '{"fSetpoint": 1}');
    await waitUntil(async () => (((await (await fetch(`${gw.url}/api/v1/bus`)).json()) as any).mqtt.commands.refused as number) === flood, { what: 'every command refused', timeoutMs: 10_000 });
    expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(new RegExp(`^flowbus_mqtt_commands_total\\{[^}]*result="refused"[^}]*\\} ${flood}$`, 'm'));
    const answered = rec.on((t) => t.endsWith('/set/result')).length;
    const seen = rec.on(`${base}/h2_line`).length;
    await waitUntil(() => rec.on(`${base}/h2_line`).length > seen + 2, { what: 'state messages after the flood' });
    expect(answered).toBeGreaterThan(0);
    // One full line per instrument topic and code a minute, at most 100 topics remembered; the rest counted.
    const lines = log.split('\n').filter((l) => l.includes('MQTT command refused'));
    expect(lines.length).toBeLessThanOrEqual(101);
    expect(lines.length).toBeGreaterThan(0);
    expect(log).toContain('MQTT connected');
    expect(log).not.toContain('hunter2');
  });

  it('publishes availability: online for an instrument that answers, offline for one that does not', async () => {
    const t = uniqueTopics();
    const rec = await recorder([`${t.base}/#`]);
    const entry: { gw?: RunningGateway; rec?: Recorder } = { rec };
    open.push(entry);
    const config = simConfig({ baseTopic: t.base }, { nodes: '3' });
    const bus = config.buses[0] as (typeof config.buses)[number];
    config.buses[0] = { ...bus, discover: false, nodes: [3, 9], replyTimeoutMs: 100, retries: 0 };
    entry.gw = await simGateway(config);
    await waitUntil(() => rec.on(`${t.base}/h2_line/availability`).at(-1)?.text === 'online', { what: 'node 3 online' });
    await waitUntil(() => rec.on(`${t.base}/main-9/availability`).at(-1)?.text === 'offline', { what: 'node 9 offline', timeoutMs: 10_000 });
    expect(rec.on(`${t.base}/main-9/availability`).every((m) => m.text === 'offline')).toBe(true);
  });
});
