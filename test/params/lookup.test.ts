import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../../src/shared/index.js';
import {
  CHANNEL_PROCESSES,
  allParams,
  findParam,
  PARAMS_SOURCE,
  paramByAddress,
  paramByDde,
  paramsByAddress,
  resolveParam,
  searchParams,
  suggestParams,
  valueTypeFor,
} from '../../src/params/index.js';
import { MAX_SEARCH_CHARS, editDistanceWithin } from '../../src/params/db.js';

describe('findParam', () => {
  it.each([
    ['fmeasure', 205],
    ['fMeasure', 205],
    ['Fmeasure', 205],
    ['f-measure', 205],
    ['F MEASURE', 205],
    ['205', 205],
    [' 205 ', 205],
    ['dde 205', 205],
    ['capacity unit', 129],
    ['capacityUnit', 129],
    ['Capacity Unit', 129],
    ['capunitstr', 129],
    ['fSetpoint', 206],
    ['Fluid Name', 25],
    ['controlMode', 12],
    ['cntrlmode', 12],
    ['measure', 8],
    ['setpoint', 9],
    ['valveOutput', 55],
    ['alarmInfo', 28],
    ['identificationString', 1],
    ['bhtModelNumber', 91],
    ['BHT Model Number', 91],
    ['serialNumber', 92],
    ['userTag', 115],
    ['capacity', 21],
    ['Capacity 100%', 21],
    ['capacityUnitIndex', 23],
    ['initReset', 7],
    ['primaryNodeAddress', 2],
    ['pna', 2],
  ] as const)('%s -> DDE %i', (text, dde) => {
    expect(findParam(text)?.dde).toBe(dde);
  });

  it('takes a DDE number', () => {
    expect(findParam(205)?.key).toBe('fMeasure');
    expect(findParam(129)?.key).toBe('capacityUnit');
    expect(findParam(9999)).toBeUndefined();
    expect(findParam(1.5)).toBeUndefined();
  });

  it('returns undefined for unknown or empty text', () => {
    expect(findParam('no such parameter')).toBeUndefined();
    expect(findParam('')).toBeUndefined();
    expect(findParam('---')).toBeUndefined();
  });

  it('finds every parameter by its key, name and DDE number', () => {
    for (const p of allParams()) {
      expect(findParam(p.key), p.key).toBe(p);
      expect(findParam(p.dde), String(p.dde)).toBe(p);
      expect(findParam(String(p.dde)), String(p.dde)).toBe(p);
      // Two parameters are both called "Impulses Per m3" (DDE 150 and 440): the lower DDE owns the name.
      if (p.dde !== 440) expect(findParam(p.name), p.name).toBe(p);
    }
  });
});

describe('paramByDde / allParams', () => {
  it('has 425 parameters sorted by DDE number', () => {
    const all = allParams();
    expect(all).toHaveLength(425);
    expect(all.map((p) => p.dde)).toEqual([...all.map((p) => p.dde)].sort((a, b) => a - b));
    expect(paramByDde(205)?.name).toBe('Fmeasure');
    expect(paramByDde(64)).toBeUndefined();
  });

  it('exposes frozen definitions', () => {
    const p = paramByDde(205)!;
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(allParams())).toBe(true);
  });

  it('names the data source', () => {
    expect(PARAMS_SOURCE).toMatch(/bronkhorst-propar.*MIT/s);
  });
});

describe('resolveParam', () => {
  it('returns the definition for a known parameter', () => {
    expect(resolveParam('f-measure').dde).toBe(205);
    expect(resolveParam(129).key).toBe('capacityUnit');
    const p = paramByDde(12)!;
    expect(resolveParam(p)).toBe(p);
  });

  it('throws PARAM_UNKNOWN with up to 5 suggestions', () => {
    let caught: unknown;
    try {
      resolveParam('fmesure');
    } catch (err) {
      caught = err;
    }
    expect(isGatewayError(caught)).toBe(true);
    if (!isGatewayError(caught)) return;
    expect(caught.code).toBe('PARAM_UNKNOWN');
    expect(caught.details.param).toBe('fmesure');
    const suggestions = caught.details.suggestions as string[];
    expect(suggestions.length).toBeGreaterThan(0);
    expect(suggestions.length).toBeLessThanOrEqual(5);
    expect(suggestions[0]).toBe('fMeasure');
    expect(caught.message).toContain('fMeasure');
  });

  it('throws PARAM_UNKNOWN for an unknown DDE number', () => {
    expect(() => resolveParam(9999)).toThrow(expect.objectContaining({ code: 'PARAM_UNKNOWN' }));
  });

  it('suggests close keys', () => {
    expect(suggestParams('capacityunt')).toContain('capacityUnit');
    expect(suggestParams('temprature')).toContain('temperature');
    expect(suggestParams('zzzzzzzzzzzz')).toEqual([]);
  });
});

