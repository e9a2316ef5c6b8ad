/** The gateway's name in a shared database: `gateway.name`, else the host name made safe. */
import { hostname } from 'node:os';
import { GATEWAY_NAME_PATTERN, type GatewayConfig } from './schema.js';

const NAME = new RegExp(GATEWAY_NAME_PATTERN);

/** Whether `s` is a valid gateway name (1..64 letters, digits, '.', '_', '-'). */
export function isGatewayName(s: string): boolean {
  return NAME.test(s);
}

/** A host name as a gateway name: other characters become '-', cut to 64; `flowbus` when nothing is left. */
export function safeGatewayName(host: string): string {
  const s = host.trim().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return s.length > 0 ? s : 'flowbus';
}

/** The name this gateway records with every transaction. */
export function gatewayName(config: { readonly gateway: GatewayConfig }, host: string = hostname()): string {
  return config.gateway.name ?? safeGatewayName(host);
}
