import { clip } from '../shared/index.js';

/** Longest text of an asked value carried by a `write` event. */
const ASKED_MAX = 200;

/**
 * A value as a client asked for it, bounded for a `write` event: numbers, booleans and null as
 * they are; a string clipped; anything else (an object, an array) as clipped JSON. A refused
 * write carries what an outsider sent, and every subscriber queues up to 10,000 events: each
 * must stay small. Both modes use it.
 */
export function askedValue(value: unknown): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return clip(value, ASKED_MAX);
  if (value === undefined) return undefined;
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // A cycle or a BigInt: no JSON for it; its kind is all that can be said.
    text = `(${typeof value})`;
  }
  return clip(text, ASKED_MAX);
}
