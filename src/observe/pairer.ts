import {
  Command,
  errorFrameInfo,
  frameToPacket,
  requestParams,
  statusInfo,
  valueParams,
  WireType,
  type Frame,
  type LocatedRequestParam,
  type Message,
  type Protocol,
  type ValuesMessage,
} from '../codec/index.js';
import { CodecError } from '../shared/index.js';
import { defaultResolver, describeParam, type ObservedParam, type ParamInput, type ParamResolver } from './describe.js';

/** How a transaction ended. A closed union, so it can be counted and stored. */
export type Outcome =
  /** Read answered with data, write acknowledged with status 0, or a message that expects no reply. */
  | 'ok'
  /** Answered with a non-zero status (command 0). */
  | 'status'
  /** Answered with an error frame (binary LEN 0). */
  | 'error-frame'
  /** No reply within the timeout (or before the end of the stream). */
  | 'unanswered'
  /** A reply that matches no outstanding request. */
  | 'orphan'
  /** A frame whose DATA is not a well-formed message, or a read answer that does not fit its request. */
  | 'undecodable';

/** A frame handed to the pairer: the deframed frame, its wire bytes and its time (microseconds). */
export interface PairerFrame {
  readonly frame: Frame;
  readonly raw: Uint8Array;
  /** Microseconds; only differences matter. */
  readonly time: number;
}

export interface TransactionStatus {
  readonly code: number;
  readonly key: string;
  readonly message: string;
  /** The INDEX byte: a DATA offset in the request. */
  readonly index: number;
  /** The parameter the INDEX points at, for a failed read or write. */
  readonly param?: ObservedParam;
}

export interface TransactionErrorFrame {
  readonly code: number;
  readonly key: string;
  readonly message: string;
}

export interface Transaction {
  readonly request: PairerFrame | undefined;
  readonly reply: PairerFrame | undefined;
  readonly outcome: Outcome;
  /** The request's node (a reply to node 128 also carries 128); the reply's for orphans; undefined for an ASCII error frame. */
  readonly node: number | undefined;
  readonly seq: number;
  /** The request's command byte (the reply's for orphans); undefined when DATA is empty or the frame is an error frame. */
  readonly command: number | undefined;
  /** `read`, `write`, `send`, `broadcast`, `status`, `error`, `cmd-5` ... */
  readonly commandName: string;
  /** The request's time, or the reply's for orphans (microseconds). */
  readonly time: number;
  readonly latencyMs: number | undefined;
  /** Requests outstanding just after this request was seen (itself included); 0 for orphans. */
  readonly outstanding: number;
  /** Read: the requested parameters with the answered values; write: the written values; orphan: what the reply carries. */
  readonly params: ObservedParam[];
  readonly status?: TransactionStatus;
  readonly errorFrame?: TransactionErrorFrame;
  /** What went wrong while decoding or matching, for `undecodable` and for odd but usable replies. */
  readonly problem?: string;
  /** A request a bridge injected (capture records marked ` injected`), not the master's. */
  readonly injected?: boolean;
}

export interface PairerOptions {
  /** `binary`: match by (SEQ, NODE); `ascii`: no SEQ on the wire, match in order. Default `binary`. */
  readonly mode?: Protocol;
  /** A request with no reply after this many ms (of event time) is closed as unanswered. Default 1000; range > 0. */
  readonly timeoutMs?: number;
  /** Parameter lookup; default: the parameter DB's `paramByAddress`. */
  readonly resolve?: ParamResolver;
}

interface Pending {
  readonly req: PairerFrame;
  readonly seq: number;
  readonly node: number;
  /** `undefined` when the DATA is not a well-formed message. */
  readonly message: Message | undefined;
  readonly decodeError: string | undefined;
  readonly outstanding: number;
}

const COMMAND_NAMES: Record<number, string> = {
  [Command.Status]: 'status',
  [Command.SendWithStatus]: 'write',
  [Command.Send]: 'send',
  [Command.Broadcast]: 'broadcast',
  [Command.Request]: 'read',
};

