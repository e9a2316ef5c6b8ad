import {
  buildRequest,
  buildValues,
  decodeValue,
  encodeMessage,
  encodeValue,
  valueParams,
  WireType,
  type LocatedValueParam,
  type Value,
} from '../codec/index.js';
import { paramByDde, type ParamDef } from '../params/index.js';
import { GatewayError } from '../shared/index.js';
import type { Bus, TransactionRecord } from './bus.js';
import { BusError } from './failure.js';
import { Priority } from './priority.js';

/** A variable-length string's answer size is unknown before it arrives; budget this many bytes for it. */
const VARIABLE_STRING_ESTIMATE = 24;

/** One parameter's value as read (or written) on the bus. */
export interface ParamReading {
  readonly param: ParamDef;
  readonly node: number;
  /** The value bytes as on the wire (strings without length byte and terminator). */
  readonly raw: Uint8Array;
  readonly value: Value;
  /** When the reply carrying it arrived (ms since epoch, sub-ms precision). */
  readonly at: number;
  /** Served from the cache (no bus transaction). */
  readonly cached: boolean;
  readonly transactionId: string | undefined;
}

/** One parameter's result in a chained read: its value, or why it has none. */
export type ParamResult = { readonly ok: true; readonly reading: ParamReading } | { readonly ok: false; readonly param: ParamDef; readonly error: GatewayError };

export interface ReadOptions {
  readonly priority?: Priority;
  readonly retries?: number;
  readonly replyTimeoutMs?: number;
  /** Accept a cached value no older than this, ms. Default 0 (always read). */
  readonly maxAge?: number;
  readonly purpose?: string;
  readonly signal?: AbortSignal;
}

export interface WriteOptions {
  readonly priority?: Priority;
  readonly purpose?: string;
  readonly signal?: AbortSignal;
  /** Wrap the write in Init Reset 64 ... 82, as secured parameters need. */
  readonly unlock?: boolean;
}

/** Bytes a parameter takes in a request: PI (shared per block), II PP FF, and SL for strings. */
function requestCost(p: ParamDef): number {
  return p.wireType === WireType.String ? 4 : 3;
}

/** Bytes a parameter's value takes in the answer: Q, then the value (length byte + text (+ NUL) for strings). */
function answerCost(p: ParamDef): number {
  if (p.wireType !== WireType.String) return 1 + p.length;
  return 1 + 1 + (p.length > 0 ? p.length : VARIABLE_STRING_ESTIMATE + 1);
}

/**
 * Splits parameters into chained requests: consecutive parameters of the same
 * process share a block; each request and its expected answer stay within the
 * byte budgets (PROTOCOL.md section 10.3: keep well under 64 data bytes).
 */
