import { GatewayError } from '../shared/index.js';

/** Where a bus is: the address string picks the transport (STYLE habit 1). */
export type BusAddress =
  | { readonly kind: 'serial'; readonly path: string; readonly baudRate: number }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'sim'; readonly params: Readonly<Record<string, string>> };

export const DEFAULT_BAUD = 38400;

function badAddress(address: string, why: string): GatewayError {
  return new GatewayError(
    'TRANSPORT_BAD_ADDRESS',
    `cannot use bus address ${JSON.stringify(address)}: ${why}. Use a serial path (/dev/ttyUSB0 or serial:///dev/ttyUSB0?baud=38400), tcp://host:port or sim://?nodes=3,5`,
    { address },
  );
}

/**
 * Parses a bus address:
 * - `/dev/ttyUSB0`, `COM3`, or `serial:///dev/ttyUSB0?baud=38400` (8N1; default 38400 baud)
 * - `tcp://host:port`: raw TCP to a serial-over-IP converter
 * - `sim://?nodes=3,5&protocol=binary`: the built-in simulator, in process
 */
export function parseAddress(address: string, defaultBaud = DEFAULT_BAUD): BusAddress {
  const text = address.trim();
  if (text === '') throw badAddress(address, 'it is empty');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return { kind: 'serial', path: text, baudRate: defaultBaud };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badAddress(address, 'it is not a valid URL');
  }
  const params = Object.fromEntries(url.searchParams.entries());
  switch (url.protocol) {
    case 'serial:': {
      const path = decodeURIComponent(url.pathname || url.host);
      if (!path) throw badAddress(address, 'it names no device');
      const baud = params.baud ?? params.baudRate;
      const baudRate = baud === undefined ? defaultBaud : Number(baud);
      if (!Number.isInteger(baudRate) || baudRate < 300 || baudRate > 4_000_000) throw badAddress(address, `baud ${baud} is not a valid rate`);
      return { kind: 'serial', path, baudRate };
    }
    case 'tcp:': {
      const port = Number(url.port);
      if (!url.hostname) throw badAddress(address, 'it names no host');
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw badAddress(address, 'it needs a port 1..65535');
      return { kind: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port };
    }
    case 'sim:':
      return { kind: 'sim', params };
    default:
      throw badAddress(address, `unknown scheme ${url.protocol}`);
  }
}

export function formatAddress(addr: BusAddress): string {
  switch (addr.kind) {
    case 'serial':
      return `serial://${addr.path}?baud=${addr.baudRate}`;
    case 'tcp':
      return `tcp://${addr.host}:${addr.port}`;
    case 'sim': {
      const q = new URLSearchParams(addr.params).toString();
      return `sim://${q ? '?' + q : ''}`;
    }
  }
}
