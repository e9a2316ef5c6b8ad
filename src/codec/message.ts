import { CodecError } from '../shared/index.js';
import { CHAIN_BIT, Command, INDEX_MASK, PROCESS_MASK, WIRE_TYPE_MASK, WireType, wireTypeSize } from './constants.js';
import type { Frame } from './frame.js';

/**
 * The message layer: what the DATA field of a frame means. Block structure is kept
 * exactly as on the wire (a master may repeat the same process byte in consecutive
 * blocks, as the Bright display adapter does), so decode -> encode gives back the
 * same bytes.
 */
export type Message = StatusMessage | ValuesMessage | RequestMessage | ErrorMessage | UnknownMessage;

/** Command 0: `00 STATUS INDEX`. INDEX is the DATA offset the status applies to (the request LEN when STATUS is 0). */
export interface StatusMessage {
  readonly kind: 'status';
  readonly status: number;
  readonly index: number;
}

export type ValuesKind = 'sendWithStatus' | 'send' | 'broadcast';

/** Commands 1 (send with status), 2 (send, also the answer to a request) and 3 (broadcast). */
export interface ValuesMessage {
  readonly kind: ValuesKind;
  readonly blocks: readonly ValueBlock[];
}

/** One process block of a values message. In a read answer, `process` holds the request's process index. */
export interface ValueBlock {
  readonly process: number;
  readonly params: readonly ValueParam[];
}

/**
 * One parameter of a values message. In a read answer, `fbnr` holds the request's parameter index.
 * `raw` is the value's bytes; for strings without the length byte and without the NUL terminator.
 */
export interface ValueParam {
  readonly fbnr: number;
  readonly wireType: WireType;
  readonly raw: Uint8Array;
  /** Strings only: the length byte (0 = NUL-terminated on the wire). */
  readonly stringLength?: number;
}

/** Command 4: read parameters. */
export interface RequestMessage {
  readonly kind: 'request';
  readonly blocks: readonly RequestBlock[];
}

/** One process block of a request: the process index tag that the answer will carry. */
export interface RequestBlock {
  readonly processIndex: number;
  readonly params: readonly RequestParam[];
}

/** One requested parameter: an index tag (echoed in the answer) and the real address. */
export interface RequestParam {
  /** Parameter index tag, 0..31, echoed in the answer. */
  readonly index: number;
  /** Type bits of the index byte; an instrument answers status 5 when they differ from `wireType`. */
  readonly indexType: WireType;
  readonly process: number;
  readonly fbnr: number;
  readonly wireType: WireType;
  /** Strings only: the expected length (0 = variable, NUL-terminated). */
  readonly stringLength?: number;
}

/** The error frame (binary LEN 0 plus one byte, ASCII `:01EE`), lifted to the message layer. */
export interface ErrorMessage {
  readonly kind: 'error';
  readonly code: number;
}

/** Commands 5..255: undocumented; kept as bytes. */
export interface UnknownMessage {
  readonly kind: 'unknown';
  readonly command: number;
  readonly payload: Uint8Array;
}

const VALUES_COMMAND: Record<ValuesKind, number> = {
  sendWithStatus: Command.SendWithStatus,
  send: Command.Send,
  broadcast: Command.Broadcast,
};

function malformed(message: string, offset: number): CodecError {
  return new CodecError('CODEC_MALFORMED_MESSAGE', message, { offset });
}

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new CodecError('CODEC_BAD_FIELD', `${name} must be an integer 0..${max}, got ${value}`, { field: name, value });
  }
}

function checkWireType(t: number): void {
  if ((t & ~WIRE_TYPE_MASK) !== 0) throw new CodecError('CODEC_BAD_FIELD', `not a wire type: ${t}`, { field: 'wireType', value: t });
}