/**
 * The database's unit placeholders ('capacity': the instrument's capacity unit; 'counter': its
 * counter unit) become the real unit when it is known, and are left out otherwise: a placeholder
 * shown as a unit misleads.
 */
export function resolveUnit(p: ObservedParam, capacityUnit: string | undefined): ObservedParam {
  if (p.unit !== 'capacity' && p.unit !== 'counter') return p;
  if (p.unit === 'capacity' && capacityUnit !== undefined) return { ...p, unit: capacityUnit };
  const { unit: _placeholder, ...rest } = p;
  return rest;
}

export function commandName(command: number | undefined): string {
  if (command === undefined) return 'error';
  return COMMAND_NAMES[command] ?? `cmd-${command}`;
}

function decode(frame: Frame): { message: Message | undefined; error: string | undefined } {
  try {
    return { message: frameToPacket(frame).message, error: undefined };
  } catch (err) {
    if (err instanceof CodecError) return { message: undefined, error: err.message };
    throw err;
  }
}

function commandOf(frame: Frame): number | undefined {
  return frame.kind === 'data' ? frame.data[0] : undefined;
}

/** A parameter of a values message with its real address and the DATA offset just past it (where a status INDEX points). */
interface WrittenParam {
  readonly process: number;
  readonly fbnr: number;
  readonly wireType: WireType;
  readonly raw: Uint8Array;
  readonly stringLength?: number;
  readonly end: number;
}

function writtenParams(msg: ValuesMessage): WrittenParam[] {
  const out: WrittenParam[] = [];
  let at = 1;
  for (const block of msg.blocks) {
    at += 1;
    for (const p of block.params) {
      at += 1;
      if (p.wireType === WireType.String) {
        at += 1 + p.raw.length + (p.stringLength === 0 ? 1 : 0);
      } else {
        at += p.raw.length;
      }
      out.push({ process: block.process, fbnr: p.fbnr, wireType: p.wireType, raw: p.raw, end: at, ...(p.stringLength !== undefined ? { stringLength: p.stringLength } : {}) });
    }
  }
  return out;
}

/** The entry a status INDEX points at: the one ending exactly there, else the first that reaches past it. */
function pointedAt<T extends { end: number }>(entries: readonly T[], index: number): T | undefined {
  return entries.find((e) => e.end === index) ?? entries.find((e) => e.end > index);
}

/**
 * Pairs requests (master to instrument) with replies (instrument to master).
 * Pure: no timers; time comes in with every frame, and requests older than the
 * timeout are closed as unanswered when a later frame (or `expire`/`flush`) is seen.
 *
 * Binary: requests are kept under (SEQ, NODE), so several may be outstanding and
 * SEQ may wrap (255 -> 0 or 255 -> 1). A new request with the key of an outstanding
 * one closes the old one as unanswered. ASCII: no SEQ; a reply answers the oldest
 * outstanding request to its node (an ASCII error frame, which has no node, the oldest one).
 *
 * Each call returns the transactions it completed, in completion order.
 */
export class Pairer {
  private readonly mode: Protocol;
  private readonly timeoutUs: number;
  private readonly resolve: ParamResolver;
  /** Outstanding requests in arrival order. */
  private pending: Pending[] = [];
  private maxSeen = 0;
  /** Capacity unit strings seen per node, to give 'capacity' units a real unit. */
  private readonly capacityUnits = new Map<number, string>();

  constructor(options: PairerOptions = {}) {
    this.mode = options.mode ?? 'binary';
    const timeoutMs = options.timeoutMs ?? 1000;
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
    this.timeoutUs = timeoutMs * 1000;
    this.resolve = options.resolve ?? defaultResolver;
  }

  /** Requests waiting for a reply. */
  get outstanding(): number {
    return this.pending.length;
  }

