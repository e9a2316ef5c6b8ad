/**
 * Builds src/params/parameters.json, the gateway's parameter database, from the
 * fact sheet ../shared/protocol/parameters.json (relative to the repository root).
 *
 *   npx tsx scripts/build-params.ts
 *   FLOWBUS_FACTS=/path/to/shared/protocol/parameters.json npx tsx scripts/build-params.ts
 *
 * The output is committed, so the project works without ../shared. Only facts
 * (numbers, names, types, ranges, access flags, enumeration labels and masks) are
 * carried over. The source's free-text `description` column is deliberately NOT
 * read: the few descriptions in the output are our own words (DESCRIPTIONS below).
 *
 * Every normalisation of the source data is a numbered rule (R1..R14) below; the
 * script throws when the result is not internally consistent.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BHT16_MAX, BHT16_MIN, type ValueType, wireTypeOf, wireTypeSize } from '../src/codec/constants.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The fact sheet; FLOWBUS_FACTS names another copy (a work tree that is not beside ../shared). */
const SOURCE_FILE = process.env.FLOWBUS_FACTS ?? join(ROOT, '..', 'shared', 'protocol', 'parameters.json');
const OUTPUT_FILE = join(ROOT, 'src', 'params', 'parameters.json');

const SOURCE_NOTE =
  'Facts from bronkhorst-propar (https://github.com/bronkhorst-developer/bronkhorst-propar): ' +
  'names, DDE numbers, types, lengths and process/FB from its 1.3.0 database; access flags, ranges, ' +
  'enumeration labels and enumeration bit masks from its 1.2.0 database. MIT License, ' +
  'Copyright (c) 2019-2023 Bronkhorst High-Tech B.V. Normalised by scripts/build-params.ts; ' +
  'descriptions are our own.';

// ---------------------------------------------------------------- source shape

interface SourceParam {
  dde: number;
  name: string;
  shortName: string | null;
  process: number;
  fbnr: number;
  type: string;
  length: number | null;
  read: boolean | null;
  write: boolean | null;
  secured: boolean | null;
  highlySecured: boolean | null;
  min: number | null;
  max: number | null;
  channelProcess: boolean | null;
}

interface SourceEnum {
  dde: number;
  value: number;
  name: string;
  description: string;
}

// ---------------------------------------------------------------- output shape

interface EnumEntryOut {
  value: number;
  label: string;
  mask?: number;
  aliases?: string[];
  curated?: true;
}

interface VariantOut {
  valueType: ValueType;
  wireType: number;
  length: number;
}

interface ParamOut {
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
  bits?: true;
  enumeration?: EnumEntryOut[];
  enumerationOpen?: true;
  maxLength?: number;
  variants?: VariantOut[];
  description?: string;
}

interface DroppedEnum {
  dde: number;
  value: number;
  label: string;
  reason: string;
}

// ---------------------------------------------------------------- rules: types

/** Largest finite IEEE-754 single. */
const FLOAT32_MAX = 3.4028234663852886e38;

const TYPE_RANGE: Record<ValueType, [number, number] | null> = {
  u8: [0, 255],
  u16: [0, 65535],
  bht16: [BHT16_MIN, BHT16_MAX],
  i16: [-32768, 32767],
  u32: [0, 4294967295],
  float: [-FLOAT32_MAX, FLOAT32_MAX],
  string: null,
  bytes: null,
};

/**
 * R2: source type -> value type.
 * BHTInteger is the Bronkhorst signed 16-bit (two's complement, -23593..41942), except:
 *  - DDE 9 (setpoint) is u16: its range is 0..32767 and bronkhorst-propar 1.3.0 forces it to unsigned.
 *  - DDE 11 (analog input) stays bht16, unlike the library (which makes it an ordinary signed int16):
 *    its range (-23593..41942) is the BHT range and it shares the measure scale (32000 = 100 %),
 *    so raw values 32768..41942 mean 102..131 %, not negative numbers. For raw values below 32768
 *    and the negative values seen on the wire (e.g. 0xFF33 = -205) both readings agree.
 */
