import type { Direction } from '../../observe/index.js';
import type { Transport } from '../../transport/index.js';
import { LatencyHistogram } from './latency.js';

/** What happened to the bytes of one direction on the forwarding path. */
export interface ForwardCounters {
  /** Bytes read from the source side. */
  bytes: number;
  /** Bytes the destination side has taken. */
  forwarded: number;
  droppedNoPeer: number;
  droppedOverflow: number;
  droppedWriteFailed: number;
  /** Bytes handed to the destination and not yet taken by it. */
  unwritten: number;
  /** Times the source side was held back because the destination had not taken its bytes yet. */
  pauses: number;
}

/** A side whose reading can be held back while the other side catches up. */
export interface PausableSource {
  pauseReading(): void;
  resumeReading(): void;
}

/** Where a copy of every chunk goes after it was handed on: the decoder. It must only queue. */
export interface ChunkObserver {
  push(direction: Direction, bytes: Uint8Array, time: number): void;
  /** Bytes of `direction` forwarded that the decoder will not see: what follows is a new stream. */
  skip?(direction: Direction, bytes: number): void;
}

/**
 * The hot path of the bridge: one chunk read on one side goes to the other side at once,
 * unchanged. Nothing here waits, and nothing that fails afterwards (decoding, logging, the
 * store, events, HTTP) can reach it: the decoder only gets the chunk queued, and nothing
 * here emits an event or logs.
 */
export class Forwarder {
  readonly counters: Record<Direction, ForwardCounters> = {
    '>': { bytes: 0, forwarded: 0, droppedNoPeer: 0, droppedOverflow: 0, droppedWriteFailed: 0, unwritten: 0, pauses: 0 },
    '<': { bytes: 0, forwarded: 0, droppedNoPeer: 0, droppedOverflow: 0, droppedWriteFailed: 0, unwritten: 0, pauses: 0 },
  };
  /** Read on one side until the other side has taken it. */
  readonly latency = new LatencyHistogram();
  /** When the master last sent a byte (ms since the epoch). */
  lastMasterAt: number | undefined;

  /** The side each direction's bytes are read from, held back when its destination lags (set by the service). */
  readonly sources: Partial<Record<Direction, PausableSource>> = {};
  private readonly held: Record<Direction, boolean> = { '>': false, '<': false };
  /** Unwritten bytes beyond which the source is held back, and below which it reads again. */
  private readonly holdAt: number;
  private readonly releaseAt: number;

  constructor(
    private readonly maxUnwritten: number,
    private readonly observer: ChunkObserver,
  ) {
    this.holdAt = Math.max(512, Math.floor(maxUnwritten / 4));
    this.releaseAt = Math.floor(this.holdAt / 4);
  }

  /**
   * With injection on: takes the chunks of both sides instead of forwarding them, and hands them
   * back through `pass`: the master's (a SEQ rewritten where an injected request holds it), and
   * the instrument's but its own replies (a rewritten SEQ put back). The decoder gets the master's
   * chunks as they came.
   */
  filter: { fromMaster(chunk: Uint8Array): void; fromInstrument(chunk: Uint8Array): void } | undefined;

  /** Forwards a chunk read in `direction` to `peer`, then queues a copy for the decoder. */
  forward(direction: Direction, chunk: Uint8Array, peer: Transport): void {
    this.counters[direction].bytes += chunk.length;
    if (direction === '>') this.lastMasterAt = Date.now();
    const filter = this.filter;
    if (filter) {
      if (direction === '<') filter.fromInstrument(chunk);
      else {
        this.observe('>', chunk, performance.now());
        filter.fromMaster(chunk);
      }
      return;
    }
    this.pass(direction, chunk, peer);
  }

  /** Hands bytes of `direction` to `peer` and (unless `observed` is false: the decoder had them) queues a copy for the decoder. */
  pass(direction: Direction, chunk: Uint8Array, peer: Transport, observed = true): void {
    const t0 = performance.now();
    const fwd = this.counters[direction];
    const n = chunk.length;
    if (peer.state !== 'open') {
      fwd.droppedNoPeer += n;
    } else if (fwd.unwritten + n > this.maxUnwritten) {
      fwd.droppedOverflow += n;
    } else {
      fwd.unwritten += n;
      // A destination slower than its source (only ever seen on ptys flooded far beyond any
      // serial line) holds the source back instead of losing bytes: its own queue then fills
      // and slows the sender, as with socat. Past maxUnwritten, bytes are still dropped
      // (counted), so that a destination that never drains cannot grow this queue.
      if (fwd.unwritten > this.holdAt) this.hold(direction, true);
      peer.write(chunk).then(
        () => {
          fwd.unwritten -= n;
          fwd.forwarded += n;
          this.latency.add((performance.now() - t0) * 1000);
          if (fwd.unwritten <= this.releaseAt) this.hold(direction, false);
        },
        () => {
          // Counted, not logged: the side's transport reports why it failed (a link event).
          fwd.unwritten -= n;
          fwd.droppedWriteFailed += n;
          if (fwd.unwritten <= this.releaseAt) this.hold(direction, false);
        },
      );
    }
    if (observed) this.observe(direction, chunk, t0);
  }

  /**
   * A chunk that forwarding threads already moved (DirectForwarding): counted as `pass` counts
   * it, and queued for the decoder with its arrival time (µs). `forwardUs` undefined: its write failed.
   */
  forwarded(direction: Direction, chunk: Uint8Array, time: number, forwardUs: number | undefined): void {
    const fwd = this.counters[direction];
    fwd.bytes += chunk.length;
    if (direction === '>') this.lastMasterAt = Math.max(this.lastMasterAt ?? 0, Math.round(time / 1000));
    if (forwardUs === undefined) fwd.droppedWriteFailed += chunk.length;
    else {
      fwd.forwarded += chunk.length;
      this.latency.add(forwardUs);
    }
    try {
      this.observer.push(direction, chunk, time);
    } catch {
      // As in observe(): the decoder only queues, and reports its own failures.
    }
  }

  /** Bytes forwarding threads moved without a copy for the decoder (their ring was full). */
  skipped(direction: Direction, bytes: number): void {
    const fwd = this.counters[direction];
    fwd.bytes += bytes;
    fwd.forwarded += bytes;
    this.observer.skip?.(direction, bytes);
  }

  private hold(direction: Direction, on: boolean): void {
    if (this.held[direction] === on) return;
    const source = this.sources[direction];
    if (!source) return;
    this.held[direction] = on;
    if (on) {
      this.counters[direction].pauses++;
      source.pauseReading();
    } else source.resumeReading();
  }

  private observe(direction: Direction, chunk: Uint8Array, t0: number): void {
    try {
      this.observer.push(direction, chunk, Math.round((performance.timeOrigin + t0) * 1000));
    } catch {
      // The decoder only queues; should it ever throw, forwarding is already done (and the
      // decoder reports its own failures through its onError).
    }
  }
}