export function packReads(params: readonly ParamDef[], maxRequestBytes: number, maxAnswerBytes: number): ParamDef[][] {
  const sorted = [...params].sort((a, b) => a.process - b.process);
  const chunks: ParamDef[][] = [];
  let chunk: ParamDef[] = [];
  let req = 1;
  let ans = 1;
  let lastProcess = -1;
  for (const p of sorted) {
    const newBlock = p.process !== lastProcess || chunk.length === 0;
    const dReq = requestCost(p) + (newBlock ? 1 : 0);
    const dAns = answerCost(p) + (newBlock ? 1 : 0);
    if (chunk.length > 0 && (req + dReq > maxRequestBytes || ans + dAns > maxAnswerBytes)) {
      chunks.push(chunk);
      chunk = [p];
      req = 1 + requestCost(p) + 1;
      ans = 1 + answerCost(p) + 1;
    } else {
      chunk.push(p);
      req += dReq;
      ans += dAns;
    }
    lastProcess = p.process;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

const INIT_RESET = 7;

/** The cache key of a parameter of a node: channel 2 and up of a channel process are their own values. */
function cacheKey(node: number, param: ParamDef): string {
  return param.channel === undefined ? `${node}/${param.dde}` : `${node}/${param.dde}/${param.channel}`;
}

/**
 * Parameter-level access to one bus: chained reads packed within the byte
 * budget, fallback to single reads when a chained read answers a status error,
 * identical concurrent reads sharing one transaction, a cache for `maxAge`
 * reads, and writes with status (command 1).
 */
export class ParamClient {
  private readonly cache = new Map<string, ParamReading>();
  private readonly inFlight = new Map<string, Promise<ParamResult[]>>();

  constructor(readonly bus: Bus) {}

  /** The latest value of a parameter seen on this bus (read, polled or written), if any; `channel` for channel 2 and up (`forChannel`). */
  latest(node: number, dde: number, channel?: number): ParamReading | undefined {
    return this.cache.get(channel === undefined || channel <= 1 ? `${node}/${dde}` : `${node}/${dde}/${channel}`);
  }

  /** Reads parameters of one node; each result is a value or its own precise error. */
  async read(node: number, params: readonly ParamDef[], opts: ReadOptions = {}): Promise<ParamResult[]> {
    const maxAge = opts.maxAge ?? 0;
    const now = Date.now();
    const results = new Map<number, ParamResult>();
    const toRead: ParamDef[] = [];
    for (const p of params) {
      if (results.has(p.dde) || toRead.includes(p)) continue;
      if (!p.read) {
        results.set(p.dde, {
          ok: false,
          param: p,
          error: new GatewayError('PARAM_WRITE_ONLY', `${p.key} (DDE ${p.dde}) is write-only and cannot be read`, { param: p.key, dde: p.dde }),
        });
        continue;
      }
      const hit = maxAge > 0 ? this.cache.get(cacheKey(node, p)) : undefined;
      if (hit && now - hit.at <= maxAge) results.set(p.dde, { ok: true, reading: { ...hit, cached: true } });
      else toRead.push(p);
    }
    const chunks = packReads(toRead, this.bus.options.maxRequestBytes, this.bus.options.maxAnswerBytes);
    const done = await Promise.all(chunks.map((c) => this.readChunkShared(node, c, opts)));
    for (const list of done) for (const r of list) results.set(r.ok ? r.reading.param.dde : r.param.dde, r);
    return params.map((p) => results.get(p.dde) as ParamResult);
  }

  /** Identical concurrent reads share one transaction. */
  private readChunkShared(node: number, chunk: ParamDef[], opts: ReadOptions): Promise<ParamResult[]> {
    const key = `${node}|${chunk.map((p) => `${p.dde}@${p.process}`).join(',')}`;
    const existing = this.inFlight.get(key);
    if (existing) return existing;
    const p = this.readChunk(node, chunk, opts).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async readChunk(node: number, chunk: ParamDef[], opts: ReadOptions): Promise<ParamResult[]> {
    const request = buildRequest(
      chunk.map((p) => ({ process: p.process, fbnr: p.fbnr, wireType: p.wireType, ...(p.wireType === WireType.String ? { stringLength: p.length } : {}) })),
    );
    let reply;
    try {
      reply = await this.bus.transact(node, request, {
        priority: opts.priority ?? Priority.Interactive,
        purpose: opts.purpose ?? 'read',
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
        ...(opts.replyTimeoutMs !== undefined ? { replyTimeoutMs: opts.replyTimeoutMs } : {}),
      });
    } catch (err) {
      // A status error on a chained read: find the failing parameter with single reads, so the others still get values.
      if (chunk.length > 1 && err instanceof BusError && err.failure.kind === 'status') {
        const singles = await Promise.all(chunk.map((p) => this.readChunkShared(node, [p], opts)));
        return singles.flat();
      }
      const error = err instanceof GatewayError ? err : new GatewayError('BUS_FAILED', String(err), {});
      return chunk.map((param) => ({ ok: false as const, param, error }));
    }
    return this.readingsFrom(node, chunk, reply.message.kind === 'send' ? valueParams(reply.message) : [], reply.record);
  }

  private readingsFrom(node: number, chunk: ParamDef[], values: LocatedValueParam[], record: TransactionRecord): ParamResult[] {
    const at = record.endedAt;
    return chunk.map((param, i) => {
      const v = values[i];
      if (!v) {
        return { ok: false as const, param, error: new GatewayError('BUS_BAD_REPLY', `the answer has no value for ${param.key}`, { node, param: param.key }) };
      }
      let value: Value;
      try {
        value = decodeValue(param.valueType, v.raw);
      } catch (err) {
        return { ok: false as const, param, error: err instanceof GatewayError ? err : new GatewayError('BUS_BAD_REPLY', String(err), {}) };
      }
      const reading: ParamReading = { param, node, raw: v.raw, value, at, cached: false, transactionId: record.id };
      this.cache.set(cacheKey(node, param), reading);
      return { ok: true as const, reading };
    });
  }

  /**
   * Writes values with status (command 1) in one chained message. Values must
   * already be validated (params' `validateValue`). With `unlock`, the message is
   * wrapped in Init Reset 64 ... 82, as secured parameters need.
   */
  async write(node: number, values: readonly { param: ParamDef; value: Value }[], opts: WriteOptions = {}): Promise<TransactionRecord> {
    const located: LocatedValueParam[] = [];
    const initReset = paramByDde(INIT_RESET);
    const wrap = opts.unlock && initReset;
    if (wrap) located.push(this.located(initReset, 64));
    for (const { param, value } of values) located.push(this.located(param, value));
    if (wrap) located.push(this.located(initReset, 82));
    const reply = await this.bus.transact(node, buildValues('sendWithStatus', located), {
      priority: opts.priority ?? Priority.Write,
      purpose: opts.purpose ?? 'write',
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    for (const { param, value } of values) {
      // What we wrote is the latest known value until the next read says otherwise.
      const raw = encodeValue(param.valueType, value, param.wireType === WireType.String ? param.length : 0);
      this.cache.set(cacheKey(node, param), { param, node, raw, value, at: reply.record.endedAt, cached: false, transactionId: reply.record.id });
    }
    return reply.record;
  }

  /**
   * Splits values to write into chained writes that each stay within the bus's request budget
   * (`maxRequestBytes`), in their order. A write holding a secured parameter (`param.secured`)
   * is wrapped in Init Reset 64 ... 82, and its wrap counts in its size.
   */
  packWrites(values: readonly { param: ParamDef; value: Value }[]): { values: { param: ParamDef; value: Value }[]; unlock: boolean }[] {
    const initReset = paramByDde(INIT_RESET);
    const size = (list: readonly { param: ParamDef; value: Value }[], unlock: boolean) => {
      const located = list.map(({ param, value }) => this.located(param, value));
      if (unlock && initReset) {
        located.unshift(this.located(initReset, 64));
        located.push(this.located(initReset, 82));
      }
      return encodeMessage(buildValues('sendWithStatus', located)).length;
    };
    const chunks: { values: { param: ParamDef; value: Value }[]; unlock: boolean }[] = [];
    let current: { values: { param: ParamDef; value: Value }[]; unlock: boolean } | undefined;
    for (const v of values) {
      if (current) {
        const unlock = current.unlock || v.param.secured;
        if (size([...current.values, v], unlock) <= this.bus.options.maxRequestBytes) {
          current.values.push(v);
          current.unlock = unlock;
          continue;
        }
      }
      current = { values: [v], unlock: v.param.secured };
      chunks.push(current);
    }
    return chunks;
  }

  /**
   * The longest text (string characters, or bytes) a write of a variable-length `param` can carry
   * within the bus's request budget (`maxRequestBytes`): the budget less what the same write
   * with an empty value takes (command, process and parameter bytes, length byte, NUL, and the
   * Init Reset 64 ... 82 wrap with `unlock`). At least 0.
   */
  writeRoom(param: ParamDef, opts: { unlock?: boolean } = {}): number {
    const initReset = paramByDde(INIT_RESET);
    const empty: LocatedValueParam[] = [];
    if (opts.unlock && initReset) empty.push(this.located(initReset, 64));
    empty.push(this.located(param, param.valueType === 'bytes' ? new Uint8Array(0) : ''));
    if (opts.unlock && initReset) empty.push(this.located(initReset, 82));
    return Math.max(0, this.bus.options.maxRequestBytes - encodeMessage(buildValues('sendWithStatus', empty)).length);
  }

  private located(param: ParamDef, value: Value): LocatedValueParam {
    const fixed = param.wireType === WireType.String ? param.length : 0;
    return {
      process: param.process,
      fbnr: param.fbnr,
      wireType: param.wireType,
      raw: encodeValue(param.valueType, value, fixed),
      ...(param.wireType === WireType.String ? { stringLength: fixed } : {}),
    };
  }
}