function valueTypeOf(sourceType: string, dde: number): ValueType {
  switch (sourceType) {
    case 'Byte':
      return 'u8';
    case 'UInt16':
      return 'u16';
    case 'BHTInteger':
      return dde === 9 ? 'u16' : 'bht16';
    case 'UInt32':
      return 'u32';
    case 'Float':
      return 'float';
    case 'String':
      return 'string';
    case 'BinaryString':
      return 'bytes';
    default:
      throw new Error(`DDE ${dde}: unknown source type ${sourceType}`);
  }
}

/**
 * R1: duplicated DDE numbers become one entry with the primary type plus `variants`.
 * DDE 278 keeps UInt32 (as bronkhorst-propar 1.3.0 does); DDE 52 keeps Byte (its range is 0..255).
 */
const PRIMARY_TYPE: Record<number, string> = { 52: 'Byte', 278: 'UInt32' };

/** R8: bronkhorst-propar adds (channel - 1) to these process numbers on multi-channel instruments. */
const CHANNEL_PROCESSES = new Set([1, 33, 65, 97, 104]);

// ---------------------------------------------------------------- rules: keys

/**
 * R11: keys. Mechanical rule: split the name on non-alphanumerics; an all-capitals word
 * (acronym) becomes Capitalised (BHT -> Bht, first word bht); other words keep their inner
 * capitals (FluidName). Overrides where the rule gives something ugly or ambiguous.
 * Collisions: the lowest DDE keeps the key, later ones get `Dde<n>` appended.
 */
const KEY_OVERRIDES: Record<number, string> = {
  21: 'capacity', // "Capacity 100%": the capacity, not "capacity100"
  205: 'fMeasure', // "Fmeasure"
  206: 'fSetpoint', // "Fsetpoint"
  32: 'hostControlObsolete', // "Hostcontrl Obsolete"
  44: 'operationModeTA', // "Operation Mode TA": T/A module
};

function mechanicalKey(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter((w) => w.length > 0);
  return words
    .map((w, i) => {
      const acronym = w === w.toUpperCase();
      if (i === 0) return acronym ? w.toLowerCase() : w.charAt(0).toLowerCase() + w.slice(1);
      return acronym ? w.charAt(0) + w.slice(1).toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1);
    })
    .join('');
}

// ---------------------------------------------------------------- rules: units

/**
 * R12: units, only where the source facts (name, range, DB text) make them certain.
 * 'raw'        : the measure scale, 32000 = 100 % of capacity.
 * 'raw 24-bit' : valve drive, 0..16777215.
 * 'capacity'   : the instrument's capacity unit, read at run time from capacityUnit (DDE 129).
 * 'counter'    : the counter unit, read at run time from counterUnit (DDE 128).
 */
const UNITS: Record<number, string> = {
  8: 'raw',
  9: 'raw',
  11: 'raw',
  116: 'raw',
  117: 'raw',
  121: 'raw',
  55: 'raw 24-bit',
  21: 'capacity',
  205: 'capacity',
  206: 'capacity',
  247: 'capacity',
  248: 'capacity',
  122: 'counter',
  124: 'counter',
  10: '0.1 s',
  52: '10 ms',
  104: '5 ms',
  188: 'ms',
  192: '0.1 s',
  334: '0.1 s',
  235: 's',
  139: '%',
  397: '%',
  142: '°C',
  181: '°C',
  230: '°C',
  245: '°C',
  266: '°C',
  347: '°C',
  143: 'bar',
  246: 'bar',
  348: 'bar',
  107: 'mbar',
  149: 'Hz',
  151: 'ln/min',
  170: 'kg/m3',
  207: 'g',
};

// ---------------------------------------------------------------- descriptions (our own words)

