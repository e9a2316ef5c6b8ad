import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import {
  EXAMPLE_CONFIG_URL,
  loadConfig,
  parseConfig,
  readExampleConfig,
  redactUrl,
  registerConfigCommand,
  runConfigCheck,
  simulatorConfig,
  summariseConfig,
} from '../../src/config/index.js';

const EXAMPLE = new URL('../../flowbus.example.yaml', import.meta.url);

describe('flowbus.example.yaml', () => {
  it('parses and validates, and is what `config example` prints', async () => {
    expect(EXAMPLE_CONFIG_URL.href).toBe(EXAMPLE.href);
    const config = await loadConfig(EXAMPLE.pathname);
    expect(config.buses).toMatchObject([{ name: 'main', baud: 38400, protocol: 'binary' }]);
    expect(config.instruments.map((i) => [i.node, i.name, i.bus])).toEqual([
      [3, 'H2 line', 'main'],
      [5, 'N2 carrier', 'main'],
    ]);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080, token: null, allowedHosts: [] });
    expect(await readExampleConfig()).toBe(await readFile(EXAMPLE, 'utf8'));
  });

  it('is commented and recommends the token from the environment', async () => {
    const text = await readFile(EXAMPLE, 'utf8');
    expect(text.split('\n').filter((l) => l.trim().startsWith('#')).length).toBeGreaterThan(20);
    expect(text).toContain('FLOWBUS_API_TOKEN');
  });

  it('documents every key the schema knows (a key removed from the schema breaks it)', async () => {
    const text = await readFile(EXAMPLE, 'utf8');
    const config = parseConfig(text, 'example');
    for (const key of [...Object.keys(config), ...Object.keys(config.buses[0] ?? {})]) expect(text).toMatch(new RegExp(`^\\s*(- )?${key}:`, 'm'));
  });
});

describe('summariseConfig', () => {
  it('says what the config sets up in one paragraph', () => {
    expect(summariseConfig(simulatorConfig())).toBe(
      'Mode master, 1 bus: main on sim://?nodes=3,5,7 (binary, 38400 baud; discovery). No instruments configured individually. ' +
        'The gateway polls fMeasure, fSetpoint, measure, setpoint, valveOutput, alarmInfo every 500 ms. ' +
        'HTTP API on 127.0.0.1:8080 (this machine only); writes are refused (no http.token). Store sqlite:./data/flowbus.db, keeping everything (no retention); log level info.',
    );
  });

  it('mentions open binds, enabled writes, and hides store passwords', () => {
    const config = parseConfig(
      'buses:\n  - { name: a, port: /dev/ttyUSB0, discover: false, nodes: [3] }\n  - { name: b, port: "tcp://moxa:4001" }\n' +
        'instruments: [{ node: 3, bus: a, name: H2 }]\nhttp: { host: 0.0.0.0, token: a-long-secret }\nsecured: true\nstore: { url: "mysql://flow:hunter2@db:3306/flowbus" }\n',
      't',
    );
    const text = summariseConfig(config);
    expect(text).toContain('2 buses: a on /dev/ttyUSB0 (binary, 38400 baud; nodes 3); b on tcp://moxa:4001');
    expect(text).toContain('1 instrument configured: node 3 "H2" on a.');
    expect(text).toContain('HTTP API on 0.0.0.0:8080 (reachable from the network); writes are enabled with a bearer token, secured parameters included.');
    expect(text).toContain('Store mysql://flow:***@db:3306/flowbus');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('a-long-secret');
    expect(redactUrl('sqlite:./x.db')).toBe('sqlite:./x.db');
  });
});

describe('flowbus config', () => {
  it('check prints "FILE: ok" and the summary, exit code 0', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await runConfigCheck(EXAMPLE.pathname, (l) => out.push(l), (l) => err.push(l))).toBe(0);
    expect(out[0]).toBe(`${EXAMPLE.pathname}: ok`);
    expect(out[1]).toMatch(/^Mode master, 1 bus: main on \/dev\/ttyUSB0 .* writes are refused/);
    expect(err).toEqual([]);
  });

  it('check prints every problem and returns 1 for an invalid, a broken or a missing file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowbus-check-'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'buses:\n  - port: /dev/ttyUSB0\n    baud: 12\n    retries: 99\n');
    const err: string[] = [];
    expect(await runConfigCheck(bad, () => {}, (l) => err.push(l))).toBe(1);
    expect(err.join('\n')).toBe(
      `${bad}: invalid configuration, 2 problems:\n` +
        '  buses[0].baud (line 3): must be an integer 300..4000000, got 12 (line speed in baud)\n' +
        '  buses[0].retries (line 4): must be an integer 0..10, got 99 (further attempts after a reply timeout)',
    );
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'buses: [\n');
    expect(await runConfigCheck(broken, () => {}, (l) => err.push(l))).toBe(1);
    expect(err.at(-1)).toMatch(/YAML syntax error:\n {2}line \d+, column \d+: /);
    expect(await runConfigCheck(join(dir, 'none.yaml'), () => {}, (l) => err.push(l))).toBe(1);
    expect(err.at(-1)).toBe(`config file ${join(dir, 'none.yaml')} not found`);
    await rm(dir, { recursive: true, force: true });
  });

  it('registers `config check` and `config example` on a commander program', async () => {
    const program = new Command().exitOverride();
    registerConfigCommand(program);
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync(['node', 'flowbus', 'config', 'example']);
      expect(write.mock.calls.map((c) => String(c[0])).join('')).toBe(await readFile(EXAMPLE, 'utf8'));
      write.mockClear();
      await program.parseAsync(['node', 'flowbus', 'config', 'check', EXAMPLE.pathname]);
      expect(String(write.mock.calls[0]?.[0])).toBe(`${EXAMPLE.pathname}: ok\n`);
      expect(process.exitCode).toBe(0);
    } finally {
      write.mockRestore();
      process.exitCode = undefined;
    }
  });
});

describe('config check on a bridge config', () => {
  it('describes the bridge: its two ports and the capture, not buses and polling', () => {
    const text = summariseConfig(
      parseConfig('mode: bridge\nbridge:\n  instrumentPort: /dev/ttyUSB0\n  masterPort: /dev/ttyUSB1\n  capture: bench.log\n', 'b.yaml'),
    );
    expect(text).toMatch(/^Mode bridge "bridge": every byte between the master on \/dev\/ttyUSB1 and the instruments on \/dev\/ttyUSB0/);
    expect(text).toMatch(/written to bench\.log/);
    expect(text).not.toMatch(/polls|0 buses/);
  });
});
