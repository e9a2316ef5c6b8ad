import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BHT16_MAX,
  BHT16_MIN,
  decodeValue,
  encodeValue,
  float32ToShortest,
  valueTypeRange,
  valueTypeSize,
  VALUE_TYPES,
  type ValueType,
} from '../../src/codec/index.js';
import { CodecError, toHex } from '../../src/shared/index.js';

const INT_TYPES: readonly [ValueType, number, number, number][] = [
  ['u8', 0, 0xff, 1],
  ['u16', 0, 0xffff, 2],
  ['bht16', BHT16_MIN, BHT16_MAX, 2],
  ['i16', -0x8000, 0x7fff, 2],
  ['u32', 0, 0xffffffff, 4],
];

function bits(x: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x, false);
  return v.getUint32(0, false);
}

function fromBits(b: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, b, false);
  return out;
}

function expectCodecError(f: () => unknown): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CodecError);
}

/** latin1 text without NUL and without trailing space (what survives cut-at-NUL and right-trim). */
const latin1Text = (maxLength: number) =>
  fc
    .array(fc.integer({ min: 1, max: 255 }), { maxLength })
    .map((codes) => String.fromCharCode(...codes))
    .filter((s) => !s.endsWith(' '));

describe('integer value types', () => {
  for (const [type, min, max, size] of INT_TYPES) {
    it(`${type}: encode -> decode is the identity over ${min}..${max}, big-endian in ${size} bytes`, () => {
      expect(valueTypeRange(type)).toEqual({ min, max });
      expect(valueTypeSize(type)).toBe(size);
      fc.assert(
        fc.property(fc.integer({ min, max }), (v) => {
          const raw = encodeValue(type, v);
          expect(raw.length).toBe(size);
          const unsigned = v < 0 ? v + 2 ** (8 * size) : v;
          let be = 0;
          for (const b of raw) be = be * 256 + b;
          expect(be).toBe(unsigned);
          expect(decodeValue(type, raw)).toBe(v);
        }),
        { numRuns: 2000 },
      );
      for (const v of [min, max, 0]) if (v >= min && v <= max) expect(decodeValue(type, encodeValue(type, v))).toBe(v);
    });

    it(`${type}: every wire pattern decodes into the range and encodes back to the same bytes`, () => {
      /** undefined when the pattern survives decode -> encode inside the range. */
      const problem = (raw: Uint8Array): string | undefined => {
        const v = decodeValue(type, raw) as number;
        if (!(v >= min && v <= max)) return `${toHex(raw)} decodes to ${v}`;
        const back = encodeValue(type, v);
        return toHex(back) === toHex(raw) ? undefined : `${toHex(raw)} -> ${v} -> ${toHex(back)}`;
      };
      if (size <= 2) {
        const problems: string[] = [];
        for (let u = 0; u < 2 ** (8 * size); u++) {
          const p = problem(size === 1 ? Uint8Array.of(u) : Uint8Array.of(u >> 8, u & 0xff));
          if (p !== undefined) problems.push(p);
        }
        expect(problems).toEqual([]);
      } else {
        fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (raw) => problem(raw) === undefined), { numRuns: 5000 });
      }
    });

    it(`${type}: refuses values outside the range, non-integers and wrong sizes with a CodecError`, () => {
      expectCodecError(() => encodeValue(type, max + 1));
      expectCodecError(() => encodeValue(type, min - 1));
      expectCodecError(() => encodeValue(type, 1.5));
      expectCodecError(() => encodeValue(type, Number.NaN));
      expectCodecError(() => encodeValue(type, 'x'));
      expectCodecError(() => decodeValue(type, new Uint8Array(size + 1)));
      expectCodecError(() => decodeValue(type, new Uint8Array(size - 1)));
    });
  }

  it('bht16 is two\'s complement: above 41942 is negative', () => {
    expect(decodeValue('bht16', Uint8Array.of(0xa3, 0xd6))).toBe(41942);
    expect(decodeValue('bht16', Uint8Array.of(0xa3, 0xd7))).toBe(-23593);
    expect(decodeValue('bht16', Uint8Array.of(0xff, 0xff))).toBe(-1);
    expect(decodeValue('i16', Uint8Array.of(0xa3, 0xd6))).toBe(41942 - 65536);
  });
});