const DESCRIPTIONS: Record<number, string> = {
  1: 'Device identification: a type code byte, a 2-character version, then the serial number; writing one digit 1-9 makes the instrument wink.',
  2: 'FLOW-BUS address of this node.',
  3: 'Second FLOW-BUS address the node answers to.',
  7: 'Security key: write 64 to unlock secured parameters, 82 to lock them again.',
  8: 'Measured value on the raw scale where 32000 means 100 % of capacity.',
  9: 'Wanted value on the raw scale where 32000 means 100 % of capacity.',
  10: 'Ramp applied to setpoint changes, in steps of 0.1 s.',
  11: 'Analog input signal on the raw scale (32000 = 100 %), e.g. an external setpoint.',
  12: 'Where the setpoint comes from, or a forced valve state (closed, purge, idle); see the enumeration.',
  21: 'Flow at 100 % (raw 32000), expressed in capacity units.',
  22: 'Kind of sensor (pressure, mass, volume, ...); 128 is added for a meter without control.',
  23: "Index of the capacity unit in Bronkhorst's classic unit table.",
  24: 'Selects the active fluid set (calibration) of the instrument.',
  25: 'Name of the active fluid, e.g. AIR or N2.',
  28: 'Bit field of active alarms and errors; see the bit list.',
  29: 'How many channels can be operated on this device.',
  55: 'Drive signal sent to the valve as a 24-bit number.',
  86: 'Bits reporting jumpers, switches and IO state of the instrument.',
  90: 'Short device type text such as DMFC.',
  91: 'Bronkhorst model code of the instrument.',
  92: 'Serial number of the instrument.',
  93: 'Model text chosen for the customer.',
  105: 'Firmware revision text.',
  114: 'Write-only command that resets the counter, the alarm or the whole module depending on the value.',
  115: 'Free text label stored in the instrument by the user.',
  116: 'Upper alarm limit on the raw measure scale (32000 = 100 %).',
  117: 'Lower alarm limit on the raw measure scale (32000 = 100 %).',
  118: 'Alarm behaviour: off, absolute limits, limits around the setpoint, or power-up alarm.',
  119: 'What the relay does when an alarm occurs.',
  120: 'Whether the instrument moves to a safe setpoint while an alarm is active.',
  121: 'Setpoint (raw scale) used during an alarm when the alarm setpoint mode asks for it.',
  122: 'Amount totalised by the counter, in the counter unit.',
  123: 'Index of the counter unit in the classic counter unit table.',
  124: 'Batch limit of the counter, in the counter unit.',
  128: 'Unit text of the counter, e.g. ln.',
  129: 'Unit text of capacity, fMeasure and fSetpoint, e.g. ln/min.',
  130: 'Counter operation: off, counting up without end, or counting up to the limit.',
  139: 'Percentage applied to the master output in master/slave control.',
  142: 'Temperature reading in degrees Celsius.',
  143: 'Pressure reading; bar on most instruments.',
  170: 'Fluid density used for conversions, in kg/m3.',
  175: 'Device type code; the same code is the first byte of the identification string.',
  182: 'Delay before an alarm and its reset action take effect.',
  184: 'Number of channels this device offers.',
  185: 'Role of the device on the bus (controller, meter, interface, ...).',
  205: 'Measured flow in capacity units (the unit string is capacityUnit).',
  206: 'Setpoint in capacity units; the float counterpart of setpoint.',
  207: 'Mass reading in grams.',
  247: 'Lower end of the usable range, in capacity units.',
  248: 'Upper end of the usable range, in capacity units.',
};

// ---------------------------------------------------------------- rules: enumerations

/**
 * R9a: bit masks of bit-field parameters. The fact sheet lost the `filter` column of
 * bronkhorst-propar's `parvalue` table, which leaves these parameters with duplicate
 * values (e.g. eight "value 1" rows for IO Status). The masks below are that column's
 * facts (bronkhorst-propar propar/parameters.json, MIT), keyed by the row's label.
 */
