/**
 * Planning and sending a write of several parameters, shared by master mode and the bridge's
 * injection: every value is checked first (all or nothing), then the values go out as chained
 * writes as few as `maxRequestBytes` allows, in the order given, a request holding a secured
 * parameter inside Init Reset 64 ... 82 (ParamClient.packWrites). What differs between the modes
 * (how a value is checked, how a request is sent) comes in as functions.
 */
import { BusError, type ParamClient } from '../bus/index.js';
import { statusInfo, type Value } from '../codec/index.js';
import { paramByDde, type ParamDef } from '../params/index.js';
import { clip, GatewayError } from '../shared/index.js';
import type { WriteInput } from './service.js';
import { isScaled } from './units.js';

/** Writes after which the capacity may differ: fluidset index, capacity, capacity unit. */
export const CAPACITY_SOURCES: ReadonlySet<number> = new Set([24, 21, 129]);

/** Most parameters one multi-parameter write takes. */
export const MAX_WRITE_PARAMS = 32;

/** Init Reset: 82 locks the secured parameters again. */
const INIT_RESET = 7;
const LOCKED = 82;

/** A value checked and ready for the wire. */
export interface PreparedWrite {
  readonly param: ParamDef;
  readonly value: Value;
  /** As the answer and the log show it (bytes as hex). */
  readonly written: number | string;
}

export interface WriteProblem {
  readonly param: string;
  readonly code: string;
  readonly message: string;
  readonly details: Record<string, unknown>;
}

/** `{ value, unit }` or a plain value. */
export function splitInput(input: WriteInput): { value: unknown; unit?: string } {
  if (typeof input === 'object' && input !== null) return { value: input.value, ...(input.unit !== undefined ? { unit: input.unit } : {}) };
  return { value: input };
}

/**
 * Checks every value of a multi-parameter write with `prepare` (which sets `seen.param` as soon as
 * the parameter is known). Throws PARAM_NONE for none, PARAM_WRITE_REFUSED for too many, and
 * PARAM_WRITE_REFUSED with `details.problems` listing each refusal (a parameter named twice, a
 * value checked against a capacity the same write changes). Returns the values in their order.
 */
export async function planWrites(
  inputs: Readonly<Record<string, WriteInput>>,
  prepare: (name: string, value: unknown, unit: string | undefined, seen: { param?: ParamDef }) => Promise<PreparedWrite>,
): Promise<PreparedWrite[]> {
  const names = Object.keys(inputs);
  if (names.length === 0) throw new GatewayError('PARAM_NONE', 'name at least one parameter to write', {});
  if (names.length > MAX_WRITE_PARAMS) {
    throw new GatewayError('PARAM_WRITE_REFUSED', `${names.length} parameters in one write; one write takes at most ${MAX_WRITE_PARAMS}; nothing was written`, { count: names.length, max: MAX_WRITE_PARAMS, problems: [] });
  }
  const prepared: PreparedWrite[] = [];
  const problems: WriteProblem[] = [];
  const byDde = new Map<number, string>();
  for (const name of names) {
    const seen: { param?: ParamDef } = {};
    const { value, unit } = splitInput(inputs[name] as WriteInput);
    try {
      const p = await prepare(name, value, unit, seen);
      const twice = byDde.get(p.param.dde);
      if (twice !== undefined) throw new GatewayError('PARAM_INVALID_VALUE', `${p.param.key} (DDE ${p.param.dde}) is named twice (${JSON.stringify(twice)} and ${JSON.stringify(name)})`, { param: p.param.key, dde: p.param.dde });
      byDde.set(p.param.dde, name);
      prepared.push(p);
    } catch (err) {
      const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
      problems.push({ param: seen.param?.key ?? clip(name), code: e.code, message: e.message, details: e.details });
    }
  }
  // A value checked against the capacity is only valid for the capacity it was checked against.
  const source = prepared.find((p) => CAPACITY_SOURCES.has(p.param.dde));
  if (source) {
    for (const p of prepared.filter((x) => isScaled(x.param))) {
      problems.push({
        param: p.param.key,
        code: 'PARAM_INVALID_VALUE',
        message: `${p.param.key} is checked against the capacity, which writing ${source.param.key} changes: write ${source.param.key} on its own first`,
        details: { param: p.param.key, dde: p.param.dde, with: source.param.key },
      });
    }
  }
  if (problems.length > 0) {
    throw new GatewayError(
      'PARAM_WRITE_REFUSED',
      `${problems.length} of ${names.length} parameters refused, nothing was written: ${problems.map((p) => `${p.param}: ${p.message}`).join('; ')}`,
      { problems },
    );
  }
  return prepared;
}

/** One chained write as packWrites planned it. */
export type WriteChunk = ReturnType<ParamClient['packWrites']>[number];

/**
 * Sends the planned chunks one after the other with `write`. A failure names what was already
 * written, what failed and what was not sent (the error's code, with those in its details).
 */
export async function sendChunks(
  node: number,
  prepared: readonly PreparedWrite[],
  chunks: readonly WriteChunk[],
  write: (chunk: WriteChunk) => Promise<{ readonly id: string }>,
): Promise<{ transactionIds: string[]; txOf: Map<number, string> }> {
  const transactionIds: string[] = [];
  const txOf = new Map<number, string>();
  let sent = 0;
  for (const chunk of chunks) {
    try {
      const record = await write(chunk);
      transactionIds.push(record.id);
      for (const v of chunk.values) txOf.set(v.param.dde, record.id);
      sent += chunk.values.length;
    } catch (err) {
      const done = prepared.slice(0, sent).map((p) => p.param.key);
      const failed = chunk.values.map((v) => v.param.key);
      const later = prepared.slice(sent + chunk.values.length).map((p) => p.param.key);
      const e = err instanceof GatewayError ? err : new GatewayError('GATEWAY_INTERNAL', String(err));
      const detail = err instanceof BusError && err.failure.kind === 'status' ? `status ${err.failure.status} ${statusInfo(err.failure.status).key}` : e.message;
      throw new GatewayError(
        e.code,
        `node ${node}: writing ${failed.join(', ')} failed (${detail})${done.length > 0 ? `; already written: ${done.join(', ')}` : ''}${later.length > 0 ? `; not sent: ${later.join(', ')}` : ''}`,
        { ...e.details, written: done, failed, notSent: later },
      );
    }
  }
  return { transactionIds, txOf };
}

/**
 * Init Reset 82 written on its own: after an unlocked chained write failed part way (the
 * instrument stops at the first refused value, so the 82 at its end may never have been
 * processed), the secured parameters are locked again. Says how that went, for the answer.
 */
export async function relock(node: number, write: (values: { param: ParamDef; value: Value }[]) => Promise<{ readonly id: string }>): Promise<{ note: string; details: { relock: string; relockTransactionId?: string } }> {
  const initReset = paramByDde(INIT_RESET) as ParamDef;
  try {
    const record = await write([{ param: initReset, value: LOCKED }]);
    return { note: `Init Reset ${LOCKED} was written again on its own: node ${node} is locked`, details: { relock: 'done', relockTransactionId: record.id } };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { note: `locking node ${node} again (Init Reset ${LOCKED} on its own) failed too (${why}): its secured parameters may still be unlocked`, details: { relock: `failed: ${clip(why, 300)}` } };
  }
}
