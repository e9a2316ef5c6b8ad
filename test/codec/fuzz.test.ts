/**
 * Fuzz: random and mutated buffers through both deframers and the message decoder.
 * Seeded: set FUZZ_SEED to replay a run (the seed is printed and is in every failure message).
 * FUZZ_ITERATIONS overrides the number of buffers (default 100,000).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createDeframer,
  decodeMessage,
  encodeFrame,
  encodeMessage,
  encodePacket,
  type DeframerEvent,
  type Frame,
  type Protocol,
} from '../../src/codec/index.js';
import { CodecError, toHex } from '../../src/shared/index.js';
import { dataMessageArb, packetArb } from './arbitraries.js';
import { accountingError, concat, eventsKey } from './helpers.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const PROTOCOLS: readonly Protocol[] = ['binary', 'ascii'];

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes that matter to the framings, drawn more often than chance would. */
const SPECIAL = [0x10, 0x10, 0x02, 0x03, 0x00, 0xff, 0x3a, 0x0d, 0x0a, 0x30, 0x41, 0x61, 0x46, 0x66, 0x80];

class Gen {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }
  byte(): number {
    return this.next() < 0.3 ? this.pick(SPECIAL) : this.int(256);
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.byte());
  }
  /** Cuts `b` into random chunks (sometimes whole, sometimes byte by byte). */
  chunks(b: Uint8Array): Uint8Array[] {
    const r = this.next();
    if (r < 0.2) return [b];
    if (r < 0.3) return Array.from(b, (_, i) => b.subarray(i, i + 1));
    const out: Uint8Array[] = [];
    let at = 0;
    while (at < b.length) {
      const n = 1 + this.int(Math.min(24, b.length - at));
      out.push(b.subarray(at, at + n));
      at += n;
    }
    return out;
  }
}

/** One mutation of the kinds a line can do to bytes: flip, insert, delete, truncate, duplicate, concatenate, overwrite. */
function mutate(g: Gen, b: Uint8Array, pool: readonly Uint8Array[]): Uint8Array {
  const at = g.int(b.length + 1);
  switch (g.int(8)) {
    case 0: {
      if (b.length === 0) return b;
      const c = Uint8Array.from(b);
      const i = g.int(c.length);
      c[i] = (c[i] as number) ^ (1 << g.int(8));
      return c;
    }
    case 1:
      return concat(b.subarray(0, at), g.bytes(1 + g.int(3)), b.subarray(at));
    case 2:
      return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + g.int(3))));
    case 3:
      return b.subarray(0, at);
    case 4: {
      const end = Math.min(b.length, at + 1 + g.int(12));
      return concat(b.subarray(0, end), b.subarray(at, end), b.subarray(end));
    }
    case 5:
      return g.next() < 0.5 ? concat(b, g.pick(pool)) : concat(g.pick(pool), b);
    case 6: {
      if (b.length === 0) return b;
      const c = Uint8Array.from(b);
      c[g.int(c.length)] = g.byte();
      return c;
    }
    default:
      return b.subarray(g.int(b.length + 1));
  }
}

function feedChunks(protocol: Protocol, chunks: readonly Uint8Array[]): DeframerEvent[] {
  const d = createDeframer(protocol);
  const events: DeframerEvent[] = [];
  for (const c of chunks) for (const e of d.push(c)) events.push(e);
  for (const e of d.flush()) events.push(e);
  return events;
}

/** Decodes a DATA field: it must return or throw a CodecError; what it returns must encode back to the same bytes. */
function decodeProblem(data: Uint8Array): string | undefined {
  let msg;
  try {
    msg = decodeMessage(data);
  } catch (e) {
    return e instanceof CodecError ? undefined : `decodeMessage(${toHex(data)}) threw ${String(e)}`;
  }
  let back: Uint8Array;
  try {
    back = encodeMessage(msg);
  } catch (e) {
    return `decodeMessage(${toHex(data)}) succeeded but encodeMessage threw ${String(e)}`;
  }
  return toHex(back) === toHex(data) ? undefined : `decode -> encode changed ${toHex(data)} into ${toHex(back)}`;
}

/** A frame that came out must encode in its framing and deframe to the same frame. */
function frameProblem(protocol: Protocol, frame: Frame): string | undefined {
  const wire = encodeFrame(frame, protocol);
  const events = feedChunks(protocol, [wire]);
  const e = events[0];
  if (events.length !== 1 || e?.kind !== 'frame') return `re-encoded frame ${toHex(wire)} did not deframe as one frame`;
  const a = e.frame;
  const same =
    a.kind === frame.kind &&
    a.seq === frame.seq &&
    a.node === frame.node &&
    (a.kind === 'error' ? frame.kind === 'error' && a.code === frame.code : frame.kind === 'data' && toHex(a.data) === toHex(frame.data));
  return same ? undefined : `frame changed on re-encode: ${toHex(wire)}`;
}

