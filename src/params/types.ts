import type { ValueType, WireType } from '../codec/index.js';

/** One named value of an enumerated parameter. */
export interface EnumEntry {
  /**
   * The value. For a bit-field parameter (`bits: true`) it is "in position":
   * the entry applies when `(raw & mask) === value`.
   */
  readonly value: number;
  /** The label from Bronkhorst's database (or a curated one, see `curated`). */
  readonly label: string;
  /** Bit-field parameters only: the bits this entry describes. */
  readonly mask?: number;
  /** Extra names accepted by `enumValue` (case- and punctuation-insensitive). */
  readonly aliases?: readonly string[];
  /** Hand-written entry, not a row of the source database. */
  readonly curated?: boolean;
}

/** Another wire type the same DDE number is known with (DDE 52 and 278). */
export interface ParamVariant {
  readonly valueType: ValueType;
  readonly wireType: WireType;
  readonly length: number;
}

/** One parameter of the database: a DDE number and how it sits on the wire. */
export interface ParamDef {
  /** DDE (FlowDDE) parameter number, unique. */
  readonly dde: number;
  /** Official name from the 1.3.0 database, e.g. "Capacity Unit". */
  readonly name: string;
  /** camelCase key, unique, e.g. `capacityUnit`, `fMeasure`. */
  readonly key: string;
  /** The database's short name, e.g. "capunitstr"; null for the two 1.3.0-only rows. */
  readonly shortName: string | null;
  /** ProPar process number (0..127), before any channel offset. */
  readonly process: number;
  /** ProPar function block parameter number (0..31). */
  readonly fbnr: number;
  readonly valueType: ValueType;
  /** 0x00, 0x20, 0x40 or 0x60; always `wireTypeOf(valueType)`. */
  readonly wireType: WireType;
  /** Bytes: the type size for fixed types; N for a fixed-length string; 0 = variable (NUL-terminated). */
  readonly length: number;
  /** Variable-length strings only: the longest text the instrument holds, where known (user tag: 16). */
  readonly maxLength?: number;
  readonly read: boolean;
  readonly write: boolean;
  /** Writable only after Init Reset (DDE 7) = 64. */
  readonly secured: boolean;
  /** Factory parameter. */
  readonly highlySecured: boolean;
  /** Range for numeric types (always representable in the type); null for strings and bytes. */
  readonly min: number | null;
  readonly max: number | null;
  /**
   * Unit where one is certain. Special values: 'raw' = measure scale (32000 = 100 %),
   * 'raw 24-bit' = valve drive 0..16777215, 'capacity' = the instrument's capacity unit
   * (read capacityUnit, DDE 129), 'counter' = the counter unit (counterUnit, DDE 128).
   */
  readonly unit?: string;
  /** The channel offset applies: process 1, 33, 65, 97 or 104 becomes process + channel - 1. */
  readonly channelProcess: boolean;
  /** Set by `forChannel` for channel 2 and up: `process` already carries the channel offset. */
  readonly channel?: number;
  readonly enumeration?: readonly EnumEntry[];
  /**
   * The enumeration is known to be incomplete: any value in range may be written. Without it the
   * enumeration is closed: only listed values are written (for a bit field: only bits, and
   * values of multi-bit fields, that its entries describe).
   */
  readonly enumerationOpen?: boolean;
  /** The enumeration describes bits / packed fields of the value (each entry has a mask). */
  readonly bits?: boolean;
  /** Our own one-sentence description, for the most common parameters only. */
  readonly description?: string;
  readonly variants?: readonly ParamVariant[];
}

/** A parameter given by definition, DDE number, or any text `findParam` accepts. */
export type ParamRef = ParamDef | number | string;

/** One result of `searchParams`, best first. */
export interface ParamSearchHit {
  readonly param: ParamDef;
  /** Higher is better; 100 = exact match of DDE number, key, name or short name. */
  readonly score: number;
  /** The field that matched best. */
  readonly matchedOn: 'dde' | 'key' | 'name' | 'shortName' | 'description' | 'enumeration' | 'fuzzy';
}

/** A value ready for the codec: a number for numeric types, a string, or bytes. */
export type ParamValue = number | string | Uint8Array;
