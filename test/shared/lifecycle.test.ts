import { afterEach, describe, expect, it, vi } from 'vitest';
import { Lifecycle, type Component } from '../../src/shared/index.js';

function part(name: string, log: string[], opts: { failStarts?: number; optional?: boolean; failClose?: boolean } = {}): Component {
  let failures = opts.failStarts ?? 0;
  return {
    name,
    ...(opts.optional ? { optional: true } : {}),
    async start() {
      log.push(`start ${name}`);
      if (failures > 0) {
        failures--;
        throw new Error(`${name} cannot start`);
      }
    },
    async close() {
      log.push(`close ${name}`);
      if (opts.failClose) throw new Error(`${name} cannot close`);
    },
  };
}

describe('Lifecycle', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts in order and closes in reverse, once however often close is called', async () => {
    const log: string[] = [];
    const life = new Lifecycle();
    for (const n of ['transport', 'store', 'mode', 'http']) life.add(part(n, log));
    await life.start();
    await Promise.all([life.close(), life.close()]);
    await life.close();
    expect(log).toEqual(['start transport', 'start store', 'start mode', 'start http', 'close http', 'close mode', 'close store', 'close transport']);
    expect(life.states().every((s) => s.state === 'closed')).toBe(true);
  });

  it('a required component that fails closes what was started and rejects with its error; later ones never start', async () => {
    const log: string[] = [];
    const life = new Lifecycle();
    life.add(part('store', log));
    life.add(part('mode', log));
    life.add(part('http', log, { failStarts: 1 }));
    life.add(part('mqtt', log));
    await expect(life.start()).rejects.toThrow('http cannot start');
    expect(log).toEqual(['start store', 'start mode', 'start http', 'close mode', 'close store']);
    expect(life.states().find((s) => s.name === 'http')).toMatchObject({ state: 'failed', lastError: 'http cannot start' });
  });

  it('an optional component that fails is retried in the background and closed once it runs', async () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const life = new Lifecycle(undefined, { retryInitialMs: 5, retryMaxMs: 10 });
    life.add(part('store', log));
    life.add(part('mqtt', log, { optional: true, failStarts: 3 }));
    life.add(part('http', log));
    await life.start();
    // The start did not wait for the broker: http runs already.
    expect(log.slice(0, 3)).toEqual(['start store', 'start mqtt', 'start http']);
    // Tried again after 5, 10 (doubled) and 10 ms (the maximum): running 25 ms after the start, not before.
    await vi.advanceTimersByTimeAsync(24);
    expect(life.states().find((s) => s.name === 'mqtt')?.state).toBe('retrying');
    expect(log.filter((l) => l === 'start mqtt')).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(life.states().find((s) => s.name === 'mqtt')?.state).toBe('running');
    expect(log.filter((l) => l === 'start mqtt')).toHaveLength(4);
    await life.close();
    expect(log.slice(-3)).toEqual(['close http', 'close mqtt', 'close store']);
  });

  it('closing while an optional component still fails stops its retries and does not close what never started', async () => {
    const log: string[] = [];
    vi.useFakeTimers();
    const life = new Lifecycle(undefined, { retryInitialMs: 5, retryMaxMs: 5 });
    life.add(part('mqtt', log, { optional: true, failStarts: Infinity }));
    await life.start();
    await vi.advanceTimersByTimeAsync(30);
    // The first try and one every 5 ms.
    expect(log.filter((l) => l === 'start mqtt')).toHaveLength(7);
    await life.close();
    const starts = log.filter((l) => l === 'start mqtt').length;
    await vi.advanceTimersByTimeAsync(30);
    expect(log.filter((l) => l === 'start mqtt')).toHaveLength(starts);
    expect(log).not.toContain('close mqtt');
  });

  it('a close that fails is logged and the others are still closed', async () => {
    const log: string[] = [];
    const life = new Lifecycle();
    life.add(part('a', log));
    life.add(part('b', log, { failClose: true }));
    life.add(part('c', log));
    await life.start();
    await expect(life.close()).resolves.toBeUndefined();
    expect(log.slice(-3)).toEqual(['close c', 'close b', 'close a']);
  });
});
