import { Transform, type TransformCallback } from 'node:stream';
import type { Deframer, DeframerEvent } from './frame.js';

/** A thin object-mode Transform around a deframer: bytes in, `DeframerEvent`s out. */
export class DeframerStream extends Transform {
  constructor(private readonly deframer: Deframer) {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    for (const ev of this.deframer.push(chunk)) this.push(ev satisfies DeframerEvent);
    done();
  }

  override _flush(done: TransformCallback): void {
    for (const ev of this.deframer.flush()) this.push(ev);
    done();
  }
}