const MASKS: Record<number, Array<[number, string[]]>> = {
  53: [
    [0x3f, ['0...5 Vdc operation', '0...10 Vdc operation', '0...20 mA operation', '4...20 mA operation', '15...20 mA operation']],
    [0x40, ['Analog input enabled', 'Analog input disabled']],
    [0x80, ['Analog output enabled', 'Analog output disabled']],
  ],
  67: [
    [0x1c0000, ['ADC gain = 1x', 'ADC gain = 2x', 'ADC gain = 4x', 'ADC gain = 8x', 'ADC gain = 16x', 'ADC gain = 32x', 'ADC gain = 64x', 'ADC gain = 128x']],
    [0x1000, ['ADC bipolar mode', 'ADC unipolar mode']],
    [0x1000000, ['Enable zero measure threshold', 'Disable zero measure threshold']],
  ],
  86: [
    [0x01, ['read diagnostic jumper (no diagnostics, read/write)']],
    [0x02, ['not used']],
    [0x04, ['read analog jumper (use cntrlmode, read/write)']],
    [0x08, ['read micro switch (read/write)']],
    [0x10, ['diagnostic jumper set (read only)']],
    [0x20, ['initialization jumper set (read only)']],
    [0x40, ['analog jumper set (read only)']],
    [0x80, ['micro switch pressed (read only)']],
  ],
  166: [
    [0x01, ['valve in normal position after startup', 'valve in safe position after startup']],
    [0x02, ['open from zero with PID output to valve', 'open from zero with ramp output to valve']],
    [0x04, ['fixed monitor output signal', 'monitor output changed at setpoint steps']],
    [0x08, ['voltage drift compensation for valve output turned on', 'voltage drift compensation for valve output turned off']],
    [0x10, ['auto slope disabled', 'auto slope enabled for pilot valves']],
    [0x20, ['automatic correction for valve open turned on', 'automatic correction for valve open turned off']],
    [0x40, ['controller special mode (valve output steps) turned off', 'controller special mode (valve output steps) turned on']],
    [0x80, ['valve overshoot protection turned on', 'valve overshoot protection turned off']],
  ],
  197: [
    [0x01, ['Automatic capacity setting for optimal resolution', 'Manual capacity setting for optimal resolution']],
    [0x02, ['Barometer value input via parameter 107: BaroPress', 'Barometer is master; input automatically from master']],
  ],
  238: [
    [0x01, ['Fluidset is enabled', 'Fluidset is disabled']],
    [0x02, ['Fluidset is factory set', 'Fluidset is not factory set']],
    [0x04, ['Fluidset is calibrated on actual gas', 'Fluidset is not calibrated on actual gas']],
  ],
  295: [
    [0x01, ['Bridge on']],
    [0x02, ['3 windings C']],
    [0x04, ['3 windings D']],
    [0x100, ['Automatic sensor configuration on']],
    [0x200, ['Sensor protection enabled']],
  ],
  354: [
    [0x01, ['Temperature from fluidset temperature parameter (p181)', 'Temperature from temperature sensor parameter (p142)']],
    [0x02, ['Pressure from fluidset pressure inlet parameter (p178)', 'Pressure from pressure sensor parameter (p143)']],
  ],
};

/**
 * R9b: Alarm Info (DDE 28) gets a hand-curated list of its 8 bits (PROTOCOL.md 8.3): the
 * source's 16 rows ("bit clear"/"bit set" per bit, masks lost) are superseded and listed
 * in droppedEnumerations. Entry value = mask = the bit; only set bits are named.
 */
const ALARM_INFO_BITS: EnumEntryOut[] = [
  { value: 0x01, mask: 0x01, label: 'error present', curated: true },
  { value: 0x02, mask: 0x02, label: 'warning present', curated: true },
  { value: 0x04, mask: 0x04, label: 'minimum alarm', curated: true },
  { value: 0x08, mask: 0x08, label: 'maximum alarm', curated: true },
  { value: 0x10, mask: 0x10, label: 'batch counter limit reached', curated: true },
  { value: 0x20, mask: 0x20, label: 'response alarm (setpoint-measure)', curated: true },
  { value: 0x40, mask: 0x40, label: 'master output signal missing', curated: true },
  { value: 0x80, mask: 0x80, label: 'hardware error', curated: true },
];

/** R9c: friendly aliases for control mode (DDE 12), matched like labels (case/punctuation-insensitive). */
const ENUM_ALIASES: Record<number, Record<number, string[]>> = {
  12: {
    0: ['bus', 'bus setpoint', 'digital'],
    1: ['analog', 'analog input'],
    3: ['valve closed', 'closed', 'close'],
    4: ['idle', 'controller idle'],
    7: ['setpoint 100%', 'full scale'],
    8: ['purge', 'valve open', 'open'],
    12: ['setpoint 0%', 'zero'],
    18: ['rs232', 'rs232 setpoint'],
    20: ['valve steering'],
    22: ['safe state', 'valve safe'],
  },
};

