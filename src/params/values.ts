/** Enumerations and value validation for parameters. */
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

export interface ValidateOptions {
  /** Accept read-only parameters (for a simulator filling in its own values). Default false. */
  readonly allowReadOnly?: boolean;
}

const NUMBER_TEXT = /^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?\s*$/i;
const HEX_INT_TEXT = /^\s*0x[0-9a-f]+\s*$/i;
const HEX_BYTES_TEXT = /^\s*(?:[0-9a-f]{2}[\s:-]?)*\s*$/i;

function invalidValue(p: ParamDef, value: unknown, why: string, cause?: unknown): GatewayError {
  const details: Record<string, unknown> = {
    param: p.key,
    dde: p.dde,
    expected: p.valueType,
    min: p.min,
    max: p.max,
    value: describe(value),
  };
  if (p.valueType === 'string' || p.valueType === 'bytes') details.length = p.length;
  if (p.enumeration) details.allowed = allowedList(p);
  return new GatewayError('PARAM_INVALID_VALUE', `${p.key} (DDE ${p.dde}): ${why}`, details, cause === undefined ? undefined : { cause });
}

function describe(value: unknown): unknown {
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && value.length > 80) return `${value.slice(0, 77)}...`;
  return value;
}

function toNumber(p: ParamDef, value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') {
    if (NUMBER_TEXT.test(value)) return Number(value);
    if (HEX_INT_TEXT.test(value) && p.valueType !== 'float') return Number.parseInt(value.trim().slice(2), 16);
    if (p.enumeration && value.trim().length > 0) {
      if (p.bits) throw invalidValue(p, value, 'is a bit field: give the whole value as a number, not a label');
      try {
        return enumValue(p, value);
      } catch (err) {
        throw invalidValue(p, value, `"${value}" is not a number or one of its labels`, err);
      }
    }
    throw invalidValue(p, value, `expected a number (${p.valueType}), got "${value}"`);
  }
  throw invalidValue(p, value, `expected a number (${p.valueType}), got ${value === null ? 'null' : typeof value}`);
}

function checkString(p: ParamDef, value: unknown): string {
  if (typeof value !== 'string') throw invalidValue(p, value, `expected a string, got ${value === null ? 'null' : typeof value}`);
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0) throw invalidValue(p, value, 'strings may not contain NUL characters');
    if (code > 0xff) throw invalidValue(p, value, `character "${value[i]}" is not latin1`);
  }
  if (p.length > 0 && value.length > p.length) {
    throw invalidValue(p, value, `string of ${value.length} characters is longer than the fixed length ${p.length}`);
  }
  return value;
}

function checkBytes(p: ParamDef, value: unknown): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) {
    bytes = new Uint8Array(value);
  } else if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    bytes = Uint8Array.from(value as number[]);
  } else if (typeof value === 'string' && HEX_BYTES_TEXT.test(value)) {
    const hex = value.replace(/[\s:-]/g, '');
    bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  } else {
    throw invalidValue(p, value, 'expected bytes (Uint8Array, array of 0..255, or hex text)');
  }
  if (p.length > 0 && bytes.length > p.length) {
    throw invalidValue(p, value, `${bytes.length} bytes is longer than the fixed length ${p.length}`);
  }
  return bytes;
}

/**
 * Checks a value before it goes on the wire and returns it normalised: a number for numeric
 * types (numeric text and enumeration labels converted), a string, or a Uint8Array.
 * Throws `PARAM_READ_ONLY` for a read-only parameter (unless `allowReadOnly`), and
 * `PARAM_INVALID_VALUE` (details: param, dde, expected, min, max, allowed) otherwise.
 * Numbers in range are accepted even when the enumeration does not list them: the
 * database's enumerations are not complete for every instrument.
 */
export function validateValue(ref: ParamRef, value: unknown, options: ValidateOptions = {}): ParamValue {
  const p = resolveParam(ref);
  if (!p.write && !options.allowReadOnly) {
    throw new GatewayError('PARAM_READ_ONLY', `${p.key} (DDE ${p.dde}) is read-only`, { param: p.key, dde: p.dde });
  }
  switch (p.valueType) {
    case 'string':
      return checkString(p, value);
    case 'bytes':
      return checkBytes(p, value);
    default: {
      const n = toNumber(p, value);
      if (!Number.isFinite(n)) throw invalidValue(p, value, 'expected a finite number');
      if (p.valueType !== 'float' && !Number.isInteger(n)) throw invalidValue(p, value, `${p.valueType} takes integers only`);
      if ((p.min !== null && n < p.min) || (p.max !== null && n > p.max)) {
        throw invalidValue(p, value, `${n} is outside ${p.min}..${p.max}`);
      }
      return n === 0 ? 0 : n; // no -0 on the wire
    }
  }
}
