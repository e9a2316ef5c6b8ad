/**
 * Virtual Bronkhorst instruments speaking ProPar over a stream. The simulator imports only
 * the codec, the parameter database and shared helpers, so it cannot share a bug with the
 * gateway code it is used to test.
 *
 * Model of the RS232 interface:
 * - Each master connection (`stream`, or one per `connect()`) has its own deframer, its
 *   own message buffers (`bufferSize`, default 5) and its own paced line; all connections
 *   share the instruments.
 * - A request occupies a buffer from its last byte until its answer has been built (after
 *   `turnaroundMs`); requests are answered one at a time in arrival order.
 * - A request arriving while all buffers are full is answered at once with error frame 8
 *   (general error; the manual says only "it answers with an error message").
 * - With `baud`, each direction is paced on its own at 10 bits per byte: a request is seen
 *   when its last byte has arrived, a reply is delivered when its last byte has been sent,
 *   and replies queue behind each other on the line.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import {
  LOCAL_NODE,
  createDeframer,
  encodeFrame,
  encodeMessage,
  type Deframer,
  type DiscardReason,
  type Frame,
  type Protocol,
} from '../src/codec/index.js';
import { defaultBehaviours, handleMessage } from './behaviours.js';
import { Instrument, type InstrumentHandle } from './instrument.js';
import type { FaultOptions, InstrumentConfig, SimulatorOptions } from './options.js';
import { Random } from './random.js';

export type { Behaviour, MessageContext, MessageOutcome, ReadContext, ReadOutcome, WriteContext, WriteOutcome } from './behaviours.js';
export { defaultBehaviours } from './behaviours.js';
export type { Fluidset, InstrumentHandle } from './instrument.js';
export { FULL_SCALE, INIT_RESET_LOCKED, INIT_RESET_UNLOCKED, PURGE_FLOW, VALVE_FULL } from './constants.js';
export * from './options.js';
export { Random } from './random.js';

/** Error frame code sent when a request arrives while every message buffer is taken. */
export const BUFFER_FULL_ERROR = 8;

export interface SimulatorStats {
  /** Frames received from masters. */
  requests: number;
  /** Replies handed to the line (data, status and error frames). */
  replies: number;
  /** Replies that were error frames (absent node, malformed, buffer full). */
  errorFrames: number;
  /** Requests refused because all message buffers were taken. */
  overflows: number;
  /** Deframer discards (junk, bad framing), by reason. */
  discards: Partial<Record<DiscardReason, number>>;
  faults: { dropped: number; delayed: number; garbled: number; split: number; statusErrors: number };
  bytesIn: number;
  bytesOut: number;
  /**
   * Paced lines: replies (or parts of one) handed to the line, and how long after their ideal time
   * (the reply's last byte on an ideal line), in total and at most, ms: what the simulator's own
   * timer adds to the wire time (`precisePacing` keeps it small), before the bytes go to the socket.
   */
  pacing: { pushes: number; lateMs: number; maxLateMs: number };
}

/** One request and what came of it, for logs (`flowbus simulate --verbose`). */
export interface TransactionRecord {
  /** Which connection (0 = `stream`). */
  readonly link: number;
  readonly request: Frame;
  /** The reply as built, before faults; undefined when none is sent (command 2, broadcasts). */
  readonly reply: Frame | undefined;
  /** Wire bytes actually sent (after faults); undefined when nothing was sent. */
  readonly wire: Uint8Array | undefined;
  readonly faults: readonly string[];
}

export interface Simulator {
  /** The master's end of the default connection: write requests in, read replies out. */
  readonly stream: Duplex;
  /** Instruments by their configured address. */
  readonly instruments: Map<number, InstrumentHandle>;
  readonly stats: SimulatorStats;
  readonly protocol: Protocol;
  /** Another master connection onto the same instruments (each TCP client gets one). */
  connect(): Duplex;
  on(event: 'transaction', listener: (t: TransactionRecord) => void): this;
  on(event: 'discard', listener: (d: { link: number; reason: DiscardReason; bytes: Uint8Array }) => void): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: string, listener: (...args: any[]) => void): this;
  /** Stops every timer and ends every connection. */
  close(): Promise<void>;
}

