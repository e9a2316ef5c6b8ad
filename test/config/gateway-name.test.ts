import { describe, expect, it } from 'vitest';
import { applyOverrides, gatewayName, isGatewayName, parseConfig, safeGatewayName } from '../../src/config/index.js';
import { GatewayError } from '../../src/shared/index.js';

const MINIMAL = 'buses:\n  - port: /dev/ttyUSB0\n';

describe('gateway.name', () => {
  it('defaults to the host name, made safe', () => {
    const config = parseConfig(MINIMAL, 't.yaml');
    expect(config.gateway.name).toBeNull();
    expect(gatewayName(config, 'bench-3.lab.example')).toBe('bench-3.lab.example');
    expect(gatewayName(config, 'Büro PC #2')).toBe('B-ro-PC--2');
    expect(gatewayName(config, '')).toBe('flowbus');
    expect(safeGatewayName('x'.repeat(100))).toHaveLength(64);
    expect(isGatewayName(safeGatewayName('a/b\\c d;e'))).toBe(true);
  });

  it('takes the configured name over the host name, and FLOWBUS_GATEWAY_NAME over the file', () => {
    const config = parseConfig(`${MINIMAL}gateway:\n  name: reactor-2\n`, 't.yaml');
    expect(gatewayName(config, 'somehost')).toBe('reactor-2');
    expect(gatewayName(applyOverrides(config, { env: { FLOWBUS_GATEWAY_NAME: 'reactor-5' } }), 'somehost')).toBe('reactor-5');
  });

  it.each(['', 'a b', 'a/b', 'x'.repeat(65), 'bench*', 'ünicode'])('refuses %j, naming what is allowed', (name) => {
    let err: unknown;
    try {
      parseConfig(`${MINIMAL}gateway:\n  name: ${JSON.stringify(name)}\n`, 't.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('CONFIG_INVALID');
    expect((err as GatewayError).message).toMatch(/gateway\.name/);
  });

  it('names the environment variable when the name there is bad', () => {
    const config = parseConfig(MINIMAL, 't.yaml');
    expect(() => applyOverrides(config, { env: { FLOWBUS_GATEWAY_NAME: 'two words' } })).toThrow(/env FLOWBUS_GATEWAY_NAME/);
  });
});
