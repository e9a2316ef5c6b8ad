/**
 * A logged transaction as the compact log's rows (migration 0003) and back.
 *
 * One transaction is one `log_transactions` row keyed (source, started_us, k) and one
 * `log_values` row per parameter that has a DDE number, keyed (series, time_us, k, position).
 * Source (gateway, bus, mode) and series (source, node, dde) are small integers from lookup
 * tables; they are resolved when the rows are inserted (`insertRows` in compact.ts), so rows
 * made while the database is away carry the texts and can be spooled. The tie-breaker `k` is
 * assigned here, before the rows are queued or spooled, so a replay inserts the same keys and
 * INSERT IGNORE makes it a no-op.
 */
import type { WireType } from '../codec/index.js';
import type { LoggedTransaction } from '../gateway/index.js';
import type { ObservedParam } from '../observe/index.js';
import { toHex } from '../shared/index.js';
import { commandNameCodes, outcomeCodes, purposeCodes } from './codes.js';
import type { RowTuple } from './db.js';
import { bytesOf, INDEX_ONLY, paramFromRow, toMicros, transactionFromRow, type ParameterValuesTable, type TransactionsTable } from './legacy.js';

export { toMicros } from './legacy.js';

/** One transaction as queued, spooled and inserted: `tx` in TX order, `values` as [dde, position, value_num, value_text]. */
export interface Rows {
  readonly tx: RowTuple;
  readonly values: readonly RowTuple[];
}

/** Positions in `Rows.tx`. */
export const TX = {
  gateway: 0,
  bus: 1,
  mode: 2,
  startedUs: 3,
  k: 4,
  node: 5,
  seq: 6,
  command: 7,
  commandName: 8,
  purpose: 9,
  outcome: 10,
  status: 11,
  errorCode: 12,
  request: 13,
  reply: 14,
  endedD: 15,
  latencyUs: 16,
  attempts: 17,
  error: 18,
  /** The parameters' addresses and flags (rows.ts blob, first part). */
  shape: 19,
  /** The parameters' raw bytes and stored values (second part). */
  data: 20,
  extra: 21,
  /** 1: request and shape go to the lookup table `log_templates` (a read request: the same bytes every poll); 0: inline. */
  templated: 22,
} as const;

/** Positions in a `Rows.values` tuple. */
export const VAL = { dde: 0, position: 1, num: 2, text: 3 } as const;

/**
 * The fields a compact column cannot hold as they are: a text that is not in its code table
 * (the column holds 0), a number outside its column's range or not a whole number (the column
 * holds NULL). Kept as JSON in `extra`, which is NULL in nearly every row.
 */
export interface Extra {
  purpose?: string;
  outcome?: string;
  commandName?: string;
  node?: number;
  seq?: number;
  command?: number;
  status?: number;
  errorCode?: number;
  attempts?: number;
  endedUs?: number;
  latencyUs?: number;
  /** The transaction had fields the log does not know (none today). */
}

const U8 = 255;
const I32_MIN = -2_147_483_648;
const I32_MAX = 2_147_483_647;

/** `v` when it fits an integer column min..max; otherwise NULL there and `v` in extra. */
function fit(v: number | undefined, max: number, key: keyof Extra, extra: Extra, min = 0): number | null {
  if (v === undefined) return null;
  if (Number.isInteger(v) && v >= min && v <= max) return v;
  (extra as Record<string, number>)[key] = v;
  return null;
}

// ------------------------------------------------------------------ parameters blob

/*
 * The parameters in two parts. The shape, per parameter: flags (bit 0 index-only, bit 1 raw
 * bytes follow, bit 2 a number follows, bit 3 a text follows, bit 4 the raw bytes' length
 * follows, bit 7 the wire type is in a byte of its own; otherwise bits 5-6 are the wire type),
 * process, fbnr, [wire type]. The data, per parameter: [length varint] + raw bytes (of the wire
 * type's size when no length), [number: 8-byte double], [text: length varint + UTF-8]. What
 * `paramFromRow` needs to give the parameter back exactly as before: the address, the raw bytes,
 * and the stored value only where the raw bytes might not decode to it. The shape of a poll is
 * the same every time, so it goes with the request into the lookup table.
 */
