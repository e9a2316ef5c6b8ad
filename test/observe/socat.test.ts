import { describe, expect, it } from 'vitest';
import { formatSocatRecord, formatSocatTime, parseSocatCapture } from '../../src/observe/index.js';
import { HAVE_CAPTURES, readCapture, SKIP_MESSAGE } from './helpers.js';

const SAMPLE = [
  '> 2015/06/08 13:38:21.012908  length=24 from=0 to=23',
  ' 10 02 01 80 11 04 01 80 00 01 81 00 02 82 00 03 83 00 04 04 00 05 10 03',
  '< 2015/06/08 13:38:21.028538  length=19 from=0 to=18',
  ' 10 02 01 80 0c 02 01 80 03 81 7f 82 04 83 20 04 43 10 03',
  '',
].join('\n');

describe('parseSocatCapture', () => {
  it('reads records with microsecond times', () => {
    const { records, problems } = parseSocatCapture(SAMPLE);
    expect(problems).toEqual([]);
    expect(records).toHaveLength(2);
    const [a, b] = records;
    expect(a?.direction).toBe('>');
    expect(a?.time).toBe(Date.UTC(2015, 5, 8, 13, 38, 21) * 1000 + 12908);
    expect(a?.length).toBe(24);
    expect(a?.from).toBe(0);
    expect(a?.to).toBe(23);
    expect(a?.bytes[4]).toBe(0x11);
    expect(a?.line).toBe(1);
    expect(b?.direction).toBe('<');
    expect((b?.time ?? 0) - (a?.time ?? 0)).toBe(15630);
  });

  it('reports a malformed line with its number and keeps going', () => {
    const text = [
      '> 2015/06/08 13:38:21.012908  length=3 from=0 to=2',
      ' 10 02 01',
      'garbage here',
      ' 99 zz',
      '< 2015/06/08 13:38:21.028538  length=2 from=0 to=1',
      ' 10 02',
    ].join('\n');
    const { records, problems } = parseSocatCapture(text);
    expect(records.map((r) => r.direction)).toEqual(['>', '<']);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatchObject({ line: 3, message: expect.stringContaining('not a socat') });
    expect(problems[1]).toMatchObject({ line: 4 });
  });

  it('reports a bad date, a length mismatch and an orphan data line, never throws', () => {
    const text = [
      ' 10 02',
      '> 2015/02/31 10:00:00.000001  length=1 from=0 to=0',
      ' 10',
      '> 2015/06/08 13:38:21.000001  length=5 from=0 to=4',
      ' 10 02 03',
      '> 2015/06/08 13:38:22.000001  length=1 from=5 to=5',
    ].join('\r\n');
    const { records, problems } = parseSocatCapture(text);
    expect(records).toHaveLength(1);
    expect(records[0]?.bytes).toEqual(Uint8Array.of(0x10, 0x02, 0x03));
    expect(problems.map((p) => p.line)).toEqual([1, 2, 4, 6]);
    expect(() => parseSocatCapture('\u0000\u0001 random ::: text\n> \n<')).not.toThrow();
  });

  it('concatenates hex lines under one header', () => {
    const { records, problems } = parseSocatCapture('> 2015/06/08 13:38:21.000001  length=4 from=0 to=3\n 10 02\n 10 03\n');
    expect(problems).toEqual([]);
    expect(records[0]?.bytes).toEqual(Uint8Array.of(0x10, 0x02, 0x10, 0x03));
  });
});

describe('formatSocatRecord', () => {
  it('writes the socat layout', () => {
    const t = Date.UTC(2014, 11, 3, 18, 53, 10) * 1000 + 774365;
    expect(formatSocatTime(t)).toBe('2014/12/03 18:53:10.774365');
    expect(formatSocatRecord('>', t, Uint8Array.of(0x10, 0x02, 0x8a), 16)).toBe(
      '> 2014/12/03 18:53:10.774365  length=3 from=16 to=18\n 10 02 8a\n',
    );
  });

  it('round-trips the sample', () => {
    const { records } = parseSocatCapture(SAMPLE);
    expect(records.map((r) => formatSocatRecord(r.direction, r.time, r.bytes, r.from)).join('')).toBe(SAMPLE);
  });

  describe.skipIf(!HAVE_CAPTURES)('real captures', () => {
    it.each(['log2.log', 'bridgeEtOH2014-12-03.log'])('parse -> format gives %s back byte for byte', (name) => {
      const text = readCapture(name);
      const { records, problems } = parseSocatCapture(text);
      expect(problems).toEqual([]);
      // A file can hold several socat sessions: offsets continue within one and restart at 0 with the next.
      const offset = { '>': 0, '<': 0 };
      let out = '';
      for (const r of records) {
        expect([0, offset[r.direction]]).toContain(r.from);
        expect(r.to).toBe(r.from + r.bytes.length - 1);
        out += formatSocatRecord(r.direction, r.time, r.bytes, r.from);
        offset[r.direction] = r.from + r.bytes.length;
      }
      expect(out).toBe(text);
    });
  });
  if (!HAVE_CAPTURES) it.skip(SKIP_MESSAGE, () => {});
});