describe(`codec fuzz (seed ${SEED}, ${ITERATIONS} buffers; replay with FUZZ_SEED=${SEED})`, () => {
  it('deframers never throw, account for every byte, ignore chunking, recover on the next frame; decodeMessage throws only CodecError', () => {
    console.log(`codec fuzz seed ${SEED} (FUZZ_SEED=${SEED} to replay)`);
    const started = Date.now();
    const g = new Gen(prng(SEED));
    const wires: Record<Protocol, Uint8Array[]> = {
      binary: fc.sample(packetArb('binary'), { seed: SEED, numRuns: 400 }).map((p) => encodePacket(p, 'binary')),
      ascii: fc.sample(packetArb('ascii'), { seed: SEED, numRuns: 400 }).map((p) => encodePacket(p, 'ascii')),
    };
    const allWires = [...wires.binary, ...wires.ascii];
    const messages = fc.sample(dataMessageArb, { seed: SEED ^ 1, numRuns: 400 }).map((m) => encodeMessage(m));

    const problems: string[] = [];
    const report = (p: string | undefined, where: () => string): void => {
      if (p !== undefined && problems.length < 10) problems.push(`[seed ${SEED}] ${p} (${where()})`);
    };
    let frames = 0;
    let decoded = 0;

    for (let iter = 0; iter < ITERATIONS && problems.length < 10; iter++) {
      // The buffer: random bytes, or 1-3 valid frames (either framing) with 1-4 mutations.
      let buf: Uint8Array;
      if (g.next() < 0.1) {
        buf = g.bytes(g.int(100));
      } else {
        const n = 1 + g.int(3);
        buf = concat(...Array.from({ length: n }, () => g.pick(allWires)));
        const m = 1 + g.int(4);
        for (let k = 0; k < m; k++) buf = mutate(g, buf, allWires);
      }
      const where = () => `iteration ${iter}, buffer ${toHex(buf)}`;

      for (const protocol of PROTOCOLS) {
        const events = feedChunks(protocol, g.chunks(buf));
        report(accountingError(events, buf), where);
        for (const e of events) {
          if (e.kind !== 'frame') continue;
          frames++;
          report(frameProblem(protocol, e.frame), where);
          if (e.frame.kind === 'data') {
            decoded++;
            report(decodeProblem(e.frame.data), where);
          }
        }
        if (iter % 4 === 0) {
          const other = feedChunks(protocol, g.chunks(buf));
          if (eventsKey(other) !== eventsKey(events)) report(`${protocol}: events depend on the chunking`, where);
        }

        // Recovery: a valid frame after the garbage comes out as the last event.
        const valid = g.pick(wires[protocol]);
        const recovered = (sep: Uint8Array): boolean => {
          const input = concat(buf, sep, valid);
          const evs = feedChunks(protocol, g.chunks(input));
          report(accountingError(evs, input), where);
          const last = evs[evs.length - 1];
          return last?.kind === 'frame' && last.start === buf.length + sep.length && toHex(last.raw) === toHex(valid);
        };
        if (protocol === 'ascii') {
          // ':' always starts a frame.
          if (!recovered(new Uint8Array(0))) report('ascii: the frame after the garbage was lost', where);
        } else {
          // DLE STX restarts unless the garbage ends inside a frame on an unpaired DLE: then the DLE of
          // the new DLE STX reads as the second half of a stuffed 0x10. Any byte other than DLE, STX, ETX
          // in between ends that state (illegal DLE), so `00` + frame is always recovered.
          if (!recovered(new Uint8Array(0)) && buf[buf.length - 1] !== 0x10) report('binary: the frame after the garbage was lost', where);
          if (!recovered(Uint8Array.of(0x00))) report('binary: the frame after garbage + 00 was lost', where);
        }
      }

      // The message layer on its own: mutated DATA fields and random bytes.
      let data = g.next() < 0.1 ? g.bytes(g.int(40)) : g.pick(messages);
      const m = g.int(4);
      for (let k = 0; k < m; k++) data = mutate(g, data, messages);
      report(decodeProblem(data), () => `iteration ${iter}, DATA ${toHex(data)}`);
    }

    const seconds = (Date.now() - started) / 1000;
    console.log(`codec fuzz: ${ITERATIONS} buffers, ${frames} frames out, ${decoded} DATA fields decoded, ${seconds.toFixed(1)} s`);
    expect(problems).toEqual([]);
    expect(frames).toBeGreaterThan(ITERATIONS / 4);
  }, 120_000);
});
