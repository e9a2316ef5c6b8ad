import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/shared/index.js';

describe('toHex', () => {
  it('prints bytes lower-case, two digits each, with the separator between them', () => {
    expect(toHex(new Uint8Array(0))).toBe('');
    expect(toHex(Uint8Array.of(0x0a))).toBe('0a');
    expect(toHex(Uint8Array.of(0x10, 0x02, 0x00, 0xff))).toBe('10 02 00 ff');
    expect(toHex(Uint8Array.of(0x10, 0x02, 0x00, 0xff), '')).toBe('100200ff');
    expect(toHex(Uint8Array.of(0x10, 0x02, 0x00), ':')).toBe('10:02:00');
  });

  it('reads only the view it is given, not the rest of its buffer', () => {
    const all = Uint8Array.of(1, 2, 3, 4, 5, 6);
    expect(toHex(all.subarray(2, 4))).toBe('03 04');
    expect(toHex(all.subarray(5), '')).toBe('06');
  });

  it('round-trips with fromHex for every byte value', () => {
    const every = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromHex(toHex(every))).toEqual(every);
    expect(fromHex(toHex(every, ''))).toEqual(every);
  });
});
