/**
 * Lint of the parameter database file (src/params/parameters.json), read as plain JSON so
 * that the test does not depend on the loader it is checking.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BHT16_MAX, BHT16_MIN, type ValueType, wireTypeOf, wireTypeSize } from '../../src/codec/index.js';

interface RawEnum {
  value: number;
  label: string;
  mask?: number;
  aliases?: string[];
  curated?: boolean;
}
interface RawParam {
  dde: number;
  key: string;
  name: string;
  shortName: string | null;
  process: number;
  fbnr: number;
  valueType: ValueType;
  wireType: number;
  length: number;
  read: boolean;
  write: boolean;
  secured: boolean;
  highlySecured: boolean;
  min: number | null;
  max: number | null;
  unit?: string;
  channelProcess: boolean;
  bits?: boolean;
  enumeration?: RawEnum[];
  enumerationOpen?: boolean;
  maxLength?: number;
  variants?: Array<{ valueType: ValueType; wireType: number; length: number }>;
  description?: string;
}
interface RawDb {
  source: string;
  sourceRows: { parameters: number; enumerations: number };
  parameters: RawParam[];
  droppedEnumerations: Array<{ dde: number; value: number; label: string; reason: string }>;
}

const DB_FILE = fileURLToPath(new URL('../../src/params/parameters.json', import.meta.url));
const SHARED_FILE = fileURLToPath(new URL('../../../shared/protocol/parameters.json', import.meta.url));
const db = JSON.parse(readFileSync(DB_FILE, 'utf8')) as RawDb;
const params = db.parameters;

const FLOAT32_MAX = 3.4028234663852886e38;
const TYPE_RANGE: Partial<Record<ValueType, [number, number]>> = {
  u8: [0, 255],
  u16: [0, 65535],
  bht16: [BHT16_MIN, BHT16_MAX],
  i16: [-32768, 32767],
  u32: [0, 4294967295],
  float: [-FLOAT32_MAX, FLOAT32_MAX],
};
const SIZE: Record<ValueType, number | undefined> = { u8: 1, u16: 2, bht16: 2, i16: 2, u32: 4, float: 4, string: undefined, bytes: undefined };

const norm = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '');

describe('parameters.json structure', () => {
  it('names its origin and licence', () => {
    expect(db.source).toMatch(/bronkhorst-propar/);
    expect(db.source).toMatch(/1\.3\.0/);
    expect(db.source).toMatch(/MIT/);
    expect(db.source).toMatch(/Bronkhorst High-Tech B\.V\./);
  });

  it('has 425 entries with unique DDE numbers, sorted', () => {
    expect(params).toHaveLength(425);
    const ddes = params.map((p) => p.dde);
    expect(new Set(ddes).size).toBe(ddes.length);
    expect([...ddes].sort((a, b) => a - b)).toEqual(ddes);
  });

  it('has unique camelCase keys', () => {
    const keys = params.map((p) => p.key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of keys) expect(k).toMatch(/^[a-z][A-Za-z0-9]*$/);
  });

  it('accounts for all 428 source parameter rows (425 entries + 3 variants)', () => {
    const rows = params.reduce((n, p) => n + 1 + (p.variants?.length ?? 0), 0);
    expect(rows).toBe(428);
    expect(db.sourceRows.parameters).toBe(428);
    expect(params.filter((p) => p.variants).map((p) => [p.dde, p.valueType, p.variants?.map((v) => v.valueType)])).toEqual([
      [52, 'u8', ['float']],
      [278, 'u32', ['u16', 'u8']],
    ]);
  });

  it('accounts for all 437 source enumeration rows', () => {
    // 409 rows live in `enumeration` arrays; 28 are listed in droppedEnumerations with a reason:
    // 2 for DDE 69 (not in the 1.3.0 database), 10 describing bits of string-typed registers
    // (DDE 61, 62, 208-210) and the 16 Alarm Info rows superseded by the curated 8-bit list.
    // Curated entries (Alarm Info bits) are not source rows and are not counted.
    const fromSource = params.reduce((n, p) => n + (p.enumeration?.filter((e) => !e.curated).length ?? 0), 0);
    expect(fromSource + db.droppedEnumerations.length).toBe(437);
    expect(db.sourceRows.enumerations).toBe(437);
    expect(db.droppedEnumerations).toHaveLength(28);
    const byReason = new Map<string, number>();
    for (const d of db.droppedEnumerations) byReason.set(d.reason, (byReason.get(d.reason) ?? 0) + 1);
    expect([...byReason.values()].sort((a, b) => a - b)).toEqual([2, 10, 16]);
  });

  it('addresses fit the protocol (process 0..127, FB 0..31)', () => {
    for (const p of params) {
      expect(p.process, `DDE ${p.dde}`).toBeGreaterThanOrEqual(0);
      expect(p.process, `DDE ${p.dde}`).toBeLessThanOrEqual(127);
      expect(p.fbnr, `DDE ${p.dde}`).toBeGreaterThanOrEqual(0);
      expect(p.fbnr, `DDE ${p.dde}`).toBeLessThanOrEqual(31);
    }
  });

  it('sizes and wire types are consistent with the value type', () => {
    for (const p of params) {
      const where = `DDE ${p.dde}`;
      expect(p.wireType, where).toBe(wireTypeOf(p.valueType));
      const size = SIZE[p.valueType];
      if (size !== undefined) {
        expect(p.length, where).toBe(size);
        expect(wireTypeSize(wireTypeOf(p.valueType)), where).toBe(size);
      } else {
        expect(p.wireType, where).toBe(0x60);
        expect(Number.isInteger(p.length) && p.length >= 0 && p.length <= 255, where).toBe(true);
      }
      for (const v of p.variants ?? []) {
        expect(v.wireType, where).toBe(wireTypeOf(v.valueType));
        expect(v.length, where).toBe(SIZE[v.valueType]);
        expect(v.wireType, `${where}: a variant must differ in wire type`).not.toBe(p.wireType);
      }
    }
  });

  it('ranges are ordered and representable in the type', () => {
    for (const p of params) {
      const where = `DDE ${p.dde} ${p.valueType} ${p.min}..${p.max}`;
      const range = TYPE_RANGE[p.valueType];
      if (!range) {
        expect(p.min, where).toBeNull();
        expect(p.max, where).toBeNull();
        continue;
      }
      expect(typeof p.min === 'number' && typeof p.max === 'number', where).toBe(true);
      const min = p.min as number;
      const max = p.max as number;
      expect(min <= max, where).toBe(true);
      expect(min >= range[0] && max <= range[1], where).toBe(true);
      if (p.valueType !== 'float') expect(Number.isInteger(min) && Number.isInteger(max), where).toBe(true);
    }
  });

  it('access flags are booleans and every parameter can be read or written', () => {
    for (const p of params) {
      for (const f of ['read', 'write', 'secured', 'highlySecured', 'channelProcess'] as const) {
        expect(typeof p[f], `DDE ${p.dde} ${f}`).toBe('boolean');
      }
      expect(p.read || p.write, `DDE ${p.dde}`).toBe(true);
    }
  });

  it('channelProcess marks exactly the processes the channel offset applies to', () => {
    for (const p of params) expect(p.channelProcess, `DDE ${p.dde}`).toBe([1, 33, 65, 97, 104].includes(p.process));
  });

  it('enumerations sit on numeric parameters and their values are inside the range', () => {
    for (const p of params) {
      if (!p.enumeration) {
        expect(p.bits, `DDE ${p.dde}`).toBeUndefined();
        continue;
      }
      const where = `DDE ${p.dde}`;
      expect(TYPE_RANGE[p.valueType], `${where}: enumeration on a ${p.valueType}`).toBeDefined();
      expect(p.enumeration.length, where).toBeGreaterThan(0);
      const ids = new Set<string>();
      for (const e of p.enumeration) {
        expect(Number.isInteger(e.value), where).toBe(true);
        expect(e.value >= (p.min as number) && e.value <= (p.max as number), `${where} value ${e.value}`).toBe(true);
        expect(e.label.trim(), where).toBe(e.label);
        expect(e.label.length, where).toBeGreaterThan(0);
        const id = `${e.mask ?? '-'}/${e.value}`;
        expect(ids.has(id), `${where}: duplicate ${id}`).toBe(false);
        ids.add(id);
        if (p.bits) {
          expect(e.mask, `${where}: bit-field entries need a mask`).toBeDefined();
          const mask = e.mask as number;
          expect(mask > 0 && mask <= (p.max as number), where).toBe(true);
          expect((e.value & ~mask) >>> 0, `${where}: value ${e.value} outside mask ${mask}`).toBe(0);
        } else {
          expect(e.mask, where).toBeUndefined();
        }
      }
    }
  });

  it('only enumerations known to be incomplete are open; every other one is closed', () => {
    for (const p of params) {
      if (p.enumerationOpen === undefined) continue;
      expect(p.enumerationOpen, `DDE ${p.dde}`).toBe(true);
      expect(p.enumeration, `DDE ${p.dde}: open without an enumeration`).toBeDefined();
    }
    // 213: "set status bit (range 0..127)" lists only the ends; 175: the device type catalogue.
    expect(params.filter((p) => p.enumerationOpen).map((p) => p.dde)).toEqual([175, 213]);
    // The enumerations writes most often go through stay closed.
    for (const dde of [12, 118, 130, 301]) expect(params.find((p) => p.dde === dde)?.enumerationOpen, `DDE ${dde}`).toBeUndefined();
  });

  it('a bit field describes every field it has: each mask is one field, its masks do not overlap', () => {
    for (const p of params.filter((q) => q.bits)) {
      const masks = [...new Set((p.enumeration ?? []).map((e) => e.mask as number))];
      for (const a of masks) for (const b of masks) if (a !== b) expect((a & b) >>> 0, `DDE ${p.dde} masks ${a} and ${b}`).toBe(0);
    }
  });

  it('maxLength sits only on variable-length strings', () => {
    for (const p of params) {
      if (p.maxLength === undefined) continue;
      expect(p.valueType === 'string' && p.length === 0, `DDE ${p.dde}`).toBe(true);
      expect(Number.isInteger(p.maxLength) && p.maxLength > 0 && p.maxLength <= 243, `DDE ${p.dde}`).toBe(true);
    }
    expect(params.find((p) => p.dde === 115)?.maxLength).toBe(16);
  });

  it('enumeration aliases never name two different values', () => {
    for (const p of params) {
      const owner = new Map<string, number>();
      for (const e of p.enumeration ?? []) {
        for (const alias of e.aliases ?? []) {
          const n = norm(alias);
          const clash = p.enumeration?.find((o) => o.value !== e.value && (norm(o.label) === n || o.aliases?.some((a) => norm(a) === n)));
          expect(clash, `DDE ${p.dde} alias "${alias}"`).toBeUndefined();
          expect(owner.get(n) ?? e.value, `DDE ${p.dde} alias "${alias}"`).toBe(e.value);
          owner.set(n, e.value);
        }
      }
    }
  });

  it('Alarm Info (DDE 28) has the curated 8 bit flags', () => {
    const alarm = params.find((p) => p.dde === 28);
    expect(alarm?.bits).toBe(true);
    expect(alarm?.enumeration?.map((e) => [e.mask, e.value])).toEqual([1, 2, 4, 8, 16, 32, 64, 128].map((b) => [b, b]));
    expect(alarm?.enumeration?.every((e) => e.curated)).toBe(true);
  });

  it('dropped enumeration rows all carry a reason', () => {
    for (const d of db.droppedEnumerations) {
      expect(d.reason.length, `DDE ${d.dde}`).toBeGreaterThan(0);
      expect(Number.isInteger(d.value)).toBe(true);
    }
  });

  it('units and descriptions are short, and the common parameters have a description', () => {
    const described = params.filter((p) => p.description !== undefined);
    expect(described.length).toBeGreaterThanOrEqual(40);
    expect(described.length).toBeLessThanOrEqual(60);
    for (const p of described) {
      const d = p.description as string;
      expect(d.length, `DDE ${p.dde}`).toBeLessThanOrEqual(160);
      expect(d, `DDE ${p.dde}`).toMatch(/^[A-Z].*\.$/);
    }
    for (const dde of [1, 7, 8, 9, 12, 21, 25, 28, 55, 115, 129, 205, 206]) {
      expect(params.find((p) => p.dde === dde)?.description, `DDE ${dde}`).toBeDefined();
    }
    for (const p of params) if (p.unit !== undefined) expect(p.unit.length, `DDE ${p.dde}`).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- against the source fact sheet

const sharedPresent = existsSync(SHARED_FILE);
const skipNote = sharedPresent ? '' : ' [SKIPPED: ../shared/protocol/parameters.json is not present]';

interface SourceDb {
  parameters: Array<{ dde: number; type: string; name: string; description: string | null }>;
  enumerations: Array<{ dde: number; value: number; description: string }>;
}
const source: SourceDb | undefined = sharedPresent ? (JSON.parse(readFileSync(SHARED_FILE, 'utf8')) as SourceDb) : undefined;

/** Lower-case alphanumeric words. */
const words = (s: string): string[] => s.toLowerCase().split(/[^a-z0-9%]+/).filter((w) => w.length > 0);

