import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../shared/index.js';
import type { LinkOpener } from './links.js';
import { handOffSerial, type SerialHandOff } from './serial-port.js';

/**
 * - `idle`: not started.
 * - `opening`: an open attempt is under way.
 * - `open`: bytes flow.
 * - `waiting`: the link is down (never opened, errored, closed, unplugged); the next attempt is scheduled.
 * - `closed`: closed for good by `close()`.
 */
export type TransportState = 'idle' | 'opening' | 'open' | 'waiting' | 'closed';

export interface TransportStatus {
  readonly address: string;
  readonly state: TransportState;
  /** Why the link is not open, when it is not. */
  readonly lastError?: string;
  readonly since: number;
  /** Successful opens after the first. */
  readonly reconnects: number;
  /** When the next open attempt is due (state `waiting`). */
  readonly retryAt?: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface ReconnectOptions {
  /** First wait after a failure, ms. Default 250; 10..60000. */
  readonly initialDelayMs: number;
  /** Longest wait between attempts, ms. Default 10000; 100..600000. A TCP converter is tried at least every second regardless. */
  readonly maxDelayMs: number;
  /** Growth factor per failed attempt. Default 2; 1..10. */
  readonly factor: number;
}

/** How often a transport waiting for a vanished device looks for it. */
const DEVICE_WATCH_MS = 250;

export const DEFAULT_RECONNECT: ReconnectOptions = { initialDelayMs: 250, maxDelayMs: 10_000, factor: 2 };

interface TransportEvents {
  data: [Uint8Array];
  state: [TransportStatus];
}

/**
 * One transport shape for serial ports, TCP converters and the in-process
 * simulator: a byte stream that reopens itself with capped exponential backoff
 * when it is lost, and says so. A serial device that vanished is watched for and
 * opened as soon as it is back; a TCP converter is tried at least every second.
 * Nothing above it knows which link it has.
 */
export class Transport extends EventEmitter<TransportEvents> {
  private link: Duplex | undefined;
  private current: TransportState = 'idle';
  private lastError: string | undefined;
  private since = Date.now();
  private reconnects = 0;
  private opens = 0;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private watcher: NodeJS.Timeout | undefined;
  private retryAt: number | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  private readingPaused = false;
  private readonly pendingWrites = new Set<(err: GatewayError) => void>();
  private readonly reconnect: ReconnectOptions;

  constructor(
    readonly address: string,
    private readonly opener: LinkOpener,
    reconnect: Partial<ReconnectOptions> = {},
  ) {
    super();
    this.reconnect = { ...DEFAULT_RECONNECT, ...reconnect };
    this.delay = this.reconnect.initialDelayMs;
  }

  get state(): TransportState {
    return this.current;
  }

  status(): TransportStatus {
    return {
      address: this.address,
      state: this.current,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      since: this.since,
      reconnects: this.reconnects,
      ...(this.retryAt !== undefined ? { retryAt: this.retryAt } : {}),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
  }

  /** Starts opening in the background; resolves once the first attempt has finished, whatever its outcome. */
  async start(): Promise<void> {
    if (this.current !== 'idle') return;
    await this.attempt();
  }

  /** Resolves when the link is open, or rejects after `timeoutMs`. */
  waitOpen(timeoutMs: number): Promise<void> {
    if (this.current === 'open') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (s: TransportStatus) => {
        if (s.state === 'open') {
          clearTimeout(t);
          this.off('state', onState);
          resolve();
        }
      };
      const t = setTimeout(() => {
        this.off('state', onState);
        reject(this.unavailable());
      }, timeoutMs);
      this.on('state', onState);
    });
  }

