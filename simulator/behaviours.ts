/**
 * What an instrument does with a request, as a list of small named behaviours that a
 * test can override (the idea of zwave-js's MockController `defineBehavior`). For each
 * question (a whole message, one requested parameter, one written parameter) the
 * behaviours are asked in order; the first that returns something decides, the others
 * are skipped. `InstrumentHandle.defineBehavior` puts new ones in front;
 * `removeBehavior(name)` drops one, defaults included.
 */
import {
  ErrorFrameCode,
  Status,
  WireType,
  decodeMessage,
  decodeValue,
  encodeValue,
  requestParams,
  wireTypeSize,
  type LocatedRequestParam,
  type Message,
  type RequestMessage,
  type Value,
  type ValueParam,
  type ValueType,
  type ValuesMessage,
} from '../src/codec/index.js';
import { paramByAddress, paramsByAddress, valueTypeFor, type ParamDef } from '../src/params/index.js';
import type {
  Behaviour,
  InstrumentState as Instrument,
  MessageContext,
  MessageOutcome,
  ReadContext,
  WriteContext,
} from './behaviour.js';
import { INIT_RESET_UNLOCKED, knownProcesses } from './constants.js';

export type { Behaviour, MessageContext, MessageOutcome, ReadContext, ReadOutcome, WriteContext, WriteOutcome } from './behaviour.js';

function status(code: number, index: number): MessageOutcome {
  return { reply: { kind: 'status', status: code, index } };
}

function isMissing(inst: Instrument, process: number, fbnr: number): number | undefined {
  if (inst.missingProcesses.has(process)) return Status.ProcessNumber;
  if (inst.missingParams.has(`${process}/${fbnr}`)) return Status.ParameterNumber;
  return undefined;
}

function isStringType(def: ParamDef): boolean {
  return def.valueType === 'string' || def.valueType === 'bytes';
}

// ------------------------------------------------------------------ message behaviours

/** A request longer than the module's buffer: status 0x23, INDEX = request LEN (as the captures show). */
const requestSize: Behaviour = {
  name: 'request-size',
  onMessage: (ctx) => (ctx.data.length > ctx.answerLimit ? status(Status.ModuleBufferOverflow, ctx.data.length) : undefined),
};

/** DATA that does not parse (truncated entry, bytes after the last parameter): error frame 3, protocol error. */
const malformed: Behaviour = {
  name: 'malformed',
  onMessage: (ctx) => (ctx.message === undefined ? { errorFrame: ErrorFrameCode.ProtocolError } : undefined),
};

/** Status messages and broadcasts sent to an instrument need no answer. */
const ignored: Behaviour = {
  name: 'ignored-commands',
  onMessage: (ctx) => (ctx.message?.kind === 'status' || ctx.message?.kind === 'broadcast' ? { silent: true } : undefined),
};

/** Commands 5..255 (undocumented): status 2, command error, INDEX 0 (the command byte). */
const unknownCommand: Behaviour = {
  name: 'unknown-command',
  onMessage: (ctx) => (ctx.message?.kind === 'unknown' ? status(Status.Command, 0) : undefined),
};

/** Command 4: each parameter through the read behaviours; the answer mirrors the request's blocks and tags. */
const read: Behaviour = {
  name: 'read',
  onMessage(ctx) {
    if (ctx.message?.kind !== 'request') return undefined;
    return answerRead(ctx, ctx.message);
  },
};

/** Commands 1 and 2: each parameter through the write behaviours, in order; the first failure stops the rest. */
const write: Behaviour = {
  name: 'write',
  onMessage(ctx) {
    const msg = ctx.message;
    if (msg?.kind !== 'sendWithStatus' && msg?.kind !== 'send') return undefined;
    return applyWrite(ctx, msg);
  },
};

export function answerRead(ctx: MessageContext, msg: RequestMessage): MessageOutcome {
  const inst = ctx.instrument;
  const located = requestParams(msg);
  const blocks: { process: number; params: ValueParam[] }[] = [];
  let size = 1;
  let k = 0;
  for (const block of msg.blocks) {
    const out: ValueParam[] = [];
    blocks.push({ process: block.processIndex, params: out });
    size += 1;
    for (let j = 0; j < block.params.length; j++) {
      const asked = located[k++] as LocatedRequestParam;
      // A channel process offset by the channel is that channel's parameter, as channel 1 numbers it.
      const at = inst.channelAt(asked.process);
      const req = at.process === asked.process ? asked : { ...asked, process: at.process };
      const candidates = paramsByAddress(req.process, req.fbnr);
      const param = candidates.length > 0 ? paramByAddress(req.process, req.fbnr, req.wireType) : undefined;
      const rctx: ReadContext = {
        instrument: at.state,
        now: ctx.now,
        request: req,
        candidates,
        param,
        valueType: param ? valueTypeFor(param, req.wireType) : undefined,
      };
      const outcome = ask(at.state.behaviours, (b) => b.onRead?.(rctx)) ?? { status: Status.ParameterNumber };
      if ('status' in outcome) {
        if (outcome.status !== Status.Ok) return status(outcome.status, req.end);
        continue;
      }
      const vp: ValueParam =
        req.indexType === WireType.String
          ? { fbnr: req.index, wireType: req.indexType, raw: outcome.raw, stringLength: outcome.stringLength ?? 0 }
          : { fbnr: req.index, wireType: req.indexType, raw: outcome.raw };
      out.push(vp);
      const fixed = wireTypeSize(vp.wireType);
      size += 1 + (fixed ?? 1 + (vp.stringLength ? vp.stringLength : vp.raw.length + 1));
      if (size > ctx.answerLimit) return status(Status.ModuleBufferOverflow, ctx.data.length);
    }
  }
  return { reply: { kind: 'send', blocks } };
}

