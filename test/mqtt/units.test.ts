/** The MQTT layer's pure parts: topic names, the bounded outbox, the deadband, discovery configs, and the config section. */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/shared/index.js';
import { parseConfig, summariseConfig } from '../../src/config/index.js';
import type { InstrumentView } from '../../src/gateway/index.js';
import { HA_REQUIRED_KEYS, Outbox, changedBeyond, discoveryConfigs, instrumentTopic, stateMessage, topicSafe, topicsFor } from '../../src/mqtt/index.js';

const MINIMAL = 'buses:\n  - port: /dev/ttyUSB0\n';

describe('topic names', () => {
  it('makes configured names topic-safe and falls back to bus-node', () => {
    expect(topicSafe('H2 line #1 / Reactor+B')).toBe('h2_line_1_reactor_b');
    expect(instrumentTopic({ bus: 'main', node: 3, name: 'N2 carrier' })).toBe('n2_carrier');
    expect(instrumentTopic({ bus: 'main', node: 3 })).toBe('main-3');
    expect(instrumentTopic({ bus: 'main', node: 3, name: '###' })).toBe('main-3');
    // Channels of a multi-channel instrument: one topic level each.
    expect(instrumentTopic({ bus: 'main', node: 5, channel: 2 })).toBe('main-5-2');
    expect(instrumentTopic({ bus: 'main', node: 5, channel: 1 })).toBe('main-5');
    expect(topicsFor('lab/flowbus').result('h2')).toBe('lab/flowbus/h2/set/result');
  });
});

describe('the outbox', () => {
  const msg = (topic: string, payload: string) => ({ topic, payload, retain: false, qos: 0 as const });

  it('keeps the latest message per topic and counts the ones it replaced', () => {
    const box = new Outbox(100);
    for (let i = 0; i < 1000; i++) box.put(msg('a/state', String(i)));
    box.put(msg('b/state', 'x'));
    expect(box.size).toBe(2);
    expect(box.dropped).toBe(999);
    expect(box.take()?.message.payload).toBe('999');
    expect(box.take()?.message.payload).toBe('x');
    expect(box.take()).toBeUndefined();
  });

  it('holds at most maxTopics topics, dropping the oldest', () => {
    const box = new Outbox(10);
    for (let i = 0; i < 25; i++) box.put(msg(`t/${i}`, 'v'));
    expect(box.size).toBe(10);
    expect(box.dropped).toBe(15);
    expect(box.take()?.message.topic).toBe('t/15');
    // A failed publish goes back only when nothing newer of its topic waits.
    box.put(msg('t/20', 'newer'), 't/20');
    box.putBack('t/20', msg('t/20', 'older'));
    const all: string[] = [];
    for (let m = box.take(); m; m = box.take()) all.push(String(m.message.payload));
    expect(all.filter((p) => p === 'older')).toEqual([]);
  });
});

describe('publish: change', () => {
  it('counts a change of a number only beyond the deadband, and any change of text or keys', () => {
    const before = new Map<string, number | string>([['fMeasure', 10], ['fluid', 'N2']]);
    expect(changedBeyond(before, new Map<string, number | string>([['fMeasure', 10.05], ['fluid', 'N2']]), 0.1)).toBe(false);
    expect(changedBeyond(before, new Map<string, number | string>([['fMeasure', 10.2], ['fluid', 'N2']]), 0.1)).toBe(true);
    expect(changedBeyond(before, new Map<string, number | string>([['fMeasure', 10], ['fluid', 'Ar']]), 0.1)).toBe(true);
    expect(changedBeyond(before, new Map<string, number | string>([['fMeasure', 10]]), 0.1)).toBe(true);
    expect(changedBeyond(undefined, before, 0.1)).toBe(true);
  });

  it('shapes the state message: values by key, units, labels, the newest time', () => {
    const view = (key: string, value: number, time: string, extra: object = {}) => ({ dde: 1, key, name: key, raw: '', value, time, cached: false, ...extra });
    expect(
      stateMessage([view('fMeasure', 1.5, '2026-12-01T10:00:00.100Z', { unit: 'ln/min' }), view('controlMode', 0, '2026-12-01T10:00:00.300Z', { label: 'setpoint = BUS setpoint' })]),
    ).toEqual({ fMeasure: 1.5, controlMode: 0, units: { fMeasure: 'ln/min' }, labels: { controlMode: 'setpoint = BUS setpoint' }, time: '2026-12-01T10:00:00.300Z' });
    // alarmInfo brings its alarms by name.
    expect(stateMessage([view('alarmInfo', 8, '2026-12-01T10:00:00.100Z', { alarms: ['max'] })])).toMatchObject({ alarmInfo: 8, alarms: ['max'] });
  });
});

