import { CodecError } from '../shared/index.js';
import { DLE, ETX, MAX_DATA_LENGTH, STX } from './constants.js';
import type { DeframerEvent, Deframer, DiscardReason, Frame } from './frame.js';
import { JunkCollector } from './junk.js';

function checkByte(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw new CodecError('CODEC_BAD_FIELD', `${name} must be an integer 0..255, got ${value}`, { field: name, value });
  }
}

/**
 * Encodes a binary ProPar frame: `DLE STX SEQ NODE LEN DATA DLE ETX`, every 0x10
 * in SEQ, NODE, LEN and DATA doubled; LEN counts DATA before stuffing.
 * An error frame is `DLE STX SEQ NODE 00 CODE DLE ETX`.
 */
export function encodeBinaryFrame(frame: Frame): Uint8Array {
  checkByte('seq', frame.seq);
  let body: Uint8Array;
  if (frame.kind === 'error') {
    const node = frame.node ?? 0;
    checkByte('node', node);
    checkByte('code', frame.code);
    body = Uint8Array.of(frame.seq, node, 0, frame.code);
  } else {
    checkByte('node', frame.node);
    if (frame.data.length === 0 || frame.data.length > MAX_DATA_LENGTH) {
      throw new CodecError('CODEC_BAD_LENGTH', `DATA must hold 1..${MAX_DATA_LENGTH} bytes, got ${frame.data.length}`, {
        length: frame.data.length,
      });
    }
    body = new Uint8Array(3 + frame.data.length);
    body[0] = frame.seq;
    body[1] = frame.node;
    body[2] = frame.data.length;
    body.set(frame.data, 3);
  }
  return stuff(body);
}

/** Wraps an unstuffed body in DLE STX ... DLE ETX, doubling every DLE. */
function stuff(body: Uint8Array): Uint8Array {
  let dles = 0;
  for (const b of body) if (b === DLE) dles++;
  const out = new Uint8Array(body.length + dles + 4);
  out[0] = DLE;
  out[1] = STX;
  let o = 2;
  for (const b of body) {
    out[o++] = b;
    if (b === DLE) out[o++] = DLE;
  }
  out[o++] = DLE;
  out[o] = ETX;
  return out;
}

/** The most unstuffed body bytes a frame can hold: SEQ, NODE, LEN and 255 DATA bytes. */
const MAX_BODY = 3 + MAX_DATA_LENGTH;

const enum State {
  /** Outside a frame. */
  Idle,
  /** Outside a frame, just after a DLE. */
  IdleDle,
  /** Inside a frame. */
  Frame,
  /** Inside a frame, just after a DLE. */
  FrameDle,
}

/**
 * Streaming binary deframer for one direction. Takes arbitrary chunks (frames
 * split across chunks, several in one, junk between them), reports every byte
 * either as part of a frame or in a typed discard event, resynchronises on the
 * next `DLE STX`, and never throws. Output does not depend on how the stream was
 * chunked.
 */
export class BinaryDeframer implements Deframer {
  private state = State.Idle;
  /** Unstuffed body bytes of the frame being received. */
  private body = new Uint8Array(MAX_BODY + 1);
  private bodyLength = 0;
  /** Raw bytes of the frame being received (DLE STX included), for the event. */
  private raw: number[] = [];
  private frameStart = 0;
  /** Pending junk outside frames. */
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
      switch (this.state) {
        case State.Idle:
          if (b === DLE) {
            this.state = State.IdleDle;
          } else {
            this.junk.add(b, pos, events);
          }
          break;
        case State.IdleDle:
          if (b === STX) {
            this.junk.flush(events);
            this.beginFrame(pos - 1);
          } else if (b === DLE) {
            // The first DLE was junk; this one may still start a frame.
            this.junk.add(DLE, pos - 1, events);
          } else {
            this.junk.add(DLE, pos - 1, events);
            this.junk.add(b, pos, events);
            this.state = State.Idle;
          }
          break;
        case State.Frame:
          this.raw.push(b);
          if (b === DLE) {
            this.state = State.FrameDle;
          } else {
            this.addBody(b, events);
          }
          break;
        case State.FrameDle:
          if (b === DLE) {
            this.raw.push(b);
            this.state = State.Frame;
            this.addBody(DLE, events);
          } else if (b === ETX) {
            this.raw.push(b);
            this.endFrame(pos + 1, events);
          } else if (b === STX) {
            // A new frame starts inside this one: drop what we had (minus the DLE that begins the new start) and restart.
            this.raw.pop();
            this.discardFrame('restart', pos - 1, events);
            this.beginFrame(pos - 1);
          } else {
            this.raw.push(b);
            this.discardFrame('illegal-dle', pos + 1, events);
          }
          break;
      }
    }
    return events;
  }

  flush(): DeframerEvent[] {
    const events: DeframerEvent[] = [];
    if (this.state === State.Frame || this.state === State.FrameDle) {
      this.discardFrame('truncated', this.consumed, events);
    } else if (this.state === State.IdleDle) {
      this.junk.add(DLE, this.consumed - 1, events);
      this.state = State.Idle;
    }
    this.junk.flush(events);
    return events;
  }

  private beginFrame(start: number): void {
    this.state = State.Frame;
    this.frameStart = start;
    this.bodyLength = 0;
    this.raw = [DLE, STX];
  }

  private addBody(b: number, events: DeframerEvent[]): void {
    if (this.bodyLength >= MAX_BODY) {
      this.discardFrame('oversize', this.consumed, events);
      return;
    }
    this.body[this.bodyLength++] = b;
  }

  private discardFrame(reason: DiscardReason, end: number, events: DeframerEvent[]): void {
    events.push({ kind: 'discard', reason, bytes: Uint8Array.from(this.raw), start: this.frameStart, end });
    this.raw = [];
    this.bodyLength = 0;
    this.state = State.Idle;
  }

  private endFrame(end: number, events: DeframerEvent[]): void {
    const n = this.bodyLength;
    const body = this.body;
    if (n < 4) {
      this.discardFrame('truncated', end, events);
      return;
    }
    const seq = body[0] as number;
    const node = body[1] as number;
    const len = body[2] as number;
    let frame: Frame;
    if (len === 0 && n === 4) {
      frame = { kind: 'error', seq, node, code: body[3] as number };
    } else if (len !== n - 3) {
      this.discardFrame('length-mismatch', end, events);
      return;
    } else {
      frame = { kind: 'data', seq, node, data: body.slice(3, n) };
    }
    events.push({ kind: 'frame', frame, raw: Uint8Array.from(this.raw), start: this.frameStart, end });
    this.raw = [];
    this.bodyLength = 0;
    this.state = State.Idle;
  }
}