interface Resolved {
  protocol: Protocol;
  baud: number | undefined;
  turnaroundMs: number;
  bufferSize: number;
  answerLimit: number;
  faults: Required<Omit<FaultOptions, 'seed'>>;
  precisePacing: boolean;
  now: () => number;
}

/** Builds the ring: each instrument's NNA is the next address up, the last loops back to the first; LNA the reverse. */
function buildInstruments(options: SimulatorOptions, now: () => number, seed: number): Instrument[] {
  const configs: InstrumentConfig[] = options.instruments
    ? [...options.instruments]
    : (options.nodes ?? [3]).map((node) => ({ node }));
  if (configs.length === 0) throw new Error('the simulator needs at least one instrument');
  const seen = new Set<number>();
  for (const c of configs) {
    if (!Number.isInteger(c.node) || c.node < 1 || c.node > 127) throw new Error(`instrument address must be 1..127, got ${c.node}`);
    if (seen.has(c.node)) throw new Error(`instrument address ${c.node} given twice`);
    seen.add(c.node);
  }
  // The first instrument listed is the local one (node 128); the ring runs in ascending order.
  const ring = configs.map((c) => c.node).sort((a, b) => a - b);
  return configs.map((c, i) => {
    const at = ring.indexOf(c.node);
    const next = ring[(at + 1) % ring.length] as number;
    const last = ring[(at - 1 + ring.length) % ring.length] as number;
    return new Instrument(c, now, seed * 1000 + i, { next, last, busName: configs.length > 1 ? 'FLOW-BUS' : 'NoBus' }, defaultBehaviours());
  });
}

class Link {
  readonly stream: Duplex;
  private readonly deframer: Deframer;
  private readonly queue: { frame: Frame; at: number }[] = [];
  private busy = false;
  private rxFreeAt = 0;
  private txFreeAt = 0;
  private closed = false;

  constructor(
    private readonly sim: SimulatorImpl,
    readonly id: number,
  ) {
    this.deframer = createDeframer(sim.opts.protocol);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const link = this;
    this.stream = new Duplex({
      write(chunk: Buffer, _enc, done) {
        link.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        done();
      },
      read() {},
      final(done) {
        done();
      },
    });
  }

  private wireMs(bytes: number): number {
    const baud = this.sim.opts.baud;
    return baud ? (bytes * 10 * 1000) / baud : 0;
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    const copy = Uint8Array.from(chunk);
    this.sim.stats.bytesIn += copy.length;
    if (!this.sim.opts.baud) {
      this.deliver(copy, performance.now());
      return;
    }
    const now = performance.now();
    const arrival = Math.max(now, this.rxFreeAt) + this.wireMs(copy.length);
    this.rxFreeAt = arrival;
    this.sim.at(arrival, () => this.deliver(copy, arrival), false);
  }

  /** `arrival`: when the chunk's last byte reached the instrument on an ideal line (timers may fire late; the timeline does not drift). */
  private deliver(chunk: Uint8Array, arrival: number): void {
    for (const ev of this.deframer.push(chunk)) {
      if (ev.kind === 'discard') {
        this.sim.stats.discards[ev.reason] = (this.sim.stats.discards[ev.reason] ?? 0) + 1;
        this.sim.emit('discard', { link: this.id, reason: ev.reason, bytes: ev.bytes });
        continue;
      }
      this.accept(ev.frame, arrival);
    }
  }

