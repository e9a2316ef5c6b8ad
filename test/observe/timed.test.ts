import { describe, expect, it } from 'vitest';
import { TimedDeframer } from '../../src/observe/index.js';
import { fromHex } from '../../src/shared/index.js';

const A = fromHex('10 02 01 80 11 04 01 80 00 01 81 00 02 82 00 03 83 00 04 04 00 05 10 03');
const B = fromHex('10 02 03 05 00 05 10 03');

describe('TimedDeframer', () => {
  it("stamps a frame with the time of the chunk holding its last byte, at every split point", () => {
    for (let cut = 1; cut < A.length; cut++) {
      const d = new TimedDeframer('>');
      expect(d.push(A.subarray(0, cut), 100)).toEqual([]);
      const events = d.push(A.subarray(cut), 200);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ kind: 'frame', direction: '>', time: 200, start: 0, end: A.length });
    }
  });

  it('counts chunks that hold more than one frame start, and stamps junk by its last byte', () => {
    const d = new TimedDeframer('<');
    const both = new Uint8Array([...B, ...A.subarray(0, 4)]);
    expect(d.push(both, 10).map((e) => e.time)).toEqual([10]);
    expect(d.push(A.subarray(4), 20).map((e) => e.time)).toEqual([20]);
    d.push(new Uint8Array([...B, ...B]), 30);
    d.push(fromHex('41 42'), 40);
    const tail = d.push(B, 50);
    expect(tail.map((e) => [e.kind, e.time])).toEqual([
      ['discard', 40],
      ['frame', 50],
    ]);
    d.flush();
    expect(d.chunksSeen).toBe(5);
    expect(d.chunksWithSeveralFrameStarts).toBe(2);
  });

  it('reports an unfinished frame as truncated on restart and starts again at offset 0', () => {
    const d = new TimedDeframer('>');
    d.push(A.subarray(0, 10), 1);
    const ev = d.restart();
    expect(ev).toEqual([expect.objectContaining({ kind: 'discard', reason: 'truncated', time: 1 })]);
    expect(d.offset).toBe(0);
    expect(d.push(B, 2)).toEqual([expect.objectContaining({ kind: 'frame', start: 0, time: 2 })]);
  });
});
