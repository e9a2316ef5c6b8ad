/** Enumerations and value validation for parameters. */
import { MAX_DATA_LENGTH, encodeValue } from '../codec/index.js';
import { GatewayError } from '../shared/index.js';
import { normaliseText, resolveParam } from './db.js';
import type { EnumEntry, ParamDef, ParamRef, ParamValue } from './types.js';

function allowedList(p: ParamDef): Array<{ value: number; label: string; mask?: number }> {
  return (p.enumeration ?? []).map((e) => (e.mask === undefined ? { value: e.value, label: e.label } : { value: e.value, label: e.label, mask: e.mask }));
}

function badEnum(p: ParamDef, input: unknown, why: string): GatewayError {
  return new GatewayError('PARAM_BAD_ENUM', `${p.key} (DDE ${p.dde}): ${why}`, {
    param: p.key,
    dde: p.dde,
    input,
    allowed: allowedList(p),
  });
}

function entryNames(e: EnumEntry): string[] {
  return [e.label, ...(e.aliases ?? [])].map(normaliseText);
}

/**
 * Maps an enumeration label or alias (case- and punctuation-insensitive: "valve closed",
 * "Close Valve") or a listed number (3, "3") to its number. For a bit-field parameter the
 * number is the entry's in-position value. Throws `PARAM_BAD_ENUM` with the allowed values.
 */
export function enumValue(ref: ParamRef, input: string | number): number {
  const p = resolveParam(ref);
  const entries = p.enumeration ?? [];
  if (entries.length === 0) throw badEnum(p, input, 'has no enumeration');
  if (typeof input === 'number' || /^\s*\d+\s*$/.test(input)) {
    const asNumber = Number(input);
    if (entries.some((e) => e.value === asNumber)) return asNumber;
    throw badEnum(p, input, `${asNumber} is not a listed value`);
  }
  const norm = normaliseText(input);
  const values = [...new Set(entries.filter((e) => norm.length > 0 && entryNames(e).includes(norm)).map((e) => e.value))];
  if (values.length === 1) return values[0]!;
  if (values.length > 1) throw badEnum(p, input, `"${input}" is ambiguous (values ${values.join(', ')})`);
  throw badEnum(p, input, `"${input}" is not one of its labels`);
}

/** Labels of the bit-field entries that match `value` (`(value & mask) === entry.value`). */
export function bitLabels(ref: ParamRef, value: number): string[] {
  const p = resolveParam(ref);
  if (!p.bits) return [];
  return (p.enumeration ?? [])
    .filter((e) => e.mask !== undefined && (value & e.mask) >>> 0 === e.value)
    .map((e) => e.label);
}

/**
 * The label of `value`: the entry with that value, or for a bit-field parameter the
 * matching entries' labels joined with ", ". Undefined when nothing matches.
 */
export function enumLabel(ref: ParamRef, value: number): string | undefined {
  const p = resolveParam(ref);
  if (p.bits) {
    const labels = bitLabels(p, value);
    return labels.length > 0 ? labels.join(', ') : undefined;
  }
  return p.enumeration?.find((e) => e.value === value)?.label;
}

// ---------------------------------------------------------------- validation

/**
 * The longest variable-length string (or byte string) one ProPar write can carry: DATA holds
 * MAX_DATA_LENGTH bytes (one less in ASCII framing); the command byte, the process and parameter
 * bytes, the length byte and the terminating NUL take 5; an Init Reset 64 ... 82 wrap (secured
 * parameters) 6 more. The bus's request budget (`maxRequestBytes`) is usually tighter: the
 * gateway passes that as `maxLength`.
 */
export const MAX_VARIABLE_LENGTH = MAX_DATA_LENGTH - 1 - 5 - 6;

/** The instrument's own range of a parameter, where it differs from the database's (a setpoint bound by the capacity). */
export interface InstrumentRange {
  readonly min: number;
  readonly max: number;
  readonly unit?: string;
  /** Why this range, for the message: "this instrument's capacity is 6817 mg/min; ...". */
  readonly why: string;
}

export interface ValidateOptions {
  /** Accept read-only parameters (for a simulator filling in its own values). Default false. */
  readonly allowReadOnly?: boolean;
  /** A tighter limit for a variable-length string or byte string (what one write of the bus's request budget carries), with the reason. */
  readonly maxLength?: { readonly length: number; readonly why: string };
  /** The instrument's range, used instead of the database's for the range check and in every message about the value. */
  readonly range?: InstrumentRange;
}

/**
 * Longest text tried as a number. The number patterns backtrack in proportion to the square of
 * the text's length (64 kB of digits would hold the event loop for seconds), and no number
 * needs more: longer text is not a number (it may still be an enumeration label).
 */
