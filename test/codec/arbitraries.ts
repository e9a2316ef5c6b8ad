/** fast-check generators for codec messages and packets. Sizes are bounded so every message fits an ASCII frame (254 DATA bytes). */
import fc from 'fast-check';
import {
  WireType,
  type Message,
  type Packet,
  type Protocol,
  type RequestBlock,
  type RequestParam,
  type ValueBlock,
  type ValueParam,
  type ValuesKind,
} from '../../src/codec/index.js';

/** fc.record with plain-object prototypes, so toStrictEqual compares against the decoder's objects. */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true });
}

export const wireTypeArb = fc.constantFrom<WireType>(WireType.Byte, WireType.Int16, WireType.Int32, WireType.String);
const byteArb = fc.integer({ min: 0, max: 255 });

/** A value parameter of any wire type; strings with length byte 0 (no NUL inside) or N (exactly N bytes, NUL allowed). */
export const valueParamArb: fc.Arbitrary<ValueParam> = fc.oneof(
  rec({ fbnr: fc.integer({ min: 0, max: 31 }), raw: fc.uint8Array({ minLength: 1, maxLength: 1 }) }).map((p) => ({ ...p, wireType: WireType.Byte })),
  rec({ fbnr: fc.integer({ min: 0, max: 31 }), raw: fc.uint8Array({ minLength: 2, maxLength: 2 }) }).map((p) => ({ ...p, wireType: WireType.Int16 })),
  rec({ fbnr: fc.integer({ min: 0, max: 31 }), raw: fc.uint8Array({ minLength: 4, maxLength: 4 }) }).map((p) => ({ ...p, wireType: WireType.Int32 })),
  rec({ fbnr: fc.integer({ min: 0, max: 31 }), raw: fc.uint8Array({ maxLength: 16 }).map((b) => b.filter((x) => x !== 0)) })
    .map((p) => ({ ...p, wireType: WireType.String, stringLength: 0 })),
  rec({ fbnr: fc.integer({ min: 0, max: 31 }), raw: fc.uint8Array({ minLength: 1, maxLength: 16 }) })
    .map((p) => ({ ...p, wireType: WireType.String, stringLength: p.raw.length })),
);

export const valueBlockArb: fc.Arbitrary<ValueBlock> = rec({
  process: fc.integer({ min: 0, max: 127 }),
  params: fc.array(valueParamArb, { minLength: 1, maxLength: 3 }),
});

export const valuesMessageArb: fc.Arbitrary<Message> = rec({
  kind: fc.constantFrom<ValuesKind>('sendWithStatus', 'send', 'broadcast'),
  blocks: fc.array(valueBlockArb, { minLength: 1, maxLength: 4 }),
});

export const requestParamArb: fc.Arbitrary<RequestParam> = fc
  .record({
    index: fc.integer({ min: 0, max: 31 }),
    process: fc.integer({ min: 0, max: 127 }),
    fbnr: fc.integer({ min: 0, max: 31 }),
    wireType: wireTypeArb,
    // Usually the same type bits as the real parameter, sometimes not (an instrument answers status 5).
    otherIndexType: fc.option(wireTypeArb, { freq: 4 }),
    stringLength: byteArb,
  })
  .map(({ otherIndexType, stringLength, ...p }) => ({
    index: p.index,
    indexType: otherIndexType ?? p.wireType,
    process: p.process,
    fbnr: p.fbnr,
    wireType: p.wireType,
    ...(p.wireType === WireType.String ? { stringLength } : {}),
  }));

export const requestBlockArb: fc.Arbitrary<RequestBlock> = rec({
  processIndex: fc.integer({ min: 0, max: 127 }),
  params: fc.array(requestParamArb, { minLength: 1, maxLength: 6 }),
});

export const requestMessageArb: fc.Arbitrary<Message> = rec({
  kind: fc.constant('request' as const),
  blocks: fc.array(requestBlockArb, { minLength: 1, maxLength: 5 }),
});

export const statusMessageArb: fc.Arbitrary<Message> = rec({ kind: fc.constant('status' as const), status: byteArb, index: byteArb });

export const unknownMessageArb: fc.Arbitrary<Message> = rec({
  kind: fc.constant('unknown' as const),
  command: fc.integer({ min: 5, max: 255 }),
  payload: fc.uint8Array({ maxLength: 40 }),
});

/** Any message that has a DATA field. */
export const dataMessageArb: fc.Arbitrary<Message> = fc.oneof(statusMessageArb, valuesMessageArb, requestMessageArb, unknownMessageArb);

/** A packet as the given framing carries it (ASCII: SEQ 0; its error frames have no node). */
export function packetArb(protocol: Protocol): fc.Arbitrary<Packet> {
  const seq = protocol === 'ascii' ? fc.constant(0) : byteArb;
  const data = rec({ seq, node: byteArb, message: dataMessageArb });
  const error = rec({
    seq,
    node: protocol === 'ascii' ? fc.constant(undefined) : byteArb,
    message: rec({ kind: fc.constant('error' as const), code: byteArb }),
  });
  return fc.oneof({ arbitrary: data, weight: 5 }, { arbitrary: error, weight: 1 });
}
