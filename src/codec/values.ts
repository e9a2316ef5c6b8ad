import { CodecError } from '../shared/index.js';
import { BHT16_MAX, BHT16_MIN, type ValueType } from './constants.js';

/** A decoded parameter value: numbers for the numeric types, text for `string`, bytes for `bytes`. */
export type Value = number | string | Uint8Array;

const FLOAT32_MAX = 3.4028234663852886e38;

interface IntRange {
  readonly min: number;
  readonly max: number;
  readonly size: number;
}

const INT_RANGES: Partial<Record<ValueType, IntRange>> = {
  u8: { min: 0, max: 0xff, size: 1 },
  u16: { min: 0, max: 0xffff, size: 2 },
  bht16: { min: BHT16_MIN, max: BHT16_MAX, size: 2 },
  i16: { min: -0x8000, max: 0x7fff, size: 2 },
  u32: { min: 0, max: 0xffffffff, size: 4 },
};

/** The range a value type can carry on the wire (floats: +-FLOAT32_MAX). `undefined` for strings and bytes. */
export function valueTypeRange(type: ValueType): { min: number; max: number } | undefined {
  if (type === 'float') return { min: -FLOAT32_MAX, max: FLOAT32_MAX };
  const r = INT_RANGES[type];
  return r ? { min: r.min, max: r.max } : undefined;
}

/** Bytes a fixed-size value type takes on the wire; `undefined` for strings and bytes. */
export function valueTypeSize(type: ValueType): number | undefined {
  if (type === 'float') return 4;
  return INT_RANGES[type]?.size;
}

/**
 * The shortest decimal that reads back as the same float32, so that 68.575 decodes
 * as 68.575 and not 68.57499694824219. Encoding the result gives the same bits again.
 */
export function float32ToShortest(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

function bad(type: ValueType, value: unknown, why: string): CodecError {
  return new CodecError('CODEC_BAD_VALUE', `cannot encode ${describe(value)} as ${type}: ${why}`, { type, value: describe(value) });
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `bytes(${value.length})`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value);
  return String(value);
}

/**
 * Encodes a value to its wire bytes, big-endian. Strings and byte strings are
 * returned without the length byte: with `fixedLength` N > 0 they are padded to
 * exactly N bytes (strings with spaces, bytes with NUL) and refused when longer;
 * without it (or 0) they are returned as they are and must not contain a NUL,
 * since the wire form ends at the first NUL.
 */
export function encodeValue(type: ValueType, value: Value, fixedLength = 0): Uint8Array {
  if (type === 'string' || type === 'bytes') {
    let bytes: Uint8Array;
    if (type === 'string') {
      if (typeof value !== 'string') throw bad(type, value, 'expected a string');
      bytes = new Uint8Array(value.length);
      for (let i = 0; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c > 0xff) throw bad(type, value, `character ${JSON.stringify(value[i])} is outside latin1`);
        bytes[i] = c;
      }
    } else {
      if (!(value instanceof Uint8Array)) throw bad(type, value, 'expected bytes');
      bytes = value;
    }
    if (fixedLength > 0) {
      if (bytes.length > fixedLength) throw bad(type, value, `longer than the fixed length ${fixedLength}`);
      const out = new Uint8Array(fixedLength).fill(type === 'string' ? 0x20 : 0);
      out.set(bytes);
      return out;
    }
    if (bytes.includes(0)) throw bad(type, value, 'a NUL would end a variable-length string early');
    if (bytes.length > 254) throw bad(type, value, 'longer than 254 bytes');
    return Uint8Array.from(bytes);
  }
  if (typeof value !== 'number') throw bad(type, value, 'expected a number');
  if (type === 'float') {
    if (!Number.isFinite(value) && !Number.isNaN(value)) throw bad(type, value, 'not finite');
    // Range-check the float32 it rounds to: the shortest decimal of FLOAT32_MAX (3.4028235e38) is a little above it as a double.
    if (Math.abs(Math.fround(value)) > FLOAT32_MAX) throw bad(type, value, `outside +-${FLOAT32_MAX}`);
    const out = new Uint8Array(4);
    new DataView(out.buffer).setFloat32(0, value, false);
    return out;
  }
  const range = INT_RANGES[type] as IntRange;
  if (!Number.isInteger(value)) throw bad(type, value, 'expected an integer');
  if (value < range.min || value > range.max) throw bad(type, value, `outside ${range.min}..${range.max}`);
  const out = new Uint8Array(range.size);
  const view = new DataView(out.buffer);
  const unsigned = value < 0 ? value + 2 ** (8 * range.size) : value;
  if (range.size === 1) view.setUint8(0, unsigned);
  else if (range.size === 2) view.setUint16(0, unsigned, false);
  else view.setUint32(0, unsigned, false);
  return out;
}

/**
 * Decodes wire bytes (without a string's length byte or NUL terminator) as `type`.
 * Strings are cut at the first NUL and trailing spaces trimmed; `bytes` are returned whole.
 */
export function decodeValue(type: ValueType, raw: Uint8Array): Value {
  if (type === 'string') {
    let end = raw.indexOf(0);
    if (end < 0) end = raw.length;
    while (end > 0 && raw[end - 1] === 0x20) end--;
    let s = '';
    for (let i = 0; i < end; i++) s += String.fromCharCode(raw[i] as number);
    return s;
  }
  if (type === 'bytes') return Uint8Array.from(raw);
  const size = valueTypeSize(type) as number;
  if (raw.length !== size) {
    throw new CodecError('CODEC_BAD_VALUE', `a ${type} takes ${size} bytes, got ${raw.length}`, { type, length: raw.length });
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (type) {
    case 'u8':
      return view.getUint8(0);
    case 'u16':
      return view.getUint16(0, false);
    case 'bht16': {
      // Two's complement, so 0xFF33 is -205; values above 41942 are negative.
      const u = view.getUint16(0, false);
      return u > BHT16_MAX ? u - 0x10000 : u;
    }
    case 'i16':
      return view.getInt16(0, false);
    case 'u32':
      return view.getUint32(0, false);
    case 'float':
      return float32ToShortest(view.getFloat32(0, false));
  }
}
