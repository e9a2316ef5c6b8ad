import { describe, expect, it } from 'vitest';
import { idFloor, idTime, newId } from '../../src/shared/index.js';

describe('newId (UUIDv7)', () => {
  it('is a version-7, variant-1 UUID carrying the current ms', () => {
    const before = Date.now();
    const id = newId();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(idTime(id)).toBeGreaterThanOrEqual(before);
    expect(idTime(id)).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('is strictly increasing as text, also many within one millisecond', () => {
    const ids = Array.from({ length: 50_000 }, () => newId());
    for (let i = 1; i < ids.length; i++) expect((ids[i - 1] as string) < (ids[i] as string)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('idFloor sorts below every id of that ms and above every earlier one', () => {
    const id = newId();
    const ms = idTime(id);
    expect(idFloor(ms) <= id).toBe(true);
    expect(idFloor(ms + 1) > id).toBe(true);
    expect(idTime(idFloor(ms))).toBe(ms);
  });
});
