import { closeSync, constants, openSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { SerialHandOff } from './serial-port.js';
import type { Transport } from './transport.js';

/**
 * Forwarding between two serial ports in two threads of their own (issue 14, part 5), as socat
 * forwards: each thread blocks in `read()` on one port and writes what it got to the other at
 * once, so a chunk never waits for the event loop, whatever the loop is doing (decoding, the
 * log, HTTP). The threads hand a copy of every chunk, with its arrival time, to the loop through
 * a ring in shared memory that the loop drains when it likes (`drain`, and every DRAIN_MS): the
 * loop is not woken for each chunk.
 *
 * serialport cannot do this itself: its poller is bound to the main loop
 * (`uv_poll_init(uv_default_loop(), ...)`), so a thread cannot wait on a port through it. The
 * threads therefore open the device again (serialport's lock is an advisory flock, which other
 * opens do not meet): a blocking descriptor to read and a non-blocking one to write. The port's
 * VMIN 0 / VTIME 1 (set by createSerialPort) makes a blocking read return after 100 ms without a
 * byte, so a thread sees a stop within 100 ms; a blocked read cannot be interrupted otherwise,
 * and would hold the process's exit.
 */

/** Ring per direction, bytes (a power of two): at 38400 baud, minutes of traffic; on a flooded pty, seconds. */
const RING_BYTES = 1 << 20;
/** How often the loop takes the threads' chunks at the latest, ms. */
export const DIRECT_DRAIN_MS = 20;
/** A record in the ring: length (u32), forwarding time in µs (u32; NOT_FORWARDED when the write failed), arrival time in µs (f64). */
const HEADER = 16;
const NOT_FORWARDED = 0xffffffff;
/** Slots of the control array: write position, read position, stop, bytes that found the ring full. */
const W = 0;
const R = 1;
const STOP = 2;
const SKIPPED = 3;
/** A thread sees the stop within VTIME (100 ms); one that has not ended after this long is left behind, ms. */
const STOP_WAIT_MS = 2000;

/** The thread's code: plain JavaScript, so that it runs the same from the sources, the build and the bundle. */
const THREAD = `'use strict';
const { readSync, writeSync } = require('node:fs');
const { workerData, parentPort } = require('node:worker_threads');
const { readFd, writeFd, ring, control } = workerData;
const data = new Uint8Array(ring);
const ctl = new Int32Array(control);
const mask = data.length - 1;
const buf = Buffer.allocUnsafe(8192);
const head = new DataView(new ArrayBuffer(${HEADER}));
const headBytes = new Uint8Array(head.buffer);
const AGAIN = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);
const now = () => performance.timeOrigin + performance.now();
const fail = (stage, e) => parentPort.postMessage({ stage, code: e.code || '', message: e.message });
let quick = 0;
loop: while (Atomics.load(ctl, ${STOP}) === 0) {
  const t0 = now();
  let n;
  try {
    n = readSync(readFd, buf, 0, buf.length, null);
  } catch (e) {
    if (AGAIN.has(e.code)) continue;
    fail('read', e);
    break;
  }
  if (n === 0) {
    // No byte for VTIME (100 ms) returns 0 after 100 ms; 0 at once, again and again, is a hang-up.
    if (now() - t0 < 50) {
      if (++quick >= 3) { fail('read', { code: 'EOF', message: 'end of file on read' }); break; }
    } else quick = 0;
    continue;
  }
  quick = 0;
  const at = now();
  let off = 0;
  let failed;
  let pause = 0.02;
  while (off < n) {
    try {
      off += writeSync(writeFd, buf, off, n - off);
      pause = 0.02;
    } catch (e) {
      if (!AGAIN.has(e.code)) { failed = e; break; }
      // The other side's queue is full (a pty flooded far past any baud rate): wait for it, from
      // 20 µs doubling to 1 ms, or for the stop. A blocking write could never be stopped.
      if (Atomics.wait(ctl, ${STOP}, 0, pause) !== 'timed-out') break loop;
      pause = Math.min(1, pause * 2);
    }
  }
  const took = failed ? ${NOT_FORWARDED} : Math.min(${NOT_FORWARDED - 1}, Math.round((now() - at) * 1000));
  const w = Atomics.load(ctl, ${W});
  if (data.length - ((w - Atomics.load(ctl, ${R})) | 0) < ${HEADER} + n) Atomics.add(ctl, ${SKIPPED}, n);
  else {
    head.setUint32(0, n, true);
    head.setUint32(4, took, true);
    head.setFloat64(8, Math.round(at * 1000), true);
    for (let i = 0; i < ${HEADER}; i++) data[(w + i) & mask] = headBytes[i];
    const s = (w + ${HEADER}) & mask;
    const first = Math.min(n, data.length - s);
    data.set(buf.subarray(0, first), s);
    if (first < n) data.set(buf.subarray(first, n), 0);
    Atomics.store(ctl, ${W}, (w + ${HEADER} + n) | 0);
  }
  if (failed) { fail('write', failed); break; }
}
`;

export interface DirectHandlers {
  /**
   * A chunk read on side `from` (0 or 1) and written to the other side `forwardUs` µs later
   * (undefined: the write failed), with its arrival time in µs since the epoch. Called from
   * `drain`, in the order each side read them.
   */
  chunk(from: 0 | 1, bytes: Uint8Array, timeUs: number, forwardUs: number | undefined): void;
  /** Bytes of side `from` forwarded but not handed over: the ring was full (the loop did not drain it in time). */
  skipped(from: 0 | 1, bytes: number): void;
  /** A side's device failed under a thread (hung up, removed): forwarding has stopped; `side` is the one that failed. */
  failed(side: 0 | 1, reason: string): void;
  /**
   * A thread itself failed or ended (not a device): forwarding has stopped, both ports are
   * serialport's again and open. Starting again would most likely fail the same way.
   */
  broken(reason: string): void;
}

interface Lane {
  readonly worker: Worker;
  readonly data: Uint8Array;
  readonly ctl: Int32Array;
  readonly exited: Promise<void>;
}

/** Two serial ports joined by two forwarding threads. */
export class DirectForwarding {
  private readonly head = new DataView(new ArrayBuffer(HEADER));
  private readonly headBytes = new Uint8Array(this.head.buffer);
  private readonly timer: NodeJS.Timeout;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly transports: readonly [Transport, Transport],
    private readonly handOffs: readonly [SerialHandOff, SerialHandOff],
    private readonly fds: readonly number[],
    private readonly lanes: readonly [Lane, Lane],
    private readonly handlers: DirectHandlers,
  ) {
    this.timer = setInterval(() => this.drain(), DIRECT_DRAIN_MS);
    this.timer.unref();
    lanes.forEach((lane, from) => {
      lane.worker.on('message', (m: { stage: 'read' | 'write'; code: string; message: string }) => {
        // A read failed on the lane's own side, a write on the other.
        const side = (m.stage === 'read' ? from : 1 - from) as 0 | 1;
        this.fail(side, `the device hung up or was removed (${m.stage}: ${m.code || m.message})`);
      });
      lane.worker.on('error', (err) => this.fail(undefined, `a forwarding thread failed: ${err.message}`));
      // A thread that ends by itself (not stopped, no device failure reported) would leave its
      // direction without forwarding, silently: that is a failure of its own.
      lane.worker.on('exit', (code) => this.fail(undefined, `a forwarding thread ended by itself (exit code ${code})`));
    });
  }

  /**
   * Joins two open serial transports: from here on, bytes read on either go to the other in a
   * thread. Undefined (and nothing changed) when either is not an open serial port on a Unix
   * system, or its device cannot be opened again.
   */
  static start(transports: readonly [Transport, Transport], handlers: DirectHandlers): DirectForwarding | undefined {
    if (process.platform === 'win32') return undefined;
    const a = transports[0].handOff();
    const b = a && transports[1].handOff();
    if (!a || !b) {
      a?.release();
      return undefined;
    }
    const fds: number[] = [];
    try {
      // The devices are open already (serialport set CLOCAL): a blocking open does not wait for a carrier.
      const readA = openSync(a.path, constants.O_RDONLY | constants.O_NOCTTY);
      fds.push(readA);
      const writeA = openSync(a.path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
      fds.push(writeA);
      const readB = openSync(b.path, constants.O_RDONLY | constants.O_NOCTTY);
      fds.push(readB);
      const writeB = openSync(b.path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
      fds.push(writeB);
      const first = lane(readA, writeB);
      let second: Lane;
      try {
        second = lane(readB, writeA);
      } catch (err) {
        // The first thread may be reading already: its descriptors are closed once it ended.
        Atomics.store(first.ctl, STOP, 1);
        void first.exited.then(() => giveUp(fds, a, b));
        throw err;
      }
      return new DirectForwarding(transports, [a, b], fds, [first, second], handlers);
    } catch {
      if (fds.length < 4) giveUp(fds, a, b);
      return undefined;
    }
  }

  /** The two threads (for tests: one that ends by itself must not leave its direction silent). */
  get threads(): readonly Worker[] {
    return this.lanes.map((l) => l.worker);
  }

  /** Hands every chunk the threads forwarded since the last drain to `handlers.chunk`. */
  drain(): void {
    this.lanes.forEach((lane, i) => {
      const from = i as 0 | 1;
      const { data, ctl } = lane;
      const mask = data.length - 1;
      const w = Atomics.load(ctl, W);
      let r = Atomics.load(ctl, R);
      let read = 0;
      let written = 0;
      while (r !== w) {
        for (let k = 0; k < HEADER; k++) this.headBytes[k] = data[(r + k) & mask] as number;
        const n = this.head.getUint32(0, true);
        const took = this.head.getUint32(4, true);
        const time = this.head.getFloat64(8, true);
        const s = (r + HEADER) & mask;
        const first = Math.min(n, data.length - s);
        const bytes = new Uint8Array(n);
        bytes.set(data.subarray(s, s + first));
        if (first < n) bytes.set(data.subarray(0, n - first), first);
        r = (r + HEADER + n) | 0;
        read += n;
        if (took !== NOT_FORWARDED) written += n;
        this.handlers.chunk(from, bytes, time, took === NOT_FORWARDED ? undefined : took);
      }
      Atomics.store(ctl, R, r);
      const skipped = Atomics.exchange(ctl, SKIPPED, 0);
      if (skipped > 0) {
        read += skipped;
        written += skipped;
        this.handlers.skipped(from, skipped);
      }
      this.transports[from].counted(read, 0);
      this.transports[1 - from]?.counted(0, written);
    });
  }

  /**
   * Stops both threads (each within VTIME, 100 ms), hands over what they forwarded, closes their
   * descriptors and gives the reading back to serialport. `failed` names a side whose device went
   * away: its transport then sees the disconnect and reopens it.
   */
  stop(failed?: { side: 0 | 1; reason: string }): Promise<void> {
    this.stopping ??= this.shutdown(failed);
    return this.stopping;
  }

  private async shutdown(failed: { side: 0 | 1; reason: string } | undefined): Promise<void> {
    clearInterval(this.timer);
    for (const lane of this.lanes) {
      Atomics.store(lane.ctl, STOP, 1);
      Atomics.notify(lane.ctl, STOP);
    }
    // A thread that does not stop (its device's VTIME changed under it, so that its read never
    // returns) keeps its descriptors: closing them would free their numbers for other files.
    const stopped = await Promise.race([Promise.all(this.lanes.map((l) => l.exited)).then(() => true), delay(STOP_WAIT_MS, false)]);
    this.drain();
    for (const fd of stopped ? this.fds : []) {
      try {
        closeSync(fd);
      } catch {
        // A device that is gone may fail its close; the descriptor is released all the same.
      }
    }
    this.handOffs.forEach((h, side) => h.release(failed?.side === side ? new Error(failed.reason) : undefined));
  }

  /** A device failed (`side`), or a thread did (`side` undefined). */
  private fail(side: 0 | 1 | undefined, reason: string): void {
    if (this.stopping) return;
    if (side === undefined) void this.stop().then(() => this.handlers.broken(reason));
    else void this.stop({ side, reason }).then(() => this.handlers.failed(side, reason));
  }
}

function giveUp(fds: readonly number[], a: SerialHandOff, b: SerialHandOff): void {
  for (const fd of fds) closeSync(fd);
  a.release();
  b.release();
}

function lane(readFd: number, writeFd: number): Lane {
  const ring = new SharedArrayBuffer(RING_BYTES);
  const control = new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT);
  const worker = new Worker(THREAD, { eval: true, workerData: { readFd, writeFd, ring, control }, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 } });
  // The threads never hold the process: a stop, or the process's exit, ends them within VTIME.
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return { worker, data: new Uint8Array(ring), ctl: new Int32Array(control), exited };
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}