const MAX_NUMBER_TEXT = 64;
const NUMBER_TEXT = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?\s*$/i;
const HEX_INT_TEXT = /^\s*0x[0-9a-f]+\s*$/i;
const HEX_BYTES_TEXT = /^\s*(?:[0-9a-f]{2}[\s:-]?)*\s*$/i;

/** What one validation knows about the limits: the parameter, and the instrument's range or the bus's length limit. */
interface Limits {
  readonly p: ParamDef;
  readonly range?: InstrumentRange;
  /** Strings and bytes: the most characters (bytes) accepted, and why. */
  readonly length?: { readonly length: number; readonly why: string };
}

function invalidValue(l: Limits, value: unknown, why: string, cause?: unknown): GatewayError {
  const { p, range } = l;
  const details: Record<string, unknown> = {
    param: p.key,
    dde: p.dde,
    expected: p.valueType,
    min: range ? range.min : p.min,
    max: range ? range.max : p.max,
    value: describe(value),
  };
  if (range?.unit) details.unit = range.unit;
  if (l.length) details.length = l.length.length;
  if (p.enumeration) details.allowed = allowedList(p);
  // The instrument's range is the one that counts: every message about this value names it.
  const rangeNote = range && !why.includes(`${range.min}..${range.max}`) ? `; allowed range ${range.min}..${range.max}${range.unit ? ` ${range.unit}` : ''} (${range.why})` : '';
  return new GatewayError('PARAM_INVALID_VALUE', `${p.key} (DDE ${p.dde}): ${why}${rangeNote}`, details, cause === undefined ? undefined : { cause });
}

/** The most characters (or bytes) a string or byte-string parameter takes, and why. */
function lengthLimit(p: ParamDef, options: ValidateOptions): { length: number; why: string } {
  if (p.length > 0) return { length: p.length, why: `the fixed length of ${p.key}` };
  const own = p.maxLength !== undefined ? { length: p.maxLength, why: `what the instrument stores for ${p.key}` } : { length: MAX_VARIABLE_LENGTH, why: 'what one ProPar write carries' };
  return options.maxLength && options.maxLength.length < own.length ? options.maxLength : own;
}

function describe(value: unknown): unknown {
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && value.length > 80) return `${value.slice(0, 77)}...`;
  return value;
}

function toNumber(l: Limits, value: unknown): number {
  const { p } = l;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    const short = value.length <= MAX_NUMBER_TEXT;
    if (short && NUMBER_TEXT.test(value)) return Number(value);
    if (short && HEX_INT_TEXT.test(value) && p.valueType !== 'float') return Number.parseInt(value.trim().slice(2), 16);
    if (p.enumeration && value.trim().length > 0) {
      if (p.bits) throw invalidValue(l, value, 'is a bit field: give the whole value as a number, not a label');
      try {
        return enumValue(p, value);
      } catch (err) {
        // A closed enumeration refuses a label it does not list as it refuses a number it does
        // not list: PARAM_BAD_ENUM with the allowed values. An open one takes any number, so
        // text that is neither a number nor a label is the wrong type.
        const e = invalidValue(l, value, `"${describe(value)}" is not a number or one of its labels`, err);
        throw p.enumerationOpen ? e : new GatewayError('PARAM_BAD_ENUM', e.message, e.details, { cause: err });
      }
    }
    throw invalidValue(l, value, `expected a number (${p.valueType}), got "${describe(value)}"`);
  }
  throw invalidValue(l, value, `expected a number (${p.valueType}), got ${value === null ? 'null' : typeof value}`);
}

function tooLong(l: Limits, value: unknown, n: number, unit: 'characters' | 'bytes'): GatewayError {
  const limit = l.length as { length: number; why: string };
  return invalidValue(l, value, `${n} ${unit} is too long: at most ${limit.length} ${unit} (${limit.why})`);
}

function checkString(l: Limits, value: unknown): string {
  if (typeof value !== 'string') throw invalidValue(l, value, `expected a string, got ${value === null ? 'null' : typeof value}`);
  // The length first: a megabyte of text is refused without looking at each character.
  if (value.length > (l.length as { length: number }).length) throw tooLong(l, value, value.length, 'characters');
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0) throw invalidValue(l, value, 'strings may not contain NUL characters');
    if (code > 0xff) throw invalidValue(l, value, `character "${value[i]}" is not latin1`);
  }
  return value;
}