describe('process/FB addresses (PROTOCOL.md 8.3)', () => {
  it('lists all candidates of an ambiguous pair', () => {
    expect(paramsByAddress(1, 0).map((p) => p.dde)).toEqual([8, 36]);
    expect(paramsByAddress(1, 1).map((p) => p.dde)).toEqual([9, 37, 132]);
    expect(paramsByAddress(1, 2).map((p) => p.dde)).toEqual([10, 38, 133, 148]);
    expect(paramsByAddress(1, 17).map((p) => p.dde)).toEqual([25, 155]);
    expect(paramsByAddress(1, 0, 0x40).map((p) => p.dde)).toEqual([36]);
    expect(paramsByAddress(99, 31)).toEqual([]);
  });

  it('prefers a matching wire type, then the lowest DDE number', () => {
    expect(paramByAddress(1, 0, 0x20)?.dde).toBe(8);
    expect(paramByAddress(1, 0, 0x40)?.dde).toBe(36);
    expect(paramByAddress(1, 1, 0x20)?.dde).toBe(9);
    expect(paramByAddress(1, 1, 0x60)?.dde).toBe(37);
    expect(paramByAddress(1, 1, 0x40)?.dde).toBe(132);
    expect(paramByAddress(1, 17, 0x60)?.dde).toBe(25);
    expect(paramByAddress(1, 16, 0x00)?.dde).toBe(24);
    expect(paramByAddress(1, 27, 0x40)?.dde).toBe(247);
    expect(paramByAddress(1, 27, 0x20)?.dde).toBe(110);
    expect(paramByAddress(116, 30, 0x40)?.dde).toBe(279);
  });

  it('decodes the Bright poll addresses of PROTOCOL.md 5.2', () => {
    expect(paramByAddress(1, 0, 0x20)?.key).toBe('measure');
    expect(paramByAddress(1, 1, 0x20)?.key).toBe('setpoint');
    expect(paramByAddress(1, 3, 0x20)?.key).toBe('analogInput');
    expect(paramByAddress(1, 20, 0x00)?.key).toBe('alarmInfo');
    expect(paramByAddress(114, 1, 0x40)?.key).toBe('valveOutput');
    expect(paramByAddress(104, 1, 0x40)?.key).toBe('counterValue');
    expect(paramByAddress(33, 7, 0x40)?.key).toBe('temperature');
    expect(paramByAddress(33, 0, 0x40)?.key).toBe('fMeasure');
  });

  it('matches the variants of DDE 52 and 278', () => {
    expect(paramByAddress(114, 12, 0x00)?.dde).toBe(52);
    expect(paramByAddress(114, 12, 0x40)?.dde).toBe(52);
    expect(valueTypeFor(paramByDde(52)!, 0x40)).toBe('float');
    expect(valueTypeFor(paramByDde(52)!, 0x00)).toBe('u8');
    expect(valueTypeFor(paramByDde(278)!, 0x20)).toBe('u16');
    expect(valueTypeFor(paramByDde(278)!, 0x60)).toBeUndefined();
  });

  it('falls back to the lowest DDE when no candidate has the wire type', () => {
    // PROTOCOL.md 5.1: the ID string read as type 0x00 returned one char.
    const p = paramByAddress(0, 0, 0x00);
    expect(p?.dde).toBe(1);
    expect(valueTypeFor(p!, 0x00)).toBeUndefined();
    expect(paramByAddress(99, 31, 0x00)).toBeUndefined();
  });

  it('knows the channel processes', () => {
    expect(CHANNEL_PROCESSES).toEqual([1, 33, 65, 97, 104]);
    expect(paramByDde(205)?.channelProcess).toBe(true);
    expect(paramByDde(55)?.channelProcess).toBe(false);
  });
});