  private accept(frame: Frame, arrival: number): void {
    this.sim.stats.requests++;
    if (frame.kind === 'error') return; // an error frame from a master: nothing to answer
    if (this.queue.length >= this.sim.opts.bufferSize) {
      this.sim.stats.overflows++;
      const reply: Frame = { kind: 'error', seq: frame.seq, node: frame.node, code: BUFFER_FULL_ERROR };
      this.send(frame, reply, arrival);
      return;
    }
    this.queue.push({ frame, at: arrival });
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.closed) return;
    const item = this.queue[0];
    if (!item) return;
    this.busy = true;
    // The answer starts a turnaround after the request's last byte, or after the previous answer.
    const ready = Math.max(item.at + this.sim.opts.turnaroundMs, this.txFreeAt);
    this.sim.at(
      ready,
      () => {
        this.queue.shift();
        this.busy = false;
        this.send(item.frame, this.sim.answer(item.frame), ready);
        this.pump();
      },
      false,
    );
  }

  /** Applies faults, frames and paces a reply that may start at `ready` (ideal line time). */
  private send(request: Frame, reply: Frame | undefined, ready: number): void {
    if (this.closed) return;
    const stats = this.sim.stats;
    if (!reply) {
      this.sim.emit('transaction', { link: this.id, request, reply, wire: undefined, faults: [] } satisfies TransactionRecord);
      return;
    }
    const f = this.sim.opts.faults;
    const r = this.sim.faultRandom;
    // Always draw the same count of numbers per reply, so a seed gives the same faults whatever happens.
    const draws = [r.next(), r.next(), r.next(), r.next(), r.next(), r.next(), r.next(), r.next()] as const;
    const faults: string[] = [];
    let sent = reply;
    if (draws[0] < f.dropReply) {
      stats.faults.dropped++;
      this.sim.emit('transaction', { link: this.id, request, reply, wire: undefined, faults: ['drop'] } satisfies TransactionRecord);
      return;
    }
    if (draws[1] < f.statusError && sent.node !== undefined) {
      stats.faults.statusErrors++;
      faults.push('status');
      sent = { kind: 'data', seq: sent.seq, node: sent.node, data: encodeMessage({ kind: 'status', status: f.statusErrorCode, index: 0 }) };
    }
    let wire = encodeFrame(sent, this.sim.opts.protocol);
    if (draws[2] < f.garble) {
      stats.faults.garbled++;
      faults.push('garble');
      wire = Uint8Array.from(wire);
      const at = Math.floor(draws[5] * wire.length);
      wire[at] = (wire[at] as number) ^ (1 + Math.floor(draws[6] * 255));
    }
    let delay = 0;
    if (draws[3] < f.delay) {
      stats.faults.delayed++;
      faults.push('delay');
      delay = f.delayMs;
    }
    let cut = wire.length;
    if (draws[4] < f.split && wire.length > 1) {
      stats.faults.split++;
      faults.push('split');
      cut = 1 + Math.floor(draws[7] * (wire.length - 1));
    }
    stats.replies++;
    if (sent.kind === 'error') stats.errorFrames++;
    stats.bytesOut += wire.length;
    this.sim.emit('transaction', { link: this.id, request, reply, wire, faults } satisfies TransactionRecord);

    const start = Math.max(ready + delay, this.txFreeAt);
    const end = start + this.wireMs(wire.length);
    const gap = cut < wire.length ? f.splitGapMs : 0;
    this.txFreeAt = end + gap;
    if (cut < wire.length) {
      const first = wire.slice(0, cut);
      const second = wire.slice(cut);
      this.sim.at(start + this.wireMs(cut), () => this.push(first, start + this.wireMs(cut)));
      this.sim.at(end + gap, () => this.push(second, end + gap));
    } else {
      this.sim.at(end, () => this.push(wire, end));
    }
  }

  /** `due`: when the bytes' last one is on the line, ideally. */
  private push(bytes: Uint8Array, due: number): void {
    if (this.closed) return;
    if (this.sim.opts.baud) {
      const late = Math.max(0, performance.now() - due);
      const p = this.sim.stats.pacing;
      p.pushes++;
      p.lateMs += late;
      if (late > p.maxLateMs) p.maxLateMs = late;
    }
    this.stream.push(Buffer.from(bytes));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.stream.push(null);
    this.stream.destroy();
  }
}

class SimulatorImpl extends EventEmitter implements Simulator {
  readonly opts: Resolved;
  readonly instruments = new Map<number, InstrumentHandle>();
  private readonly order: Instrument[];
  readonly stats: SimulatorStats = {
    requests: 0,
    replies: 0,
    errorFrames: 0,
    overflows: 0,
    discards: {},
    faults: { dropped: 0, delayed: 0, garbled: 0, split: 0, statusErrors: 0 },
    bytesIn: 0,
    bytesOut: 0,
    pacing: { pushes: 0, lateMs: 0, maxLateMs: 0 },
  };
  readonly faultRandom: Random;
  private readonly links = new Set<Link>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextLink = 0;
  private closed = false;
  readonly stream: Duplex;

