/** Times and bucket widths of log queries: what the log can hold is accepted, anything else is a precise 400, never a crash. */
import { describe, expect, it } from 'vitest';
import { MAX_TIME_US, checkTimeRange, isoFromMicros, parseBucket, parseTime } from '../../src/store/index.js';
import type { GatewayError } from '../../src/shared/index.js';

function failure(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (e) {
    return e as GatewayError;
  }
  throw new Error('did not throw');
}

describe('parseTime', () => {
  it('accepts ISO times and ms since the epoch within what the log holds', () => {
    expect(parseTime('2026-01-02T03:04:05.5Z', 'since')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 500) * 1000);
    expect(parseTime('1767323045000', 'since')).toBe(1_767_323_045_000_000);
    expect(parseTime('1970-01-01T00:00:00Z', 'since')).toBe(0);
    expect(parseTime('2255-06-05T00:00:00Z', 'until')).toBeLessThanOrEqual(MAX_TIME_US);
  });

  it('refuses times outside what the log holds with STORE_BAD_TIME naming the range', () => {
    for (const t of ['-271821-04-20T00:00:00Z', '+275760-09-13T00:00:00Z', '1969-12-31T23:59:59Z', '2300-01-01T00:00:00Z', '999999999999999', '-000001-01-01T00:00:00Z', '-1', '-86400000', '9999999999999999', '100000000000000000000']) {
      const e = failure(() => parseTime(t, 'until'));
      expect(e.code, t).toBe('STORE_BAD_TIME');
      expect(e.message).toContain('until');
      expect(e.message).toContain('1970-01-01T00:00:00.000000Z .. 2255-06-05T23:47:34.740991Z');
    }
    expect(failure(() => parseTime('soon', 'since')).message).toContain('ISO 8601');
  });
});

describe('checkTimeRange', () => {
  it('refuses a start after the end, naming both, and lets an open or empty range through', () => {
    const e = failure(() => checkTimeRange(2_000_000, 1_000_000, { since: 'since', until: 'until' }));
    expect(e.code).toBe('STORE_BAD_TIME');
    expect(e.message).toBe('since (1970-01-01T00:00:02.000000Z) is after until (1970-01-01T00:00:01.000000Z)');
    expect(() => checkTimeRange(1_000_000, 1_000_000, { since: 'since', until: 'until' })).not.toThrow();
    expect(() => checkTimeRange(undefined, 1, { since: 'since', until: 'until' })).not.toThrow();
  });
});

describe('parseBucket', () => {
  it('accepts 1ms .. 366d', () => {
    expect(parseBucket('1ms')).toBe(1_000);
    expect(parseBucket('5m')).toBe(300_000_000);
    expect(parseBucket('366d')).toBe(366 * 86_400_000_000);
  });

  it('says too wide or too narrow, with the allowed range', () => {
    const wide = failure(() => parseBucket('999999d'));
    expect(wide.code).toBe('STORE_BAD_BUCKET');
    expect(wide.message).toContain('too wide');
    expect(wide.message).toContain('between 1ms and 366d');
    expect(wide.message).not.toContain('at least 1 µs');
    expect(failure(() => parseBucket('0ms')).message).toContain('too narrow');
    expect(failure(() => parseBucket('1 fortnight')).message).toContain('not a width');
  });
});

describe('isoFromMicros', () => {
  it('keeps microseconds', () => {
    expect(isoFromMicros(1_767_323_045_123_456)).toBe('2026-01-02T03:04:05.123456Z');
    expect(isoFromMicros(-1)).toBe('1969-12-31T23:59:59.999999Z');
  });

  it('prints years past 9999 whole', () => {
    expect(isoFromMicros(Date.UTC(10_000, 0, 1) * 1000)).toBe('+010000-01-01T00:00:00.000000Z');
    expect(isoFromMicros(Date.UTC(12_345, 5, 6, 7, 8, 9, 10) * 1000)).toBe('+012345-06-06T07:08:09.010000Z');
    expect(isoFromMicros(Date.UTC(-1, 0, 1) * 1000)).toBe('-000001-01-01T00:00:00.000000Z');
  });

  it('never throws, even outside what a Date can hold', () => {
    expect(() => isoFromMicros(-8.64e18 - 3.6e9)).not.toThrow();
  });
});
