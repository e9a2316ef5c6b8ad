/** Master mode's options: one place with defaults and ranges, from the config file's own types. */
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/index.js';
import { DEFAULT_MASTER_OPTIONS, resolveMasterOptions } from '../../src/gateway/index.js';

describe('resolveMasterOptions', () => {
  it('fills every default, the poll list from the config schema', () => {
    const o = resolveMasterOptions({ buses: [{ name: 'main', port: 'sim://' }] });
    expect(o).toEqual({ ...DEFAULT_MASTER_OPTIONS, buses: [{ name: 'main', port: 'sim://' }] });
    expect(o.poll).toEqual(defaultConfig().poll);
    expect([o.agreeAttempts, o.identityRetryMs, o.discoveryRetryMs, o.probeTimeoutMs, o.pairerTimeoutMs]).toEqual([4, 30_000, 10_000, 150, 60_000]);
  });

  it('refuses a tunable outside its range, naming it and the range', () => {
    const bus = [{ name: 'main', port: 'sim://' }];
    expect(() => resolveMasterOptions({ buses: bus, agreeAttempts: 1 })).toThrow(expect.objectContaining({ code: 'GATEWAY_BAD_OPTION', details: { option: 'agreeAttempts', min: 2, max: 10, value: 1 } }));
    expect(() => resolveMasterOptions({ buses: bus, identityRetryMs: 1.5 })).toThrow(/master option identityRetryMs must be an integer 10\.\.86400000, got 1\.5/);
    expect(() => resolveMasterOptions({ buses: [] })).toThrow(expect.objectContaining({ code: 'GATEWAY_NO_BUS' }));
  });

  it('takes a whole config file and keeps only its own options (no API token, no store URL)', () => {
    const config = { ...defaultConfig(), buses: [{ ...defaultConfig().buses[0], name: 'main', port: 'sim://' }], http: { ...defaultConfig().http, token: 'secret-token' } };
    const o = resolveMasterOptions(config as Parameters<typeof resolveMasterOptions>[0]);
    expect(Object.keys(o).sort()).toEqual(Object.keys({ ...DEFAULT_MASTER_OPTIONS, buses: [] }).sort());
    expect(JSON.stringify(o)).not.toContain('secret-token');
  });
});