describe('common parameters (PROTOCOL.md 8.2)', () => {
  it('DDE 205 fMeasure = process 33 FB 0 float, read-only, unit from capacity', () => {
    const p = paramByDde(205)!;
    expect(p).toMatchObject({ key: 'fMeasure', process: 33, fbnr: 0, valueType: 'float', wireType: 0x40, length: 4, write: false, unit: 'capacity' });
  });

  it('DDE 129 capacityUnit = 1/31 string of fixed length 7', () => {
    expect(paramByDde(129)).toMatchObject({ key: 'capacityUnit', process: 1, fbnr: 31, valueType: 'string', wireType: 0x60, length: 7, secured: true });
  });

  it('DDE 55 valveOutput = 114/1 u32 0..16777215', () => {
    expect(paramByDde(55)).toMatchObject({ process: 114, fbnr: 1, valueType: 'u32', min: 0, max: 16777215, unit: 'raw 24-bit' });
  });

  it('DDE 12 control mode enumerates 3 = close valve', () => {
    const p = paramByDde(12)!;
    expect(p).toMatchObject({ key: 'controlMode', process: 1, fbnr: 4, valueType: 'u8' });
    expect(p.enumeration?.find((e) => e.value === 3)?.label).toBe('close valve');
    expect(p.enumeration).toHaveLength(25);
  });

  it.each([
    // dde, key, process, fbnr, valueType, length, read, write, min, max
    [1, 'identificationString', 0, 0, 'string', 0, true, true, null, null],
    [2, 'primaryNodeAddress', 0, 1, 'u8', 1, true, true, 0, 128],
    [7, 'initReset', 0, 10, 'u8', 1, true, true, 0, 255],
    [8, 'measure', 1, 0, 'bht16', 2, true, true, -23593, 41942],
    [9, 'setpoint', 1, 1, 'u16', 2, true, true, 0, 32767],
    [10, 'setpointSlope', 1, 2, 'u16', 2, true, true, 0, 30000],
    [11, 'analogInput', 1, 3, 'bht16', 2, true, false, -23593, 41942],
    [21, 'capacity', 1, 13, 'float', 4, true, true, -3.40282e38, 3.40282e38],
    [24, 'fluidsetIndex', 1, 16, 'u8', 1, true, true, 0, 8],
    [25, 'fluidName', 1, 17, 'string', 10, true, true, null, null],
    [28, 'alarmInfo', 1, 20, 'u8', 1, true, false, 0, 255],
    [29, 'channelAmount', 0, 12, 'u8', 1, true, true, 1, 120],
    [90, 'deviceType', 113, 1, 'string', 6, true, false, null, null],
    [91, 'bhtModelNumber', 113, 2, 'string', 0, true, true, null, null],
    [92, 'serialNumber', 113, 3, 'string', 0, true, true, null, null],
    [114, 'reset', 115, 8, 'u8', 1, false, true, 0, 255],
    [115, 'userTag', 113, 6, 'string', 0, true, true, null, null],
    [116, 'alarmLimitMaximum', 97, 1, 'u16', 2, true, true, 0, 41600],
    [122, 'counterValue', 104, 1, 'float', 4, true, true, 0, 3.40282e38],
    [128, 'counterUnit', 104, 7, 'string', 4, true, true, null, null],
    [142, 'temperature', 33, 7, 'float', 4, true, true, -250, 500],
    [158, 'masterNode', 33, 14, 'u8', 1, true, true, 1, 128],
    [175, 'identificationNumber', 113, 12, 'u8', 1, true, true, 0, 255],
    [206, 'fSetpoint', 33, 3, 'float', 4, true, true, -3.40282e38, 3.40282e38],
    [236, 'ifiData', 0, 21, 'bytes', 0, true, true, null, null],
    [269, 'capacityUnitIndexExt', 65, 15, 'u8', 1, true, true, 0, 255],
    [326, 'hardwarePlatformId', 0, 6, 'u16', 2, true, false, 0, 65535],
  ] as const)('DDE %i %s', (dde, key, process, fbnr, valueType, length, read, write, min, max) => {
    expect(paramByDde(dde)).toMatchObject({ dde, key, process, fbnr, valueType, length, read, write, min, max });
  });

  it('normalises the out-of-type ranges of the source', () => {
    // 1e10 does not fit a u32; +-3.4e40 does not fit a float.
    expect(paramByDde(201)).toMatchObject({ valueType: 'u32', min: 0, max: 4294967295 });
    expect(paramByDde(393)).toMatchObject({ valueType: 'float', length: 4, min: -3.4028234663852886e38, max: 3.4028234663852886e38 });
    expect(paramByDde(59)).toMatchObject({ valueType: 'u16', min: 0, max: 65535 });
  });

  it('marks secured and highly secured parameters', () => {
    expect(paramByDde(2)).toMatchObject({ secured: true, highlySecured: true });
    expect(paramByDde(21)).toMatchObject({ secured: true, highlySecured: false });
    expect(paramByDde(9)).toMatchObject({ secured: false, highlySecured: false });
  });
});

