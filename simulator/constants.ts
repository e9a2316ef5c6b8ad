/**
 * The simulated instrument's constants, and what behaviours and the instrument both need:
 * a file of its own so that neither imports the other.
 */
import { allParams } from '../src/params/index.js';

/** Raw counts at 100 %. */
export const FULL_SCALE = 32000;
/** Valve drive at fully open (24-bit DAC). */
export const VALVE_FULL = 16777215;
/** Flow with the valve fully open (purge): about 130 %, the sensor's ceiling. */
export const PURGE_FLOW = 41600;
/** Response alarm: |setpoint - measure| above this many counts ... */
export const RESPONSE_ALARM_COUNTS = 3200;
/** ... for at least this long. */
export const RESPONSE_ALARM_MS = 1000;
/** Init Reset values (DDE 7). */
export const INIT_RESET_UNLOCKED = 64;
export const INIT_RESET_LOCKED = 82;

let processSet: Set<number> | undefined;
/** Every process number the database knows. */
export function knownProcesses(): Set<number> {
  processSet ??= new Set(allParams().map((p) => p.process));
  return processSet;
}
