import { expect } from 'vitest';
import { createDeframer, type DeframerEvent, type Frame, type Protocol } from '../../src/codec/index.js';
import { toHex } from '../../src/shared/index.js';

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Feeds the chunks to a fresh deframer, then flushes; returns every event. */
export function feed(protocol: Protocol, chunks: readonly Uint8Array[]): DeframerEvent[] {
  const d = createDeframer(protocol);
  const events: DeframerEvent[] = [];
  for (const c of chunks) events.push(...d.push(c));
  events.push(...d.flush());
  return events;
}

/** Cuts `bytes` at the given offsets (sorted, deduplicated, within range). */
export function cut(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** A compact, comparable form of an event (bytes as hex). */
export type EventSummary =
  | { kind: 'frame'; frame: FrameSummary; raw: string; start: number; end: number }
  | { kind: 'discard'; reason: string; bytes: string; start: number; end: number };
export type FrameSummary =
  | { kind: 'data'; seq: number; node: number; data: string }
  | { kind: 'error'; seq: number; node: number | undefined; code: number };

export function summarizeFrame(f: Frame): FrameSummary {
  return f.kind === 'data'
    ? { kind: 'data', seq: f.seq, node: f.node, data: toHex(f.data) }
    : { kind: 'error', seq: f.seq, node: f.node, code: f.code };
}

export function summarize(events: readonly DeframerEvent[]): EventSummary[] {
  return events.map((e) =>
    e.kind === 'frame'
      ? { kind: 'frame', frame: summarizeFrame(e.frame), raw: toHex(e.raw), start: e.start, end: e.end }
      : { kind: 'discard', reason: e.reason, bytes: toHex(e.bytes), start: e.start, end: e.end },
  );
}

/** A short string key for fast comparison in the fuzz loop. */
export function eventsKey(events: readonly DeframerEvent[]): string {
  return JSON.stringify(summarize(events));
}

/**
 * Every input byte is in exactly one event: offsets start at 0, are contiguous and
 * end at the input length; each event's bytes are exactly the input bytes at its offsets.
 * Returns a message describing the first violation, or undefined.
 */
export function accountingError(events: readonly DeframerEvent[], input: Uint8Array): string | undefined {
  let at = 0;
  for (const [i, e] of events.entries()) {
    const bytes = e.kind === 'frame' ? e.raw : e.bytes;
    if (e.start !== at) return `event ${i} starts at ${e.start}, expected ${at}`;
    if (e.end !== e.start + bytes.length) return `event ${i}: end ${e.end} != start ${e.start} + ${bytes.length} bytes`;
    if (bytes.length === 0) return `event ${i} is empty`;
    for (let k = 0; k < bytes.length; k++) {
      if (bytes[k] !== input[at + k]) return `event ${i}: byte ${k} is ${bytes[k]}, input has ${input[at + k]} at ${at + k}`;
    }
    at = e.end;
  }
  if (at !== input.length) return `events cover ${at} bytes, input has ${input.length}`;
  return undefined;
}

export function expectAccounted(events: readonly DeframerEvent[], input: Uint8Array): void {
  expect(accountingError(events, input)).toBeUndefined();
}

/**
 * Feeds `input` whole, split at every byte boundary, byte by byte, and in three
 * pieces around every byte; every way must give the same events, and every byte
 * must be accounted for. Returns the events.
 */
export function parseEveryWay(protocol: Protocol, input: Uint8Array): EventSummary[] {
  const whole = feed(protocol, [input]);
  expectAccounted(whole, input);
  const expected = summarize(whole);
  for (let i = 0; i <= input.length; i++) {
    expect(summarize(feed(protocol, [input.subarray(0, i), input.subarray(i)])), `split at ${i}`).toEqual(expected);
  }
  for (let i = 1; i < input.length; i++) {
    expect(summarize(feed(protocol, cut(input, [i, i + 1]))), `byte ${i} alone`).toEqual(expected);
  }
  const bytewise = Array.from(input, (_, i) => input.subarray(i, i + 1));
  expect(summarize(feed(protocol, bytewise)), 'byte by byte').toEqual(expected);
  // Empty chunks change nothing either.
  expect(summarize(feed(protocol, [new Uint8Array(0), ...bytewise, new Uint8Array(0)])), 'with empty chunks').toEqual(expected);
  return expected;
}

/**
 * Builds the expected events of a stream from its pieces, tracking offsets, then checks that
 * the deframer gives exactly them however the stream is cut. `bytes` turns a piece into bytes
 * (hex for binary, the text itself for ASCII).
 */
export class ExpectedStream {
  private at = 0;
  readonly events: EventSummary[] = [];
  readonly parts: Uint8Array[] = [];

  constructor(
    private readonly protocol: Protocol,
    private readonly bytes: (piece: string) => Uint8Array,
  ) {}

  frame(piece: string, frame: FrameSummary): this {
    const bytes = this.bytes(piece);
    this.events.push({ kind: 'frame', frame, raw: toHex(bytes), start: this.at, end: this.at + bytes.length });
    return this.add(bytes);
  }

  discard(reason: string, piece: string): this {
    const bytes = this.bytes(piece);
    this.events.push({ kind: 'discard', reason, bytes: toHex(bytes), start: this.at, end: this.at + bytes.length });
    return this.add(bytes);
  }

  private add(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.at += bytes.length;
    return this;
  }

  get input(): Uint8Array {
    return concat(...this.parts);
  }

  check(): void {
    expect(parseEveryWay(this.protocol, this.input)).toEqual(this.events);
  }
}