function checkBytes(l: Limits, value: unknown): Uint8Array {
  const { p } = l;
  const max = (l.length as { length: number }).length;
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) {
    if (value.length > max) throw tooLong(l, value, value.length, 'bytes');
    bytes = new Uint8Array(value);
  } else if (Array.isArray(value)) {
    if (value.length > max) throw tooLong(l, value, value.length, 'bytes');
    if (!value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) throw invalidValue(l, value, 'expected bytes (Uint8Array, array of 0..255, or hex text)');
    bytes = Uint8Array.from(value as number[]);
  } else if (typeof value === 'string' && value.length <= 3 * max + 2 && HEX_BYTES_TEXT.test(value)) {
    const hex = value.replace(/[\s:-]/g, '');
    bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    if (bytes.length > max) throw tooLong(l, value, bytes.length, 'bytes');
  } else if (typeof value === 'string' && HEX_BYTES_TEXT.test(value.slice(0, 3 * max + 2))) {
    throw invalidValue(l, value, `hex text of ${value.length} characters is too long: at most ${max} bytes (${(l.length as { why: string }).why})`);
  } else {
    throw invalidValue(l, value, 'expected bytes (Uint8Array, array of 0..255, or hex text)');
  }
  // Without a fixed length the value ends at the first NUL on the wire.
  if (p.length === 0 && bytes.includes(0)) throw invalidValue(l, value, 'a variable-length byte string cannot contain a 00 byte (it would end the value)');
  return bytes;
}

/**
 * A closed enumeration takes only its listed values. A bit field takes only the bits its entries
 * describe, and in a multi-bit field (a mask of several bits) 0 or one of the values listed for it.
 */
function checkEnumeration(l: Limits, value: unknown, n: number): void {
  const { p } = l;
  const entries = p.enumeration ?? [];
  if (entries.length === 0 || p.enumerationOpen) return;
  if (!p.bits) {
    if (!entries.some((e) => e.value === n)) throw badEnum(p, value, `${n} is not one of its listed values`);
    return;
  }
  const masks = [...new Set(entries.map((e) => e.mask ?? 0))];
  const covered = masks.reduce((a, m) => (a | m) >>> 0, 0);
  const stray = (n & ~covered) >>> 0;
  if (stray !== 0) throw badEnum(p, value, `${n} (0x${n.toString(16)}) sets bits 0x${stray.toString(16)} that none of its entries describes (known bits 0x${covered.toString(16)})`);
  for (const mask of masks) {
    const field = (n & mask) >>> 0;
    if (field !== 0 && !entries.some((e) => e.mask === mask && e.value === field)) {
      throw badEnum(p, value, `${n} (0x${n.toString(16)}) has 0x${field.toString(16)} in the field 0x${mask.toString(16)}, which lists only ${entries.filter((e) => e.mask === mask).map((e) => `0x${e.value.toString(16)}`).join(', ')}`);
    }
  }
}

/**
 * Checks a value before it goes on the wire and returns it normalised: a number for numeric
 * types (numeric text and enumeration labels converted), a string, or a Uint8Array.
 * Throws `PARAM_READ_ONLY` for a read-only parameter (unless `allowReadOnly`),
 * `PARAM_BAD_ENUM` (details: allowed) for a number a closed enumeration does not list (see
 * `enumerationOpen`), and `PARAM_INVALID_VALUE` (details: param, dde, expected, min, max,
 * length, allowed) otherwise: wrong type, out of range, too long. Anything the codec would
 * refuse is refused here, so a value that passes can always be encoded.
 */
export function validateValue(ref: ParamRef, value: unknown, options: ValidateOptions = {}): ParamValue {
  const p = resolveParam(ref);
  if (!p.write && !options.allowReadOnly) {
    throw new GatewayError('PARAM_READ_ONLY', `${p.key} (DDE ${p.dde}) is read-only`, { param: p.key, dde: p.dde });
  }
  const text = p.valueType === 'string' || p.valueType === 'bytes';
  const limits: Limits = { p, ...(options.range && !text ? { range: options.range } : {}), ...(text ? { length: lengthLimit(p, options) } : {}) };
  let checked: ParamValue;
  switch (p.valueType) {
    case 'string':
      checked = checkString(limits, value);
      break;
    case 'bytes':
      checked = checkBytes(limits, value);
      break;
    default: {
      const n = toNumber(limits, value);
      if (!Number.isFinite(n)) throw invalidValue(limits, value, 'expected a finite number');
      if (p.valueType !== 'float' && !Number.isInteger(n)) throw invalidValue(limits, value, `${p.valueType} takes integers only`);
      const min = limits.range ? limits.range.min : p.min;
      const max = limits.range ? limits.range.max : p.max;
      if ((min !== null && n < min) || (max !== null && n > max)) {
        const unit = limits.range?.unit ? ` ${limits.range.unit}` : '';
        throw invalidValue(limits, value, `${n} is outside ${min}..${max}${unit}${limits.range ? ` (${limits.range.why})` : ''}`);
      }
      checkEnumeration(limits, value, n);
      checked = n === 0 ? 0 : n; // no -0 on the wire
    }
  }
  // The safety net: what the codec refuses must be a 400 here, never an internal error later.
  try {
    encodeValue(p.valueType, checked, text ? p.length : 0);
  } catch (err) {
    throw invalidValue(limits, value, err instanceof Error ? err.message : String(err), err);
  }
  return checked;
}
