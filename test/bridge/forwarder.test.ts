import { describe, expect, it } from 'vitest';
import { Forwarder } from '../../src/gateway/bridge/forwarder.js';
import type { Transport } from '../../src/transport/index.js';

/** A destination that takes bytes only when the test lets it (a pty whose reader is slow). */
function slowPeer() {
  const waiting: (() => void)[] = [];
  const peer = {
    state: 'open',
    write: () => new Promise<void>((resolve) => waiting.push(resolve)),
  } as unknown as Transport;
  return {
    peer,
    drain: async () => {
      for (const r of waiting.splice(0)) r();
      await new Promise((r) => setImmediate(r));
    },
  };
}

function source() {
  const calls: string[] = [];
  return { calls, pauseReading: () => calls.push('pause'), resumeReading: () => calls.push('resume') };
}

describe('Forwarder: a destination slower than its source', () => {
  it('holds the source back instead of dropping, and lets it read again once the destination took the bytes', async () => {
    const f = new Forwarder(64 * 1024, { push: () => undefined });
    const src = source();
    f.sources['>'] = src;
    const { peer, drain } = slowPeer();
    const chunk = new Uint8Array(4096);
    // 16 KiB is a quarter of maxUnwritten: the fifth chunk goes past it.
    for (let i = 0; i < 5; i++) f.forward('>', chunk, peer);
    expect(src.calls).toEqual(['pause']);
    // Chunks the source had already read still go through (no drop below maxUnwritten).
    for (let i = 0; i < 3; i++) f.forward('>', chunk, peer);
    expect(f.counters['>'].droppedOverflow).toBe(0);
    expect(f.counters['>'].unwritten).toBe(8 * 4096);
    await drain();
    expect(src.calls).toEqual(['pause', 'resume']);
    expect(f.counters['>'].forwarded).toBe(8 * 4096);
    expect(f.counters['>'].pauses).toBe(1);
  });

  it('still drops past maxUnwrittenBytes, so a destination that never drains cannot grow the queue', () => {
    const f = new Forwarder(16 * 1024, { push: () => undefined });
    f.sources['<'] = source();
    const { peer } = slowPeer();
    for (let i = 0; i < 6; i++) f.forward('<', new Uint8Array(4096), peer);
    expect(f.counters['<'].unwritten).toBe(16 * 1024);
    expect(f.counters['<'].droppedOverflow).toBe(2 * 4096);
  });

  it('does not hold a source back while its destination keeps up', async () => {
    const f = new Forwarder(64 * 1024, { push: () => undefined });
    const src = source();
    f.sources['>'] = src;
    const peer = { state: 'open', write: () => Promise.resolve() } as unknown as Transport;
    for (let i = 0; i < 100; i++) {
      f.forward('>', new Uint8Array(1024), peer);
      await Promise.resolve();
    }
    expect(src.calls).toEqual([]);
    expect(f.counters['>'].forwarded).toBe(100 * 1024);
  });
});