export function applyWrite(ctx: MessageContext, msg: ValuesMessage): MessageOutcome {
  const inst = ctx.instrument;
  const acknowledged = msg.kind === 'sendWithStatus';
  let at = 1;
  for (const block of msg.blocks) {
    at += 1;
    for (const entry of block.params) {
      const fixed = wireTypeSize(entry.wireType);
      at += 1 + (fixed ?? 1 + (entry.stringLength ? entry.stringLength : entry.raw.length + 1));
      const target = inst.channelAt(block.process);
      const candidates = paramsByAddress(target.process, entry.fbnr);
      const param = candidates.length > 0 ? paramByAddress(target.process, entry.fbnr, entry.wireType) : undefined;
      const valueType = param ? valueTypeFor(param, entry.wireType) : undefined;
      let value: Value | undefined;
      if (valueType !== undefined) {
        try {
          value = decodeValue(valueType, entry.raw);
        } catch {
          value = undefined;
        }
      }
      const wctx: WriteContext = {
        instrument: target.state,
        now: ctx.now,
        acknowledged,
        process: target.process,
        entry,
        end: at,
        candidates,
        param,
        valueType,
        value,
      };
      const outcome = ask(target.state.behaviours, (b) => b.onWrite?.(wctx)) ?? { status: Status.ParameterNumber };
      if (outcome.status !== Status.Ok) return acknowledged ? status(outcome.status, at) : { silent: true };
    }
  }
  return acknowledged ? status(Status.Ok, ctx.data.length) : { silent: true };
}

function ask<T>(list: readonly Behaviour[], q: (b: Behaviour) => T | undefined): T | undefined {
  for (const b of list) {
    const r = q(b);
    if (r !== undefined) return r;
  }
  return undefined;
}

/** Runs a request's DATA through an instrument's message behaviours. */
export function handleMessage(inst: Instrument, data: Uint8Array, now: number, answerLimit: number): MessageOutcome {
  let message: Message | undefined;
  try {
    message = decodeMessage(data);
  } catch {
    message = undefined;
  }
  const ctx: MessageContext = { instrument: inst, now, data, message, answerLimit };
  return ask(inst.behaviours, (b) => b.onMessage?.(ctx)) ?? status(Status.Command, 0);
}

// ------------------------------------------------------------------ read behaviours

/** Parameters the instrument's firmware lacks (config `missing`): status 3 or 4. */
const readMissing: Behaviour = {
  name: 'missing',
  onRead: (ctx) => {
    const s = isMissing(ctx.instrument, ctx.request.process, ctx.request.fbnr);
    return s === undefined ? undefined : { status: s };
  },
  onWrite: (ctx) => {
    const s = isMissing(ctx.instrument, ctx.process, ctx.entry.fbnr);
    return s === undefined ? undefined : { status: s };
  },
};

/** The type bits of the index byte and of the parameter byte differ: status 5. */
const indexType: Behaviour = {
  name: 'index-type',
  onRead: (ctx) => (ctx.request.indexType !== ctx.request.wireType ? { status: Status.ParameterType } : undefined),
};

/** A process no parameter of the database lives in: status 3. */
const knownProcess: Behaviour = {
  name: 'known-process',
  onRead: (ctx) => (knownProcesses().has(ctx.request.process) ? undefined : { status: Status.ProcessNumber }),
  onWrite: (ctx) => (knownProcesses().has(ctx.process) ? undefined : { status: Status.ProcessNumber }),
};

/** No parameter at (process, FB): status 4. */
const knownParameter: Behaviour = {
  name: 'known-parameter',
  onRead: (ctx) => (ctx.param ? undefined : { status: Status.ParameterNumber }),
  onWrite: (ctx) => (ctx.param ? undefined : { status: Status.ParameterNumber }),
};

/**
 * The requested wire type does not fit the parameter: status 5. Exception seen on a real
 * DMFC (PROTOCOL.md 5.1): a string read as a fixed-size type answers in the requested
 * type with the string's first bytes (ID string as type 0x00 -> its first char, 0x07).
 */
