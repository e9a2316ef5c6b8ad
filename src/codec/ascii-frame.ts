import { CodecError } from '../shared/index.js';
import { MAX_DATA_LENGTH } from './constants.js';
import { JunkCollector } from './junk.js';
import type { DeframerEvent, Deframer, DiscardReason, Frame } from './frame.js';

const COLON = 0x3a;
const CR = 0x0d;
const LF = 0x0a;
const HEX = '0123456789ABCDEF';

function hexByte(b: number): string {
  return (HEX[b >> 4] as string) + (HEX[b & 15] as string);
}

/**
 * Encodes an ASCII ProPar frame: `:LLNN<DATA hex>\r\n`, upper-case hex, LL = DATA length + 1
 * (it counts the node byte). An error frame is `:01EE\r\n` (no node).
 */
export function encodeAsciiFrame(frame: Frame): Uint8Array {
  let text: string;
  if (frame.kind === 'error') {
    if (!Number.isInteger(frame.code) || frame.code < 0 || frame.code > 255) {
      throw new CodecError('CODEC_BAD_FIELD', `code must be an integer 0..255, got ${frame.code}`, { field: 'code' });
    }
    text = ':01' + hexByte(frame.code);
  } else {
    if (!Number.isInteger(frame.node) || frame.node < 0 || frame.node > 255) {
      throw new CodecError('CODEC_BAD_FIELD', `node must be an integer 0..255, got ${frame.node}`, { field: 'node' });
    }
    if (frame.data.length === 0 || frame.data.length > MAX_DATA_LENGTH - 1) {
      throw new CodecError('CODEC_BAD_LENGTH', `ASCII DATA must hold 1..${MAX_DATA_LENGTH - 1} bytes, got ${frame.data.length}`, {
        length: frame.data.length,
      });
    }
    text = ':' + hexByte(frame.data.length + 1) + hexByte(frame.node);
    for (const b of frame.data) text += hexByte(b);
  }
  text += '\r\n';
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The longest line a frame can need: ':' + 2 x (LL + NN + 255 DATA bytes) + CR LF. */
const MAX_LINE = 1 + 2 * (2 + MAX_DATA_LENGTH) + 2;

/**
 * Streaming ASCII deframer for one direction: `:` starts a frame, LF (after an
 * optional CR) ends it. Hex digits are accepted in either case. Bytes outside
 * frames, odd or bad hex, a LL that disagrees with the bytes, and `:` inside a
 * frame are reported as discards; it never throws.
 */
export class AsciiDeframer implements Deframer {
  private inFrame = false;
  private line: number[] = [];
  private lineStart = 0;
  private readonly junk = new JunkCollector();
  private consumed = 0;

  get offset(): number {
    return this.consumed;
  }

  push(chunk: Uint8Array): DeframerEvent[] {
    const events: DeframerEvent[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      const pos = this.consumed++;
      if (!this.inFrame) {
        if (b === COLON) {
          this.junk.flush(events);
          this.begin(pos);
        } else {
          this.junk.add(b, pos, events);
        }
        continue;
      }
      if (b === COLON) {
        this.discard('restart', pos, events);
        this.begin(pos);
        continue;
      }
      this.line.push(b);
      if (b === LF) {
        this.endFrame(pos + 1, events);
      } else if (this.line.length > MAX_LINE) {
        this.discard('oversize', pos + 1, events);
      }
    }
    return events;
  }

  flush(): DeframerEvent[] {
    const events: DeframerEvent[] = [];
    if (this.inFrame) this.discard('truncated', this.consumed, events);
    this.junk.flush(events);
    return events;
  }

  private begin(pos: number): void {
    this.inFrame = true;
    this.lineStart = pos;
    this.line = [COLON];
  }

  private discard(reason: DiscardReason, end: number, events: DeframerEvent[]): void {
    events.push({ kind: 'discard', reason, bytes: Uint8Array.from(this.line), start: this.lineStart, end });
    this.line = [];
    this.inFrame = false;
  }

  private endFrame(end: number, events: DeframerEvent[]): void {
    const line = this.line;
    // Hex digits sit between ':' and the line end (LF, or CR LF).
    const stop = line.length >= 2 && line[line.length - 2] === CR ? line.length - 2 : line.length - 1;
    const digits = stop - 1;
    for (let i = 1; i < stop; i++) {
      if (hexValue(line[i] as number) < 0) {
        this.discard('bad-hex', end, events);
        return;
      }
    }
    if (digits % 2 !== 0) {
      this.discard('odd-hex', end, events);
      return;
    }
    const bytes = new Uint8Array(digits / 2);
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = (hexValue(line[1 + 2 * i] as number) << 4) | hexValue(line[2 + 2 * i] as number);
    }
    if (bytes.length < 2) {
      this.discard('truncated', end, events);
      return;
    }
    const ll = bytes[0] as number;
    let frame: Frame;
    if (ll === 1 && bytes.length === 2) {
      frame = { kind: 'error', seq: 0, node: undefined, code: bytes[1] as number };
    } else if (ll !== bytes.length - 1) {
      this.discard('length-mismatch', end, events);
      return;
    } else if (bytes.length < 3) {
      this.discard('truncated', end, events);
      return;
    } else {
      frame = { kind: 'data', seq: 0, node: bytes[1] as number, data: bytes.slice(2) };
    }
    events.push({ kind: 'frame', frame, raw: Uint8Array.from(line), start: this.lineStart, end });
    this.line = [];
    this.inFrame = false;
  }
}
