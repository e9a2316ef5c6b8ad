import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Bus, type BusError } from '../../src/bus/index.js';
import { buildRequest, WireType } from '../../src/codec/index.js';
import type { GatewayError } from '../../src/shared/index.js';
import { createServer, type AddressInfo } from 'node:net';
import { tcpOpener, Transport, type TransportStatus } from '../../src/transport/index.js';
import { settledAfter, waitUntil } from '../helpers/wait.js';

/**
 * A link whose writes never complete and whose close never finishes either, as a serial device
 * can do when it is pulled mid-write: Node then never calls the in-flight write's callback.
 */
function stuckLink(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _enc, _cb) {
      // never calls back
    },
    destroy(_err, _cb) {
      // the close of a vanished device that never completes
    },
  });
}

describe('Transport', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('settles a write whose stream never calls back when the link is lost', async () => {
    const t = new Transport('test://stuck', async () => stuckLink(), { initialDelayMs: 5000 });
    await t.start();
    const pending = t.write(Uint8Array.of(1, 2, 3)).catch((e: unknown) => e);
    t.drop('unplugged');
    const err = (await pending) as GatewayError;
    expect(err.code).toBe('TRANSPORT_UNAVAILABLE');
    expect(err.message).toMatch(/unplugged/);
    await t.close();
  });

  it('settles pending writes on close', async () => {
    vi.useFakeTimers();
    const t = new Transport('test://stuck', async () => stuckLink());
    await t.start();
    const pending = t.write(Uint8Array.of(1)).catch((e: unknown) => e);
    // The link's own close never finishes: the transport gives it 500 ms.
    await settledAfter(500, t.close());
    expect(((await pending) as GatewayError).code).toBe('TRANSPORT_UNAVAILABLE');
  });

  it('a bus transaction stuck in its write fails as bus-unavailable when the port goes, and the queue moves on', async () => {
    const t = new Transport('test://stuck', async () => stuckLink(), { initialDelayMs: 5000 });
    await t.start();
    const bus = new Bus(t, { replyTimeoutMs: 100, queueDeadlineMs: 2000 });
    const read = buildRequest([{ process: 1, fbnr: 0, wireType: WireType.Int16 }]);
    const first = bus.transact(3, read).catch((e: unknown) => e);
    const second = bus.transact(3, read).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    t.drop('unplugged');
    expect(((await first) as BusError).failure.kind).toBe('bus-unavailable');
    expect(((await second) as BusError).failure.kind).toBe('bus-unavailable');
    await bus.close();
    await t.close();
  });

  it('a TCP converter that stays away is tried at least every second, however far the backoff has grown', async () => {
    // A port nobody listens on: each connect is refused at once.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    // Growth by 10: without the cap the third wait would already be 10 s.
    const t = new Transport(`tcp://127.0.0.1:${port}`, tcpOpener('127.0.0.1', port), { initialDelayMs: 100, maxDelayMs: 60_000, factor: 10 });
    const waits: number[] = [];
    t.on('state', (s: TransportStatus) => {
      if (s.state === 'waiting' && s.retryAt !== undefined) waits.push(s.retryAt - s.since);
    });
    try {
      await t.start();
      await waitUntil(() => waits.length >= 4, { timeoutMs: 4000, intervalMs: 50, what: 'four reconnect waits' });
      // retryAt and since are two readings of the clock: to the nearest 10 ms.
      expect(waits.slice(0, 4).map((w) => Math.round(w / 10) * 10)).toEqual([100, 1000, 1000, 1000]);
    } finally {
      await t.close();
    }
  });
});
