/** Topic names and the state message: what a subscriber sees (README "MQTT and Home Assistant"). */
import type { InstrumentView, ValueView } from '../gateway/index.js';

/** A configured name made into one topic level: lowercase, every run of other characters `_`. */
export function topicSafe(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return s;
}

/** The instrument's topic level: its configured name made topic-safe, else `bus-node` (`bus-node-channel` for channel 2 and up). */
export function instrumentTopic(view: Pick<InstrumentView, 'bus' | 'node' | 'name' | 'channel'>): string {
  const named = view.name ? topicSafe(view.name) : '';
  return named || nodeTopic(view);
}

/** `bus-node`, or `bus-node-channel` for channel 2 and up of a multi-channel instrument. */
export function nodeTopic(view: Pick<InstrumentView, 'bus' | 'node' | 'channel'>): string {
  return view.channel !== undefined && view.channel > 1 ? `${view.bus}-${view.node}-${view.channel}` : `${view.bus}-${view.node}`;
}

export interface Topics {
  readonly state: (inst: string) => string;
  readonly availability: (inst: string) => string;
  readonly set: (inst: string) => string;
  readonly result: (inst: string) => string;
  /** The state of the setpoint program the instrument is in (retained). */
  readonly program: (inst: string) => string;
  /** One-off events of the instrument: `batch-end` (not retained). */
  readonly event: (inst: string) => string;
  /** The gateway's own availability, with the last will `offline`. */
  readonly bridgeState: string;
  /** Retained list of the discovery topics this gateway published, to clear those no longer wanted. */
  readonly discoveryRecord: string;
  /** Every command topic: BASE/+/set. */
  readonly setFilter: string;
}

export function topicsFor(base: string): Topics {
  return {
    state: (i) => `${base}/${i}`,
    availability: (i) => `${base}/${i}/availability`,
    set: (i) => `${base}/${i}/set`,
    result: (i) => `${base}/${i}/set/result`,
    program: (i) => `${base}/${i}/program`,
    event: (i) => `${base}/${i}/event`,
    bridgeState: `${base}/bridge/state`,
    discoveryRecord: `${base}/bridge/discovery`,
    setFilter: `${base}/+/set`,
  };
}

/**
 * The state message of one instrument: every value by parameter key (numbers and text as read),
 * then `units` and `labels` (enumeration labels) of the keys that have one, and `time`, the newest
 * read time (ISO); with alarmInfo, `alarms`: its active alarms by name. Like Zigbee2MQTT's, one flat JSON object per device.
 */
export interface StateMessage {
  readonly [key: string]: unknown;
  readonly units: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly time: string;
}

export function stateMessage(values: Iterable<ValueView>): StateMessage {
  const out: Record<string, unknown> = {};
  const units: Record<string, string> = {};
  const labels: Record<string, string> = {};
  let time = '';
  for (const v of values) {
    out[v.key] = v.value;
    if (v.unit) units[v.key] = v.unit;
    if (v.label) labels[v.key] = v.label;
    if (v.alarms) out.alarms = v.alarms;
    if (v.time > time) time = v.time;
  }
  return { ...out, units, labels, time };
}

/**
 * Whether `next` differs from what was last published: a number by more than `deadband`
 * (absolute, in its unit), anything else by value; a key that appeared or went away counts.
 */
export function changedBeyond(last: ReadonlyMap<string, number | string> | undefined, next: ReadonlyMap<string, number | string>, deadband: number): boolean {
  if (!last || last.size !== next.size) return true;
  for (const [k, v] of next) {
    const before = last.get(k);
    if (before === undefined) return true;
    if (typeof v === 'number' && typeof before === 'number') {
      if (Math.abs(v - before) > deadband) return true;
    } else if (v !== before) return true;
  }
  return false;
}
