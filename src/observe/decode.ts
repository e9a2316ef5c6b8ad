import { AsciiDeframer, BinaryDeframer, decodeMessage, type DiscardReason, type Protocol } from '../codec/index.js';
import type { ParamResolver } from './describe.js';
import { Pairer, type Transaction } from './pairer.js';
import { parseSocatCapture, type Direction, type SocatProblem } from './socat.js';
import { TimedDeframer, type ObservedDiscard, type ObservedEvent } from './timed.js';

export interface PerDirection<T> {
  readonly '>': T;
  readonly '<': T;
}

export interface DiscardSummary {
  /** Discard events. */
  readonly count: number;
  readonly bytes: number;
  readonly reasons: Partial<Record<DiscardReason, number>>;
}

export interface LatencySummary {
  readonly count: number;
  readonly minMs: number;
  /** The middle value (the mean of the two middle values for an even count). */
  readonly medianMs: number;
  readonly maxMs: number;
}

export interface CaptureSummary {
  readonly type: 'summary';
  /** Chunks (socat records) per direction. */
  readonly records: PerDirection<number>;
  /** Lines of the capture file that could not be used. */
  readonly problems: number;
  /** Stream restarts (new socat sessions in one file) per direction. */
  readonly restarts: PerDirection<number>;
  readonly frames: PerDirection<number>;
  readonly discarded: PerDirection<DiscardSummary>;
  /** Frames whose DATA is not a well-formed message. */
  readonly undecodableFrames: PerDirection<number>;
  /** Frames holding a stuffed 0x10. */
  readonly stuffedFrames: PerDirection<number>;
  /** Records (chunks) that held the start of more than one frame. */
  readonly recordsWithSeveralFrameStarts: PerDirection<number>;
  /** `>` frames by command name (`read`, `write` ...). */
  readonly requestKinds: Record<string, number>;
  /** `<` frames: `data` (02), `status` (00), `error-frame`, or another command name. */
  readonly replyKinds: Record<string, number>;
  readonly transactions: number;
  /** Requests with a reply (any reply: data, status or error frame). */
  readonly paired: number;
  readonly unanswered: number;
  /** Replies that matched no request. */
  readonly unmatchedReplies: number;
  readonly outcomes: Record<string, number>;
  /** Error frames seen (paired or not). */
  readonly errorFrames: number;
  readonly errorFramesByCode: Record<string, number>;
  /** Status replies (command 00) by status code, decimal. */
  readonly statusReplies: Record<string, number>;
  /**
   * The most answered requests in flight at once: the largest number of paired
   * transactions whose [request, reply] times overlap (pipelining depth).
   */
  readonly maxOutstanding: number;
  /** The most requests waiting at once, counting those later closed as unanswered (they wait until the timeout). */
  readonly maxPending: number;
  readonly latency: LatencySummary | null;
  /** Largest DATA field seen, in bytes. */
  readonly largestData: { readonly request: number; readonly reply: number };
  /** Nodes addressed by requests, ascending. */
  readonly nodes: number[];
}

export interface DecoderOptions {
  /** Framing of both directions. Default `binary`. */
  readonly protocol?: Protocol;
  /** Pairing timeout in ms of event time. Default 1000. */
  readonly timeoutMs?: number;
  /** Parameter lookup (default: the parameter DB). */
  readonly resolve?: ParamResolver;
}