describe('searchParams', () => {
  it('ranks an exact match first', () => {
    const hits = searchParams('fmeasure');
    expect(hits[0]?.param.dde).toBe(205);
    expect(hits[0]?.score).toBe(100);
    expect(searchParams('205')[0]).toMatchObject({ score: 100, matchedOn: 'dde' });
  });

  it('finds by prefix and substring, common parameters first', () => {
    expect(searchParams('temp')[0]?.param.key).toBe('temperature');
    expect(searchParams('valve')[0]?.param.key).toBe('valveOutput');
    const unit = searchParams('unit').map((h) => h.param.key);
    expect(unit).toContain('capacityUnit');
    expect(unit).toContain('counterUnit');
  });

  it('finds by words of the description and enumeration labels', () => {
    expect(searchParams('wink').map((h) => h.param.dde)).toContain(1);
    expect(searchParams('purge').map((h) => h.param.dde)).toContain(12);
  });

  it('tolerates typos', () => {
    expect(searchParams('fmesure')[0]?.param.dde).toBe(205);
    expect(searchParams('temperture')[0]?.param.dde).toBe(142);
  });

  it('returns scores in descending order and honours the limit', () => {
    const hits = searchParams('a', 10);
    expect(hits.length).toBeLessThanOrEqual(10);
    for (let i = 1; i < hits.length; i++) expect(hits[i - 1]!.score).toBeGreaterThanOrEqual(hits[i]!.score);
    expect(searchParams('')).toEqual([]);
    expect(searchParams('qqqqqqqqqqqq')).toEqual([]);
  });
});

describe('the cost of unknown names is bounded', () => {
  it('refuses a name longer than any parameter name without searching, naming the limit', () => {
    const name = 'fSetpoint'.repeat(8); // 72 characters: longer than MAX_SEARCH_CHARS
    let caught: unknown;
    try {
      resolveParam(name);
    } catch (err) {
      caught = err;
    }
    expect(isGatewayError(caught) && caught.code).toBe('PARAM_UNKNOWN');
    if (!isGatewayError(caught)) return;
    expect(caught.details).toMatchObject({ length: 72, max: MAX_SEARCH_CHARS, suggestions: [] });
    expect(caught.message).toContain(`at most ${MAX_SEARCH_CHARS}`);
    // The message and details carry only the start of the text, not all of it.
    expect(caught.message.length).toBeLessThan(200);
    expect(String(caught.details.param).length).toBeLessThanOrEqual(MAX_SEARCH_CHARS);
    expect(MAX_SEARCH_CHARS).toBeGreaterThanOrEqual(Math.max(...allParams().flatMap((p) => [p.key, p.name, p.shortName ?? ''].map((t) => t.replace(/[^A-Za-z0-9]/g, '').length))));
  });

  it('still suggests for names up to the limit', () => {
    expect(suggestParams('operationalHistoryParameterStandardDeviatoin')).toContain('operationalHistoryParameterStandardDeviation');
    expect(suggestParams('x'.repeat(MAX_SEARCH_CHARS + 1))).toEqual([]);
  });

  it('"did you mean" offers nothing more than 5 edits away', () => {
    // 9 edits from primaryNodeAddress, 1 from secondaryNodeAddress.
    expect(suggestParams('secondaryNodeAddressx')).toEqual(['secondaryNodeAddress']);
  });

  /** Plain Levenshtein distance, the oracle for the banded one. */
  function levenshtein(a: string, b: string): number {
    const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    return d[a.length]![b.length]!;
  }

  it('the banded edit distance agrees with plain Levenshtein up to its bound', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const word = () => Array.from({ length: rnd(14) }, () => 'abcde19'[rnd(7)]).join('');
    for (let n = 0; n < 3000; n++) {
      const a = word();
      const b = word();
      const k = rnd(8);
      expect(editDistanceWithin(a, b, k), `${a} / ${b} / ${k}`).toBe(Math.min(levenshtein(a, b), k + 1));
    }
  });
});
