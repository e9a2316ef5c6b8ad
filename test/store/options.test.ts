import { describe, expect, it } from 'vitest';
import { resolveStoreOptions } from '../../src/store/index.js';

describe('store options', () => {
  it('every option has its default, once', () => {
    expect(resolveStoreOptions()).toEqual({
      maxRowsInMemory: 20_000,
      maxBatchRows: 2_000,
      writeTimeoutMs: 5_000,
      queryTimeoutMs: 10_000,
      connectTimeoutMs: 3_000,
      retryMinMs: 250,
      retryMaxMs: 5_000,
      retentionIntervalMs: 600_000,
      retentionBatchRows: 2_000,
      poolSize: 4,
      writers: 2,
      loadData: true,
      drainOnCloseMs: 10_000,
    });
    // maxBatchRows follows the configured batch size.
    expect(resolveStoreOptions({}, { batchRows: 1_000 }).maxBatchRows).toBe(4_000);
  });

  it('a value outside its range is refused with the range, not used', () => {
    expect(() => resolveStoreOptions({ writers: 9 })).toThrow('writers must be 1..8, got 9');
    expect(() => resolveStoreOptions({ retryMinMs: 1_000, retryMaxMs: 500 })).toThrow('retryMaxMs must be 1000..600000');
    expect(() => resolveStoreOptions({ connectTimeoutMs: Number.NaN })).toThrow('connectTimeoutMs');
  });
});
