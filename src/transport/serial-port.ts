import { readSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type * as Stream from '@serialport/stream';
import type { SerialPortStream } from '@serialport/stream';
import type * as Serialport from 'serialport';

/** The parts of serialport's Unix port binding (Linux, macOS) that a read and a write need. */
interface UnixPortBinding {
  fd: number | null;
  readonly isOpen: boolean;
  readonly poller: { once(event: 'readable' | 'writable', cb: (err: Error | null) => void): unknown };
  /** The write in progress, which serialport's `drain()` and `close()` wait for. */
  writeOperation: Promise<void> | null;
  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }>;
  write(buffer: Buffer): Promise<void>;
}

type Binding = typeof Serialport.SerialPort.binding;

function isUnixPort(port: object): port is UnixPortBinding {
  return 'poller' in port && 'fd' in port && typeof (port as { fd: unknown }).fd === 'number';
}

/** serialport's own errors carry `canceled` when the port was closed on purpose; those do not count as a disconnect. */
function canceled(message: string): Error {
  return Object.assign(new Error(message), { canceled: true });
}

const WOULD_BLOCK = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);
/** A read during the hang-up itself fails with EIO (a pty whose master closed), one on a USB adapter that is gone with ENXIO or ENODEV. */
const HUNG_UP = new Set(['EIO', 'ENXIO', 'ENODEV']);

/** Waits for the poller's `readable` or `writable`; a failed poll is a hang-up, serialport's own close a cancel. */
function ready(port: UnixPortBinding, event: 'readable' | 'writable'): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    port.poller.once(event, (e) => {
      if (!e) return resolve();
      // serialport's own close cancels the wait: not a disconnect.
      if ((e as { canceled?: boolean }).canceled) return reject(e);
      // Otherwise the poll itself failed: a hang-up or a vanished device shows up here as an
      // error (libuv reports the tty's POLLERR/POLLHUP as EBADF), not as a read.
      reject(new Error(`the device hung up or was removed (poll: ${e.message})`));
    }),
  );
}

/** A Unix port's reading: whether its tty queue was emptied, and whether someone else reads it now (`handOffSerial`). */
interface ReadState {
  drained: boolean;
  /** Set while the reading is handed off: serialport's read waits for it instead of reading. */
  parked?: Promise<void> | undefined;
  unpark?: (() => void) | undefined;
  /** What the hand-off ended with: the read fails with it (a hang-up the other reader saw). */
  failure?: Error | undefined;
}

const readStates = new WeakMap<object, ReadState>();

async function unparked(state: ReadState): Promise<void> {
  while (state.parked) await state.parked;
  const failure = state.failure;
  if (failure) {
    state.failure = undefined;
    throw failure;
  }
}

/** A serial port whose reading the caller has taken over: serialport reads nothing from it until `release`. */
export interface SerialHandOff {
  /** The device path, to be opened again by whoever reads it now. */
  readonly path: string;
  /**
   * Gives the reading back. With `failure` (the device hung up under the other reader), serialport's
   * read fails with it: the port closes as disconnected and its transport reopens it.
   */
  release(failure?: Error): void;
}

/**
 * Takes a serial port's reading over from serialport (issue 14, part 5: forwarding in threads of
 * its own that block in `read()`, as socat does). A read serialport has under way waits, whatever
 * it waited for, until `release`, so no byte goes to both readers. Undefined for a link that is
 * not an open Unix serial port, or one already handed off.
 */
export function handOffSerial(link: Duplex): SerialHandOff | undefined {
  const port = (link as Partial<{ port: object; path: string; isOpen: boolean }>).port;
  const path = (link as Partial<{ path: string }>).path;
  const state = port ? readStates.get(port) : undefined;
  if (!state || typeof path !== 'string' || state.parked || !(link as { isOpen?: boolean }).isOpen) return undefined;
  state.parked = new Promise<void>((resolve) => (state.unpark = resolve));
  let released = false;
  return {
    path,
    release(failure) {
      if (released) return;
      released = true;
      if (failure) state.failure = failure;
      const unpark = state.unpark;
      state.parked = undefined;
      state.unpark = undefined;
      unpark?.();
    },
  };
}