  /** Writes bytes; resolves once the link has taken them. Rejects at once with TRANSPORT_UNAVAILABLE when the link is down. */
  /**
   * Stops taking bytes from the link until `resumeReading()`: the device's (or socket's) own
   * queue then fills and holds the sender back, as socat does when the other side is slower.
   * Holds across a reopen.
   */
  pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.link?.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    this.link?.resume();
  }

  /** Whether `pauseReading()` holds the link's bytes back now. */
  get paused(): boolean {
    return this.readingPaused;
  }

  write(bytes: Uint8Array): Promise<void> {
    const link = this.link;
    if (this.current !== 'open' || !link) return Promise.reject(this.unavailable());
    this.bytesOut += bytes.length;
    return new Promise((resolve, reject) => {
      // A stream destroyed mid-write may never call back: losing the link settles the promise instead.
      const fail = (err: GatewayError) => reject(err);
      this.pendingWrites.add(fail);
      link.write(bytes, (err) => {
        if (!this.pendingWrites.delete(fail)) return;
        if (err) reject(new GatewayError('TRANSPORT_WRITE_FAILED', `write to ${this.address} failed: ${err.message}`, { address: this.address }));
        else resolve();
      });
    });
  }

  /** Rejects every write still waiting for its stream's callback: the link it went to is gone. */
  private failPendingWrites(): void {
    if (this.pendingWrites.size === 0) return;
    const err = this.unavailable();
    const pending = [...this.pendingWrites];
    this.pendingWrites.clear();
    for (const fail of pending) fail(err);
  }

  /**
   * Hands the reading of an open serial link to the caller (see `handOffSerial`): the transport
   * emits no `data` until the hand-off is released, and the caller counts what it moved
   * (`counted`). Undefined for other links, or when the link is not open.
   */
  handOff(): SerialHandOff | undefined {
    return this.current === 'open' && this.link ? handOffSerial(this.link) : undefined;
  }

  /** Bytes read from and written to the link past the transport (a hand-off's reader), for `status()`. */
  counted(bytesIn: number, bytesOut: number): void {
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
  }

  /** Drops the current link (as if unplugged) and reconnects with backoff. For tests and for "reopen" commands. */
  drop(reason: string): void {
    if (this.link) this.lost(this.link, reason);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stopWatching();
    const link = this.link;
    this.link = undefined;
    this.setState('closed');
    this.failPendingWrites();
    if (link) await destroy(link);
  }

  /** A method, so that TypeScript does not carry a narrowing of `current` across an await. */
  private isClosed(): boolean {
    return this.current === 'closed';
  }

  private unavailable(): GatewayError {
    return new GatewayError(
      'TRANSPORT_UNAVAILABLE',
      `bus ${this.address} is unavailable (${this.current}${this.lastError ? `: ${this.lastError}` : ''})`,
      { address: this.address, state: this.current, ...(this.retryAt ? { retryAt: new Date(this.retryAt).toISOString() } : {}) },
    );
  }

  private setState(state: TransportState): void {
    if (state !== 'waiting') this.retryAt = undefined;
    this.current = state;
    this.since = Date.now();
    this.emit('state', this.status());
  }

  private async attempt(): Promise<void> {
    this.timer = undefined;
    this.stopWatching();
    if (this.current === 'closed') return;
    this.setState('opening');
    let link: Duplex;
    try {
      link = await this.opener();
    } catch (err) {
      if (this.isClosed()) return;
      this.lastError = err instanceof Error ? err.message : String(err);
      this.schedule();
      return;
    }
    if (this.isClosed()) {
      await destroy(link);
      return;
    }
    this.link = link;
    if (this.opens++ > 0) this.reconnects++;
    this.delay = this.reconnect.initialDelayMs;
    this.lastError = undefined;
    link.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      this.emit('data', new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    });
    if (this.readingPaused) link.pause();
    link.on('error', (err: Error) => this.lost(link, err.message));
    // serialport passes the disconnect error to 'close' (a hang-up, a vanished device).
    link.on('close', (err?: unknown) => this.lost(link, err instanceof Error ? `the port was disconnected (${err.message})` : 'the port closed'));
    link.on('end', () => this.lost(link, 'the other end closed the connection'));
    this.setState('open');
  }

  private lost(link: Duplex, reason: string): void {
    if (this.link !== link) return;
    this.link = undefined;
    this.lastError = reason;
    void destroy(link);
    if (this.current !== 'closed') this.schedule();
    this.failPendingWrites();
  }

  private schedule(): void {
    // An opener whose attempts are cheap (TCP) is tried at least every `retryEveryMs`, whatever the backoff.
    const wait = Math.min(this.delay, this.opener.retryEveryMs ?? Infinity);
    this.delay = Math.min(this.reconnect.maxDelayMs, this.delay * this.reconnect.factor);
    this.retryAt = Date.now() + wait;
    this.current = 'waiting';
    this.since = Date.now();
    this.emit('state', this.status());
    this.timer = setTimeout(() => void this.attempt(), wait);
    this.timer.unref?.();
    if (wait > DEVICE_WATCH_MS) this.watchForDevice();
  }

  /**
   * While waiting for a device that is gone (a USB adapter unplugged), looks for it every
   * 250 ms and tries at once when it is back, rather than after a backoff that short flaps may
   * have grown to its maximum. A device that is there but will not open waits out the backoff.
   */
  private watchForDevice(): void {
    const present = this.opener.present;
    if (!present || present()) return;
    this.stopWatching();
    this.watcher = setInterval(() => {
      if (this.current !== 'waiting') return this.stopWatching();
      if (!present()) return;
      this.stopWatching();
      if (this.timer) clearTimeout(this.timer);
      void this.attempt();
    }, DEVICE_WATCH_MS);
    this.watcher.unref?.();
  }

  private stopWatching(): void {
    if (this.watcher) clearInterval(this.watcher);
    this.watcher = undefined;
  }
}

/** A serial port: destroying its stream does not close its file descriptor (serialport 13 has no _destroy). */
interface ClosablePort {
  readonly isOpen: boolean;
  close(cb: (err?: Error | null) => void): void;
}

const isClosablePort = (link: Duplex): link is Duplex & ClosablePort =>
  typeof (link as Partial<ClosablePort>).isOpen === 'boolean' && typeof (link as Partial<ClosablePort>).close === 'function';

function destroy(link: Duplex): Promise<void> {
  return new Promise((resolve) => {
    link.removeAllListeners('data');
    // Only so that an error while tearing the link down cannot crash the process: the transport
    // has already recorded why the link is lost (lastError), and it has no logger of its own.
    link.on('error', () => {});
    setTimeout(resolve, 500).unref?.();
    if (isClosablePort(link) && link.isOpen) {
      // Close the port itself, or its descriptor (and serialport's exclusive lock on the device)
      // stays behind and the next open of the same port fails with "Cannot lock port".
      link.close(() => {
        link.destroy();
        resolve();
      });
      return;
    }
    if (link.destroyed) return resolve();
    link.once('close', () => resolve());
    link.destroy();
  });
}
