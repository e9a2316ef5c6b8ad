import { InterByteTimeoutParser } from '@serialport/parser-inter-byte-timeout';
import { createDeframer, type DiscardReason, type Protocol } from '../../codec/index.js';
import { Pairer, TimedDeframer, type Direction, type ObservedEvent, type Transaction } from '../../observe/index.js';

export interface TapOptions {
  readonly protocol: Protocol;
  /** Silence that ends a burst, ms (the inter-byte-timeout parser's interval). */
  readonly burstGapMs: number;
  /** A request without a reply after this long (of wire time) is closed as unanswered, ms. */
  readonly replyTimeoutMs: number;
  /** Bytes waiting to be decoded per direction beyond which bytes are not decoded (counted, and the stream restarts). Default 1 MiB. */
  readonly maxQueuedBytes?: number;
  /** Largest burst; a longer run without silence is cut here. Default 4096 (socat reads up to 8192). */
  readonly maxBurstBytes?: number;
  /** A burst, in time order across both directions (for the capture file). */
  readonly onBurst?: (direction: Direction, time: number, bytes: Uint8Array) => void;
  /** The stream of a direction starts again (reopened port, or decoding fell behind). */
  readonly onRestart?: (direction: Direction) => void;
  readonly onTransaction: (t: Transaction) => void;
  readonly onDiscard?: (direction: Direction, reason: DiscardReason, bytes: Uint8Array, time: number) => void;
  /** Anything that went wrong on the decoding side; it never reaches the forwarding side. */
  readonly onError: (err: unknown) => void;
}

export interface TapCounters {
  bursts: number;
  frames: number;
  discards: number;
  discardedBytes: number;
  discardReasons: Partial<Record<DiscardReason, number>>;
  /** Bytes not decoded because decoding fell behind (the forwarding of them was not affected). */
  undecodedBytes: number;
  restarts: number;
}

type Item = { readonly kind: 'bytes'; readonly bytes: Uint8Array; readonly time: number } | { readonly kind: 'restart'; readonly time: number };
type Out = { readonly kind: 'burst'; readonly bytes: Uint8Array; readonly time: number } | { readonly kind: 'restart'; readonly time: number };

/** One direction: queued chunks -> inter-byte-timeout parser (bursts) -> held for the time-ordered merge. */
class Lane {
  input: Item[] = [];
  inputBytes = 0;
  behind = false;
  readonly parser: InterByteTimeoutParser;
  /** Arrival time of every chunk written to the parser and not yet fully delivered as a burst, by stream offset. */
  chunks: { offset: number; time: number }[] = [];
  written = 0;
  delivered = 0;
  out: Out[] = [];
  readonly deframer: TimedDeframer;
  readonly counters: TapCounters = { bursts: 0, frames: 0, discards: 0, discardedBytes: 0, discardReasons: {}, undecodedBytes: 0, restarts: 0 };

  constructor(
    readonly direction: Direction,
    protocol: Protocol,
    gapMs: number,
    maxBurst: number,
  ) {
    // Object mode on the readable side lets restart markers travel in order with the bursts.
    this.parser = new InterByteTimeoutParser({ interval: gapMs, maxBufferSize: maxBurst, readableObjectMode: true });
    this.deframer = new TimedDeframer(direction, () => createDeframer(protocol));
  }

  /** Arrival time of the chunk holding stream offset `offset`. */
  timeAt(offset: number): number {
    let t = this.chunks[0]?.time ?? 0;
    for (const c of this.chunks) {
      if (c.offset > offset) break;
      t = c.time;
    }
    return t;
  }

  prune(): void {
    let n = 0;
    while (n + 1 < this.chunks.length && (this.chunks[n + 1] as { offset: number }).offset <= this.delivered) n++;
    if (n > 0) this.chunks.splice(0, n);
  }

  /** The earliest time anything of this direction not yet merged arrived; Infinity when nothing waits. */
  earliest(): number {
    const head = this.out[0];
    if (head) return head.time;
    if (this.delivered < this.written) return this.timeAt(this.delivered);
    const first = this.input[0];
    return first ? first.time : Infinity;
  }
}

/**
 * The decoding side of the passive bridge, fully apart from forwarding: `push` only
 * queues (O(1)); decoding runs on `setImmediate`. Each direction is grouped into bursts
 * by `@serialport/parser-inter-byte-timeout` and stamped with the arrival time of the
 * burst's first byte, as socat stamps its records. Bursts of both directions are merged
 * in time order (a reply is never decoded before a request that started earlier), then
 * deframed as one stream per direction and paired by the observation layer's Pairer.
 */
export class BridgeTap {
  private readonly lanes: Record<Direction, Lane>;
  private readonly pairer: Pairer;
  private readonly maxQueued: number;
  private scheduled = false;
  private closed = false;

  constructor(private readonly options: TapOptions) {
    this.maxQueued = options.maxQueuedBytes ?? 1024 * 1024;
    const maxBurst = options.maxBurstBytes ?? 4096;
    this.lanes = {
      '>': new Lane('>', options.protocol, options.burstGapMs, maxBurst),
      '<': new Lane('<', options.protocol, options.burstGapMs, maxBurst),
    };
    this.pairer = new Pairer({ mode: options.protocol, timeoutMs: options.replyTimeoutMs });
    for (const lane of Object.values(this.lanes)) {
      lane.parser.on('data', (x: unknown) => this.guard(() => this.delivered(lane, x)));
      lane.parser.on('error', (err) => this.options.onError(err));
    }
  }

