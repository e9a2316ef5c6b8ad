import { BusError, type ParamClient, type ParamResult, type ReadOptions } from '../../bus/index.js';
import type { ParamDef } from '../../params/index.js';
import { jsonValue } from '../views.js';

/** A parameter value as identity and discovery keep it (byte arrays as hex). */
export type PlainValue = number | string;

export interface Agreement {
  /** Values that two reads agreed on, by DDE number. */
  readonly values: Map<number, PlainValue>;
  /** Parameters that two reads answered with the same "no such process/parameter" status: the instrument does not have them. */
  readonly lacking: Set<number>;
  /** Every read's results, in order. */
  readonly reads: ParamResult[][];
}

export interface AgreeOptions extends ReadOptions {
  /** Reads at most, each of the parameters still without two agreeing answers. 2..10. */
  readonly attempts: number;
  /** Answers already in hand (a poll, a read-back, the value confirmed before), by DDE: each counts as one read. */
  readonly seed?: ReadonlyMap<number, readonly PlainValue[]>;
}

/** Failures after which reading again is pointless: an absent node, a bus that is down, a shutdown. */
const FINAL = new Set(['error-frame', 'bus-unavailable', 'aborted']);

/** Statuses by which an instrument says it has no such process (3) or parameter (4). Others (a communication error) are no answer. */
const ABSENT_STATUS = new Set([3, 4]);

function answerKey(r: ParamResult): string | undefined {
  if (r.ok) return `v:${JSON.stringify(jsonValue(r.reading.value))}`;
  if (r.error instanceof BusError && r.error.failure.kind === 'status' && ABSENT_STATUS.has(r.error.failure.status)) return `s:${r.error.failure.status}`;
  return undefined; // a timeout, a bad reply, a transient status: no answer at all
}

/**
 * Reads parameters until each has two answers that agree, re-reading only those that do not yet,
 * at most `attempts` times. ProPar has no checksum: a garbled value byte cannot be told from a true
 * one by looking at it, but two independent reads that agree can be trusted. A parameter that never
 * gets two agreeing answers is left out of the result.
 */
export async function readAgreed(client: ParamClient, node: number, params: readonly ParamDef[], opts: AgreeOptions): Promise<Agreement> {
  const { attempts, seed, ...read } = opts;
  const seen = new Map<number, Set<string>>();
  for (const p of params) seen.set(p.dde, new Set((seed?.get(p.dde) ?? []).map((v) => `v:${JSON.stringify(v)}`)));
  const out: Agreement = { values: new Map(), lacking: new Set(), reads: [] };
  let pending = [...params];
  for (let i = 0; i < attempts && pending.length > 0 && !read.signal?.aborted; i++) {
    const results = await client.read(node, pending, read);
    out.reads.push(results);
    for (const r of results) {
      const key = answerKey(r);
      const dde = r.ok ? r.reading.param.dde : r.param.dde;
      const keys = seen.get(dde);
      if (key === undefined || !keys) continue;
      if (!keys.has(key)) {
        keys.add(key);
        continue;
      }
      if (r.ok) out.values.set(dde, jsonValue(r.reading.value));
      else out.lacking.add(dde);
    }
    pending = pending.filter((p) => !out.values.has(p.dde) && !out.lacking.has(p.dde));
    if (results.every((r) => !r.ok && r.error instanceof BusError && FINAL.has(r.error.failure.kind))) break;
  }
  return out;
}