function inc(rec: Record<string, number>, key: string, by = 1): void {
  rec[key] = (rec[key] ?? 0) + by;
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  const mid = n >> 1;
  return n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The passive decoder for a two-direction tap: timestamped byte chunks in,
 * transactions out, with running statistics. Pure (no timers, no I/O), so the
 * same class serves `flowbus decode`, capture replay and a live passive bridge.
 * Chunks must be pushed in time order across both directions.
 */
export class CaptureDecoder {
  private readonly streams: { '>': TimedDeframer; '<': TimedDeframer };
  private readonly pairer: Pairer;
  private lastTime = 0;
  private finished = false;

  private readonly frames = { '>': 0, '<': 0 };
  private readonly discards: { '>': { count: number; bytes: number; reasons: Partial<Record<DiscardReason, number>> }; '<': { count: number; bytes: number; reasons: Partial<Record<DiscardReason, number>> } } = {
    '>': { count: 0, bytes: 0, reasons: {} },
    '<': { count: 0, bytes: 0, reasons: {} },
  };
  private readonly undecodable = { '>': 0, '<': 0 };
  private readonly stuffed = { '>': 0, '<': 0 };
  private readonly requestKinds: Record<string, number> = {};
  private readonly replyKinds: Record<string, number> = {};
  private readonly outcomes: Record<string, number> = {};
  private readonly statusReplies: Record<string, number> = {};
  private readonly errorFramesByCode: Record<string, number> = {};
  private errorFrames = 0;
  private transactionCount = 0;
  private pairedCount = 0;
  private readonly latencies: number[] = [];
  private largestRequest = 0;
  private largestReply = 0;
  private readonly nodes = new Set<number>();
  private readonly inFlight = new OverlapTracker();
  /** Discard events, for a caller that wants to log them. */
  readonly discardLog: ObservedDiscard[] = [];
  problems = 0;

  constructor(options: DecoderOptions = {}) {
    const protocol = options.protocol ?? 'binary';
    const make = (): BinaryDeframer | AsciiDeframer => (protocol === 'ascii' ? new AsciiDeframer() : new BinaryDeframer());
    this.streams = { '>': new TimedDeframer('>', make), '<': new TimedDeframer('<', make) };
    this.pairer = new Pairer({
      mode: protocol,
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.resolve ? { resolve: options.resolve } : {}),
    });
  }

  /** Feeds one chunk of one direction received at `time` (microseconds); returns the transactions it completed. */
  push(direction: Direction, time: number, bytes: Uint8Array): Transaction[] {
    if (time > this.lastTime) this.lastTime = time;
    return this.handle(this.streams[direction].push(bytes, time));
  }

  /** Offset of the next byte of a direction's stream (since the start or the last `restart`). */
  offset(direction: Direction): number {
    return this.streams[direction].offset;
  }

  /**
   * The stream of one direction is discontinuous (a socat capture file holding several
   * sessions, whose `from=` offsets start again at 0; a reopened port). Any unfinished frame
   * is discarded as truncated; outstanding requests stay and expire by time.
   */
  restart(direction: Direction): Transaction[] {
    return this.handle(this.streams[direction].restart());
  }

  /** Closes requests older than the timeout at `now` (a live bridge calls this from its own clock). */
  expire(now: number): Transaction[] {
    return this.count(this.pairer.expire(now));
  }

  /** Time of the last chunk pushed (microseconds). */
  get time(): number {
    return this.lastTime;
  }

  /** End of stream: flushes both deframers and closes every outstanding request as unanswered. */
  finish(now: number = this.lastTime): Transaction[] {
    if (this.finished) return [];
    this.finished = true;
    const out = [...this.handle(this.streams['>'].flush()), ...this.handle(this.streams['<'].flush())];
    out.push(...this.count(this.pairer.flush(now)));
    return out;
  }

  private handle(events: ObservedEvent[]): Transaction[] {
    const out: Transaction[] = [];
    for (const ev of events) {
      const dir = ev.direction;
      if (ev.kind === 'discard') {
        const d = this.discards[dir];
        d.count++;
        d.bytes += ev.bytes.length;
        d.reasons[ev.reason] = (d.reasons[ev.reason] ?? 0) + 1;
        this.discardLog.push(ev);
        continue;
      }
      this.frames[dir]++;
      const f = ev.frame;
      const bodyLength = f.kind === 'data' ? 3 + f.data.length : 4;
      const framingLength = ev.raw[0] === 0x3a ? 0 : 4;
      if (framingLength > 0 && ev.raw.length > bodyLength + framingLength) this.stuffed[dir]++;
      if (f.kind === 'data') {
        if (dir === '>') this.largestRequest = Math.max(this.largestRequest, f.data.length);
        else this.largestReply = Math.max(this.largestReply, f.data.length);
      }
      const cmd = f.kind === 'data' ? f.data[0] : undefined;
      if (f.kind === 'data' && !isWellFormed(f.data)) this.undecodable[dir]++;
      if (dir === '>') {
        inc(this.requestKinds, cmd === undefined ? 'error-frame' : kindName(cmd));
        if (f.node !== undefined) this.nodes.add(f.node);
      } else {
        inc(this.replyKinds, cmd === undefined ? 'error-frame' : cmd === 2 ? 'data' : kindName(cmd));
      }
      out.push(...this.count(this.pairer.push(dir, { frame: f, raw: ev.raw, time: ev.time })));
    }
    return out;
  }

  private count(transactions: Transaction[]): Transaction[] {
    this.inFlight.prune(this.pairer.oldestPendingTime ?? this.lastTime);
    for (const t of transactions) {
      this.transactionCount++;
      inc(this.outcomes, t.outcome);
      if (t.request && t.reply) {
        this.pairedCount++;
        this.inFlight.add(t.request.time, t.reply.time);
      }
      if (t.latencyMs !== undefined) this.latencies.push(t.latencyMs);
      if (t.status) inc(this.statusReplies, String(t.status.code));
      if (t.errorFrame) {
        this.errorFrames++;
        inc(this.errorFramesByCode, String(t.errorFrame.code));
      }
    }
    return transactions;
  }

  summary(): CaptureSummary {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const round = (x: number): number => Math.round(x * 1000) / 1000;
    const copyDiscards = (d: { count: number; bytes: number; reasons: Partial<Record<DiscardReason, number>> }): DiscardSummary => ({
      count: d.count,
      bytes: d.bytes,
      reasons: { ...d.reasons },
    });
    const unanswered = this.outcomes['unanswered'] ?? 0;
    const orphans = this.outcomes['orphan'] ?? 0;
    return {
      type: 'summary',
      records: { '>': this.streams['>'].chunksSeen, '<': this.streams['<'].chunksSeen },
      problems: this.problems,
      restarts: { '>': this.streams['>'].restarts, '<': this.streams['<'].restarts },
      frames: { ...this.frames },
      discarded: { '>': copyDiscards(this.discards['>']), '<': copyDiscards(this.discards['<']) },
      undecodableFrames: { ...this.undecodable },
      stuffedFrames: { ...this.stuffed },
      recordsWithSeveralFrameStarts: {
        '>': this.streams['>'].chunksWithSeveralFrameStarts,
        '<': this.streams['<'].chunksWithSeveralFrameStarts,
      },
      requestKinds: { ...this.requestKinds },
      replyKinds: { ...this.replyKinds },
      transactions: this.transactionCount,
      paired: this.pairedCount,
      unanswered,
      unmatchedReplies: orphans,
      outcomes: { ...this.outcomes },
      errorFrames: this.errorFrames,
      errorFramesByCode: { ...this.errorFramesByCode },
      statusReplies: { ...this.statusReplies },
      maxOutstanding: this.inFlight.max(),
      maxPending: this.pairer.maxOutstanding,
      latency:
        sorted.length === 0
          ? null
          : { count: sorted.length, minMs: round(sorted[0] as number), medianMs: round(median(sorted)), maxMs: round(sorted[sorted.length - 1] as number) },
      largestData: { request: this.largestRequest, reply: this.largestReply },
      nodes: [...this.nodes].sort((a, b) => a - b),
    };
  }
}

