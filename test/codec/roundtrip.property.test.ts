import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  encodePacket,
  frameToPacket,
  requestParams,
  type Message,
  type Packet,
  type Protocol,
  type RequestMessage,
} from '../../src/codec/index.js';
import { toHex } from '../../src/shared/index.js';
import { dataMessageArb, packetArb, requestMessageArb, valuesMessageArb } from './arbitraries.js';
import { accountingError, ascii, concat, cut, feed, summarize, summarizeFrame, type EventSummary } from './helpers.js';

const PROTOCOLS: readonly Protocol[] = ['binary', 'ascii'];

describe('message layer: decode(encode(m)) is m', () => {
  it('for every kind of message', () => {
    fc.assert(
      fc.property(dataMessageArb, (m) => {
        const data = encodeMessage(m);
        expect(data.length).toBeLessThanOrEqual(254);
        expect(decodeMessage(data)).toStrictEqual(m);
        // and the bytes are stable: encode(decode(bytes)) is bytes
        expect(encodeMessage(decodeMessage(data))).toEqual(data);
      }),
      { numRuns: 3000 },
    );
  });

  it('values messages: length bytes and chain bits are where the structure says', () => {
    fc.assert(
      fc.property(valuesMessageArb, (m) => {
        if (m.kind === 'status' || m.kind === 'request' || m.kind === 'error' || m.kind === 'unknown') return;
        const data = encodeMessage(m);
        let at = 1;
        m.blocks.forEach((b, bi) => {
          expect(data[at++]).toBe(b.process | (bi < m.blocks.length - 1 ? 0x80 : 0));
          b.params.forEach((p, pi) => {
            expect(data[at++]).toBe(p.fbnr | p.wireType | (pi < b.params.length - 1 ? 0x80 : 0));
            if (p.stringLength !== undefined) {
              expect(data[at++]).toBe(p.stringLength);
              expect(data.subarray(at, at + p.raw.length)).toEqual(p.raw);
              at += p.raw.length;
              if (p.stringLength === 0) expect(data[at++]).toBe(0);
            } else {
              expect(data.subarray(at, at + p.raw.length)).toEqual(p.raw);
              at += p.raw.length;
            }
          });
        });
        expect(at).toBe(data.length);
      }),
      { numRuns: 1000 },
    );
  });

  it('requests: requestParams ends each entry where the next begins, the last at the DATA length', () => {
    fc.assert(
      fc.property(requestMessageArb, (m) => {
        const data = encodeMessage(m);
        const located = requestParams(m as RequestMessage);
        expect(located[located.length - 1]!.end).toBe(data.length);
        // Each entry's last byte is its FF (or SL for strings).
        for (const p of located) {
          const ff = data[p.end - (p.stringLength === undefined ? 1 : 2)]!;
          expect(ff).toBe(p.fbnr | p.wireType);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

function roundTripPacket(packet: Packet, protocol: Protocol): void {
  const wire = encodePacket(packet, protocol);
  const events = feed(protocol, [wire]);
  expect(events).toHaveLength(1);
  const ev = events[0]!;
  if (ev.kind !== 'frame') throw new Error(`expected a frame, got ${ev.kind} ${ev.reason}`);
  expect(ev.raw).toEqual(wire);
  expect(frameToPacket(ev.frame)).toStrictEqual(packet);
}

describe('packet -> wire -> deframe -> packet is the identity', () => {
  for (const protocol of PROTOCOLS) {
    it(`${protocol}`, () => {
      fc.assert(fc.property(packetArb(protocol), (p) => roundTripPacket(p, protocol)), { numRuns: 3000 });
    });
  }

  it('ascii frames are upper-case hex with LL = DATA length + 1', () => {
    fc.assert(
      fc.property(packetArb('ascii'), (p) => {
        const text = String.fromCharCode(...encodePacket(p, 'ascii'));
        expect(text).toMatch(/^:([0-9A-F]{2})+\r\n$/);
        const ll = parseInt(text.slice(1, 3), 16);
        expect(ll).toBe((text.length - 5) / 2);
      }),
      { numRuns: 1000 },
    );
  });

  it('binary frames: no lone DLE between DLE STX and DLE ETX', () => {
    fc.assert(
      fc.property(packetArb('binary'), (p) => {
        const w = encodePacket(p, 'binary');
        expect([w[0], w[1], w[w.length - 2], w[w.length - 1]]).toEqual([0x10, 0x02, 0x10, 0x03]);
        for (let i = 2; i < w.length - 2; i++) {
          if (w[i] === 0x10) {
            expect(w[i + 1]).toBe(0x10);
            i++;
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

/** Junk that cannot start a frame: no DLE STX (binary), no ':' (ASCII). */
function junkArb(protocol: Protocol): fc.Arbitrary<Uint8Array> {
  if (protocol === 'ascii') {
    return fc.oneof(
      fc.uint8Array({ maxLength: 12 }).map((b) => b.filter((x) => x !== 0x3a)),
      fc.constantFrom('', '\r\n', 'text\r\n', 'ok').map(ascii),
    );
  }
  return fc.oneof(
    fc.uint8Array({ maxLength: 12 }).filter((b) => !toHex(b).includes('10 02')),
    fc.constantFrom('', '10', '10 10', '10 03', '02').map((h) => Uint8Array.from(h.split(' ').filter(Boolean), (x) => parseInt(x, 16))),
  );
}

describe('a stream of many frames with junk between them, in any chunking', () => {
  for (const protocol of PROTOCOLS) {
    it(`${protocol}: gives every frame and every junk run, whatever the chunks`, () => {
      const streamArb = fc.record({
        items: fc.array(fc.tuple(junkArb(protocol), packetArb(protocol)), { minLength: 1, maxLength: 12 }),
        tail: junkArb(protocol),
      });
      fc.assert(
        fc.property(streamArb, fc.array(fc.nat(), { maxLength: 30 }), ({ items, tail }, cutsRaw) => {
          const parts: Uint8Array[] = [];
          const expected: EventSummary[] = [];
          let at = 0;
          const junk = (j: Uint8Array) => {
            if (j.length === 0) return;
            expected.push({ kind: 'discard', reason: 'junk', bytes: toHex(j), start: at, end: at + j.length });
            parts.push(j);
            at += j.length;
          };
          for (const [j, packet] of items) {
            junk(j);
            const wire = encodePacket(packet, protocol);
            const frame = summarizeFrame(
              packet.message.kind === 'error'
                ? { kind: 'error', seq: packet.seq, node: packet.node, code: packet.message.code }
                : { kind: 'data', seq: packet.seq, node: packet.node!, data: encodeMessage(packet.message as Message) },
            );
            expected.push({ kind: 'frame', frame, raw: toHex(wire), start: at, end: at + wire.length });
            parts.push(wire);
            at += wire.length;
          }
          junk(tail);
          // A junk run right after another is one run: merge neighbours the way a deframer must report them.
          const merged: EventSummary[] = [];
          for (const e of expected) {
            const prev = merged[merged.length - 1];
            if (prev && prev.kind === 'discard' && e.kind === 'discard') {
              merged[merged.length - 1] = { ...prev, bytes: `${prev.bytes} ${e.bytes}`, end: e.end };
            } else merged.push(e);
          }
          const input = concat(...parts);
          const cuts = cutsRaw.map((c) => c % (input.length + 1));
          const events = feed(protocol, cut(input, cuts));
          expect(accountingError(events, input)).toBeUndefined();
          expect(summarize(events)).toEqual(merged);
        }),
        { numRuns: 1500 },
      );
    });
  }
});