describe('parameters.json against ../shared/protocol/parameters.json', () => {
  it.skipIf(!sharedPresent)(`represents every source parameter row${skipNote}`, () => {
    const src = source as SourceDb;
    expect(src.parameters).toHaveLength(db.sourceRows.parameters);
    const typeOf: Record<string, ValueType[]> = {
      Byte: ['u8'],
      UInt16: ['u16'],
      UInt32: ['u32'],
      Float: ['float'],
      String: ['string'],
      BinaryString: ['bytes'],
      BHTInteger: ['bht16', 'u16'],
    };
    for (const row of src.parameters) {
      const p = params.find((x) => x.dde === row.dde);
      expect(p, `DDE ${row.dde}`).toBeDefined();
      expect(p?.name).toBe(row.name);
      const types = [p?.valueType, ...(p?.variants?.map((v) => v.valueType) ?? [])];
      expect(types.some((t) => typeOf[row.type]?.includes(t as ValueType)), `DDE ${row.dde} ${row.type}`).toBe(true);
    }
  });

  it.skipIf(!sharedPresent)(`represents every source enumeration row${skipNote}`, () => {
    const src = source as SourceDb;
    expect(src.enumerations).toHaveLength(db.sourceRows.enumerations);
    for (const row of src.enumerations) {
      const label = row.description.replace(/\s+/g, ' ').trim();
      const p = params.find((x) => x.dde === row.dde);
      const kept = p?.enumeration?.some((e) => e.label === label && !e.curated);
      const dropped = db.droppedEnumerations.some((d) => d.dde === row.dde && d.label === label && d.value === row.value);
      expect(kept || dropped, `DDE ${row.dde} "${label}"`).toBe(true);
      // Plain (unmasked) entries keep the source value; labels may repeat (DDE 58 has seven "dmfc").
      const plain = p?.enumeration?.filter((e) => e.label === label && e.mask === undefined) ?? [];
      if (plain.length > 0) expect(plain.map((e) => e.value), `DDE ${row.dde} "${label}"`).toContain(row.value);
    }
  });

  it.skipIf(!sharedPresent)(`copies no description text from the source${skipNote}`, () => {
    // Our descriptions must be our own words: never equal to a source description, never
    // containing one of its sentences, and sharing no run of 5 words with any of them.
    const src = source as SourceDb;
    const sourceTexts = src.parameters.map((r) => r.description ?? '').filter((d) => d.trim().length > 0);
    const sourceSentences = sourceTexts
      .flatMap((d) => d.split(/[.;!?](?:\s|$)/))
      .map((s) => words(s).join(' '))
      .filter((s) => s.split(' ').length >= 3);
    const shingles = new Set<string>();
    for (const d of sourceTexts) {
      const w = words(d);
      for (let i = 0; i + 5 <= w.length; i++) shingles.add(w.slice(i, i + 5).join(' '));
    }
    const ours = params.filter((p) => p.description !== undefined);
    expect(ours.length).toBeGreaterThan(0);
    for (const p of ours) {
      const mine = words(p.description as string).join(' ');
      for (const d of sourceTexts) expect(mine, `DDE ${p.dde}`).not.toBe(words(d).join(' '));
      for (const s of sourceSentences) expect(mine.includes(s), `DDE ${p.dde} contains "${s}"`).toBe(false);
      const w = mine.split(' ');
      for (let i = 0; i + 5 <= w.length; i++) {
        const run = w.slice(i, i + 5).join(' ');
        expect(shingles.has(run), `DDE ${p.dde} shares "${run}"`).toBe(false);
      }
    }
  });
});
