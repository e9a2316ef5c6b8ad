import type { DeframerEvent } from './frame.js';

/** Junk outside frames is reported in runs of at most this many bytes, so text an instrument prints cannot grow memory. */
export const MAX_JUNK_RUN = 256;

/**
 * Collects bytes outside frames for both deframers and reports them as one
 * `junk` discard per run: when a frame starts, at flush, or every MAX_JUNK_RUN
 * bytes. The runs depend only on the byte stream, never on its chunking.
 */
export class JunkCollector {
  private bytes: number[] = [];
  private start = 0;

  /** Adds one byte at stream offset `pos`; reports the run if it reached the cap. */
  add(b: number, pos: number, events: DeframerEvent[]): void {
    if (this.bytes.length === 0) this.start = pos;
    this.bytes.push(b);
    if (this.bytes.length >= MAX_JUNK_RUN) this.flush(events);
  }

  /** Reports the pending run, if any. */
  flush(events: DeframerEvent[]): void {
    if (this.bytes.length === 0) return;
    const bytes = Uint8Array.from(this.bytes);
    events.push({ kind: 'discard', reason: 'junk', bytes, start: this.start, end: this.start + bytes.length });
    this.bytes = [];
  }
}