const wireType: Behaviour = {
  name: 'wire-type',
  onRead: (ctx) => {
    if (ctx.valueType !== undefined || !ctx.param) return undefined;
    if (isStringType(ctx.param) && ctx.request.wireType !== WireType.String) return undefined;
    return { status: Status.ParameterType };
  },
  onWrite: (ctx) => (ctx.param && ctx.valueType === undefined ? { status: Status.ParameterType } : undefined),
};

/** Write-only parameters (DDE 114 Reset): status 0x11 on read. */
const writeOnly: Behaviour = {
  name: 'write-only',
  onRead: (ctx) => (ctx.param && !ctx.param.read ? { status: Status.WriteOnly } : undefined),
};

/** The value, in the requested type; strings keep the requested length (0 = NUL-terminated). */
const value: Behaviour = {
  name: 'value',
  onRead: (ctx) => {
    const def = ctx.param;
    if (!def) return undefined;
    const inst = ctx.instrument;
    const v = inst.read(def, ctx.now);
    const req = ctx.request;
    if (isStringType(def)) {
      const bytes = toBytes(v);
      if (req.wireType !== WireType.String) {
        const n = wireTypeSize(req.wireType) ?? 1;
        const raw = new Uint8Array(n);
        raw.set(bytes.subarray(0, n));
        return { raw };
      }
      const sl = req.stringLength ?? 0;
      if (sl === 0) {
        const nul = bytes.indexOf(0);
        return { raw: nul < 0 ? bytes : bytes.slice(0, nul), stringLength: 0 };
      }
      const raw = new Uint8Array(sl).fill(inst.padByte(def));
      raw.set(bytes.subarray(0, sl));
      return { raw, stringLength: sl };
    }
    const vt = ctx.valueType ?? def.valueType;
    try {
      return { raw: encodeValue(vt, typeof v === 'number' ? clampFor(vt, v) : v) };
    } catch {
      return { status: Status.ParameterValue };
    }
  },
};

function clampFor(vt: ValueType, v: number): number {
  const ranges: Partial<Record<ValueType, [number, number]>> = {
    u8: [0, 0xff],
    u16: [0, 0xffff],
    bht16: [-23593, 41942],
    i16: [-0x8000, 0x7fff],
    u32: [0, 0xffffffff],
  };
  const r = ranges[vt];
  if (!r) return v;
  return Math.min(r[1], Math.max(r[0], Math.round(v)));
}

function toBytes(v: Value): Uint8Array {
  if (v instanceof Uint8Array) return v;
  const s = String(v);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

// ------------------------------------------------------------------ write behaviours

/** Read-only parameters: status 0x0D. */
const readOnly: Behaviour = {
  name: 'read-only',
  onWrite: (ctx) => (ctx.param && !ctx.param.write ? { status: Status.ReadOnly } : undefined),
};

/**
 * Secured (and highly secured) parameters while Init Reset (DDE 7) is not 64: status 0x0D,
 * read-only (PROTOCOL.md 11 says the real code is unknown).
 */
const secured: Behaviour = {
  name: 'secured',
  onWrite: (ctx) =>
    ctx.param && (ctx.param.secured || ctx.param.highlySecured) && ctx.instrument.stored(7) !== INIT_RESET_UNLOCKED
      ? { status: Status.ReadOnly }
      : undefined,
};

/** Wink: a single digit written to the ID string (DDE 1) is accepted and starts a wink; anything else is status 6. */
const wink: Behaviour = {
  name: 'wink',
  onWrite: (ctx) => {
    if (ctx.param?.dde !== 1) return undefined;
    if (typeof ctx.value !== 'string' || !/^\d$/.test(ctx.value)) return { status: Status.ParameterValue };
    ctx.instrument.wink(Number(ctx.value), ctx.now);
    return { status: Status.Ok };
  },
};

/** Out of the database range or the instrument's own limits (fluidset 8 of 0..7): status 6. */
const range: Behaviour = {
  name: 'range',
  onWrite: (ctx) => {
    if (!ctx.param) return undefined;
    if (ctx.value === undefined) return { status: Status.ParameterValue };
    const s = ctx.instrument.validate(ctx.param, ctx.value) || ctx.instrument.checkWrite(ctx.param, ctx.value);
    return s === Status.Ok ? undefined : { status: s };
  },
};

/** Stores the value, with its side effects on the physics. */
const apply: Behaviour = {
  name: 'apply',
  onWrite: (ctx) => {
    if (!ctx.param || ctx.value === undefined) return undefined;
    ctx.instrument.apply(ctx.param, ctx.value, ctx.now);
    return { status: Status.Ok };
  },
};

/** The default behaviours, in the order they are asked. */
export function defaultBehaviours(): Behaviour[] {
  return [
    requestSize,
    malformed,
    ignored,
    unknownCommand,
    read,
    write,
    readMissing,
    indexType,
    knownProcess,
    knownParameter,
    wireType,
    writeOnly,
    value,
    readOnly,
    secured,
    wink,
    range,
    apply,
  ];
}

