/**
 * Home Assistant MQTT discovery: one device per instrument (by serial number), an entity per
 * polled quantity, configs at PREFIX/COMPONENT/flowbus_SERIAL/OBJECT/config. Facts from Home
 * Assistant's MQTT integration docs: a sensor and a binary_sensor need `state_topic`, a number
 * `command_topic`, a select `command_topic` and `options`; a device needs `identifiers` and its
 * entities a `unique_id`.
 */
import type { InstrumentView } from '../gateway/index.js';
import { findParam } from '../params/index.js';
import type { Topics } from './topics.js';

export type HaComponent = 'sensor' | 'number' | 'select' | 'binary_sensor';

/** What Home Assistant refuses a discovery config of each component without (besides `unique_id`, `device` for a device). */
export const HA_REQUIRED_KEYS: Record<HaComponent, readonly string[]> = {
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  number: ['command_topic'],
  select: ['command_topic', 'options'],
};

export interface DiscoveryConfig {
  readonly topic: string;
  readonly component: HaComponent;
  readonly payload: Record<string, unknown>;
}

export interface DiscoveryContext {
  readonly prefix: string;
  readonly topics: Topics;
  /** The dashboard's base URL, ending in `/`. */
  readonly dashboardUrl: string;
  /** Commands accepted: the number and the select are offered even when their parameter is not polled. */
  readonly writes: boolean;
  readonly version: string;
}

/** Valve output [55] is a 24-bit number; Home Assistant shows it in %. */
const VALVE_FULL = 16_777_215;

/** A node id is `[a-zA-Z0-9_-]`. */
export function deviceId(serial: string): string {
  return `flowbus_${serial.trim().replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** A step of about a thousandth of the capacity, a power of ten. */
function stepFor(capacity: number): number {
  return Number((10 ** Math.floor(Math.log10(capacity) - 3)).toPrecision(1));
}

/** The control mode's labels, from the parameter database (DDE 12). */
export function controlModeOptions(): string[] {
  return (findParam(12)?.enumeration ?? []).map((e) => e.label);
}

/**
 * The discovery configs of one instrument; none while its serial number is not known (it names
 * the device). `inst` is the instrument's topic level.
 */
export function discoveryConfigs(view: InstrumentView, inst: string, ctx: DiscoveryContext): DiscoveryConfig[] {
  const { identity } = view;
  const serial = identity.serial?.trim();
  if (!serial) return [];
  // The channels of a multi-channel instrument share its serial number: each is a device of its own.
  const id = deviceId(view.channel !== undefined && view.channel > 1 ? `${serial}_${view.channel}` : serial);
  const polled = new Set(view.polling.parameters.map((p) => findParam(p)?.key ?? p));
  const unit = identity.capacityUnit?.trim();
  const state = ctx.topics.state(inst);
  const device = {
    identifiers: [id],
    manufacturer: 'Bronkhorst',
    name: view.name ?? (identity.userTag?.trim() || `${identity.deviceType?.trim() || 'Instrument'} ${serial}`),
    ...(identity.model?.trim() ? { model: identity.model.trim() } : {}),
    serial_number: serial,
    ...(identity.firmware?.trim() ? { sw_version: identity.firmware.trim() } : {}),
    configuration_url: `${ctx.dashboardUrl}#/instrument/${encodeURIComponent(view.id)}`,
  };
  const common = {
    device,
    origin: { name: 'flowbus-gateway', sw_version: ctx.version },
    availability: [{ topic: ctx.topics.bridgeState }, { topic: ctx.topics.availability(inst) }],
    availability_mode: 'all',
    state_topic: state,
  };
  const out: DiscoveryConfig[] = [];
  const add = (component: HaComponent, object: string, name: string, extra: Record<string, unknown>) => {
    out.push({ topic: `${ctx.prefix}/${component}/${id}/${object}/config`, component, payload: { name, unique_id: `${id}_${object}`, ...common, ...extra } });
  };
  if (polled.has('fMeasure')) {
    add('sensor', 'flow', 'Flow', { value_template: '{{ value_json.fMeasure }}', state_class: 'measurement', ...(unit ? { unit_of_measurement: unit } : {}) });
  }
  const capacity = identity.capacity;
  if ((ctx.writes || polled.has('fSetpoint')) && capacity !== undefined && Number.isFinite(capacity) && capacity > 0) {
    add('number', 'setpoint', 'Setpoint', {
      value_template: '{{ value_json.fSetpoint }}',
      command_topic: ctx.topics.set(inst),
      command_template: '{"fSetpoint": {{ value }}}',
      min: 0,
      max: capacity,
      step: stepFor(capacity),
      mode: 'box',
      ...(unit ? { unit_of_measurement: unit } : {}),
    });
  }
  if (ctx.writes || polled.has('controlMode')) {
    add('select', 'control_mode', 'Control mode', {
      value_template: '{{ value_json.labels.controlMode }}',
      command_topic: ctx.topics.set(inst),
      command_template: '{"controlMode": {{ value | tojson }}}',
      options: controlModeOptions(),
      entity_category: 'config',
    });
  }
  if (polled.has('valveOutput')) {
    add('sensor', 'valve_output', 'Valve output', {
      value_template: `{{ (value_json.valveOutput / ${VALVE_FULL} * 100) | round(1) }}`,
      unit_of_measurement: '%',
      state_class: 'measurement',
    });
  }
  if (polled.has('temperature')) {
    add('sensor', 'temperature', 'Temperature', { value_template: '{{ value_json.temperature }}', unit_of_measurement: '°C', device_class: 'temperature', state_class: 'measurement' });
  }
  if (polled.has('alarmInfo')) {
    add('binary_sensor', 'alarm', 'Alarm', { value_template: "{{ 'ON' if value_json.alarmInfo != 0 else 'OFF' }}", device_class: 'problem' });
  }
  if (polled.has('counterValue')) {
    add('sensor', 'counter', 'Counter', { value_template: '{{ value_json.counterValue }}', state_class: 'total_increasing' });
  }
  return out;
}
