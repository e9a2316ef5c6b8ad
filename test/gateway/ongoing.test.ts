import { describe, expect, it } from 'vitest';
import { OngoingProblem } from '../../src/gateway/ongoing.js';

describe('OngoingProblem', () => {
  it('speaks the first time, when the reason changes and every 10 minutes; counts every meeting; says how long it lasted', () => {
    const p = new OngoingProblem();
    const t0 = 1_000_000;
    expect(p.seen('ENOENT', t0)).toEqual({ first: true, attempts: 1, since: t0 });
    for (let i = 1; i <= 5; i++) expect(p.seen('ENOENT', t0 + i * 10_000)).toBeUndefined();
    expect(p.seen('EACCES', t0 + 60_000)).toEqual({ first: false, attempts: 7, since: t0 });
    expect(p.seen('EACCES', t0 + 600_000 + 59_999)).toBeUndefined();
    expect(p.seen('EACCES', t0 + 660_000)).toEqual({ first: false, attempts: 9, since: t0 });
    expect(p.over(t0 + 700_000)).toEqual({ forS: 700, attempts: 9 });
    expect(p.over(t0 + 800_000)).toBeUndefined();
    expect(p.seen('ENOENT', t0 + 900_000)).toEqual({ first: true, attempts: 1, since: t0 + 900_000 });
  });
});
