import { createDeframer, type DiscardReason, type Protocol } from '../../codec/index.js';
import { Pairer, TimedDeframer, type Direction, type ObservedEvent, type Transaction } from '../../observe/index.js';

export interface TapOptions {
  readonly protocol: Protocol;
  /** Silence that ends a burst, ms. */
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
  /** How long queued bytes wait to be decoded together, ms; 0 decodes them in the next turn. Default DECODE_HOLD_MS. */
  readonly holdMs?: number;
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

/**
 * How long after a burst opened the tap looks whether the line has been silent for the gap, ms
 * (at least the gap). Where a burst ends is decided by the bytes' arrival times, so this only
 * says how soon a burst that nothing follows is decoded. A master polling fast turns the line
 * round before it and never wakes the process for it; 2 ms, one wake for every burst, was a
 * measurable part of what the bridge cost over socat on a busy machine.
 */
const SETTLE_MS = 20;

/**
 * How long the bytes forwarded wait before they are decoded, ms: the chunks of this long are
 * decoded, paired, named, logged and published together, not each as it comes. Decoding a
 * round trip right after its forward ran exactly when a fast master asks again or the instrument
 * answers, and the next chunk waited on the loop for it; done every few ms, the same work ran
 * cold, a wake-up and its caches each time. Held for 50 ms it costs about a third less CPU per
 * round trip and leaves most round trips to the forwarding alone (bench/bridge.ts, issue 14 part
 * 5). The arrival times, stamped as each chunk is read, decide the bursts and the transactions'
 * times either way: only the events, the log rows and the decoded values come up to this much
 * later.
 */
export const DECODE_HOLD_MS = 50;

/** Bytes decoded in one turn of the event loop at most (at least one burst). */
const RELEASE_BYTES = 1024;

/** Wall-clock microseconds, the clock of the chunks' arrival times. */
function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * One direction: queued chunks -> bursts -> held for the time-ordered merge. A burst ends at a
 * silence of the gap (by the chunks' arrival times), at the longest burst, and when the other
 * direction speaks: the line has turned round, so a request and the next one are two bursts
 * even when the reply between them came within the gap.
 */
class Lane {
  input: Item[] = [];
  inputBytes = 0;
  behind = false;
  /** The burst being gathered: its chunks (views of what was read, copied once when it ends). */
  private parts: Uint8Array[] = [];
  private size = 0;
  /** Arrival time of the open burst's first byte, and of its last chunk (µs). */
  private startedAt = 0;
  lastAt = 0;
  /** Ends the open burst when the line stays silent (armed while a burst is open). */
  timer: NodeJS.Timeout | undefined;
  out: Out[] = [];
  readonly deframer: TimedDeframer;
  readonly counters: TapCounters = { bursts: 0, frames: 0, discards: 0, discardedBytes: 0, discardReasons: {}, undecodedBytes: 0, restarts: 0 };

  constructor(
    readonly direction: Direction,
    protocol: Protocol,
    private readonly gapMicros: number,
    private readonly maxBurst: number,
  ) {
    this.deframer = new TimedDeframer(direction, () => createDeframer(protocol));
  }

  get open(): boolean {
    return this.size > 0;
  }

  /** Adds a chunk that arrived at `time` (µs) to the open burst, ending it first after a silence of the gap. */
  add(bytes: Uint8Array, time: number): void {
    if (this.size > 0 && time - this.lastAt >= this.gapMicros) this.cut();
    let rest = bytes;
    while (rest.length > 0) {
      if (this.size === 0) this.startedAt = time;
      const take = Math.min(rest.length, this.maxBurst - this.size);
      this.parts.push(take === rest.length ? rest : rest.subarray(0, take));
      this.size += take;
      rest = rest.subarray(take);
      if (this.size >= this.maxBurst) this.cut();
    }
    this.lastAt = time;
  }

  /** Ends the open burst: one copy of its bytes, apart from the buffers they were read into. */
  cut(): void {
    if (this.size === 0) return;
    const bytes = new Uint8Array(this.size);
    let at = 0;
    for (const part of this.parts) {
      bytes.set(part, at);
      at += part.length;
    }
    this.out.push({ kind: 'burst', bytes, time: this.startedAt });
    this.parts = [];
    this.size = 0;
  }

  /** The earliest time anything of this direction not yet merged arrived; Infinity when nothing waits. */
  earliest(): number {
    const head = this.out[0];
    if (head) return head.time;
    if (this.size > 0) return this.startedAt;
    const first = this.input[0];
    return first ? first.time : Infinity;
  }
}

/**
 * The decoding side of the passive bridge, fully apart from forwarding: `push` only
 * queues (O(1)); decoding runs on `setImmediate`. Each direction is cut into bursts at a
 * silence of `burstGapMs` and when the other direction speaks, and each burst is stamped with
 * the arrival time of its first byte, as socat stamps its records. Bursts of both directions
 * are merged in time order (a reply is never decoded before a request that started earlier),
 * then deframed as one stream per direction and paired by the observation layer's Pairer.
 */
export class BridgeTap {
  private readonly lanes: Record<Direction, Lane>;
  private readonly pairer: Pairer;
  private readonly maxQueued: number;
  private readonly gapMs: number;
  private readonly settleMs: number;
  private scheduled = false;
  /** The timer that ends the hold of queued bytes (DECODE_HOLD_MS). */
  private held: NodeJS.Timeout | undefined;
  private readonly holdMs: number;
  private closed = false;

  constructor(private readonly options: TapOptions) {
    this.maxQueued = options.maxQueuedBytes ?? 1024 * 1024;
    const maxBurst = options.maxBurstBytes ?? 4096;
    this.gapMs = options.burstGapMs;
    this.settleMs = Math.max(SETTLE_MS, options.burstGapMs);
    this.holdMs = options.holdMs ?? DECODE_HOLD_MS;
    this.lanes = {
      '>': new Lane('>', options.protocol, options.burstGapMs * 1000, maxBurst),
      '<': new Lane('<', options.protocol, options.burstGapMs * 1000, maxBurst),
    };
    this.pairer = new Pairer({ mode: options.protocol, timeoutMs: options.replyTimeoutMs });
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
    this.hold();
  }

  /** Bytes of `direction` that were forwarded but never reached the tap: counted as not decoded, and the stream restarts after them. */
  skip(direction: Direction, bytes: number): void {
    if (this.closed || bytes === 0) return;
    const lane = this.lanes[direction];
    lane.counters.undecodedBytes += bytes;
    lane.behind = true;
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
    this.guard(() => {
      for (const lane of Object.values(this.lanes)) {
        if (lane.timer) clearTimeout(lane.timer);
        lane.timer = undefined;
        lane.cut();
      }
      this.release(true);
      for (const lane of Object.values(this.lanes)) this.handle(lane, lane.deframer.flush());
      for (const t of this.pairer.flush(now)) this.emitTransaction(t);
    });
  }

  /** Decodes what is queued once the hold is over (at once when `holdMs` is 0). */
  private hold(): void {
    if (this.scheduled || this.held) return;
    if (this.holdMs <= 0) return this.schedule();
    this.held = setTimeout(() => {
      this.held = undefined;
      this.schedule();
    }, this.holdMs);
  }

  private schedule(): void {
    if (this.held) {
      clearTimeout(this.held);
      this.held = undefined;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  /** Cuts what was queued into bursts, both directions in arrival order, and decodes what may be. */
  private drain(): void {
    this.scheduled = false;
    if (this.held) {
      clearTimeout(this.held);
      this.held = undefined;
    }
    this.guard(() => {
      const req = this.lanes['>'];
      const rep = this.lanes['<'];
      const a = req.input;
      const b = rep.input;
      req.input = [];
      req.inputBytes = 0;
      rep.input = [];
      rep.inputBytes = 0;
      let i = 0;
      let j = 0;
      while (i < a.length || j < b.length) {
        const x = a[i];
        const y = b[j];
        // Ties go to the request side, as in the merge.
        if (x && (!y || x.time <= y.time)) {
          i++;
          this.feed(req, rep, x);
        } else if (y) {
          j++;
          this.feed(rep, req, y);
        }
      }
      this.release(false);
    });
  }

  private feed(lane: Lane, other: Lane, item: Item): void {
    if (item.kind === 'restart') {
      lane.cut();
      lane.out.push(item);
      return;
    }
    // The other direction speaks: whatever this one said before has ended.
    other.cut();
    lane.add(item.bytes, item.time);
    if (lane.open && !lane.timer) lane.timer = setTimeout(() => this.silence(lane), this.settleMs);
  }

  /** Ends the open burst once the line has been silent for the gap since its last chunk (looked at every SETTLE_MS). */
  private silence(lane: Lane): void {
    lane.timer = undefined;
    if (this.closed || !lane.open) return;
    this.guard(() => {
      const idleMs = (nowMicros() - lane.lastAt) / 1000;
      // Queued chunks are added first (the drain is due): they may continue the burst.
      if (lane.input.length === 0 && idleMs >= this.gapMs) {
        lane.cut();
        this.release(false);
      } else {
        lane.timer = setTimeout(() => this.silence(lane), this.settleMs);
      }
    });
  }

  /**
   * Hands held bursts to the decoder in time order; `force` ignores what may still arrive. Without
   * `force`, stops after RELEASE_BYTES and goes on in a later turn, so that a backlog (a saturated
   * line) is decoded between reads and writes rather than holding the forwarding for its length.
   */
  private release(force: boolean): void {
    const req = this.lanes['>'];
    const rep = this.lanes['<'];
    let released = 0;
    for (;;) {
      if (!force && released >= RELEASE_BYTES) {
        this.schedule();
        return;
      }
      const a = req.out[0];
      const b = rep.out[0];
      let lane: Lane | undefined;
      // Ties go to the request side: a request and its reply in the same instant pair in that order.
      if (a && (force ? !b || a.time <= b.time : a.time <= rep.earliest())) lane = req;
      else if (b && (force || b.time < req.earliest())) lane = rep;
      if (!lane) return;
      const item = lane.out.shift() as Out;
      if (item.kind === 'burst') released += item.bytes.length;
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