  constructor(options: SimulatorOptions) {
    super();
    const f = options.faults ?? {};
    const seed = options.seed ?? 1;
    for (const [name, p] of Object.entries(f)) {
      if (['dropReply', 'delay', 'garble', 'split', 'statusError'].includes(name) && (typeof p !== 'number' || p < 0 || p > 1)) {
        throw new Error(`fault probability ${name} must be 0..1, got ${String(p)}`);
      }
    }
    if (options.baud !== undefined && !(options.baud > 0)) throw new Error(`baud must be positive, got ${options.baud}`);
    this.opts = {
      protocol: options.protocol ?? 'binary',
      baud: options.baud,
      turnaroundMs: options.turnaroundMs ?? 0,
      precisePacing: options.precisePacing ?? false,
      bufferSize: options.bufferSize ?? 5,
      answerLimit: options.answerLimit ?? 80,
      faults: {
        dropReply: f.dropReply ?? 0,
        delay: f.delay ?? 0,
        delayMs: f.delayMs ?? 600,
        garble: f.garble ?? 0,
        split: f.split ?? 0,
        splitGapMs: f.splitGapMs ?? 2,
        statusError: f.statusError ?? 0,
        statusErrorCode: f.statusErrorCode ?? 0x0c,
      },
      now: options.now ?? (() => performance.now()),
    };
    this.faultRandom = new Random(f.seed ?? seed);
    this.order = buildInstruments(options, this.opts.now, seed);
    for (const inst of this.order) this.instruments.set(inst.config.node, inst);
    this.stream = this.connect();
  }

  get protocol(): Protocol {
    return this.opts.protocol;
  }

  connect(): Duplex {
    if (this.closed) throw new Error('simulator closed');
    const link = new Link(this, this.nextLink++);
    this.links.add(link);
    link.stream.once('close', () => this.links.delete(link));
    return link.stream;
  }

  timer(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, Math.max(0, ms));
    this.timers.add(t);
  }

  /**
   * Runs `fn` at `target` (performance.now() time). setTimeout fires up to about
   * a millisecond late; with `precisePacing` and `exact` the last 2 ms are waited out with
   * setImmediate, so a paced line keeps sub-millisecond timing (costs CPU). Only the steps a
   * master sees need it (bytes pushed onto the line); the steps inside the instrument (a
   * request arrived, the answer built) run on a plain timer, since the timeline they compute
   * from is the ideal one whenever they run, so no CPU spins for them. With `precisePacing`, a
   * step already due runs at once (an unpaced line answers without a timer's millisecond).
   */
  at(target: number, fn: () => void, exact = true): void {
    const precise = this.opts.precisePacing;
    const lead = precise && exact ? 2 : 0;
    const wait = target - performance.now() - lead;
    if (!precise) {
      this.timer(wait, fn);
      return;
    }
    const spin = () => {
      if (this.closed) return;
      if (performance.now() >= target) fn();
      else if (exact) setImmediate(spin);
      else this.timer(target - performance.now(), fn);
    };
    if (wait > 0) this.timer(wait, exact ? spin : fn);
    else spin();
  }

  /** Node 128 is the local (first) instrument; otherwise the instrument whose PNA matches. */
  route(node: number): Instrument | undefined {
    if (node === LOCAL_NODE) return this.order[0];
    return this.order.find((i) => i.node === node);
  }

  /** The reply to one request frame (undefined = no reply). */
  answer(frame: Frame): Frame | undefined {
    if (frame.kind !== 'data') return undefined;
    const inst = this.route(frame.node);
    if (!inst) return { kind: 'error', seq: frame.seq, node: frame.node, code: 5 };
    const outcome = handleMessage(inst, frame.data, this.opts.now(), this.opts.answerLimit);
    if ('silent' in outcome) return undefined;
    if ('errorFrame' in outcome) return { kind: 'error', seq: frame.seq, node: frame.node, code: outcome.errorFrame };
    return { kind: 'data', seq: frame.seq, node: frame.node, data: encodeMessage(outcome.reply) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const link of this.links) link.close();
    this.links.clear();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Creates a bus of simulated instruments. */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  return new SimulatorImpl(options);
}
