import { describe, expect, it } from 'vitest';
import { HTTP_ERRORS, mapGatewayError, tokenMatches } from '../../src/api/index.js';
import { BusError, OUTCOMES, type BusFailure } from '../../src/bus/index.js';
import { GatewayError } from '../../src/shared/index.js';

const FAILURES: Record<Exclude<(typeof OUTCOMES)[number], 'ok'>, [BusFailure, number]> = {
  timeout: [{ kind: 'timeout', attempts: 2, timeoutMs: 50 }, 504],
  status: [{ kind: 'status', status: 13, index: 0 }, 422],
  'error-frame': [{ kind: 'error-frame', code: 3 }, 422],
  'bus-unavailable': [{ kind: 'bus-unavailable', reason: 'unplugged' }, 503],
  'queue-deadline': [{ kind: 'queue-deadline', waitedMs: 900 }, 503],
  'node-backoff': [{ kind: 'node-backoff', until: 0 }, 503],
  aborted: [{ kind: 'aborted' }, 503],
};

describe('error registry', () => {
  it('maps every bus failure kind', () => {
    for (const outcome of OUTCOMES.filter((o) => o !== 'ok')) {
      const [failure, status] = FAILURES[outcome as keyof typeof FAILURES];
      const http = mapGatewayError(new BusError(failure, 3));
      expect({ outcome, status: http?.status }).toEqual({ outcome, status });
    }
  });

  it('names the status in a BUS_STATUS message, even when the message did not', () => {
    const http = mapGatewayError(new GatewayError('BUS_STATUS', 'refused', { statusName: 'READONLY' }));
    expect(http?.body.message).toBe('refused (status READONLY)');
  });

  it('a setpoint that cannot be checked against the capacity is a 503 (retry), not a 500', () => {
    expect(mapGatewayError(new GatewayError('PARAM_CAPACITY_UNKNOWN', 'capacity not known'))?.status).toBe(503);
  });

  it('says the maximum length once', () => {
    const http = mapGatewayError(new GatewayError('PARAM_INVALID_VALUE', 'userTag (DDE 115): 17 characters is too long: at most 16 characters (what the instrument stores)', { length: 16 }));
    expect(http?.body.message.match(/at most 16/g)).toHaveLength(1);
    const fixed = mapGatewayError(new GatewayError('PARAM_INVALID_VALUE', 'fluidName: wrong type', { length: 10, expected: 'string' }));
    expect(fixed?.body.message).toBe('fluidName: wrong type; at most 10 characters');
  });

  it('leaves internal codes to the caller (500 API_INTERNAL)', () => {
    expect(mapGatewayError(new GatewayError('CODEC_BAD_FIELD', 'x'))).toBeUndefined();
    expect(mapGatewayError(new GatewayError('BUS_FAILED', 'x'))).toBeUndefined();
  });

  it('keeps details JSON-safe', () => {
    const http = mapGatewayError(new GatewayError('PARAM_INVALID_VALUE', 'bad', { raw: Uint8Array.of(1, 255), big: 10n }));
    expect(http?.body.details).toEqual({ raw: '01ff', big: '10' });
  });

  it('only registers statuses the API documents', () => {
    const statuses = new Set(Object.values(HTTP_ERRORS).map((m) => m.status));
    expect([...statuses].sort()).toEqual([400, 401, 403, 404, 405, 409, 413, 414, 415, 421, 422, 500, 502, 503, 504]);
  });
});

describe('tokenMatches', () => {
  it('compares whole tokens of any length', () => {
    expect(tokenMatches('abcdefgh', 'abcdefgh')).toBe(true);
    expect(tokenMatches('abcdefg', 'abcdefgh')).toBe(false);
    expect(tokenMatches('abcdefghi', 'abcdefgh')).toBe(false);
    expect(tokenMatches('', 'abcdefgh')).toBe(false);
  });
});