/**
 * R13: enumerations known to be incomplete ("open"): a value they do not list may still be
 * valid, so the gateway accepts any value in range. Every other enumeration is closed: only
 * its listed values (for a bit field: only bits and field values its entries describe) are
 * written. Each entry says what in the source data shows the list is incomplete.
 */
const OPEN_ENUMERATIONS: Record<number, string> = {
  // The source's rows for 0 and 127 both say "set status bit (range 0-127)": every number of
  // that range sets one status bit, and only its two ends are listed.
  213: 'rows 0 and 127 describe a range (set status bit 0..127)',
  // A catalogue of device types (the same code is byte 0 of the ID string); devices newer than
  // the database have codes it does not list (PROTOCOL.md 8.3 counts 43 codes, not a closed set).
  175: 'device type catalogue; newer device types have codes it does not list',
};

/**
 * R14: the longest text some variable-length strings (length 0 = NUL-terminated in the source)
 * really hold on an instrument. User tag: 16 characters, the field the captures read back with
 * length 16 ("USERTAG" + 9 NUL, PROTOCOL.md 5). Other variable-length strings are limited only
 * by what one ProPar write carries (src/params/values.ts) and the bus's request budget.
 */
const MAX_LENGTHS: Record<number, number> = {
  115: 16,
};

/** Case- and punctuation-insensitive form used for every text match (same as src/params). */
function normalise(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '');
}

function trailingZeros(mask: number): number {
  let n = 0;
  while (n < 53 && Math.floor(mask / 2 ** n) % 2 === 0) n++;
  return n;
}

// ---------------------------------------------------------------- build

function fail(message: string): never {
  throw new Error(`build-params: ${message}`);
}

