/** Bridge mode's options: the config schema's type, defaults and ranges, resolved in one place. */
import { describe, expect, it } from 'vitest';
import { BridgeGateway, resolveBridgeOptions } from '../../src/gateway/index.js';

const PORTS = { instrumentPort: '/dev/ttyUSB0', masterPort: '/dev/ttyUSB1' };

describe('resolveBridgeOptions', () => {
  it('fills every default of the config schema', () => {
    expect(resolveBridgeOptions(PORTS)).toEqual({
      ...PORTS,
      name: 'bridge',
      baud: 38_400,
      protocol: 'binary',
      burstGapMs: 2,
      replyTimeoutMs: 1000,
      masterSilenceMs: 10_000,
      capture: null,
      maxUnwrittenBytes: 64 * 1024,
      maxDecodeBacklogBytes: 1024 * 1024,
      maxBurstBytes: 4096,
      maxEvents: 200,
      recentTransactions: 1000,
      reconnectInitialMs: 250,
      reconnectMaxMs: 10_000,
      captureFlushMs: 250,
      captureMaxPendingBytes: 8 * 1024 * 1024,
      forwardThreads: true,
      inject: false,
      injectIdleMs: 20,
      injectTimeoutMs: 500,
      injectWaitMs: 2000,
      injectMaxMasterLatencyMs: 200,
      injectBackoffMs: 5000,
    });
  });

  it('inject with protocol ascii: BRIDGE_BAD_OPTION saying why', () => {
    expect(() => resolveBridgeOptions({ ...PORTS, protocol: 'ascii', inject: true })).toThrow(expect.objectContaining({ code: 'BRIDGE_BAD_OPTION', message: expect.stringMatching(/no sequence number/) }));
  });

  it('keeps what is given and does not change the caller\'s object', () => {
    const input = { ...PORTS, maxEvents: 5, replyTimeoutMs: 400 };
    const o = resolveBridgeOptions(input);
    expect([o.maxEvents, o.replyTimeoutMs, o.masterSilenceMs]).toEqual([5, 400, 10_000]);
    expect(input).toEqual({ ...PORTS, maxEvents: 5, replyTimeoutMs: 400 });
  });

  it.each([
    ['maxUnwrittenBytes', 10, 1024, 16 * 1024 * 1024],
    ['maxEvents', 0, 1, 10_000],
    ['replyTimeoutMs', 100_000, 10, 60_000],
    ['reconnectInitialMs', 1, 10, 60_000],
  ] as const)('%s out of range: BRIDGE_BAD_OPTION naming it, its range and the value', (option, value, min, max) => {
    expect(() => resolveBridgeOptions({ ...PORTS, [option]: value })).toThrow(expect.objectContaining({ code: 'BRIDGE_BAD_OPTION', details: { option, min, max, value } }));
    expect(() => resolveBridgeOptions({ ...PORTS, [option]: value })).toThrow(new RegExp(`bridge option ${option} .*\\(${min}\\.\\.${max}\\), got ${value}`));
  });

  it('a protocol that is not one: BRIDGE_BAD_OPTION', () => {
    expect(() => resolveBridgeOptions({ ...PORTS, protocol: 'morse' as 'binary' })).toThrow(expect.objectContaining({ code: 'BRIDGE_BAD_OPTION', details: expect.objectContaining({ option: 'protocol', value: 'morse' }) }));
  });

  it('the gateway resolves its options: the name and the defaults are those of the schema', () => {
    const bridge = new BridgeGateway({ ...PORTS, name: 'tap' });
    expect(bridge.name).toBe('tap');
    expect(bridge.options.maxUnwrittenBytes).toBe(64 * 1024);
    expect(() => new BridgeGateway({ ...PORTS, maxEvents: -1 })).toThrow(expect.objectContaining({ code: 'BRIDGE_BAD_OPTION' }));
  });
});