/** Grows a byte buffer as a message is encoded. */
class Writer {
  private buf = new Uint8Array(64);
  length = 0;
  byte(b: number): void {
    if (this.length === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = b;
  }
  bytes(bs: Uint8Array): void {
    for (const b of bs) this.byte(b);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Encodes a message to the DATA field of a frame (command byte first). */
export function encodeMessage(msg: Message): Uint8Array {
  const w = new Writer();
  switch (msg.kind) {
    case 'status':
      checkRange('status', msg.status, 255);
      checkRange('index', msg.index, 255);
      return Uint8Array.of(Command.Status, msg.status, msg.index);
    case 'error':
      throw new CodecError('CODEC_BAD_FIELD', 'an error frame has no DATA field; encode it as a frame', { field: 'kind' });
    case 'unknown':
      checkRange('command', msg.command, 255);
      w.byte(msg.command);
      w.bytes(msg.payload);
      return w.done();
    case 'request':
      w.byte(Command.Request);
      if (msg.blocks.length === 0) throw new CodecError('CODEC_BAD_FIELD', 'a request needs at least one parameter', {});
      msg.blocks.forEach((block, bi) => {
        checkRange('processIndex', block.processIndex, PROCESS_MASK);
        if (block.params.length === 0) throw new CodecError('CODEC_BAD_FIELD', 'a request block needs at least one parameter', {});
        w.byte(block.processIndex | (bi < msg.blocks.length - 1 ? CHAIN_BIT : 0));
        block.params.forEach((p, pi) => {
          checkRange('index', p.index, INDEX_MASK);
          checkRange('process', p.process, PROCESS_MASK);
          checkRange('fbnr', p.fbnr, INDEX_MASK);
          checkWireType(p.indexType);
          checkWireType(p.wireType);
          w.byte(p.index | p.indexType | (pi < block.params.length - 1 ? CHAIN_BIT : 0));
          w.byte(p.process);
          w.byte(p.fbnr | p.wireType);
          if (p.wireType === WireType.String) {
            const sl = p.stringLength ?? 0;
            checkRange('stringLength', sl, 255);
            w.byte(sl);
          }
        });
      });
      return w.done();
    default: {
      w.byte(VALUES_COMMAND[msg.kind]);
      if (msg.blocks.length === 0) throw new CodecError('CODEC_BAD_FIELD', 'a values message needs at least one parameter', {});
      msg.blocks.forEach((block, bi) => {
        checkRange('process', block.process, PROCESS_MASK);
        if (block.params.length === 0) throw new CodecError('CODEC_BAD_FIELD', 'a values block needs at least one parameter', {});
        w.byte(block.process | (bi < msg.blocks.length - 1 ? CHAIN_BIT : 0));
        block.params.forEach((p, pi) => {
          checkRange('fbnr', p.fbnr, INDEX_MASK);
          checkWireType(p.wireType);
          w.byte(p.fbnr | p.wireType | (pi < block.params.length - 1 ? CHAIN_BIT : 0));
          encodeParamValue(w, p);
        });
      });
      if (w.length > 255) throw new CodecError('CODEC_BAD_LENGTH', `message is ${w.length} bytes; DATA holds at most 255`, { length: w.length });
      return w.done();
    }
  }
}

function encodeParamValue(w: Writer, p: ValueParam): void {
  const size = wireTypeSize(p.wireType);
  if (size !== undefined) {
    if (p.raw.length !== size) {
      throw new CodecError('CODEC_BAD_VALUE', `wire type 0x${p.wireType.toString(16)} takes ${size} bytes, got ${p.raw.length}`, {
        length: p.raw.length,
      });
    }
    w.bytes(p.raw);
    return;
  }
  const sl = p.stringLength ?? 0;
  checkRange('stringLength', sl, 255);
  w.byte(sl);
  if (sl === 0) {
    if (p.raw.includes(0)) throw new CodecError('CODEC_BAD_VALUE', 'a NUL-terminated string cannot contain NUL', {});
    w.bytes(p.raw);
    w.byte(0);
  } else {
    if (p.raw.length !== sl) {
      throw new CodecError('CODEC_BAD_VALUE', `string length byte says ${sl}, value has ${p.raw.length} bytes`, { length: p.raw.length });
    }
    w.bytes(p.raw);
  }
}

/** Decodes the DATA field of a frame. Throws `CodecError` (and nothing else) when the bytes are not a well-formed message. */
export function decodeMessage(data: Uint8Array): Message {
  if (data.length === 0) throw malformed('empty DATA field', 0);
  const cmd = data[0] as number;
  switch (cmd) {
    case Command.Status:
      if (data.length !== 3) throw malformed(`a status message has 3 bytes, got ${data.length}`, 0);
      return { kind: 'status', status: data[1] as number, index: data[2] as number };
    case Command.SendWithStatus:
      return { kind: 'sendWithStatus', blocks: decodeValueBlocks(data) };
    case Command.Send:
      return { kind: 'send', blocks: decodeValueBlocks(data) };
    case Command.Broadcast:
      return { kind: 'broadcast', blocks: decodeValueBlocks(data) };
    case Command.Request:
      return { kind: 'request', blocks: decodeRequestBlocks(data) };
    default:
      return { kind: 'unknown', command: cmd, payload: data.slice(1) };
  }
}

function need(data: Uint8Array, at: number, n: number, what: string): void {
  if (at + n > data.length) throw malformed(`truncated: ${what} needs ${n} byte(s) at offset ${at}, message has ${data.length}`, at);
}

/**
 * A values message's parameters; each value's `raw` is a view of `data` (one ArrayBuffer less per
 * value: a frame's data is its own copy, never changed after it is deframed).
 */
function decodeValueBlocks(data: Uint8Array): ValueBlock[] {
  const blocks: ValueBlock[] = [];
  let at = 1;
  for (;;) {
    need(data, at, 1, 'process byte');
    const pb = data[at++] as number;
    const params: ValueParam[] = [];
    for (;;) {
      need(data, at, 1, 'parameter byte');
      const qb = data[at++] as number;
      const wireType = (qb & WIRE_TYPE_MASK) as WireType;
      const fbnr = qb & INDEX_MASK;
      const size = wireTypeSize(wireType);
      if (size !== undefined) {
        need(data, at, size, 'value');
        params.push({ fbnr, wireType, raw: data.subarray(at, at + size) });
        at += size;
      } else {
        need(data, at, 1, 'string length');
        const sl = data[at++] as number;
        if (sl === 0) {
          const nul = data.indexOf(0, at);
          if (nul < 0) throw malformed(`unterminated variable-length string at offset ${at}`, at);
          params.push({ fbnr, wireType, raw: data.subarray(at, nul), stringLength: 0 });
          at = nul + 1;
        } else {
          need(data, at, sl, 'string');
          params.push({ fbnr, wireType, raw: data.subarray(at, at + sl), stringLength: sl });
          at += sl;
        }
      }
      if ((qb & CHAIN_BIT) === 0) break;
    }
    blocks.push({ process: pb & PROCESS_MASK, params });
    if ((pb & CHAIN_BIT) === 0) break;
  }
  if (at !== data.length) throw malformed(`${data.length - at} byte(s) after the last parameter`, at);
  return blocks;
}

function decodeRequestBlocks(data: Uint8Array): RequestBlock[] {
  const blocks: RequestBlock[] = [];
  let at = 1;
  for (;;) {
    need(data, at, 1, 'process index');
    const pi = data[at++] as number;
    const params: RequestParam[] = [];
    for (;;) {
      need(data, at, 3, 'parameter entry');
      const ii = data[at] as number;
      const pp = data[at + 1] as number;
      const ff = data[at + 2] as number;
      // Bit 7 of PP and FF is unused (0); a message with it set cannot be encoded again, so it is not a well-formed request.
      if (((pp | ff) & CHAIN_BIT) !== 0) throw malformed(`bit 7 set in the real process/parameter byte at offset ${at + 1}`, at + 1);
      at += 3;
      const wireType = (ff & WIRE_TYPE_MASK) as WireType;
      const base = {
        index: ii & INDEX_MASK,
        indexType: (ii & WIRE_TYPE_MASK) as WireType,
        process: pp & PROCESS_MASK,
        fbnr: ff & INDEX_MASK,
        wireType,
      };
      if (wireType === WireType.String) {
        need(data, at, 1, 'string length');
        params.push({ ...base, stringLength: data[at++] as number });
      } else {
        params.push(base);
      }
      if ((ii & CHAIN_BIT) === 0) break;
    }
    blocks.push({ processIndex: pi & PROCESS_MASK, params });
    if ((pi & CHAIN_BIT) === 0) break;
  }
  if (at !== data.length) throw malformed(`${data.length - at} byte(s) after the last requested parameter`, at);
  return blocks;
}

/** A requested parameter with its block's process index and the DATA offset just past its entry (where a status INDEX points). */
export interface LocatedRequestParam extends RequestParam {
  readonly processIndex: number;
  readonly end: number;
}

/** The parameters of a request in order, each with the offset just past its entry (PROTOCOL.md 4.1). */
export function requestParams(msg: RequestMessage): LocatedRequestParam[] {
  const out: LocatedRequestParam[] = [];
  let at = 1;
  for (const block of msg.blocks) {
    at += 1;
    for (const p of block.params) {
      at += p.wireType === WireType.String ? 4 : 3;
      // Built field by field, not spread: a spread of objects of two shapes (with and without
      // stringLength) is V8's slow path, a measurable part of pairing a chained read (issue 14, part 5).
      const located: { -readonly [K in keyof LocatedRequestParam]: LocatedRequestParam[K] } = { index: p.index, indexType: p.indexType, process: p.process, fbnr: p.fbnr, wireType: p.wireType, processIndex: block.processIndex, end: at };
      if (p.stringLength !== undefined) located.stringLength = p.stringLength;
      out.push(located);
    }
  }
  return out;
}

/** A parameter of a values message with its block's process. */
export interface LocatedValueParam extends ValueParam {
  readonly process: number;
}

/** The parameters of a values message in order, each with its block's process (or process index, in a read answer). */
export function valueParams(msg: ValuesMessage): LocatedValueParam[] {
  const out: LocatedValueParam[] = [];
  for (const block of msg.blocks) {
    for (const p of block.params) {
      // Field by field, as in requestParams.
      const located: { -readonly [K in keyof LocatedValueParam]: LocatedValueParam[K] } = { fbnr: p.fbnr, wireType: p.wireType, raw: p.raw, process: block.process };
      if (p.stringLength !== undefined) located.stringLength = p.stringLength;
      out.push(located);
    }
  }
  return out;
}

/** What a master asks for: the real address, and optionally the tags (default: index = real address, as Bronkhorst's library does). */
export interface ParamAddress {
  readonly process: number;
  readonly fbnr: number;
  readonly wireType: WireType;
  readonly stringLength?: number;
  readonly processIndex?: number;
  readonly index?: number;
}

/** Builds a chained read request, one block per run of consecutive parameters with the same process index. */
export function buildRequest(params: readonly ParamAddress[]): RequestMessage {
  const blocks: { processIndex: number; params: RequestParam[] }[] = [];
  for (const p of params) {
    const processIndex = p.processIndex ?? p.process;
    const entry: RequestParam = {
      index: p.index ?? p.fbnr,
      indexType: p.wireType,
      process: p.process,
      fbnr: p.fbnr,
      wireType: p.wireType,
      ...(p.wireType === WireType.String ? { stringLength: p.stringLength ?? 0 } : {}),
    };
    const last = blocks[blocks.length - 1];
    if (last && last.processIndex === processIndex) last.params.push(entry);
    else blocks.push({ processIndex, params: [entry] });
  }
  return { kind: 'request', blocks };
}

/** Builds a values message (command 1, 2 or 3), one block per run of consecutive parameters with the same process. */
export function buildValues(kind: ValuesKind, params: readonly LocatedValueParam[]): ValuesMessage {
  const blocks: { process: number; params: ValueParam[] }[] = [];
  for (const p of params) {
    const { process, ...param } = p;
    const last = blocks[blocks.length - 1];
    if (last && last.process === process) last.params.push(param);
    else blocks.push({ process, params: [param] });
  }
  return { kind, blocks };
}

/** A frame with its DATA decoded. */
export interface Packet {
  readonly seq: number;
  /** Destination on requests, source on replies; `undefined` only for ASCII error frames. */
  readonly node: number | undefined;
  readonly message: Message;
}

/** Lifts a frame to a packet. Throws `CodecError` when the DATA is not a well-formed message. */
export function frameToPacket(frame: Frame): Packet {
  if (frame.kind === 'error') return { seq: frame.seq, node: frame.node, message: { kind: 'error', code: frame.code } };
  return { seq: frame.seq, node: frame.node, message: decodeMessage(frame.data) };
}

/** Lowers a packet to a frame (error messages become error frames). */
export function packetToFrame(packet: Packet): Frame {
  if (packet.message.kind === 'error') return { kind: 'error', seq: packet.seq, node: packet.node, code: packet.message.code };
  if (packet.node === undefined) throw new CodecError('CODEC_BAD_FIELD', 'a data frame needs a node', { field: 'node' });
  return { kind: 'data', seq: packet.seq, node: packet.node, data: encodeMessage(packet.message) };
}