function build(): { parameters: ParamOut[]; dropped: DroppedEnum[]; sourceParams: number; sourceEnums: number } {
  const source = JSON.parse(readFileSync(SOURCE_FILE, 'utf8')) as {
    parameters: SourceParam[];
    enumerations: SourceEnum[];
  };

  // R1: group rows by DDE number.
  const rowsByDde = new Map<number, SourceParam[]>();
  for (const row of source.parameters) {
    const list = rowsByDde.get(row.dde) ?? [];
    list.push(row);
    rowsByDde.set(row.dde, list);
  }

  const parameters: ParamOut[] = [];
  for (const [dde, rows] of [...rowsByDde.entries()].sort((a, b) => a[0] - b[0])) {
    let primary = rows[0]!;
    if (rows.length > 1) {
      const wanted = PRIMARY_TYPE[dde] ?? fail(`DDE ${dde} is duplicated but has no PRIMARY_TYPE`);
      primary = rows.find((r) => r.type === wanted) ?? fail(`DDE ${dde}: no ${wanted} row`);
      for (const r of rows) {
        if (r.process !== primary.process || r.fbnr !== primary.fbnr || r.name !== primary.name) {
          fail(`DDE ${dde}: duplicate rows disagree on name or address`);
        }
      }
    }
    const valueType = valueTypeOf(primary.type, dde);
    const wireType = wireTypeOf(valueType);
    const fixedSize = wireTypeSize(wireType);

    // R3: fixed-size types take the type size (the source has length null for 47 of them);
    // strings keep their fixed length N, or 0 = variable (NUL-terminated) when null.
    let length: number;
    if (fixedSize !== undefined) {
      if (primary.length !== null && primary.length !== fixedSize) fail(`DDE ${dde}: length ${primary.length} for ${valueType}`);
      length = fixedSize;
    } else {
      length = primary.length ?? 0;
    }

    // R4..R6: ranges.
    let min: number | null = null;
    let max: number | null = null;
    const typeRange = TYPE_RANGE[valueType];
    if (typeRange) {
      // R4: numeric parameters without a range (DDE 440, 444: v1.3.0-only rows) get the full type range.
      min = primary.min ?? typeRange[0];
      max = primary.max ?? typeRange[1];
      // R5: clamp to what the type can carry. Fixes UInt16 mins of -32767 (DDE 59, 75, 77, 108, 110, 112),
      // negative UInt32 mins (96, 102, 279, 368-372), UInt32 max 1e10 (201, 310, 328, 330) and
      // float limits of +-3.4e40 (393, 395, 402-409, 422-425) which exceed IEEE single.
      min = Math.min(Math.max(min, typeRange[0]), typeRange[1]);
      max = Math.max(Math.min(max, typeRange[1]), typeRange[0]);
    }
    // R6: string/byte-string parameters have no numeric range (the source gives 0..99235959 for the
    // date strings 40/41, 0..99 for 237 and 0..255 for 260, which describe their text content).

    // R7: the v1.3.0-only rows (DDE 440, 444) have no access columns: assume read/write, not secured
    // (the instrument still refuses what it does not allow, with a status reply).
    const read = primary.read ?? true;
    const write = primary.write ?? true;
    const secured = primary.secured ?? false;
    const highlySecured = primary.highlySecured ?? false;

    const param: ParamOut = {
      dde,
      key: KEY_OVERRIDES[dde] ?? mechanicalKey(primary.name),
      name: primary.name,
      shortName: primary.shortName,
      process: primary.process,
      fbnr: primary.fbnr,
      valueType,
      wireType,
      length,
      read,
      write,
      secured,
      highlySecured,
      min,
      max,
      // R8: channelProcess = "the library's channel offset applies" (process 1, 33, 65, 97, 104).
      // The source flag only marked process 1 (the empty process column of the 1.2.0 DB).
      channelProcess: CHANNEL_PROCESSES.has(primary.process),
    };
    const unit = UNITS[dde];
    if (unit !== undefined) param.unit = unit;

    if (rows.length > 1) {
      param.variants = rows
        .filter((r) => r !== primary)
        .map((r) => {
          const vt = valueTypeOf(r.type, dde);
          const wt = wireTypeOf(vt);
          return { valueType: vt, wireType: wt, length: wireTypeSize(wt) ?? r.length ?? 0 };
        });
    }
    const description = DESCRIPTIONS[dde];
    if (description !== undefined) param.description = description;
    parameters.push(param);
  }

  // R11: resolve key collisions deterministically (lowest DDE keeps the key).
  const keyOwner = new Map<string, number>();
  for (const p of parameters) {
    if (keyOwner.has(p.key)) p.key = `${p.key}Dde${p.dde}`;
    if (keyOwner.has(p.key)) fail(`key ${p.key} still collides`);
    keyOwner.set(p.key, p.dde);
  }

  // R9: enumerations.
  const byDde = new Map(parameters.map((p) => [p.dde, p]));
  const dropped: DroppedEnum[] = [];
  for (const row of source.enumerations) {
    // R9d: collapse runs of whitespace in labels ("temperature in  degrees C").
    const label = row.description.replace(/\s+/g, ' ').trim();
    const param = byDde.get(row.dde);
    if (!param) {
      // DDE 69 (Alarm Enable) exists only in the 1.2.0 DB; 1.3.0 dropped the parameter.
      dropped.push({ dde: row.dde, value: row.value, label, reason: 'parameter not in the 1.3.0 database' });
      continue;
    }
    if (param.valueType === 'string' || param.valueType === 'bytes') {
      // DDE 61, 62, 208-210: flags about the top bit of a register delivered as a (byte) string;
      // a string value cannot be looked up in an enumeration.
      dropped.push({ dde: row.dde, value: row.value, label, reason: 'describes a bit of a string-typed register' });
      continue;
    }
    if (row.dde === 28) {
      dropped.push({ dde: row.dde, value: row.value, label, reason: 'superseded by the curated Alarm Info bit list' });
      continue;
    }
    const entry: EnumEntryOut = { value: row.value, label };
    const masks = MASKS[row.dde];
    if (masks) {
      const found = masks.find(([, labels]) => labels.includes(label));
      if (!found) fail(`DDE ${row.dde}: no mask for label "${label}"`);
      const mask = found[0];
      // R9a: store values "in position" so that (raw & mask) === value. The source mixes shifted
      // field values (gain 0..7 under 0x1C0000, flags 0/1 under 0x80) with in-position ones (238, 354).
      const inPosition = (row.value & ~mask) === 0;
      entry.value = inPosition ? row.value : row.value * 2 ** trailingZeros(mask);
      entry.mask = mask;
      param.bits = true;
    }
    const aliases = ENUM_ALIASES[row.dde]?.[row.value];
    if (aliases) entry.aliases = aliases;
    (param.enumeration ??= []).push(entry);
  }
  for (const dde of Object.keys(OPEN_ENUMERATIONS).map(Number)) {
    const param = byDde.get(dde) ?? fail(`OPEN_ENUMERATIONS: no DDE ${dde}`);
    if (!param.enumeration) fail(`OPEN_ENUMERATIONS: DDE ${dde} has no enumeration`);
    param.enumerationOpen = true;
  }
  for (const [dde, max] of Object.entries(MAX_LENGTHS).map(([d, m]) => [Number(d), m] as const)) {
    const param = byDde.get(dde) ?? fail(`MAX_LENGTHS: no DDE ${dde}`);
    if (param.valueType !== 'string' || param.length !== 0) fail(`MAX_LENGTHS: DDE ${dde} is not a variable-length string`);
    param.maxLength = max;
  }
  const alarmInfo = byDde.get(28) ?? fail('no DDE 28');
  alarmInfo.enumeration = ALARM_INFO_BITS.map((e) => ({ ...e }));
  alarmInfo.bits = true;
  for (const p of parameters) {
    p.enumeration?.sort((a, b) => (a.mask ?? 0) - (b.mask ?? 0) || a.value - b.value);
  }

  check(parameters, dropped, source.parameters.length, source.enumerations.length);
  return { parameters, dropped, sourceParams: source.parameters.length, sourceEnums: source.enumerations.length };
}

