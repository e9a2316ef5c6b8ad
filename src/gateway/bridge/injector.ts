import { Duplex } from 'node:stream';
import { Bus, ParamClient } from '../../bus/index.js';
import { BinaryDeframer, Command, DLE, encodeBinaryFrame, ETX, STX, type Frame } from '../../codec/index.js';
import { Pairer, type Transaction } from '../../observe/index.js';
import { Transport } from '../../transport/index.js';
import type { InjectView } from '../service.js';

export interface InjectorOptions {
  /** Quiet line (both directions) and no master request outstanding for this long before an injected request, ms. */
  readonly idleMs: number;
  /** An injected request without a reply after this long is given up, ms. */
  readonly timeoutMs: number;
  /** Longest an injected request waits for a gap, ms. */
  readonly waitMs: number;
  /** A master request without a reply after this long counts as a master timeout, ms. */
  readonly masterTimeoutMs: number;
  /** A master transaction slower than this while injecting pauses injection, ms. */
  readonly maxMasterLatencyMs: number;
  /** How long injection pauses, ms. */
  readonly backoffMs: number;
  readonly baud: number;
}

export interface InjectorHooks {
  /** Writes an injected request to the instrument side (one write call: it never interleaves with the master's bytes). */
  toInstrument(bytes: Uint8Array): void;
  /** Bytes of the instrument side that go on to the master (everything but the injected replies; a remapped SEQ put back). */
  toMaster(bytes: Uint8Array): void;
  /** The master's bytes, to the instrument side (a SEQ rewritten where an injected request holds it). */
  masterToInstrument(bytes: Uint8Array): void;
  /** An injected exchange, paired (or unanswered). */
  transaction(t: Transaction): void;
  /** An injected request or its swallowed reply, for the capture (µs). */
  wire(direction: '>' | '<', time: number, bytes: Uint8Array): void;
  /** Injection paused or resumed. */
  backoff(kind: 'inject-backoff' | 'inject-resumed', reason: string): void;
  /** An injected request was given up (no gap within waitMs, or no reply within timeoutMs): its caller stops waiting. */
  gaveUp(reason: 'no-gap' | 'timeout'): void;
}


/** How many of the master's recent SEQs the choice of ours keeps away from. */
const RECENT_SEQS = 32;

const key = (seq: number, node: number): string => `${seq}/${node}`;

function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

const enum In {
  /** Outside a frame. */
  Out,
  /** Outside a frame, a DLE held. */
  OutDle,
  /** DLE STX seen: collecting SEQ and NODE to decide whose reply it is. */
  Head,
  /** A reply to the master: forwarded byte by byte. */
  Pass,
  /** A reply to an injected request: kept from the master. */
  Swallow,
}

/** The one byte `b` as it goes in a binary frame: a DLE doubled. */
const stuffed = (b: number): number[] => (b === DLE ? [DLE, DLE] : [b]);

interface Flight {
  readonly busSeq: number;
  readonly seq: number;
  readonly node: number;
  readonly sentAt: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * Injection in bridge mode. Watches the master's requests (deframed as they pass) and the
 * instrument's replies (deframed before they pass: a reply is held only until its SEQ and NODE
 * are known), sends one request of its own at a time when the line is idle, with a SEQ far from
 * the master's recent ones, and keeps the reply to it from the master. A master request that
 * comes with the (SEQ, NODE) of an injected request is forwarded with a free SEQ, and its reply
 * gets the master's SEQ back, so the master sees exactly its own bytes. Its requests come from a
 * ParamClient on an in-process link, so reads and writes are built as in master mode; the SEQ
 * that client chose is mapped to the one on the wire and back.
 */
