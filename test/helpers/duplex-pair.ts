import { Duplex } from 'node:stream';

/** Two connected in-memory byte streams: what one end writes, the other reads. */
export function duplexPair(): [Duplex, Duplex] {
  const ends: { a?: Duplex; b?: Duplex } = {};
  const make = (peer: () => Duplex | undefined) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        peer()?.push(chunk);
        cb();
      },
      final(cb) {
        peer()?.push(null);
        cb();
      },
    });
  const a = make(() => ends.b);
  const b = make(() => ends.a);
  ends.a = a;
  ends.b = b;
  return [a, b];
}
