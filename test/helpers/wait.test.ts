import { afterEach, describe, expect, it, vi } from 'vitest';
import { settledAfter, waitUntil } from './wait.js';

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

describe('settledAfter (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns the value once the fake clock has run far enough, and fails while it is still pending', async () => {
    vi.useFakeTimers();
    const value = new Promise<string>((r) => setTimeout(() => r('closed'), 1000));
    await expect(settledAfter(999, value)).rejects.toThrow('still pending after 999 ms of fake time');
    await expect(settledAfter(1, value)).resolves.toBe('closed');
  });

  it('hands on a rejection', async () => {
    vi.useFakeTimers();
    const failing = new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 40));
    await expect(settledAfter(40, failing)).rejects.toThrow('timeout');
  });
});