describe('float', () => {
  it('any finite float32 bit pattern decodes to a number that encodes back to the same 4 bytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (b) => {
        const raw = fromBits(b);
        const v = decodeValue('float', raw) as number;
        if ((b & 0x7f800000) === 0x7f800000) return; // Inf/NaN: checked separately
        expect(bits(v)).toBe(b);
        expect(encodeValue('float', v)).toEqual(raw);
      }),
      { numRuns: 20000 },
    );
  });

  it('decodes to the shortest decimal that round-trips', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (f) => {
        const v = decodeValue('float', encodeValue('float', f)) as number;
        expect(Object.is(Math.fround(v), Math.fround(f))).toBe(true);
        // No shorter decimal reads back as the same float32.
        const digits = v === 0 ? 1 : Number(v.toExponential().split('e')[0]!.replace('-', '').replace('.', '').length);
        if (digits > 1) {
          const shorter = Number(v.toPrecision(digits - 1));
          expect(Math.fround(shorter) === Math.fround(f) && shorter !== v).toBe(false);
        }
      }),
      { numRuns: 5000 },
    );
    expect(float32ToShortest(Math.fround(0.1))).toBe(0.1);
    expect(float32ToShortest(Math.fround(68.575))).toBe(68.575);
  });

  it('encodes the float32 nearest to any double in range (bit pattern of Math.fround)', () => {
    fc.assert(
      fc.property(fc.double({ min: -3.4e38, max: 3.4e38, noNaN: true }), (d) => {
        expect(bits(Math.fround(d))).toBe(new DataView(encodeValue('float', d).buffer).getUint32(0, false));
      }),
      { numRuns: 5000 },
    );
  });

  it('keeps -0, the extremes and subnormals', () => {
    for (const b of [0x80000000, 0x00000000, 0x7f7fffff, 0xff7fffff, 0x00000001, 0x807fffff, 0x00800000]) {
      const v = decodeValue('float', fromBits(b)) as number;
      expect(bits(v)).toBe(b);
      expect(encodeValue('float', v)).toEqual(fromBits(b));
    }
    expect(Object.is(decodeValue('float', fromBits(0x80000000)), -0)).toBe(true);
  });

  it('refuses values outside +-FLOAT32_MAX, judged on the float32 they round to', () => {
    const max = 3.4028234663852886e38;
    // The shortest decimal of 0x7F7FFFFF is a little above FLOAT32_MAX as a double; it must still encode.
    expect(decodeValue('float', fromBits(0x7f7fffff))).toBe(3.4028235e38);
    expect(encodeValue('float', 3.4028235e38)).toEqual(fromBits(0x7f7fffff));
    expect(encodeValue('float', -(max + 2 ** 102))).toEqual(fromBits(0xff7fffff));
    expectCodecError(() => encodeValue('float', max + 2 ** 103)); // the tie rounds to Infinity
    expectCodecError(() => encodeValue('float', Number.POSITIVE_INFINITY));
    expectCodecError(() => encodeValue('float', 3.5e38));
    expectCodecError(() => encodeValue('float', -3.5e38));
    expectCodecError(() => decodeValue('float', new Uint8Array(3)));
  });
});

describe('string and bytes', () => {
  it('variable-length string: encode -> decode is the identity (latin1, no NUL)', () => {
    fc.assert(
      fc.property(latin1Text(254), (s) => {
        const raw = encodeValue('string', s);
        expect(raw.length).toBe(s.length);
        expect(decodeValue('string', raw)).toBe(s);
      }),
    );
  });

  it('fixed-length string N: padded with spaces to exactly N bytes, decoded back', () => {
    fc.assert(
      fc.property(latin1Text(40), fc.integer({ min: 0, max: 40 }), (s, extra) => {
        const n = Math.max(1, s.length + extra);
        const raw = encodeValue('string', s, n);
        expect(raw.length).toBe(n);
        for (let i = s.length; i < n; i++) expect(raw[i]).toBe(0x20);
        expect(decodeValue('string', raw)).toBe(s);
      }),
    );
  });

  it('fixed-length string on the wire: cut at the first NUL, then right-trim spaces', () => {
    expect(decodeValue('string', Uint8Array.from('DMFC\0A', (c) => c.charCodeAt(0)))).toBe('DMFC');
    expect(decodeValue('string', Uint8Array.from('N2        ', (c) => c.charCodeAt(0)))).toBe('N2');
    expect(decodeValue('string', Uint8Array.from('mg/min ', (c) => c.charCodeAt(0)))).toBe('mg/min');
    expect(decodeValue('string', Uint8Array.from('V7.25\0', (c) => c.charCodeAt(0)))).toBe('V7.25');
    expect(decodeValue('string', Uint8Array.from('EtOH 15mba', (c) => c.charCodeAt(0)))).toBe('EtOH 15mba');
  });

  it('refuses what the wire cannot carry', () => {
    expectCodecError(() => encodeValue('string', 'a\0b'));
    expectCodecError(() => encodeValue('string', 'abc', 2));
    expectCodecError(() => encodeValue('string', '\u20ac'));
    expectCodecError(() => encodeValue('string', 'x'.repeat(255)));
    expectCodecError(() => encodeValue('string', 5));
    expectCodecError(() => encodeValue('bytes', 'ab'));
    expectCodecError(() => encodeValue('bytes', Uint8Array.of(1, 0, 2)));
    expectCodecError(() => encodeValue('u8', 'ab'));
  });

  it('bytes: identity, and fixed length pads with NUL', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.integer({ min: 0, max: 10 }), (b, extra) => {
        expect(decodeValue('bytes', b)).toEqual(b);
        const n = Math.max(1, b.length + extra);
        const raw = encodeValue('bytes', b, n);
        expect(raw.length).toBe(n);
        expect(raw.subarray(0, b.length)).toEqual(b);
        expect(raw.subarray(b.length).every((x) => x === 0)).toBe(true);
        if (!b.includes(0)) expect(encodeValue('bytes', b)).toEqual(b);
      }),
    );
  });

  it('every value type is covered', () => {
    expect([...VALUE_TYPES].sort()).toEqual(['bht16', 'bytes', 'float', 'i16', 'string', 'u16', 'u32', 'u8']);
  });
});
