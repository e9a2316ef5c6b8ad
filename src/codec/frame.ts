/**
 * A frame is what the framing layer (binary DLE framing or ASCII `:` lines)
 * delivers: addressing plus the DATA field, nothing interpreted yet.
 *
 * - `data`:  a normal frame; `data[0]` is the command byte.
 * - `error`: the special error frame (binary LEN 0 plus one byte; ASCII `:01EE`).
 *   ASCII error frames carry no node.
 *
 * ASCII has no SEQ field; ASCII frames carry `seq: 0`.
 */
export type Frame = DataFrame | ErrorFrame;

export interface DataFrame {
  readonly kind: 'data';
  readonly seq: number;
  readonly node: number;
  readonly data: Uint8Array;
}

export interface ErrorFrame {
  readonly kind: 'error';
  readonly seq: number;
  readonly node: number | undefined;
  readonly code: number;
}

/** Why the deframer threw bytes away. Every discarded byte is reported in exactly one discard event. */
export type DiscardReason =
  /** Bytes outside any frame (between frames, before the first one, or text some instruments print). */
  | 'junk'
  /** Binary: `DLE` followed by a byte other than DLE, STX or ETX inside a frame. */
  | 'illegal-dle'
  /** A new frame start (`DLE STX`, or `:` in ASCII) arrived before the current frame ended. */
  | 'restart'
  /** The LEN byte (binary) or LL field (ASCII) disagrees with the DATA actually received. */
  | 'length-mismatch'
  /** The frame ended before SEQ, NODE, LEN and one DATA byte (binary) or before LL and NN (ASCII). */
  | 'truncated'
  /** A frame grew past the largest frame the LEN byte can describe without ending. */
  | 'oversize'
  /** ASCII: an odd number of hex digits. */
  | 'odd-hex'
  /** ASCII: a character that is not a hex digit between `:` and CR LF. */
  | 'bad-hex';

export interface FrameEvent {
  readonly kind: 'frame';
  readonly frame: Frame;
  /** The frame's bytes exactly as they were on the wire (stuffed, with DLE STX ... DLE ETX, or `:` ... CR LF). */
  readonly raw: Uint8Array;
  /** Offset of the frame's first byte in this direction's stream (counting from the first byte ever pushed). */
  readonly start: number;
  /** Offset just past the frame's last byte. */
  readonly end: number;
}

export interface DiscardEvent {
  readonly kind: 'discard';
  readonly reason: DiscardReason;
  /** The discarded bytes as received. */
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
}

export type DeframerEvent = FrameEvent | DiscardEvent;

/** The interface both deframers share: push arbitrary chunks, get events; never throws. */
export interface Deframer {
  /** Feeds bytes; returns the events completed by them, in stream order. */
  push(chunk: Uint8Array): DeframerEvent[];
  /** End of stream: reports whatever is held (an unfinished frame as 'truncated', pending junk). */
  flush(): DeframerEvent[];
  /** Bytes consumed so far. */
  readonly offset: number;
}
