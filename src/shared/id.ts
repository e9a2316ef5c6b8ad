/**
 * Time-ordered unique ids: UUIDv7 (RFC 9562). The first 48 bits are the Unix time in ms,
 * the 12 bits after the version are a counter that keeps ids strictly increasing within a
 * millisecond (started at a random value below 2048 each new ms), the rest is random.
 * Sorting the text sorts by creation time, so database inserts land at the end of the
 * primary key and a time cut-off can be written as an id.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolPos = POOL_SIZE;

function randomBytes(n: number): Buffer {
  if (poolPos + n > POOL_SIZE) {
    randomFillSync(pool);
    poolPos = 0;
  }
  const out = pool.subarray(poolPos, poolPos + n);
  poolPos += n;
  return out;
}

let lastMs = -1;
let counter = 0;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A new UUIDv7, greater than every id this process made before (even if the clock steps back). */
export function newId(): string {
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    const r = randomBytes(2);
    counter = ((r[0] as number) << 8 | (r[1] as number)) & 0x7ff;
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // 4096 ids in one ms: borrow the next millisecond.
      lastMs = ++ms;
      counter = 0;
    }
  }
  const b = new Uint8Array(16);
  b[6] = counter >>> 8;
  b[7] = counter & 0xff;
  b.set(randomBytes(8), 8);
  return uuidV7(ms, b);
}

/**
 * Formats a UUIDv7: the 48-bit `ms` timestamp, then `bytes[6..15]` with the version and variant
 * bits set. The 12 bits after the version and the 62 after the variant are the caller's (a counter
 * and randomness for `newId`, a hash for ids that must be the same every time).
 */
export function uuidV7(ms: number, bytes: Uint8Array): string {
  const b = Uint8Array.from(bytes.subarray(0, 16));
  const t = Math.max(0, Math.floor(ms));
  const high = Math.floor(t / 0x1_0000_0000);
  const low = t >>> 0;
  b[0] = (high >>> 8) & 0xff;
  b[1] = high & 0xff;
  b[2] = low >>> 24;
  b[3] = (low >>> 16) & 0xff;
  b[4] = (low >>> 8) & 0xff;
  b[5] = low & 0xff;
  b[6] = 0x70 | ((b[6] as number) & 0x0f);
  b[8] = 0x80 | ((b[8] as number) & 0x3f);
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += HEX[b[i] as number] as string;
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
  }
  return s;
}

/** The smallest UUIDv7 of a given ms: every id made at or after `ms` sorts at or above it. */
export function idFloor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/** The ms timestamp of a UUIDv7. */
export function idTime(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
