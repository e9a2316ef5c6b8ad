import { describe, expect, it } from 'vitest';
import { EventHub, type Logger } from '../../src/shared/index.js';

type Events = { tick: number; word: string };

function recordingLogger(): Logger & { lines: { level: string; obj: unknown; msg?: string }[] } {
  const lines: { level: string; obj: unknown; msg?: string }[] = [];
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      lines.push({ level, obj, ...(msg === undefined ? {} : { msg }) });
    };
  const log = { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => log };
  return log;
}

describe('EventHub', () => {
  it('delivers every event to every subscriber in order, after emit has returned', async () => {
    const hub = new EventHub<Events>();
    const a: number[] = [];
    const b: number[] = [];
    hub.on('tick', (n) => void a.push(n));
    hub.on('tick', (n) => void b.push(n));
    for (let i = 0; i < 1000; i++) hub.emit('tick', i);
    // Nothing has run inside emit: the emitter is never held up by a listener.
    expect(a).toEqual([]);
    expect(await hub.settled()).toBe(true);
    expect(a).toEqual([...Array(1000).keys()]);
    expect(b).toEqual(a);
  });

  it('a throwing listener changes nothing for the others and is logged once, with a count', async () => {
    const log = recordingLogger();
    const hub = new EventHub<Events>(log);
    const got: number[] = [];
    hub.on(
      'tick',
      () => {
        throw new Error('boom');
      },
      { name: 'bad' },
    );
    hub.on('tick', (n) => void got.push(n), { name: 'good' });
    expect(() => {
      for (let i = 0; i < 50; i++) hub.emit('tick', i);
    }).not.toThrow();
    await hub.settled();
    expect(got).toHaveLength(50);
    const errors = log.lines.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toContain('bad');
    const stats = hub.stats().find((s) => s.name === 'bad');
    expect(stats).toMatchObject({ failed: 50, delivered: 0, queued: 0 });
  });

  it('a slow async listener waits on itself: the others and the emitter go on', async () => {
    const hub = new EventHub<Events>();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: number[] = [];
    const fast: number[] = [];
    hub.on('tick', async (n) => {
      await gate;
      slow.push(n);
    });
    hub.on('tick', (n) => void fast.push(n));
    for (let i = 0; i < 10; i++) hub.emit('tick', i);
    await new Promise((r) => setTimeout(r, 20));
    expect(fast).toHaveLength(10);
    expect(slow).toHaveLength(0);
    release();
    await hub.settled();
    expect(slow).toEqual([...Array(10).keys()]);
  });

  it('bounds what a stuck subscriber holds: the oldest are dropped and counted, and it says so', async () => {
    const log = recordingLogger();
    const hub = new EventHub<Events>(log);
    const gate = new Promise<void>(() => {});
    hub.on('tick', () => gate, { name: 'stuck', maxQueued: 100 });
    for (let i = 0; i < 10_000; i++) hub.emit('tick', i);
    const s = hub.stats().find((x) => x.name === 'stuck');
    // One is in the listener, at most 100 wait; the rest were dropped.
    expect(s?.queued).toBeLessThanOrEqual(100);
    expect(s?.dropped).toBeGreaterThanOrEqual(10_000 - 101);
    expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(await hub.settled(20)).toBe(false);
  });

  it('unsubscribing stops delivery, and events of other names do not reach a listener', async () => {
    const hub = new EventHub<Events>();
    const got: unknown[] = [];
    const off = hub.on('word', (w) => void got.push(w));
    hub.emit('tick', 1);
    hub.emit('word', 'a');
    await hub.settled();
    off();
    hub.emit('word', 'b');
    await hub.settled();
    expect(got).toEqual(['a']);
    expect(hub.listened('word')).toBe(false);
  });

  it('settled waits only for what was emitted before it, so a busy emitter cannot hold a shutdown', async () => {
    const hub = new EventHub<Events>();
    let n = 0;
    hub.on('tick', async () => {
      n++;
      await new Promise((r) => setTimeout(r, 1));
    });
    const emitting = setInterval(() => hub.emit('tick', 0), 0);
    hub.emit('tick', 0);
    const ok = await hub.settled(2_000);
    clearInterval(emitting);
    expect(ok).toBe(true);
    expect(n).toBeGreaterThanOrEqual(1);
  });
});