/**
 * A read for Unix ports that ends at a hang-up, and costs no thread hop.
 *
 * When the other end of a tty goes away (a USB adapter unplugged, the pty's
 * master closed), the kernel hangs the tty up and every later read returns 0
 * bytes. serialport 13 reads again at once on 0 bytes, so a port that is read
 * right after the hang-up spins at full CPU and never reports the disconnect;
 * whether it does depends on the timing, which made it an intermittent "the
 * bridge stops working". Here 0 bytes is what it means, the end of the line:
 * the read fails, serialport closes the port with a disconnect error, and the
 * transport reopens it with backoff.
 *
 * serialport opens the device non-blocking (O_NONBLOCK) and reads it with `fs.read`, which
 * goes through libuv's thread pool: each chunk costs a trip to a pool thread and back after
 * the poll said the device is readable, and on a busy machine each trip waits for a core
 * (issue 14, part 5: most of what the bridge cost over socat). A read of a non-blocking
 * descriptor never waits, so it is made here, on the event loop, as socat makes it: read
 * until EAGAIN, then wait for the poller's `readable`. A read that got less than it asked for
 * emptied the tty's queue, so the next one waits for `readable` first instead of failing with
 * EAGAIN (an exception built for every chunk).
 */
async function readUntilHangup(port: UnixPortBinding, buffer: Buffer, offset: number, length: number, state: ReadState): Promise<{ buffer: Buffer; bytesRead: number }> {
  for (;;) {
    if (state.parked || state.failure) await unparked(state);
    if (state.drained) {
      state.drained = false;
      if (port.fd === null) throw canceled('Port is not open');
      await ready(port, 'readable');
      continue;
    }
    const fd = port.fd;
    if (fd === null) throw canceled('Port is not open');
    let bytesRead: number;
    try {
      bytesRead = readSync(fd, buffer, offset, length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (HUNG_UP.has(code)) throw new Error(`the device hung up or was removed (read: ${code})`);
      if (!WOULD_BLOCK.has(code)) throw err;
      if (port.fd === null) throw canceled('Port is not open');
      await ready(port, 'readable');
      continue;
    }
    if (bytesRead > 0) {
      state.drained = bytesRead < length;
      return { buffer, bytesRead };
    }
    throw new Error('the device hung up (end of file on read)');
  }
}

/**
 * A write for Unix ports on the event loop, for the same reason as the read: the bytes are in
 * the kernel's queue for the device when `write()` returns, with no pool thread between the
 * caller and the device. What the device does not take at once waits for `writable`.
 */
async function writeAll(port: UnixPortBinding, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const fd = port.fd;
    if (fd === null || !port.isOpen) throw new Error('Port is not open');
    try {
      offset += writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!WOULD_BLOCK.has(code)) {
        // As serialport marks them: the stream then closes the port as disconnected.
        if (code === 'EBADF' || code === 'ENXIO' || HUNG_UP.has(code)) Object.assign(err as object, { disconnect: true });
        throw err;
      }
      await ready(port, 'writable');
    }
  }
}

/** The platform's binding, with hang-up-aware reads on Unix. */
function hangupAware(base: Binding): Binding {
  // The union of the platforms' bindings has no callable `open`; one platform's is all that runs.
  const open = base.open.bind(base) as (options: unknown) => Promise<object>;
  const wrapped = {
    ...base,
    async open(options: unknown) {
      const port = await open(options);
      if (isUnixPort(port)) {
        const state: ReadState = { drained: false };
        readStates.set(port, state);
        port.read = (buffer, offset, length) => readUntilHangup(port, buffer, offset, length, state);
        port.write = (buffer) => {
          if (!port.isOpen) return Promise.reject(new Error('Port is not open'));
          const op = writeAll(port, buffer).finally(() => {
            if (port.writeOperation === op) port.writeOperation = null;
          });
          port.writeOperation = op;
          return op;
        };
      }
      return port;
    },
  };
  return wrapped as unknown as Binding;
}

let binding: Binding | undefined;

/** A serial port (8N1, not yet open) that reports a hang-up as a disconnect instead of spinning, and reads and writes on the event loop. */
export function createSerialPort(path: string, baudRate: number): SerialPortStream {
  // serialport is loaded at the first serial port, not at start: a gateway on sim:// or tcp://
  // buses never needs it (its memory and import time). Both packages are CommonJS.
  const require = createRequire(import.meta.url);
  const { SerialPortStream } = require('@serialport/stream') as typeof Stream;
  binding ??= hangupAware((require('serialport') as typeof Serialport).SerialPort.binding);
  // VMIN 0 / VTIME 1: a blocking read() returns after 100 ms without a byte, so that a thread
  // forwarding with blocking reads (handOffSerial) can be stopped. serialport's own reads are
  // non-blocking and polled, which the two settings do not change.
  const options = { binding, path, baudRate, dataBits: 8 as const, parity: 'none' as const, stopBits: 1 as const, autoOpen: false, vmin: 0, vtime: 1 };
  return new SerialPortStream(options);
}