const F_INDEX_ONLY = 0x01;
const F_RAW = 0x02;
const F_NUM = 0x04;
const F_TEXT = 0x08;
const F_LEN = 0x10;
const F_WIRE_BYTE = 0x80;
const WIRE_MASK = 0x60;

const FIXED_SIZE: Record<number, number> = { 0x00: 1, 0x20: 2, 0x40: 4 };
const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Raw bytes as the old log kept them: lowercase hex of whole bytes, else none. */
function rawHex(raw: string | null | undefined): string | undefined {
  return typeof raw === 'string' && HEX_RE.test(raw) ? raw : undefined;
}

/**
 * The parameters' two parts as they are built: bytes in buffers reused for every transaction,
 * turned into hex once per part (one flat string each; appending hex a piece at a time makes a
 * chain of objects per transaction for the queue to hold).
 */
class Blob {
  private shape: Buffer = Buffer.allocUnsafe(256);
  private data: Buffer = Buffer.allocUnsafe(256);
  shapeLength = 0;
  dataLength = 0;

  reset(): void {
    this.shapeLength = 0;
    this.dataLength = 0;
  }

  private roomShape(n: number): void {
    if (this.shapeLength + n > this.shape.length) this.shape = grow(this.shape, this.shapeLength + n);
  }

  private roomData(n: number): void {
    if (this.dataLength + n > this.data.length) this.data = grow(this.data, this.dataLength + n);
  }

  shapeByte(b: number): void {
    this.roomShape(1);
    this.shape[this.shapeLength++] = b & 0xff;
  }