  counters(direction: Direction): TapCounters {
    const c = this.lanes[direction].counters;
    return { ...c, discardReasons: { ...c.discardReasons } };
  }

  /** Requests waiting for a reply. */
  get outstanding(): number {
    return this.pairer.outstanding;
  }

  /** Bytes queued but not yet decoded, both directions. */
  get backlog(): number {
    return this.lanes['>'].inputBytes + this.lanes['<'].inputBytes;
  }

  /** Called on the forwarding path: only queues. `time` is the arrival time in µs. */
  push(direction: Direction, bytes: Uint8Array, time: number): void {
    if (this.closed || bytes.length === 0) return;
    const lane = this.lanes[direction];
    if (lane.inputBytes + bytes.length > this.maxQueued) {
      lane.counters.undecodedBytes += bytes.length;
      lane.behind = true;
      return;
    }
    if (lane.behind) {
      // Bytes were skipped: what follows does not continue the stream decoded so far.
      lane.behind = false;
      lane.input.push({ kind: 'restart', time });
    }
    lane.input.push({ kind: 'bytes', bytes, time });
    lane.inputBytes += bytes.length;
    this.schedule();
  }

  /** The stream of a direction is discontinuous from here (its port was reopened). */
  restart(direction: Direction, time: number): void {
    if (this.closed) return;
    this.lanes[direction].input.push({ kind: 'restart', time });
    this.schedule();
  }

  /** Closes requests older than the reply timeout at `now` (µs), never past data still being decoded. */
  expire(now: number): void {
    this.guard(() => {
      const horizon = Math.min(now, this.lanes['>'].earliest(), this.lanes['<'].earliest());
      for (const t of this.pairer.expire(horizon)) this.emitTransaction(t);
    });
  }

  /** Decodes what is still queued, then closes every outstanding request as unanswered. */
  async close(now: number): Promise<void> {
    if (this.closed) return;
    this.drain();
    this.closed = true;
    for (const lane of Object.values(this.lanes)) lane.parser.emitPacket();
    // Parser output is delivered on a later tick.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    this.guard(() => {
      this.release(true);
      for (const lane of Object.values(this.lanes)) this.handle(lane, lane.deframer.flush());
      for (const t of this.pairer.flush(now)) this.emitTransaction(t);
    });
    for (const lane of Object.values(this.lanes)) lane.parser.destroy();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    this.guard(() => {
      for (const lane of Object.values(this.lanes)) {
        const items = lane.input;
        lane.input = [];
        lane.inputBytes = 0;
        for (const item of items) {
          if (item.kind === 'bytes') {
            lane.chunks.push({ offset: lane.written, time: item.time });
            lane.written += item.bytes.length;
            lane.parser.write(item.bytes);
          } else {
            lane.parser.emitPacket();
            lane.parser.push(item);
          }
        }
      }
    });
  }

  private delivered(lane: Lane, x: unknown): void {
    if (x instanceof Uint8Array) {
      const time = lane.timeAt(lane.delivered);
      lane.delivered += x.length;
      lane.prune();
      lane.out.push({ kind: 'burst', bytes: x, time });
    } else {
      lane.out.push(x as Out);
    }
    this.release(false);
  }

  /** Hands held bursts to the decoder in time order; `force` ignores what may still arrive. */
  private release(force: boolean): void {
    const req = this.lanes['>'];
    const rep = this.lanes['<'];
    for (;;) {
      const a = req.out[0];
      const b = rep.out[0];
      let lane: Lane | undefined;
      // Ties go to the request side: a request and its reply in the same instant pair in that order.
      if (a && (force ? !b || a.time <= b.time : a.time <= rep.earliest())) lane = req;
      else if (b && (force || b.time < req.earliest())) lane = rep;
      if (!lane) return;
      const item = lane.out.shift() as Out;
      this.apply(lane, item);
    }
  }

  private apply(lane: Lane, item: Out): void {
    const dir = lane.direction;
    if (item.kind === 'restart') {
      lane.counters.restarts++;
      this.options.onRestart?.(dir);
      this.handle(lane, lane.deframer.restart());
      return;
    }
    lane.counters.bursts++;
    this.options.onBurst?.(dir, item.time, item.bytes);
    this.handle(lane, lane.deframer.push(item.bytes, item.time));
  }

  private handle(lane: Lane, events: ObservedEvent[]): void {
    for (const ev of events) {
      if (ev.kind === 'discard') {
        const c = lane.counters;
        c.discards++;
        c.discardedBytes += ev.bytes.length;
        c.discardReasons[ev.reason] = (c.discardReasons[ev.reason] ?? 0) + 1;
        this.options.onDiscard?.(lane.direction, ev.reason, ev.bytes, ev.time);
        continue;
      }
      lane.counters.frames++;
      for (const t of this.pairer.push(lane.direction, { frame: ev.frame, raw: ev.raw, time: ev.time })) this.emitTransaction(t);
    }
  }

  private emitTransaction(t: Transaction): void {
    try {
      this.options.onTransaction(t);
    } catch (err) {
      this.options.onError(err);
    }
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      try {
        this.options.onError(err);
      } catch {
        // nothing left to tell
      }
    }
  }
}
