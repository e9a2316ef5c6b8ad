import { BinaryDeframer, type Deframer, type DiscardReason, type Frame } from '../codec/index.js';
import type { Direction } from './socat.js';

/** A frame seen on one direction, stamped with the time of the chunk that held its last byte (microseconds). */
export interface ObservedFrame {
  readonly direction: Direction;
  readonly frame: Frame;
  /** The frame's bytes as on the wire (stuffed, DLE STX ... DLE ETX). */
  readonly raw: Uint8Array;
  /** Stream offsets in this direction: first byte, and just past the last byte. */
  readonly start: number;
  readonly end: number;
  /** Microseconds since the epoch (see socat.ts for the capture convention). */
  readonly time: number;
}

/** Bytes the deframer threw away, stamped like frames. */
export interface ObservedDiscard {
  readonly direction: Direction;
  readonly reason: DiscardReason;
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
  readonly time: number;
}

export type ObservedEvent = ({ readonly kind: 'frame' } & ObservedFrame) | ({ readonly kind: 'discard' } & ObservedDiscard);

interface Chunk {
  readonly start: number;
  readonly end: number;
  readonly time: number;
  frameStarts: number;
}

/**
 * One direction of a byte stream that arrives in timestamped chunks (socat records,
 * or serial-port bursts of a live tap). Wraps a deframer and maps each event's
 * stream offsets back to the chunks: an event's time is the time of the chunk
 * holding its last byte. Pure: no timers, no I/O.
 */
export class TimedDeframer {
  private chunks: Chunk[] = [];
  private lastEventEnd = 0;
  private severalStarts = 0;
  private chunkCount = 0;

  private deframer: Deframer;

  /** `createDeframer` makes the deframer, and a fresh one after each `restart()`. Default: binary. */
  constructor(
    readonly direction: Direction,
    private readonly createDeframer: () => Deframer = () => new BinaryDeframer(),
  ) {
    this.deframer = createDeframer();
  }

  /**
   * A discontinuity in the stream (a new socat session, a reopened port): reports what
   * the old stream held (an unfinished frame as 'truncated') and starts a new stream at offset 0.
   */
  restart(): ObservedEvent[] {
    const events = this.flush();
    this.deframer = this.createDeframer();
    this.lastEventEnd = 0;
    this.restarts++;
    return events;
  }

  /** How many times `restart()` was called. */
  restarts = 0;

  /** Stream offset of the next byte. */
  get offset(): number {
    return this.deframer.offset;
  }

  /** Chunks pushed so far. */
  get chunksSeen(): number {
    return this.chunkCount;
  }

  /** Chunks (records) that held the start of more than one frame; complete after `flush()`. */
  get chunksWithSeveralFrameStarts(): number {
    return this.severalStarts;
  }

  /** Feeds one chunk received at `time` (microseconds); returns the events it completed, in stream order. */
  push(bytes: Uint8Array, time: number): ObservedEvent[] {
    if (bytes.length === 0) return [];
    const start = this.deframer.offset;
    this.chunks.push({ start, end: start + bytes.length, time, frameStarts: 0 });
    this.chunkCount++;
    const events = this.stamp(this.deframer.push(bytes));
    this.prune();
    return events;
  }

  /** End of stream: reports whatever the deframer still holds. */
  flush(): ObservedEvent[] {
    const events = this.stamp(this.deframer.flush());
    for (const c of this.chunks) if (c.frameStarts > 1) this.severalStarts++;
    this.chunks = [];
    return events;
  }

  private stamp(events: ReturnType<Deframer['push']>): ObservedEvent[] {
    const out: ObservedEvent[] = [];
    for (const ev of events) {
      const last = this.chunkAt(Math.max(ev.end - 1, ev.start));
      const time = last?.time ?? this.chunks[this.chunks.length - 1]?.time ?? 0;
      if (ev.kind === 'frame') {
        const first = this.chunkAt(ev.start);
        if (first) first.frameStarts++;
        out.push({ kind: 'frame', direction: this.direction, frame: ev.frame, raw: ev.raw, start: ev.start, end: ev.end, time });
      } else {
        out.push({ kind: 'discard', direction: this.direction, reason: ev.reason, bytes: ev.bytes, start: ev.start, end: ev.end, time });
      }
      if (ev.end > this.lastEventEnd) this.lastEventEnd = ev.end;
    }
    return out;
  }

  /** The chunk holding stream offset `pos` (binary search; chunks are contiguous and ordered). */
  private chunkAt(pos: number): Chunk | undefined {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = this.chunks[mid] as Chunk;
      if (pos < c.start) hi = mid - 1;
      else if (pos >= c.end) lo = mid + 1;
      else return c;
    }
    return undefined;
  }

  /** Events come in stream order, so no later event touches a chunk that ends at or before the last event's end. */
  private prune(): void {
    let n = 0;
    while (n < this.chunks.length - 1 && (this.chunks[n] as Chunk).end <= this.lastEventEnd) {
      if ((this.chunks[n] as Chunk).frameStarts > 1) this.severalStarts++;
      n++;
    }
    if (n > 0) this.chunks.splice(0, n);
  }
}