  /** Time of the oldest outstanding request (microseconds), if any. */
  get oldestPendingTime(): number | undefined {
    let t: number | undefined;
    for (const p of this.pending) if (t === undefined || p.req.time < t) t = p.req.time;
    return t;
  }

  /** The most requests outstanding at once so far, counting requests later closed as unanswered. */
  get maxOutstanding(): number {
    return this.maxSeen;
  }

  /** Feeds a frame of either direction: `>` requests, `<` replies. */
  push(direction: '>' | '<', f: PairerFrame): Transaction[] {
    return direction === '>' ? this.request(f) : this.reply(f);
  }

  /** A frame from the master. */
  request(f: PairerFrame): Transaction[] {
    const out = this.expire(f.time);
    const { message, error } = decode(f.frame);
    const node = f.frame.node ?? 0;
    // Messages that expect no reply complete at once.
    if (message && (message.kind === 'send' || message.kind === 'broadcast' || message.kind === 'status' || message.kind === 'error')) {
      out.push(this.finish({ req: f, seq: f.frame.seq, node, message, decodeError: undefined, outstanding: this.pending.length }, undefined));
      return out;
    }
    if (this.mode === 'binary') {
      const i = this.pending.findIndex((p) => p.seq === f.frame.seq && p.node === node);
      if (i >= 0) {
        const [old] = this.pending.splice(i, 1);
        if (old) out.push(this.finish(old, undefined, 'superseded by a new request with the same SEQ and NODE'));
      }
    }
    const entry: Pending = { req: f, seq: f.frame.seq, node, message, decodeError: error, outstanding: this.pending.length + 1 };
    this.pending.push(entry);
    if (this.pending.length > this.maxSeen) this.maxSeen = this.pending.length;
    return out;
  }

  /** A frame from the instrument. */
  reply(f: PairerFrame): Transaction[] {
    const out = this.expire(f.time);
    let i: number;
    if (this.mode === 'binary') {
      i = this.pending.findIndex((p) => p.seq === f.frame.seq && p.node === f.frame.node);
    } else {
      i = f.frame.node === undefined ? (this.pending.length > 0 ? 0 : -1) : this.pending.findIndex((p) => p.node === f.frame.node);
    }
    if (i < 0) {
      out.push(this.orphan(f));
      return out;
    }
    const [entry] = this.pending.splice(i, 1);
    if (entry) out.push(this.finish(entry, f));
    return out;
  }

  /** Closes requests older than the timeout at time `now` (microseconds). */
  expire(now: number): Transaction[] {
    const out: Transaction[] = [];
    this.pending = this.pending.filter((p) => {
      if (now - p.req.time > this.timeoutUs) {
        out.push(this.finish(p, undefined));
        return false;
      }
      return true;
    });
    return out;
  }

  /** End of stream: closes every outstanding request as unanswered. `now` (if given) first expires by age; the rest are closed anyway. */
  flush(now?: number): Transaction[] {
    const out = now === undefined ? [] : this.expire(now);
    for (const p of this.pending) out.push(this.finish(p, undefined));
    this.pending = [];
    return out;
  }

  private describe(input: Parameters<typeof describeParam>[0]): ObservedParam {
    return describeParam(input, this.resolve);
  }

  /** Gives `unit: 'capacity'` parameters the capacity unit string last seen for the node. */
  private applyUnits(node: number | undefined, params: ObservedParam[]): ObservedParam[] {
    if (node === undefined) return params.map((p) => resolveUnit(p, undefined));
    for (const p of params) {
      if (p.key === 'capacityUnit' && typeof p.value === 'string' && p.value !== '') this.capacityUnits.set(node, p.value);
    }
    const unit = this.capacityUnits.get(node);
    return params.map((p) => resolveUnit(p, unit));
  }