/** R10: the result must be internally consistent; any failure aborts the build. */
function check(parameters: ParamOut[], dropped: DroppedEnum[], sourceParams: number, sourceEnums: number): void {
  const rows = parameters.reduce((n, p) => n + 1 + (p.variants?.length ?? 0), 0);
  if (rows !== sourceParams) fail(`${rows} parameter rows represented, source has ${sourceParams}`);
  const enumRows =
    parameters.reduce((n, p) => n + (p.enumeration?.filter((e) => !e.curated).length ?? 0), 0) + dropped.length;
  if (enumRows !== sourceEnums) fail(`${enumRows} enumeration rows accounted for, source has ${sourceEnums}`);
  for (const p of parameters) {
    if (p.min !== null && p.max !== null && p.min > p.max) fail(`DDE ${p.dde}: min > max`);
    const range = TYPE_RANGE[p.valueType];
    if (range && (p.min === null || p.max === null || p.min < range[0] || p.max > range[1])) {
      fail(`DDE ${p.dde}: range ${p.min}..${p.max} does not fit ${p.valueType}`);
    }
    if (!range && (p.min !== null || p.max !== null)) fail(`DDE ${p.dde}: range on a ${p.valueType}`);
    const seen = new Map<string, number>();
    for (const e of p.enumeration ?? []) {
      if (p.min !== null && p.max !== null && (e.value < p.min || e.value > p.max)) {
        fail(`DDE ${p.dde}: enumeration value ${e.value} outside ${p.min}..${p.max}`);
      }
      const id = `${e.mask ?? 'all'}/${e.value}`;
      if (seen.has(id)) fail(`DDE ${p.dde}: duplicate enumeration value ${id}`);
      seen.set(id, e.value);
      for (const alias of e.aliases ?? []) {
        const clash = p.enumeration?.find((o) => o !== e && (normalise(o.label) === normalise(alias) || o.aliases?.some((a) => normalise(a) === normalise(alias))));
        if (clash) fail(`DDE ${p.dde}: alias "${alias}" clashes with value ${clash.value}`);
      }
    }
  }
}

const { parameters, dropped, sourceParams, sourceEnums } = build();
const output = {
  source: SOURCE_NOTE,
  license: 'MIT',
  generatedBy: 'scripts/build-params.ts',
  sourceRows: { parameters: sourceParams, enumerations: sourceEnums },
  parameters,
  droppedEnumerations: dropped,
};
writeFileSync(OUTPUT_FILE, JSON.stringify(output, null, 2) + '\n');
console.log(
  `wrote ${OUTPUT_FILE}: ${parameters.length} parameters (${sourceParams} source rows), ` +
    `${parameters.reduce((n, p) => n + (p.enumeration?.length ?? 0), 0)} enumeration entries, ` +
    `${dropped.length} source enumeration rows dropped`,
);
