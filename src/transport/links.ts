import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { GatewayError } from '../shared/index.js';
import type { BusAddress } from './address.js';
import { createSerialPort } from './serial-port.js';

/**
 * Opens one connection to a bus as a byte stream. A transport calls it again after the link is
 * lost. `present`, when given, says cheaply whether an open could succeed now (a device path
 * exists): the transport then tries as soon as it turns true, instead of waiting out its backoff.
 * `retryEveryMs`, when given, says an attempt is cheap enough to make at least this often however
 * long the backoff has grown (a TCP connect: there is no path to watch, the connect is the probe).
 */
export type LinkOpener = (() => Promise<Duplex>) & { readonly present?: () => boolean; readonly retryEveryMs?: number };

/**
 * A converter that went away is tried this often at most, ms: a refused connect costs one SYN and
 * its RST, and a converter back from a reboot is used again within about a second.
 */
export const TCP_RETRY_EVERY_MS = 1000;

/** Builds the in-process simulator's stream for a `sim://` address; injected by the composition root. */
export type SimulatorFactory = (params: Readonly<Record<string, string>>) => Duplex;

export function serialOpener(path: string, baudRate: number): LinkOpener {
  const open = (): Promise<Duplex> =>
    new Promise((resolve, reject) => {
      const port = createSerialPort(path, baudRate);
      port.open((err) => {
        if (err) {
          // serialport's own text already names the path ("Error: No such file or directory, cannot open X").
          const why = err.message.replace(/^Error: /, '').replace(`, cannot open ${path}`, '');
          reject(new GatewayError('TRANSPORT_OPEN_FAILED', `cannot open ${path}: ${why}`, { path }, { cause: err }));
        }
        else resolve(port);
      });
    });
  // A USB adapter plugged back in reappears as its device path (and /dev/serial/by-id link).
  return Object.assign(open, { present: () => existsSync(path) });
}

export function tcpOpener(host: string, port: number, connectTimeoutMs = 5000): LinkOpener {
  const open = (): Promise<Duplex> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const fail = (err: Error) => {
        socket.destroy();
        reject(new GatewayError('TRANSPORT_OPEN_FAILED', `cannot connect to tcp://${host}:${port}: ${err.message}`, { host, port }, { cause: err }));
      };
      socket.setTimeout(connectTimeoutMs, () => fail(new Error(`no connection within ${connectTimeoutMs} ms`)));
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.off('error', fail);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 10_000);
        resolve(socket);
      });
    });
  return Object.assign(open, { retryEveryMs: TCP_RETRY_EVERY_MS });
}

/** The opener for an address. `sim://` needs the simulator factory, which only the composition root may import. */
export function openerFor(addr: BusAddress, simulator?: SimulatorFactory): LinkOpener {
  switch (addr.kind) {
    case 'serial':
      return serialOpener(addr.path, addr.baudRate);
    case 'tcp':
      return tcpOpener(addr.host, addr.port);
    case 'sim':
      if (!simulator) throw new GatewayError('TRANSPORT_BAD_ADDRESS', 'sim:// needs the built-in simulator, which this program did not provide', {});
      return async () => simulator(addr.params);
  }
}
