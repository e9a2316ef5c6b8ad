import { read } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import type * as Stream from '@serialport/stream';
import type { SerialPortStream } from '@serialport/stream';
import type * as Serialport from 'serialport';

const readAsync = promisify(read);

/** The parts of serialport's Unix port binding (Linux, macOS) that a read needs. */
interface UnixPortBinding {
  fd: number | null;
  readonly poller: { once(event: 'readable', cb: (err: Error | null) => void): unknown };
  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }>;
}

type Binding = typeof Serialport.SerialPort.binding;

function isUnixPort(port: object): port is UnixPortBinding {
  return 'poller' in port && 'fd' in port && typeof (port as { fd: unknown }).fd === 'number';
}

/** serialport's own errors carry `canceled` when the port was closed on purpose; those do not count as a disconnect. */
function canceled(message: string): Error {
  return Object.assign(new Error(message), { canceled: true });
}

/**
 * A read for Unix ports that ends at a hang-up.
 *
 * When the other end of a tty goes away (a USB adapter unplugged, the pty's
 * master closed), the kernel hangs the tty up and every later read returns 0
 * bytes. serialport 13 reads again at once on 0 bytes, so a port that is read
 * right after the hang-up spins at full CPU and never reports the disconnect;
 * whether it does depends on the timing, which made it an intermittent "the
 * bridge stops working". Here 0 bytes is what it means, the end of the line:
 * the read fails, serialport closes the port with a disconnect error, and the
 * transport reopens it with backoff.
 */
async function readUntilHangup(port: UnixPortBinding, buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
  for (;;) {
    const fd = port.fd;
    if (fd === null) throw canceled('Port is not open');
    let bytesRead: number;
    try {
      ({ bytesRead } = await readAsync(fd, buffer, offset, length, null));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A read during the hang-up itself fails with EIO (a pty whose master closed), and one on
      // a USB adapter that is gone with ENXIO or ENODEV: the same event, said the same way.
      if (code === 'EIO' || code === 'ENXIO' || code === 'ENODEV') throw new Error(`the device hung up or was removed (read: ${code})`);
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK' && code !== 'EINTR') throw err;
      if (port.fd === null) throw canceled('Port is not open');
      await new Promise<void>((resolve, reject) =>
        port.poller.once('readable', (e) => {
          if (!e) return resolve();
          // serialport's own close cancels the wait: not a disconnect.
          if ((e as { canceled?: boolean }).canceled) return reject(e);
          // Otherwise the poll itself failed: a hang-up or a vanished device shows up here as an
          // error (libuv reports the tty's POLLERR/POLLHUP as EBADF), not as a read.
          reject(new Error(`the device hung up or was removed (poll: ${e.message})`));
        }),
      );
      continue;
    }
    if (bytesRead > 0) return { buffer, bytesRead };
    throw new Error('the device hung up (end of file on read)');
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
      if (isUnixPort(port)) port.read = (buffer, offset, length) => readUntilHangup(port, buffer, offset, length);
      return port;
    },
  };
  return wrapped as unknown as Binding;
}

let binding: Binding | undefined;

/** A serial port (8N1, not yet open) that reports a hang-up as a disconnect instead of spinning. */
export function createSerialPort(path: string, baudRate: number): SerialPortStream {
  // serialport is loaded at the first serial port, not at start: a gateway on sim:// or tcp://
  // buses never needs it (its memory and import time). Both packages are CommonJS.
  const require = createRequire(import.meta.url);
  const { SerialPortStream } = require('@serialport/stream') as typeof Stream;
  binding ??= hangupAware((require('serialport') as typeof Serialport).SerialPort.binding);
  return new SerialPortStream({ binding, path, baudRate, dataBits: 8, parity: 'none', stopBits: 1, autoOpen: false });
}