  varint(n: number): void {
    this.roomData(8);
    while (n >= 0x80) {
      this.data[this.dataLength++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    this.data[this.dataLength++] = n;
  }

  /** Lowercase hex of whole bytes (rawHex checked it). */
  hexBytes(hex: string): void {
    const n = hex.length >> 1;
    this.roomData(n);
    const d = this.data;
    let p = this.dataLength;
    for (let i = 0; i < hex.length; i += 2) d[p++] = ((HEX_DIGIT[hex.charCodeAt(i)] as number) << 4) | (HEX_DIGIT[hex.charCodeAt(i + 1)] as number);
    this.dataLength = p;
  }

  double(v: number): void {
    this.roomData(8);
    this.data.writeDoubleBE(v, this.dataLength);
    this.dataLength += 8;
  }

  utf8(text: string): void {
    const n = Buffer.byteLength(text, 'utf8');
    this.varint(n);
    this.roomData(n);
    this.dataLength += this.data.write(text, this.dataLength, 'utf8');
  }

  shapeHex(): string {
    return this.shape.toString('hex', 0, this.shapeLength);
  }

  dataHex(): string {
    return this.data.toString('hex', 0, this.dataLength);
  }
}

function grow(b: Buffer, need: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(b.length * 2, need));
  b.copy(next);
  return next;
}

/** Values of lowercase hex digits by char code (only ever read for text HEX_RE accepted). */
const HEX_DIGIT = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX_DIGIT[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_DIGIT[97 + i] = 10 + i;

/** One parameter's shape and data, appended to `out`. */
function appendParam(out: Blob, process: number, fbnr: number, wireType: number, indexOnly: boolean, raw: string | undefined, num: number | null, text: string | null): void {
  const wire = wireType & 0xff;
  const wireInFlags = (wire & ~WIRE_MASK) === 0;
  const size = FIXED_SIZE[wire];
  const rawLength = raw === undefined ? 0 : raw.length / 2;
  // The raw bytes decode for sure when they have the wire type's size (or it is a string): then the stored value is not needed.
  const decodes = raw !== undefined && (wire === 0x60 || rawLength === size);
  if (decodes) {
    num = null;
    text = null;
  }
  const withLen = raw !== undefined && rawLength !== size;
  let flags = (indexOnly ? F_INDEX_ONLY : 0) | (raw !== undefined ? F_RAW : 0) | (num !== null ? F_NUM : 0) | (text !== null ? F_TEXT : 0) | (withLen ? F_LEN : 0);
  flags |= wireInFlags ? wire : F_WIRE_BYTE;
  out.shapeByte(flags);
  out.shapeByte(process);
  out.shapeByte(fbnr);
  if (!wireInFlags) out.shapeByte(wire);
  if (raw !== undefined) {
    if (withLen) out.varint(rawLength);
    out.hexBytes(raw);
  }
  if (num !== null) out.double(num);
  if (text !== null) out.utf8(text);
}

/** The parameters' two parts back to what `paramFromRow` takes, one per parameter. Throws on parts cut short. */
export function decodeParamsBlob(shapeBytes: Uint8Array | undefined, dataBytes?: Uint8Array): Pick<ParameterValuesTable, 'address' | 'raw' | 'value_num' | 'value_text'>[] {
  const out: Pick<ParameterValuesTable, 'address' | 'raw' | 'value_num' | 'value_text'>[] = [];
  if (!shapeBytes) return out;
  const sh = Buffer.from(shapeBytes.buffer, shapeBytes.byteOffset, shapeBytes.byteLength);
  const buf = dataBytes ? Buffer.from(dataBytes.buffer, dataBytes.byteOffset, dataBytes.byteLength) : Buffer.alloc(0);
  let s = 0;
  let i = 0;
  const need = (n: number) => {
    if (i + n > buf.length) throw new RangeError('parameters data cut short');
  };
  const varint = () => {
    let n = 0;
    let mul = 1;
    for (;;) {
      need(1);
      const b = buf[i++] as number;
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  while (s < sh.length) {
    if (s + 3 > sh.length) throw new RangeError('parameters shape cut short');
    const flags = sh[s++] as number;
    const process = sh[s++] as number;
    const fbnr = sh[s++] as number;
    let wire = flags & WIRE_MASK;
    if (flags & F_WIRE_BYTE) {
      if (s >= sh.length) throw new RangeError('parameters shape cut short');
      wire = sh[s++] as number;
    }
    let raw: Buffer | null = null;
    if (flags & F_RAW) {
      const n = flags & F_LEN ? varint() : (FIXED_SIZE[wire] as number);
      need(n);
      raw = buf.subarray(i, i + n);
      i += n;
    }
    let num: number | null = null;
    if (flags & F_NUM) {
      need(8);
      num = buf.readDoubleBE(i);
      i += 8;
    }
    let text: string | null = null;
    if (flags & F_TEXT) {
      const n = varint();
      need(n);
      text = buf.toString('utf8', i, i + n);
      i += n;
    }
    const address = (flags & F_INDEX_ONLY ? INDEX_ONLY : 0) + process * 65536 + fbnr * 256 + wire;
    out.push({ address, raw, value_num: num, value_text: text });
  }
  return out;
}

// ------------------------------------------------------------------ tie-breakers

/** How many recent transactions of a source a new one is checked against when its times are not the newest. */
const RECENT = 1024;

/**
 * Per source, the tie-breakers of the recent transactions. A transaction that starts and ends
 * after every one before it (nearly all: clocks go forward) gets 0 at once; any other is checked
 * against the last RECENT ones, and gets a k that none of those that started, or ended, in the
 * same µs has, or the k it got before if it is the same transaction written again.
 */
class TieBreaker {
  private readonly starts = new Float64Array(RECENT);
  private readonly ends = new Float64Array(RECENT);
  private readonly ks = new Uint32Array(RECENT);
  private readonly ids: string[] = new Array<string>(RECENT).fill('');
  private n = 0;
  private maxStart = -Infinity;
  private maxEnd = -Infinity;

  /** The start of the key `key` gave last (no object per transaction for it). */
  startedUs = 0;

  /** The tie-breaker of this transaction, its start in `startedUs`: the start moves on by 1 µs past MAX_K transactions in one µs. */
  key(id: string, startedUs: number, endedUs: number): number {
    let k = 0;
    if (startedUs <= this.maxStart || endedUs <= this.maxEnd) {
      const count = Math.min(this.n, RECENT);
      let next = 0;
      for (let i = 0; i < count; i++) {
        const start = this.starts[i] as number;
        if (start === startedUs && this.ids[i] === id) {
          this.startedUs = startedUs;
          return this.ks[i] as number;
        }
        if (start === startedUs || this.ends[i] === endedUs) next = Math.max(next, (this.ks[i] as number) + 1);
      }
      k = next;
      if (k > MAX_K) return this.key(id, startedUs + 1, endedUs);
    }
    const at = this.n++ % RECENT;
    this.starts[at] = startedUs;
    this.ends[at] = endedUs;
    this.ks[at] = k;
    this.ids[at] = id;
    if (startedUs > this.maxStart) this.maxStart = startedUs;
    if (endedUs > this.maxEnd) this.maxEnd = endedUs;
    this.startedUs = startedUs;
    return k;
  }
}

/** The tie-breaker column is a smallint; past this many transactions in one µs of one source, the start moves on by 1 µs. */
const MAX_K = 65_535;

// ------------------------------------------------------------------ the row maker

/** Values of one parameter as the old schema held them, for rows converted from it. */
export interface StoredParam {
  readonly dde: number | null;
  readonly num: number | null;
  readonly text: string | null;
}

/**
 * Makes the compact rows of transactions, recorded as logged by `gateway` (unless a transaction
 * says which). One per writer: it remembers the tie-breakers given out, so two transactions of
 * one source that start (or end) in the same microsecond get different keys.
 */
export class RowMaker {
  private readonly ties = new Map<string, TieBreaker>();

  constructor(readonly gateway: string | null = null) {}

  /** The rows of a transaction. Never throws for any LoggedTransaction. */
  toRows(t: LoggedTransaction): Rows {
    return this.make(t);
  }

  /**
   * The rows of a transaction read back from the old tables (`flowbus db convert`, an old
   * spool): the same transaction, and for the history the values and DDE numbers exactly as
   * the old rows held them. `params` in position order.
   */
  fromLegacy(tx: TransactionsTable, params: readonly Pick<ParameterValuesTable, 'address' | 'raw' | 'value_num' | 'value_text' | 'dde'>[]): Rows {
    const t = legacyTransaction(tx, params);
    return this.make(
      t,
      params.map((p) => ({ dde: p.dde === null ? null : Number(p.dde), num: p.value_num === null ? null : Number(p.value_num), text: p.value_text })),
    );
  }

  private last: { gateway: string; bus: string; mode: string; tie: TieBreaker } | undefined;

  /** The source's tie-breakers; nearly every transaction has the source of the one before. */
  private tieBreaker(gateway: string, bus: string, mode: string): TieBreaker {
    const last = this.last;
    if (last !== undefined && last.gateway === gateway && last.bus === bus && last.mode === mode) return last.tie;
    const key = `${gateway}\u0000${bus}\u0000${mode}`;
    let tie = this.ties.get(key);
    if (!tie) this.ties.set(key, (tie = new TieBreaker()));
    this.last = { gateway, bus, mode, tie };
    return tie;
  }

  private make(t: LoggedTransaction, stored?: readonly StoredParam[]): Rows {
    const gateway = t.gateway ?? this.gateway ?? '';
    const extra: Extra = {};
    let startedUs = toMicros(t.startedAt);
    const endedUs = toMicros(t.endedAt);
    const tie = this.tieBreaker(gateway, t.bus, t.mode);
    const k = tie.key(t.id, startedUs, endedUs);
    startedUs = tie.startedUs;
    const cn = commandNameCodes.code(t.commandName);
    if (cn === 0) extra.commandName = t.commandName;
    const purpose = purposeCodes.code(t.purpose);
    if (purpose === 0) extra.purpose = t.purpose;
    const outcome = outcomeCodes.code(t.outcome);
    if (outcome === 0) extra.outcome = t.outcome;
    const endedD = fit(endedUs - startedUs, I32_MAX, 'endedUs', extra, I32_MIN);
    if (endedD === null) extra.endedUs = endedUs;
    const latency = t.latencyMs === undefined ? undefined : toMicros(t.latencyMs);
    // The parameters' blob and value rows in one pass, without an object per parameter (this runs for every transaction logged).
    const values: RowTuple[] = [];
    const blob = BLOB;
    blob.reset();
    for (let i = 0; i < t.params.length; i++) {
      const p = t.params[i] as ObservedParam;
      const s = stored?.[i];
      let dde: number | null;
      let num: number | null;
      let text: string | null;
      if (s !== undefined) {
        ({ dde, num, text } = s);
      } else {
        dde = p.dde ?? null;
        const v = p.value;
        num = typeof v === 'number' && Number.isFinite(v) ? v : null;
        text = typeof v === 'string' ? v.slice(0, 1024) : null;
      }
      appendParam(blob, p.process, p.fbnr, p.wireType, p.indexOnly === true, rawHex(p.raw), num, text);
      if (dde !== null && Number.isInteger(dde) && dde >= 0 && dde <= 32767) values.push([dde, i, num, text]);
    }
    const shape = t.params.length === 0 ? null : blob.shapeHex();
    const data = t.params.length === 0 || blob.dataLength === 0 ? null : blob.dataHex();
    const tx: RowTuple = [
      gateway,
      t.bus,
      t.mode,
      startedUs,
      k,
      fit(t.node, U8, 'node', extra),
      fit(t.seq, U8, 'seq', extra),
      fit(t.command, U8, 'command', extra),
      cn,
      purpose,
      outcome,
      fit(t.status, U8, 'status', extra),
      fit(t.errorCode, U8, 'errorCode', extra),
      t.requestBytes ? frameHex(t.requestBytes) : null,
      t.replyBytes ? frameHex(t.replyBytes) : null,
      endedD,
      fit(latency, I32_MAX, 'latencyUs', extra, I32_MIN),
      fit(t.attempts, U8, 'attempts', extra),
      t.error === undefined ? null : t.error.slice(0, 1024),
      shape,
      data,
      hasFields(extra) ? JSON.stringify(extra) : null,
      // A read request carries no values: the same bytes (and parameter shape) come back every poll.
      t.command === 4 && t.requestBytes !== undefined ? 1 : 0,
    ];
    return { tx, values };
  }
}

/**
 * A frame's bytes as hex in one flat string. toHex builds short ones a byte at a time, which past
 * 12 characters is a chain of V8 cons strings: objects for the queue to hold and the collector to
 * move, flattened again by every reader (the template lookup's hash, the LOAD DATA file).
 */
function frameHex(b: Uint8Array): string {
  if (b.length <= 6) return toHex(b, '');
  // Through one reused buffer: a Buffer made over the frame's memory costs more than the copy.
  if (b.length > FRAME.length) FRAME = Buffer.allocUnsafe(Math.max(b.length, FRAME.length * 2));
  FRAME.set(b);
  return FRAME.toString('hex', 0, b.length);
}

let FRAME = Buffer.allocUnsafe(512);

/** The one Blob every RowMaker builds its transaction's parameters in (make() does not wait, so one at a time). */
const BLOB = new Blob();

/** Whether `o` has a field of its own (without the array Object.keys makes, once per transaction). */
function hasFields(o: object): boolean {
  for (const key in o) if (Object.hasOwn(o, key)) return true;
  return false;
}

/** An old row with its parameter rows as the transaction the old listing gave. */
function legacyTransaction(tx: TransactionsTable, params: readonly Pick<ParameterValuesTable, 'address' | 'raw' | 'value_num' | 'value_text'>[]): LoggedTransaction & { params: ObservedParam[] } {
  const ps = params.map((p) => {
    const d = paramFromRow(p);
    // What the compact blob keeps of it: the address and the raw bytes (as stored), the value only as a fallback.
    const a = Number(p.address);
    const { raw: _decoded, ...rest } = d;
    const out: ObservedParam = { ...rest, process: Math.floor(a / 65536) & 0xff, fbnr: Math.floor(a / 256) & 0xff, wireType: (a & 0xff) as WireType };
    return p.raw === null ? out : { ...out, raw: toHex(bytesOf(p.raw) as Uint8Array, '') };
  });
  return { ...transactionFromRow(tx, ps), params: ps };
}
