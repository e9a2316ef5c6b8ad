import { decodeValue, WireType, type ValueType } from '../codec/index.js';
import { enumLabel, paramByAddress, valueTypeFor, type ParamDef } from '../params/index.js';
import { toHex } from '../shared/index.js';

/** Finds the database entry for a real address; the default is the parameter DB's documented rule. */
export type ParamResolver = (process: number, fbnr: number, wireType: WireType) => ParamDef | undefined;

/** paramByAddress's answers by address and wire type (the database does not change): a bridge names the same few parameters in every transaction. */
const byAddress = new Map<number, ParamDef | null>();

export const defaultResolver: ParamResolver = (process, fbnr, wireType) => {
  // Process, FB number and wire type are bytes on the wire; anything else is looked up uncached.
  if ((process & 0xff) !== process || (fbnr & 0xff) !== fbnr || (wireType & 0xff) !== wireType) return paramByAddress(process, fbnr, wireType);
  const key = (process << 16) | (fbnr << 8) | wireType;
  let def = byAddress.get(key);
  if (def === undefined) {
    def = paramByAddress(process, fbnr, wireType) ?? null;
    byAddress.set(key, def);
  }
  return def ?? undefined;
};

/** A JSON-friendly decoded value: numbers, text, or hex for byte strings. */
export type ObservedValue = number | string;

/**
 * One parameter of a transaction, named through the parameter DB when its real
 * address is known. A parameter missing from the DB keeps its address and raw bytes.
 */
export interface ObservedParam {
  /** Real process number, or the process index of an orphan read answer (`indexOnly`). */
  readonly process: number;
  /** Real FB number, or the parameter index of an orphan read answer (`indexOnly`). */
  readonly fbnr: number;
  readonly wireType: WireType;
  /** The request's tags (read requests only). */
  readonly processIndex?: number;
  readonly index?: number;
  /** Strings: the length byte of the request or value (0 = NUL-terminated). */
  readonly stringLength?: number;
  /** True when only the index tags are known (a read answer without its request): no name is given. */
  readonly indexOnly?: boolean;
  readonly dde?: number;
  readonly key?: string;
  readonly name?: string;
  readonly valueType?: ValueType;
  readonly unit?: string;
  /** The decoded value (absent for requests without a value). */
  readonly value?: ObservedValue;
  /** The enumeration label of the value, when the DB has one. */
  readonly label?: string;
  /** The value's bytes in hex (strings without the length byte or the NUL terminator). */
  readonly raw?: string;
}

/** The type to decode with when the DB has no entry, or one whose wire type disagrees with the wire. */
function fallbackType(wireType: WireType): ValueType {
  switch (wireType) {
    case WireType.Byte:
      return 'u8';
    case WireType.Int16:
      return 'u16';
    case WireType.Int32:
      return 'u32';
    default:
      return 'string';
  }
}

export interface ParamInput {
  readonly process: number;
  readonly fbnr: number;
  readonly wireType: WireType;
  readonly processIndex?: number;
  readonly index?: number;
  readonly stringLength?: number;
  /** Value bytes, when the message carries a value. */
  readonly raw?: Uint8Array;
  readonly indexOnly?: boolean;
}

/** Names a parameter through the resolver and decodes its value bytes, if any. Never throws. */
export function describeParam(input: ParamInput, resolve: ParamResolver = defaultResolver): ObservedParam {
  let def: ParamDef | undefined;
  if (!input.indexOnly) {
    try {
      def = resolve(input.process, input.fbnr, input.wireType);
    } catch {
      def = undefined;
    }
  }
  const out: {
    -readonly [K in keyof ObservedParam]: ObservedParam[K];
  } = { process: input.process, fbnr: input.fbnr, wireType: input.wireType };
  if (input.processIndex !== undefined) out.processIndex = input.processIndex;
  if (input.index !== undefined) out.index = input.index;
  if (input.stringLength !== undefined) out.stringLength = input.stringLength;
  if (input.indexOnly) out.indexOnly = true;
  if (def) {
    out.dde = def.dde;
    out.key = def.key;
    out.name = def.name;
    if (def.unit !== undefined) out.unit = def.unit;
  }
  // The instrument answers in the requested type (PROTOCOL.md 5.1), so the DB's type is used only when it fits the wire.
  const valueType = (def && valueTypeFor(def, input.wireType)) ?? fallbackType(input.wireType);
  out.valueType = valueType;
  if (input.raw) {
    out.raw = toHex(input.raw, '');
    try {
      const v = decodeValue(valueType, input.raw);
      out.value = v instanceof Uint8Array ? toHex(v, '') : v;
      if (def && typeof v === 'number') {
        const label = labelOf(def, v);
        if (label !== undefined) out.label = label;
      }
    } catch {
      // Wrong size for the type: keep the raw bytes only.
    }
  }
  return out;
}

/** The DB's placeholders for units only the instrument knows (see ParamDef.unit). */
const UNRESOLVED_UNITS = new Set(['capacity', 'counter']);

/** `fluidName=EtOH 15mba`, `capacity=6817 mg/min`, `1/13=0x45d50800`: one parameter for a human. */
export function formatParam(p: ObservedParam): string {
  const name = p.indexOnly ? `idx ${p.process}/${p.index ?? p.fbnr}` : (p.key ?? `${p.process}/${p.fbnr}`);
  if (p.value === undefined) {
    if (p.raw !== undefined) return `${name}=0x${p.raw}`;
    return name;
  }
  let v = typeof p.value === 'string' ? JSON.stringify(p.value) : String(p.value);
  if (p.valueType === 'bytes') v = `0x${p.value}`;
  if (p.label !== undefined) v += ` (${p.label})`;
  else if (p.unit !== undefined && typeof p.value === 'number' && !UNRESOLVED_UNITS.has(p.unit) && !p.unit.startsWith('raw')) v += ` ${p.unit}`;
  return `${name}=${v}`;
}

function labelOf(def: ParamDef, value: number): string | undefined {
  try {
    return enumLabel(def, value);
  } catch {
    return undefined;
  }
}