  private orphan(f: PairerFrame): Transaction {
    const { message, error } = decode(f.frame);
    const command = commandOf(f.frame);
    const base = {
      request: undefined,
      reply: f,
      outcome: 'orphan' as const,
      node: f.frame.node,
      seq: f.frame.seq,
      command,
      commandName: commandName(command),
      time: f.time,
      latencyMs: undefined,
      outstanding: 0,
    };
    if (!message) return { ...base, params: [], problem: error ?? 'undecodable' };
    switch (message.kind) {
      case 'status': {
        const info = statusInfo(message.status);
        return { ...base, params: [], status: { code: message.status, key: info.key, message: info.message, index: message.index } };
      }
      case 'error': {
        const info = errorFrameInfo(message.code);
        return { ...base, params: [], errorFrame: { code: message.code, key: info.key, message: info.message } };
      }
      case 'send':
      case 'sendWithStatus':
      case 'broadcast': {
        // Only a broadcast carries real addresses; a read answer without its request has only index tags.
        const indexOnly = message.kind === 'send';
        const params = valueParams(message).map((p) =>
          this.describe({
            process: p.process,
            fbnr: p.fbnr,
            wireType: p.wireType,
            raw: p.raw,
            ...(p.stringLength !== undefined ? { stringLength: p.stringLength } : {}),
            ...(indexOnly ? { indexOnly: true, processIndex: p.process, index: p.fbnr } : {}),
          }),
        );
        return { ...base, params: this.applyUnits(f.frame.node, params) };
      }
      default:
        return { ...base, params: [] };
    }
  }

  private requestedParams(located: readonly LocatedRequestParam[]): ObservedParam[] {
    return located.map((p) => this.describe(requestInput(p)));
  }

  private finish(entry: Pending, reply: PairerFrame | undefined, note?: string): Transaction {
    const req = entry.req;
    const command = commandOf(req.frame);
    const latencyMs = reply ? (reply.time - req.time) / 1000 : undefined;
    const base = {
      request: req,
      reply,
      node: req.frame.node,
      seq: req.frame.seq,
      command,
      commandName: commandName(command),
      time: req.time,
      latencyMs,
      outstanding: entry.outstanding,
    };
    const msg = entry.message;
    const located = msg?.kind === 'request' ? requestParams(msg) : [];
    const written = msg && (msg.kind === 'sendWithStatus' || msg.kind === 'send' || msg.kind === 'broadcast') ? writtenParams(msg) : [];
    const writtenDescribed = (): ObservedParam[] =>
      written.map((p) =>
        this.describe({
          process: p.process,
          fbnr: p.fbnr,
          wireType: p.wireType,
          raw: p.raw,
          ...(p.stringLength !== undefined ? { stringLength: p.stringLength } : {}),
        }),
      );
    const requestSide = (): ObservedParam[] => (msg?.kind === 'request' ? this.requestedParams(located) : writtenDescribed());

    if (!msg) {
      return { ...base, outcome: 'undecodable', params: [], problem: `request: ${entry.decodeError ?? 'undecodable'}` };
    }
    if (!reply) {
      const expectsReply = msg.kind === 'request' || msg.kind === 'sendWithStatus' || msg.kind === 'unknown';
      const params = this.applyUnits(base.node, requestSide());
      // A write without reply leaves the instrument's state unknown: do not learn units from it.
      return {
        ...base,
        outcome: expectsReply ? 'unanswered' : 'ok',
        params,
        ...(note !== undefined ? { problem: note } : {}),
      };
    }

    const decoded = decode(reply.frame);
    if (!decoded.message) {
      return { ...base, outcome: 'undecodable', params: requestSide(), problem: `reply: ${decoded.error ?? 'undecodable'}` };
    }
    const rmsg = decoded.message;
    switch (rmsg.kind) {
      case 'error': {
        const info = errorFrameInfo(rmsg.code);
        return { ...base, outcome: 'error-frame', params: requestSide(), errorFrame: { code: rmsg.code, key: info.key, message: info.message } };
      }
      case 'status': {
        const info = statusInfo(rmsg.status);
        const status: { -readonly [K in keyof TransactionStatus]: TransactionStatus[K] } = {
          code: rmsg.status,
          key: info.key,
          message: info.message,
          index: rmsg.index,
        };
        let params: ObservedParam[];
        if (msg.kind === 'request') {
          params = this.requestedParams(located);
          if (rmsg.status !== 0) {
            const at = pointedAt(located, rmsg.index);
            if (at) status.param = this.describe(requestInput(at));
          }
        } else {
          params = writtenDescribed();
          if (rmsg.status !== 0) {
            const at = pointedAt(written, rmsg.index);
            if (at) status.param = this.describe({ process: at.process, fbnr: at.fbnr, wireType: at.wireType, raw: at.raw });
          } else {
            params = this.applyUnits(base.node, params);
          }
        }
        return { ...base, outcome: rmsg.status === 0 ? 'ok' : 'status', params, status };
      }
      case 'send':
      case 'sendWithStatus':
      case 'broadcast': {
        if (msg.kind !== 'request') {
          return { ...base, outcome: 'undecodable', params: requestSide(), problem: `a ${commandName(commandOf(reply.frame))} reply to a ${base.commandName}` };
        }
        const answer = this.answer(located, rmsg);
        return {
          ...base,
          outcome: answer.problem && answer.unmatched ? 'undecodable' : 'ok',
          params: this.applyUnits(base.node, answer.params),
          ...(answer.problem ? { problem: answer.problem } : {}),
        };
      }
      default:
        return { ...base, outcome: 'undecodable', params: requestSide(), problem: `reply command ${commandName(commandOf(reply.frame))}` };
    }
  }