export class Injector {
  readonly client: ParamClient;
  private readonly bus: Bus;
  private readonly link: Duplex;
  private readonly transport: Transport;
  private readonly fromBus = new BinaryDeframer();
  private readonly masterFrames = new BinaryDeframer();
  private readonly pairer: Pairer;
  private readonly queue: { frame: Extract<Frame, { kind: 'data' }>; at: number }[] = [];
  /** Master requests without a reply yet: key -> when seen (ms). */
  private readonly outstanding = new Map<string, number>();
  private readonly recentSeqs: number[] = [];
  /** Keys of injected requests given up: a late reply to one is still kept from the master (key -> until, ms). */
  private readonly retired = new Map<string, number>();
  private flight: Flight | undefined;
  private lastMasterByte = 0;
  private lastInstrumentByte = 0;
  /** Last time an injected request was on the line (sent, or answered), ms. */
  private lastInjectActivity = 0;
  private pausedUntil = 0;
  private lastBackoff: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  // The instrument-side state machine.
  private state = In.Out;
  private held: number[] = [];
  private headDle = false;
  private head: number[] = [];
  private passDle = false;
  private passKey: string | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  /** The reply being passed to the master carries a remapped SEQ: its wire key. */
  private passRemap: string | undefined;
  // The master-side state machine (same states; Pass is a request going on to the instrument).
  private mState = In.Out;
  private mHeld: number[] = [];
  private mHeadDle = false;
  private mHead: number[] = [];
  private mBodyDle = false;
  private mFlushTimer: NodeJS.Timeout | undefined;
  /** Master requests forwarded with another SEQ: wire key -> the master's SEQ, and until when a reply may come (ms). */
  private readonly remaps = new Map<string, { seq: number; until: number }>();
  /** The SEQ each master frame in passage went out with, by its own key, for the bookkeeping of `fromMaster`. */
  private readonly wireSeqOf = new Map<string, number>();
  readonly counts = { sent: 0, answered: 0, timedOut: 0, noGap: 0, lateReplies: 0, collisions: 0, remaps: 0, masterTimeouts: 0, backoffs: 0, requestBytes: 0 };
  /** Why the last injected request failed, for a precise error. */
  lastFailure: 'timeout' | 'no-gap' | undefined;

