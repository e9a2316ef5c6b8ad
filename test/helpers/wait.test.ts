import { describe, expect, it } from 'vitest';
import { waitUntil } from './wait.js';

describe('waitUntil', () => {
  it('returns the first value a sync check holds, after the values that do not count', async () => {
    const seen = [undefined, null, false, 0];
    let i = 0;
    await expect(waitUntil(() => seen[i++], { intervalMs: 1 })).resolves.toBe(0);
    expect(i).toBe(4);
  });

  it('awaits an async check and returns its value; true for a boolean check', async () => {
    let n = 0;
    await expect(waitUntil(async () => (++n === 3 ? { n } : undefined), { intervalMs: 1 })).resolves.toEqual({ n: 3 });
    await expect(waitUntil(() => true)).resolves.toBe(true);
    await expect(waitUntil(() => '')).resolves.toBe('');
  });

  it('on timeout names what it waited for and the last value seen, no earlier than the time limit', async () => {
    const t0 = performance.now();
    let n = 0;
    const err = (await waitUntil(() => (n++, n > 100_000 ? undefined : false), { timeoutMs: 80, what: 'the valve to close', intervalMs: 5 }).catch((e: unknown) => e)) as Error;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(79);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/^timed out after 80 ms waiting for the valve to close \(\d+ checks; last seen: false\)$/);
    const plain = (await waitUntil(() => null, { timeoutMs: 10 }).catch((e: unknown) => e)) as Error;
    expect(plain.message).toMatch(/waiting for the condition \(\d+ checks; last seen: null\)$/);
  });

  it('fails at once with the error a check throws', async () => {
    const t0 = performance.now();
    await expect(
      waitUntil(
        () => {
          throw new Error('port gone');
        },
        { timeoutMs: 5000 },
      ),
    ).rejects.toThrow('port gone');
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
