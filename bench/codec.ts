/**
 * Codec throughput: binary deframe + decode, and encode, against what a
 * 38400-baud line can carry (10 bits per byte: 3840 bytes/s). Both sides are
 * measured in this run, on a realistic mix of frames (the Bright display
 * adapter's 8-parameter poll and its answer, status replies, error frames,
 * identity strings with stuffed 0x10 bytes).
 *
 *   npm run bench            (or: npx tsx bench/codec.ts)
 */
import {
  BinaryDeframer,
  decodeMessage,
  encodeBinaryFrame,
  encodeMessage,
  frameToPacket,
  type Frame,
  type Message,
} from '../src/codec/index.js';
import { fromHex } from '../src/shared/index.js';

const BAUD = 38400;
const WIRE_BYTES_PER_S = BAUD / 10;

// DATA fields of real traffic (PROTOCOL.md sections 2, 5.2, 5.3, 9).
const DATA = [
  // Bright 8-parameter poll request and an answer of the same shape
  '04 81 ad 01 20 ae 01 21 af 01 23 10 01 14 81 51 72 41 81 52 68 41 01 d3 21 47 54 21 40',
  '02 81 ad 3e 80 ae 3e 80 af ff 33 10 00 81 51 00 7f 10 10 81 52 45 9c ff ae 01 d3 41 a8 00 00 54 41 c1 a8 3c',
  // chained network-parameter read and answer
  '04 01 80 00 01 81 00 02 82 00 03 83 00 04 04 00 05',
  '02 01 80 03 81 7f 82 04 83 20 04 43',
  // capacity + user tag (stuffed length byte) and answer
  '04 81 4d 01 4d 71 66 71 66 10',
  '02 81 4d 45 d5 08 00 71 66 10 55 53 45 52 54 41 47 00 00 00 00 00 00 00 00 00',
  // write with status and its status reply
  '01 01 04 01',
  '00 00 04',
];

function frames(): Frame[] {
  const out: Frame[] = [];
  let seq = 1;
  for (let i = 0; i < 64; i++) {
    for (const hex of DATA) {
      out.push({ kind: 'data', seq: seq, node: i % 3 === 0 ? 0x80 : 3, data: fromHex(hex) });
      seq = seq === 255 ? 1 : seq + 1;
    }
    out.push({ kind: 'error', seq, node: 5, code: 5 });
  }
  return out;
}

const sample = frames();
const messages: { seq: number; node: number; msg: Message }[] = sample.map((f) =>
  f.kind === 'data' ? { seq: f.seq, node: f.node, msg: decodeMessage(f.data) } : { seq: f.seq, node: f.node ?? 0, msg: { kind: 'error', code: f.code } },
);
// The sample must be real messages: each re-encodes to the bytes it came from.
messages.forEach((m, i) => {
  const orig = sample[i];
  if (m.msg.kind !== 'error' && orig?.kind === 'data' && encodeMessage(m.msg).join() !== orig.data.join()) {
    throw new Error(`bench sample ${i} does not round-trip`);
  }
  if (m.msg.kind === 'unknown') throw new Error(`bench sample ${i} is not a ProPar message`);
});
const wire = sample.map((f) => encodeBinaryFrame(f));
const stream = new Uint8Array(wire.reduce((n, w) => n + w.length, 0));
{
  let o = 0;
  for (const w of wire) {
    stream.set(w, o);
    o += w.length;
  }
}
const bytesPerFrame = stream.length / sample.length;
// Split the stream into 32-byte chunks, about what a USB-serial read returns.
const chunks: Uint8Array[] = [];
for (let o = 0; o < stream.length; o += 32) chunks.push(stream.subarray(o, Math.min(o + 32, stream.length)));

function time(label: string, fn: () => number, minMs = 1500): { perS: number; bytesPerS: number } {
  // Warm up, then run whole rounds until minMs has passed.
  for (let i = 0; i < 20; i++) fn();
  let frames = 0;
  let rounds = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < minMs) {
    frames += fn();
    rounds++;
    elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  const perS = (frames / elapsed) * 1000;
  const bytesPerS = ((rounds * stream.length) / elapsed) * 1000;
  void label;
  return { perS, bytesPerS };
}

let sink = 0;
const decode = time('decode', () => {
  const d = new BinaryDeframer();
  let n = 0;
  for (const c of chunks) {
    for (const ev of d.push(c)) {
      if (ev.kind === 'frame') {
        const p = frameToPacket(ev.frame);
        sink += p.seq;
        n++;
      }
    }
  }
  return n;
});
const encode = time('encode', () => {
  let n = 0;
  for (const m of messages) {
    const frame: Frame =
      m.msg.kind === 'error'
        ? { kind: 'error', seq: m.seq, node: m.node, code: m.msg.code }
        : { kind: 'data', seq: m.seq, node: m.node, data: encodeMessage(m.msg) };
    sink += encodeBinaryFrame(frame).length;
    n++;
  }
  return n;
});

const wireFramesPerS = WIRE_BYTES_PER_S / bytesPerFrame;
const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(`codec benchmark: ${sample.length} frames, ${fmt(bytesPerFrame, 1)} wire bytes per frame on average, node ${process.version}`);
console.log(`38400-baud line limit: ${fmt(WIRE_BYTES_PER_S)} bytes/s = ${fmt(wireFramesPerS, 1)} frames/s`);
console.log('| path | frames/s | MB/s | x 38400-baud line |');
console.log('|---|---:|---:|---:|');
console.log(`| deframe + decode (32-byte chunks) | ${fmt(decode.perS)} | ${fmt(decode.bytesPerS / 1e6, 2)} | ${fmt(decode.perS / wireFramesPerS)} |`);
console.log(`| encode (message + frame) | ${fmt(encode.perS)} | ${fmt((encode.perS * bytesPerFrame) / 1e6, 2)} | ${fmt(encode.perS / wireFramesPerS)} |`);
if (sink === -1) console.log(sink);
