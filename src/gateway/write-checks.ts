/**
 * What a write must pass besides the database's own checks (params' `validateValue`): who may
 * write what, and the instrument's own range of the parameters bound to its capacity. Shared by
 * the master's writes and `flowbus set`, so that both refuse the same things the same way.
 */
import type { ParamClient } from '../bus/index.js';
import type { Value } from '../codec/index.js';
import { validateValue, type InstrumentRange, type ParamDef, type ValidateOptions } from '../params/index.js';
import { GatewayError } from '../shared/index.js';
import { fromUnit, rawFlowRange, SETPOINT_MAX_FRACTION } from './units.js';
import type { InstrumentIdentity } from './views.js';

/** Init Reset: 64 unlocks the secured parameters for every master on the bus, 82 locks them. */
const INIT_RESET = 7;

/**
 * Refuses parameters the gateway does not write: factory parameters always; Init Reset always
 * (the gateway sets it itself around each secured write, and a 64 written on its own would leave
 * the instrument unlocked for everyone); secured parameters unless allowed. `enable` says how to
 * allow secured writes ("set \"secured: true\" in the config", "add --secured").
 */
export function refuseUnwritable(param: ParamDef, allowSecured: boolean, enable: string): void {
  if (param.highlySecured) {
    throw new GatewayError('PARAM_FACTORY', `${param.key} (DDE ${param.dde}) is a factory parameter; the gateway does not write it`, { param: param.key, dde: param.dde });
  }
  if (param.dde === INIT_RESET) {
    throw new GatewayError(
      'PARAM_SECURED',
      `${param.key} (DDE ${param.dde}) is never written on its own: 64 would unlock the instrument's secured parameters for every master on the bus until something writes 82. ` +
        `The gateway unlocks and locks again itself, in the same message, around each secured write (${enable} to allow those)`,
      { param: param.key, dde: param.dde },
    );
  }
  if (param.secured && !allowSecured) {
    throw new GatewayError('PARAM_SECURED', `${param.key} (DDE ${param.dde}) is a secured parameter; ${enable} to allow writing it (it is then written inside Init Reset 64 ... 82)`, {
      param: param.key,
      dde: param.dde,
    });
  }
}

/**
 * Writable parameters whose real range follows from the instrument's capacity rather than the
 * database (which gives the whole float range). Of the writable parameters in capacity units,
 * only the setpoint is bound by the capacity: capacity (21) and capacity minimum/maximum (247,
 * 248) are the calibration that defines the range, secured, and not limited by it.
 */
const CAPACITY_BOUND: ReadonlySet<string> = new Set(['fSetpoint']);


export function isCapacityBound(param: ParamDef): boolean {
  return CAPACITY_BOUND.has(param.key);
}

/**
 * The instrument's own range of a capacity-bound parameter (undefined for the others), from the
 * capacity the gateway read. Throws `PARAM_CAPACITY_UNKNOWN` when the capacity is not known (or
 * not a positive number): such a value is never written unchecked.
 */
export function capacityRange(param: ParamDef, identity: InstrumentIdentity, why?: string): InstrumentRange | undefined {
  if (!isCapacityBound(param)) return undefined;
  const capacity = identity.capacity;
  if (capacity === undefined || !Number.isFinite(capacity) || capacity <= 0) {
    throw new GatewayError(
      'PARAM_CAPACITY_UNKNOWN',
      `${param.key} (DDE ${param.dde}) is not written: its range follows from the instrument's capacity, which ${capacity === undefined ? `is not known${why ? ` (${why})` : ''}` : `reads ${capacity}`}; try again when the instrument answers`,
      { param: param.key, dde: param.dde, capacity: capacity ?? null, ...(why ? { reason: why } : {}) },
    );
  }
  const unit = identity.capacityUnit?.trim();
  return {
    min: 0,
    max: Number((capacity * SETPOINT_MAX_FRACTION).toPrecision(6)),
    ...(unit ? { unit } : {}),
    why: `0..102.4 %: this instrument's capacity is ${capacity}${unit ? ` ${unit}` : ''}; a setpoint can go to 102.4 % of it`,
  };
}

/**
 * The validation options of a write through `client`: the instrument's range (capacity-bound
 * parameters) and, for variable-length text, the most that fits one write within the bus's
 * request budget (`maxRequestBytes`), which is usually less than a frame could carry.
 */
export function writeValidation(param: ParamDef, client: ParamClient, range: InstrumentRange | undefined): ValidateOptions {
  const variableText = (param.valueType === 'string' || param.valueType === 'bytes') && param.length === 0;
  return {
    ...(range ? { range } : {}),
    ...(variableText
      ? { maxLength: { length: client.writeRoom(param, { unlock: param.secured }), why: `what one write within the bus's maxRequestBytes (${client.bus.options.maxRequestBytes}) carries` } }
      : {}),
  };
}

/**
 * A value to write, checked as every write is checked (master mode and the bridge's injection):
 * its unit turned into the parameter's own scale, the instrument's range (capacity-bound
 * parameters; `why` says why the capacity is not known), the database's type and range, and what
 * one write through `client` carries. Who may write it is `refuseUnwritable`'s, before.
 */
export function checkedValue(param: ParamDef, value: unknown, unit: string | undefined, identity: InstrumentIdentity, client: ParamClient, why?: string): Value {
  const input = unit === undefined ? value : fromUnit(param, value, unit, identity);
  const range: InstrumentRange | undefined = isCapacityBound(param) ? capacityRange(param, identity, why) : rawFlowRange(param, identity);
  return validateValue(param, input, writeValidation(param, client, range));
}