  /**
   * Decodes a read answer through its request's index map:
   * (process index, parameter index) -> (real process, FB, wire type, requested string length).
   */
  private answer(located: readonly LocatedRequestParam[], reply: ValuesMessage): { params: ObservedParam[]; problem?: string; unmatched: boolean } {
    const used = new Set<number>();
    const params: ObservedParam[] = [];
    const problems: string[] = [];
    let unmatched = false;
    for (const v of valueParams(reply)) {
      const k = located.findIndex((p, i) => !used.has(i) && p.processIndex === v.process && p.index === v.fbnr);
      const str = v.stringLength !== undefined ? { stringLength: v.stringLength } : {};
      if (k < 0) {
        unmatched = true;
        problems.push(`answer tag ${v.process}/${v.fbnr} is not in the request`);
        params.push(this.describe({ process: v.process, fbnr: v.fbnr, wireType: v.wireType, raw: v.raw, indexOnly: true, processIndex: v.process, index: v.fbnr, ...str }));
        continue;
      }
      used.add(k);
      const p = located[k] as LocatedRequestParam;
      if (v.wireType !== p.wireType) problems.push(`${p.process}/${p.fbnr} answered with wire type 0x${v.wireType.toString(16)}, requested 0x${p.wireType.toString(16)}`);
      if (p.wireType === WireType.String && v.stringLength !== p.stringLength) {
        problems.push(`${p.process}/${p.fbnr} answered with string length ${v.stringLength}, requested ${p.stringLength}`);
      }
      // Field by field, not spread (V8's slow path, once per value of every read answer).
      const input: { -readonly [K in keyof ParamInput]: ParamInput[K] } = { process: p.process, fbnr: p.fbnr, wireType: v.wireType, processIndex: p.processIndex, index: p.index, raw: v.raw };
      if (v.stringLength !== undefined) input.stringLength = v.stringLength;
      params.push(this.describe(input));
    }
    if (used.size < located.length) problems.push(`${located.length - used.size} requested parameter(s) missing from the answer`);
    return { params, unmatched, ...(problems.length > 0 ? { problem: problems.join('; ') } : {}) };
  }
}

function requestInput(p: LocatedRequestParam): Parameters<typeof describeParam>[0] {
  return {
    process: p.process,
    fbnr: p.fbnr,
    wireType: p.wireType,
    processIndex: p.processIndex,
    index: p.index,
    ...(p.stringLength !== undefined ? { stringLength: p.stringLength } : {}),
  };
}
