/** The alarm bits of Alarm Info [28] as names (the parameter database's bit labels). */

/** One per bit: error, warning, minimum, maximum, batch counter limit, response (setpoint vs measure), master output missing, hardware. */
export type AlarmName = 'error' | 'warning' | 'min' | 'max' | 'batch' | 'response' | 'master' | 'hardware';

export const ALARM_BITS: readonly (readonly [number, AlarmName])[] = [
  [0x01, 'error'],
  [0x02, 'warning'],
  [0x04, 'min'],
  [0x08, 'max'],
  [0x10, 'batch'],
  [0x20, 'response'],
  [0x40, 'master'],
  [0x80, 'hardware'],
];

/** Alarm Info [28]. */
export const ALARM_INFO_DDE = 28;

/** The named alarms an Alarm Info value holds, in bit order. */
export function decodeAlarms(value: number): AlarmName[] {
  return ALARM_BITS.filter(([bit]) => (value & bit) !== 0).map(([, name]) => name);
}
