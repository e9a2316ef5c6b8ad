/** `flowbus serve` warns whenever the API is reachable beyond this machine, saying what is exposed. */
import { describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config/index.js';
import { exposureWarning } from '../../src/main.js';

const config = (http: Record<string, unknown>, extra: Record<string, unknown> = {}) => configFrom({ buses: [{ port: 'sim://' }], http, ...extra });

describe('exposureWarning', () => {
  it('is silent on loopback', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) expect(exposureWarning(config({ host }), 'http://x'), host).toBeUndefined();
  });

  it('without a token: reads, discovery and the transaction log are exposed, writes are not', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
      const w = exposureWarning(config({ host }), 'http://0.0.0.0:8080');
      expect(w, host).toContain('reachable from the network');
      expect(w).toContain('read every parameter');
      expect(w).toContain('discovery');
      expect(w).toContain('transaction log');
      expect(w).toContain('writes are disabled');
      expect(w).toContain('http.allowedHosts');
    }
  });

  it('with a token: writes are exposed too, secured ones when allowed', () => {
    const w = exposureWarning(config({ host: '0.0.0.0', token: 'a-long-secret', allowedHosts: ['flowbus.lab'] }, { secured: true }), 'http://0.0.0.0:8080');
    expect(w).toContain('with the token, write parameters');
    expect(w).toContain('secured parameters too');
    expect(w).toContain('flowbus.lab');
    expect(w).not.toContain('a-long-secret');
  });
});
