import type { ParamDef } from '../../params/index.js';
import { GatewayError } from '../../shared/index.js';

export function notObserved(def: ParamDef, id: string): GatewayError {
  return new GatewayError(
    'BRIDGE_NOT_OBSERVED',
    `${def.key} (DDE ${def.dde}) of ${id} has not been observed yet: a passive bridge knows only what the master reads or writes`,
    { param: def.key, dde: def.dde, instrument: id },
  );
}

export function stale(def: ParamDef, id: string, seenAt: number, age: number, maxAge: number): GatewayError {
  return new GatewayError(
    'BRIDGE_STALE',
    `${def.key} (DDE ${def.dde}) of ${id} was last observed ${age} ms ago, longer ago than maxAge ${maxAge} ms; a passive bridge cannot read it now`,
    { param: def.key, dde: def.dde, instrument: id, observedAt: new Date(seenAt).toISOString(), ageMs: age, maxAge },
  );
}

export function readOnly(ref: string, param: string, masterPort: string): GatewayError {
  return new GatewayError(
    'BRIDGE_READ_ONLY',
    `the gateway runs as a passive bridge and does not own the bus: it forwards the master's traffic and never sends anything itself; write through the master (${masterPort}) or run the gateway in master mode`,
    { mode: 'bridge', node: ref, param },
  );
}