/**
 * The largest number of [start, end] intervals that overlap at one point. Bounded
 * memory for a live tap: intervals that end before `horizon` (no later interval can
 * start before it) are folded into the running maximum and dropped.
 */
export class OverlapTracker {
  private intervals: { start: number; end: number }[] = [];
  private folded = 0;

  add(start: number, end: number): void {
    this.intervals.push({ start, end });
  }

  /** Every interval added from now on starts at or after `horizon`. */
  prune(horizon: number): void {
    if (this.intervals.length < 256) return;
    const keep = this.intervals.filter((i) => i.end >= horizon);
    if (keep.length === this.intervals.length) return;
    this.folded = this.max();
    this.intervals = keep;
  }

  max(): number {
    // Sweep: starts before ends at the same instant, so touching intervals count as overlapping.
    const points: [number, number][] = [];
    for (const i of this.intervals) points.push([i.start, 1], [i.end, -1]);
    points.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    let depth = 0;
    let best = this.folded;
    for (const [, d] of points) {
      depth += d;
      if (depth > best) best = depth;
    }
    return best;
  }
}

function isWellFormed(data: Uint8Array): boolean {
  try {
    decodeMessage(data);
    return true;
  } catch {
    return false;
  }
}

function kindName(cmd: number): string {
  switch (cmd) {
    case 0:
      return 'status';
    case 1:
      return 'write';
    case 2:
      return 'send';
    case 3:
      return 'broadcast';
    case 4:
      return 'read';
    default:
      return `cmd-${cmd}`;
  }
}

export interface CaptureDecodeResult {
  /** In time order (request time; reply time for orphans), ties in completion order. */
  readonly transactions: Transaction[];
  readonly summary: CaptureSummary;
  /** Lines of the capture file that could not be used. */
  readonly problems: SocatProblem[];
  readonly discards: ObservedDiscard[];
}

/** Decodes a whole `socat -x -v` capture. Never throws on bad input: bad lines become `problems`. */
export function decodeCapture(text: string, options: DecoderOptions = {}): CaptureDecodeResult {
  const { records, problems } = parseSocatCapture(text);
  const decoder = new CaptureDecoder(options);
  decoder.problems = problems.length;
  const transactions: Transaction[] = [];
  /** Times of the injected records per direction: a transaction whose request is one of them is the bridge's own. */
  const injected = new Set<number>();
  for (const r of records) {
    if (r.injected && r.direction === '>') injected.add(r.time);
    // A `from=` that does not continue the stream marks a new socat session in the same file.
    if (r.from !== decoder.offset(r.direction)) transactions.push(...decoder.restart(r.direction));
    transactions.push(...decoder.push(r.direction, r.time, r.bytes));
  }
  transactions.push(...decoder.finish());
  const marked = injected.size === 0 ? transactions : transactions.map((t) => (t.request && injected.has(t.request.time) ? { ...t, injected: true } : t));
  const ordered = marked.map((t, i) => ({ t, i })).sort((a, b) => a.t.time - b.t.time || a.i - b.i).map((x) => x.t);
  return { transactions: ordered, summary: decoder.summary(), problems, discards: decoder.discardLog };
}