describe('discovery configs', () => {
  const view: InstrumentView = {
    id: 'main:3',
    bus: 'main',
    node: 3,
    name: 'H2 line',
    online: true,
    identity: { serial: 'M1234/5', capacity: 20, capacityUnit: 'ln/min', model: 'F-201CV', firmware: 'V7.25' },
    values: {},
    polling: { parameters: ['fMeasure', 'fSetpoint', 'valveOutput', 'alarmInfo', 'temperature', 'counterValue'], intervalMs: 500 },
  };
  const ctx = { prefix: 'homeassistant', topics: topicsFor('flowbus'), dashboardUrl: 'http://lab:8080/', writes: false, version: '0.1.0' };

  it('gives every entity the keys its component requires, under flowbus_SERIAL', () => {
    const configs = discoveryConfigs(view, 'h2_line', ctx);
    expect(configs.map((c) => c.topic)).toEqual([
      'homeassistant/sensor/flowbus_M1234_5/flow/config',
      'homeassistant/number/flowbus_M1234_5/setpoint/config',
      'homeassistant/sensor/flowbus_M1234_5/valve_output/config',
      'homeassistant/sensor/flowbus_M1234_5/temperature/config',
      'homeassistant/binary_sensor/flowbus_M1234_5/alarm/config',
      'homeassistant/sensor/flowbus_M1234_5/counter/config',
    ]);
    for (const c of configs) for (const k of HA_REQUIRED_KEYS[c.component]) expect(c.payload).toHaveProperty(k);
    expect(configs.find((c) => c.topic.includes('/counter/'))?.payload.state_class).toBe('total_increasing');
    expect(configs.find((c) => c.topic.includes('/setpoint/'))?.payload).toMatchObject({ min: 0, max: 20, step: 0.01, unit_of_measurement: 'ln/min' });
    expect((configs[0]?.payload.device as { configuration_url: string }).configuration_url).toBe('http://lab:8080/#/instrument/main%3A3');
  });

  it('offers the control mode with writes on, and nothing without a serial number', () => {
    expect(discoveryConfigs(view, 'h2_line', { ...ctx, writes: true }).some((c) => c.component === 'select')).toBe(true);
    expect(discoveryConfigs({ ...view, identity: {} }, 'h2_line', ctx)).toEqual([]);
  });
});

describe('the mqtt config section', () => {
  it('fills the defaults, and is off without it', () => {
    expect(parseConfig(MINIMAL, 't').mqtt).toBeUndefined();
    expect(parseConfig(`${MINIMAL}mqtt: { url: "mqtt://broker:1883" }\n`, 't').mqtt).toEqual({
      url: 'mqtt://broker:1883',
      baseTopic: 'flowbus',
      qos: 0,
      retain: false,
      publish: 'poll',
      deadband: 0,
      writes: false,
      maxQueued: 10_000,
      homeAssistant: { enabled: false, prefix: 'homeassistant' },
    });
  });

  it('takes no password from the file (FLOWBUS_MQTT_PASSWORD only), and the summary hides one in the URL', () => {
    let err: unknown;
    try {
      parseConfig(`${MINIMAL}mqtt: { url: "mqtt://broker", password: hunter2-secret }\n`, 't');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).message).toContain('unknown key "password"');
    expect((err as GatewayError).message).not.toContain('hunter2');
    const text = summariseConfig(parseConfig(`${MINIMAL}mqtt: { url: "mqtt://flow:hunter2@broker:1883", writes: true, homeAssistant: { enabled: true } }\n`, 't'));
    expect(text).toContain('MQTT to mqtt://flow:***@broker:1883 under flowbus/');
    expect(text).not.toContain('hunter2');
  });

  it('refuses wildcards in the base topic', () => {
    expect(() => parseConfig(`${MINIMAL}mqtt: { url: "mqtt://b", baseTopic: "lab/#" }\n`, 't')).toThrow(/mqtt\.baseTopic/);
  });
});

describe('flowbus.example.yaml', () => {
  it('documents the mqtt section, commented out, valid once uncommented, every key named', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../../flowbus.example.yaml', import.meta.url), 'utf8');
    const lines = text.split('\n');
    const start = lines.indexOf('# mqtt:');
    const end = lines.findIndex((l, i) => i > start && l.trim() === '');
    // The commented-out section runs to the first blank line.
    const block = lines
      .slice(start, end < 0 ? undefined : end)
      .filter((l) => l.startsWith('#'))
      .map((l) => l.slice(2))
      .join('\n');
    const mqtt = parseConfig(`${MINIMAL}${block}\n`, 'example').mqtt;
    expect(mqtt?.url).toBe('mqtt://127.0.0.1:1883');
    for (const key of [...Object.keys(mqtt ?? {}), ...Object.keys(mqtt?.homeAssistant ?? {})]) expect(block).toMatch(new RegExp(`^\\s*${key}:`, 'm'));
    expect(block).toContain('FLOWBUS_MQTT_PASSWORD');
  });
});