  constructor(
    private readonly options: InjectorOptions,
    private readonly hooks: InjectorHooks,
  ) {
    this.pairer = new Pairer({ mode: 'binary', timeoutMs: options.timeoutMs });
    this.link = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _enc, done) => {
        this.busBytes(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        done();
      },
    });
    const link = this.link;
    this.transport = new Transport('inject://', async () => link, { initialDelayMs: 1000, maxDelayMs: 10_000 });
    this.bus = new Bus(this.transport, {
      protocol: 'binary',
      pipelineDepth: 1,
      retries: 0,
      replyTimeoutMs: Math.min(10_000, options.waitMs + options.timeoutMs + 50),
      queueDeadlineMs: Math.max(60_000, options.waitMs * 4),
      backoffAfterFailures: 100,
      baudRate: options.baud,
    });
    this.client = new ParamClient(this.bus);
  }

  async start(): Promise<void> {
    await this.transport.start();
  }

  get paused(): boolean {
    return Date.now() < this.pausedUntil;
  }

  view(): InjectView {
    const paused = this.paused;
    return {
      state: paused ? 'paused' : 'active',
      ...(paused ? { pausedUntil: new Date(this.pausedUntil).toISOString() } : {}),
      ...(this.lastBackoff ? { lastBackoff: this.lastBackoff } : {}),
      queued: this.queue.length,
      inFlight: this.flight !== undefined,
      ...this.counts,
    };
  }

  // ------------------------------------------------------------------ the master side

  /**
   * A chunk from the master: forwarded at once (through `masterToInstrument`), the header of a
   * frame held only until its SEQ and NODE are known. A request whose (SEQ, NODE) an injected
   * request holds (in flight, or given up with its reply maybe still to come) goes out with a free
   * SEQ instead, and its reply gets the master's SEQ back. Then its requests and SEQs are noted.
   */
  fromMaster(chunk: Uint8Array): void {
    const now = Date.now();
    this.lastMasterByte = now;
    const heldBefore = this.mHeld.length + (this.mBodyDle ? 1 : 0);
    const out: number[] = [];
    let rewrote = false;
    for (const b of chunk) if (this.masterStep(b, out)) rewrote = true;
    // Nothing held or rewritten: the chunk goes on as it came (no copy).
    if (heldBefore === 0 && this.mHeld.length === 0 && !this.mBodyDle && !rewrote) this.hooks.masterToInstrument(chunk);
    else if (out.length > 0) this.hooks.masterToInstrument(Uint8Array.from(out));
    clearTimeout(this.mFlushTimer);
    if (this.mHeld.length > 0 || this.mBodyDle) {
      this.mFlushTimer = setTimeout(() => this.flushMaster(), Math.max(5, this.options.idleMs));
      this.mFlushTimer.unref?.();
    }
    for (const ev of this.masterFrames.push(chunk)) {
      if (ev.kind !== 'frame' || ev.frame.kind !== 'data') continue;
      const { seq, node } = ev.frame;
      const own = key(seq, node);
      const wire = this.wireSeqOf.get(own) ?? seq;
      this.wireSeqOf.delete(own);
      this.recentSeqs.push(seq);
      if (wire !== seq) this.recentSeqs.push(wire);
      // Send (2) and broadcast (3) get no reply: nothing to wait for.
      const command = ev.frame.data[0];
      if (command !== Command.Send && command !== Command.Broadcast) this.outstanding.set(key(wire, node), now);
      else if (wire !== seq) this.remaps.delete(key(wire, node));
      while (this.recentSeqs.length > RECENT_SEQS) this.recentSeqs.shift();
    }
  }

  /** Master bytes held at the end of a burst (a header cut short, a DLE): they go on as they are. */
  private flushMaster(): void {
    const bytes = [...this.mHeld, ...(this.mBodyDle ? [DLE] : [])];
    this.mHeld = [];
    this.mBodyDle = false;
    if (this.mState !== In.Pass) this.mState = In.Out;
    if (bytes.length > 0) this.hooks.masterToInstrument(Uint8Array.from(bytes));
  }

  /** One master byte; true when a header was rewritten. */
  private masterStep(b: number, out: number[]): boolean {
    switch (this.mState) {
      case In.Out:
      case In.Swallow:
        if (b === DLE) {
          this.mHeld = [b];
          this.mState = In.OutDle;
        } else out.push(b);
        return false;
      case In.OutDle:
        if (b === STX) {
          this.mHeld.push(b);
          this.mBeginHead();
        } else if (b === DLE) {
          out.push(DLE);
        } else {
          out.push(...this.mHeld, b);
          this.mHeld = [];
          this.mState = In.Out;
        }
        return false;
      case In.Head:
        this.mHeld.push(b);
        if (this.mHeadDle) {
          this.mHeadDle = false;
          if (b === DLE) return this.mHeadByte(out, DLE);
          if (b === STX) {
            out.push(...this.mHeld.slice(0, -2));
            this.mHeld = [DLE, STX];
            this.mBeginHead();
          } else {
            out.push(...this.mHeld);
            this.mHeld = [];
            this.mState = In.Out;
          }
        } else if (b === DLE) this.mHeadDle = true;
        else return this.mHeadByte(out, b);
        return false;
      case In.Pass:
        if (this.mBodyDle) {
          this.mBodyDle = false;
          if (b === STX) {
            this.mHeld = [DLE, STX];
            this.mBeginHead();
            return false;
          }
          out.push(DLE, b);
          if (b === ETX) this.mState = In.Out;
          return false;
        }
        if (b === DLE) this.mBodyDle = true;
        else out.push(b);
        return false;
    }
  }

  private mBeginHead(): void {
    this.mState = In.Head;
    this.mHead = [];
    this.mHeadDle = false;
  }

  /** One unstuffed header byte of a master frame; at the NODE, the SEQ it goes out with is decided. */
  private mHeadByte(out: number[], b: number): boolean {
    this.mHead.push(b);
    if (this.mHead.length < 2) return false;
    const seq = this.mHead[0] as number;
    const node = this.mHead[1] as number;
    const own = key(seq, node);
    this.mState = In.Pass;
    this.mBodyDle = false;
    const now = Date.now();
    const held = (this.flight !== undefined && own === key(this.flight.seq, this.flight.node)) || (this.retired.get(own) ?? 0) > now || this.remaps.has(own);
    if (!held) {
      this.wireSeqOf.delete(own);
      out.push(...this.mHeld);
      this.mHeld = [];
      return false;
    }
    this.counts.collisions++;
    const wire = this.chooseSeq(node, seq);
    this.counts.remaps++;
    this.wireSeqOf.set(own, wire);
    this.remaps.set(key(wire, node), { seq, until: now + 4 * Math.max(this.options.masterTimeoutMs, this.options.timeoutMs) });
    out.push(DLE, STX, ...stuffed(wire), ...stuffed(node));
    this.mHeld = [];
    return true;
  }

  // ------------------------------------------------------------------ the instrument side

  /** A chunk from the instrument: forwards (through `toMaster`) all but the injected replies. */
  fromInstrument(chunk: Uint8Array): void {
    this.lastInstrumentByte = Date.now();
    const out: number[] = [];
    for (const b of chunk) this.step(b, out);
    if (out.length > 0) this.hooks.toMaster(Uint8Array.from(out));
    clearTimeout(this.flushTimer);
    // Bytes held at the end of a burst that never went on (a garbled header): let them go.
    if (this.held.length > 0 && (this.state === In.Head || this.state === In.OutDle)) {
      this.flushTimer = setTimeout(() => this.flushHeld(), Math.max(5, this.options.idleMs));
      this.flushTimer.unref?.();
    }
  }

  private flushHeld(): void {
    if (this.held.length === 0) return;
    const bytes = Uint8Array.from(this.held);
    this.held = [];
    if (this.state === In.Head) this.state = In.Pass;
    else if (this.state === In.OutDle) this.state = In.Out;
    this.passDle = false;
    this.hooks.toMaster(bytes);
  }

  private step(b: number, out: number[]): void {
    switch (this.state) {
      case In.Out:
        if (b === DLE) {
          this.held = [b];
          this.state = In.OutDle;
        } else out.push(b);
        return;
      case In.OutDle:
        if (b === STX) {
          this.held.push(b);
          this.beginHead();
        } else if (b === DLE) {
          out.push(DLE);
        } else {
          out.push(...this.held, b);
          this.held = [];
          this.state = In.Out;
        }
        return;
      case In.Head:
        this.held.push(b);
        if (this.headDle) {
          this.headDle = false;
          if (b === DLE) this.headByte(out);
          else if (b === STX) {
            // A new frame starts: what came before goes on as it was.
            out.push(...this.held.slice(0, -2));
            this.held = [DLE, STX];
            this.beginHead();
          } else {
            out.push(...this.held);
            this.held = [];
            this.state = In.Out;
          }
        } else if (b === DLE) this.headDle = true;
        else this.headByte(out, b);
        return;
      case In.Pass:
      case In.Swallow: {
        const swallow = this.state === In.Swallow;
        if (this.passDle) {
          this.passDle = false;
          if (b === STX) {
            this.endFrame(false);
            this.held = [DLE, STX];
            this.beginHead();
            return;
          }
          if (swallow) this.held.push(DLE, b);
          else out.push(DLE, b);
          if (b === ETX) this.endFrame(true);
          return;
        }
        if (b === DLE) {
          this.passDle = true;
          return;
        }
        if (swallow) this.held.push(b);
        else out.push(b);
        return;
      }
    }
  }

  private beginHead(): void {
    this.state = In.Head;
    this.head = [];
    this.headDle = false;
  }

  /** One unstuffed header byte; the second (NODE) decides. */
  private headByte(out: number[], b = DLE): void {
    this.head.push(b);
    if (this.head.length < 2) return;
    const k = key(this.head[0] as number, this.head[1] as number);
    const ours = (this.flight && k === key(this.flight.seq, this.flight.node)) || (this.retired.get(k) ?? 0) > Date.now();
    this.passKey = k;
    this.passDle = false;
    const remap = ours ? undefined : this.remaps.get(k);
    this.passRemap = remap ? k : undefined;
    if (ours) {
      this.state = In.Swallow;
    } else {
      // A reply to a remapped master request: the master's own SEQ back, stuffed as the frame needs.
      if (remap) out.push(DLE, STX, ...stuffed(remap.seq), ...stuffed(this.head[1] as number));
      else out.push(...this.held);
      this.held = [];
      this.state = In.Pass;
    }
  }

  /** The end of a frame of the instrument (`complete`: with DLE ETX; else cut by a new DLE STX). */
  private endFrame(complete: boolean): void {
    const k = this.passKey;
    this.passKey = undefined;
    if (this.state === In.Swallow) {
      const raw = Uint8Array.from(this.held);
      this.held = [];
      this.state = In.Out;
      if (complete) this.ourReply(raw);
      return;
    }
    this.state = In.Out;
    const remapped = this.passRemap;
    this.passRemap = undefined;
    if (!complete || k === undefined) return;
    if (remapped) this.remaps.delete(remapped);
    const since = this.outstanding.get(k);
    if (since === undefined) return;
    this.outstanding.delete(k);
    const latency = Date.now() - since;
    if (latency > this.options.maxMasterLatencyMs && this.injectedNear(since)) {
      this.backoff(`a master transaction took ${latency} ms (over injectMaxMasterLatencyMs ${this.options.maxMasterLatencyMs}) while injecting`);
    }
  }

  // ------------------------------------------------------------------ injected requests

  /** What the in-process client sent: queued until a gap. */
  private busBytes(chunk: Uint8Array): void {
    for (const ev of this.fromBus.push(chunk)) {
      if (ev.kind === 'frame' && ev.frame.kind === 'data') this.queue.push({ frame: ev.frame, at: Date.now() });
    }
    this.pump();
  }

  /** Sends the next queued request if the line is idle; otherwise looks again when it may be. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const now = Date.now();
    this.expire(now);
    while (this.queue.length > 0 && now - (this.queue[0]?.at ?? now) > this.options.waitMs) {
      this.queue.shift();
      this.counts.noGap++;
      this.lastFailure = 'no-gap';
      this.hooks.gaveUp('no-gap');
    }
    if (this.queue.length === 0 && !this.flight) return;
    let wait = 0;
    if (!this.flight && this.queue.length > 0) {
      const quietAt = Math.max(this.lastMasterByte, this.lastInstrumentByte) + this.options.idleMs;
      const idle = this.outstanding.size === 0 && this.state === In.Out && now >= quietAt && now >= this.pausedUntil;
      if (idle) {
        this.send(this.queue.shift() as { frame: Extract<Frame, { kind: 'data' }>; at: number }, now);
        if (this.queue.length === 0) return;
      }
      wait = Math.max(1, Math.min(this.options.idleMs, quietAt - now, this.pausedUntil - now > 0 ? this.pausedUntil - now : Infinity));
    } else {
      wait = this.options.idleMs;
    }
    this.timer = setTimeout(() => this.pump(), wait);
    this.timer.unref?.();
  }

  /**
   * The SEQ farthest (mod 256) from the master's recent ones, and not one still outstanding,
   * retired, remapped, in flight or `not` (the master's own, when a request of its is remapped).
   */
  private chooseSeq(node: number, not?: number): number {
    let best = 0;
    let bestDistance = -1;
    for (let s = 1; s < 256; s++) {
      const k = key(s, node);
      if (s === not || this.outstanding.has(k) || this.retired.has(k) || this.remaps.has(k) || (this.flight && k === key(this.flight.seq, this.flight.node))) continue;
      let d = 256;
      for (const m of this.recentSeqs) {
        const diff = Math.abs(s - m);
        d = Math.min(d, diff, 256 - diff);
      }
      if (d > bestDistance) {
        best = s;
        bestDistance = d;
      }
    }
    return best;
  }

  private send(item: { frame: Extract<Frame, { kind: 'data' }> }, now: number): void {
    const { frame } = item;
    const seq = this.chooseSeq(frame.node);
    const wire: Frame = { ...frame, seq };
    const raw = encodeBinaryFrame(wire);
    const timer = setTimeout(() => this.giveUp(), this.options.timeoutMs);
    timer.unref?.();
    this.flight = { busSeq: frame.seq, seq, node: frame.node, sentAt: now, timer };
    this.lastInjectActivity = now;
    this.counts.sent++;
    this.counts.requestBytes += raw.length;
    const t = nowMicros();
    this.emit(this.pairer.request({ frame: wire, raw, time: t }));
    this.hooks.wire('>', t, raw);
    this.hooks.toInstrument(raw);
  }

  private giveUp(): void {
    const f = this.flight;
    if (!f) return;
    this.flight = undefined;
    // The line counts as ours until now: the instrument may still have been busy with it.
    this.lastInjectActivity = Date.now();
    this.counts.timedOut++;
    this.lastFailure = 'timeout';
    this.retired.set(key(f.seq, f.node), Date.now() + 4 * this.options.timeoutMs);
    this.emit(this.pairer.flush(nowMicros()));
    this.hooks.gaveUp('timeout');
    this.pump();
  }

  private ourReply(raw: Uint8Array): void {
    const now = Date.now();
    this.lastInjectActivity = now;
    const t = nowMicros();
    this.hooks.wire('<', t, raw);
    const ev = new BinaryDeframer().push(raw).find((e) => e.kind === 'frame');
    const f = this.flight;
    if (!ev || ev.kind !== 'frame' || !f || ev.frame.seq !== f.seq || ev.frame.node !== f.node) {
      // A late reply to a request given up, or a garbled one: kept from the master, and dropped.
      this.counts.lateReplies++;
      return;
    }
    clearTimeout(f.timer);
    this.flight = undefined;
    this.counts.answered++;
    this.lastFailure = undefined;
    this.emit(this.pairer.reply({ frame: ev.frame, raw, time: t }));
    this.link.push(encodeBinaryFrame({ ...ev.frame, seq: f.busSeq }));
    this.pump();
  }

  private emit(ts: Transaction[]): void {
    for (const t of ts) this.hooks.transaction(t);
  }

  /** Master requests without a reply past the master timeout; retired keys past their time. */
  private expire(now: number): void {
    for (const [k, at] of this.outstanding) {
      if (now - at <= this.options.masterTimeoutMs) continue;
      this.outstanding.delete(k);
      this.counts.masterTimeouts++;
      if (this.injectedNear(at)) this.backoff(`a master request (SEQ/NODE ${k}) got no reply within ${this.options.masterTimeoutMs} ms while injecting`);
    }
    for (const [k, until] of this.retired) if (until <= now) this.retired.delete(k);
    for (const [k, r] of this.remaps) if (r.until <= now) this.remaps.delete(k);
  }

  /** An injected request was on the line, or could still have kept the instrument busy, when a master request seen at `at` went out. */
  private injectedNear(at: number): boolean {
    return this.flight !== undefined || this.lastInjectActivity >= at - this.options.timeoutMs;
  }

  private backoff(reason: string): void {
    const now = Date.now();
    const was = this.paused;
    this.pausedUntil = now + this.options.backoffMs;
    this.lastBackoff = reason;
    if (was) return;
    this.counts.backoffs++;
    this.hooks.backoff('inject-backoff', `injection paused for ${this.options.backoffMs} ms: ${reason}`);
    const resume = setTimeout(() => this.resumeCheck(), this.options.backoffMs + 1);
    resume.unref?.();
  }

  private resumeCheck(): void {
    if (this.closed) return;
    if (this.paused) {
      const t = setTimeout(() => this.resumeCheck(), this.pausedUntil - Date.now() + 1);
      t.unref?.();
      return;
    }
    this.hooks.backoff('inject-resumed', 'injection resumed');
    this.pump();
  }

  /** Called by the bridge's housekeeping: expiry of master requests without replies. */
  tick(): void {
    if (this.closed) return;
    this.expire(Date.now());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.flushTimer);
    clearTimeout(this.mFlushTimer);
    if (this.flight) clearTimeout(this.flight.timer);
    await this.bus.close();
    await this.transport.close();
  }
}
