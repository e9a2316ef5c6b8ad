import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Settings } from 'typebox/system';
import { describe, expect, it } from 'vitest';
import {
  type Config,
  type ConfigProblem,
  applyOverrides,
  defaultConfig,
  loadConfig,
  parseConfig,
  simulatorConfig,
} from '../../src/config/index.js';
import { GatewayError } from '../../src/shared/index.js';

/** The error `fn` throws, checked to be a GatewayError with `code`. */
function caught(fn: () => unknown, code: string): GatewayError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    expect((e as GatewayError).code).toBe(code);
    return e as GatewayError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

function problems(text: string): ConfigProblem[] {
  return caught(() => parseConfig(text, 'test.yaml'), 'CONFIG_INVALID').details.problems as ConfigProblem[];
}

/** The single problem of `text`, as "path: message". */
function only(text: string): string {
  const list = problems(text);
  expect(list).toHaveLength(1);
  return `${list[0]?.path}: ${list[0]?.message}`;
}

const MINIMAL = 'buses:\n  - port: /dev/ttyUSB0\n';

describe('defaults', () => {
  it('fills every default from the schema', () => {
    const config = parseConfig(MINIMAL, 'test.yaml');
    expect(config).toEqual<Config>({
      mode: 'master',
      gateway: { name: null },
      buses: [
        {
          name: 'main',
          port: '/dev/ttyUSB0',
          baud: 38400,
          protocol: 'binary',
          replyTimeoutMs: 500,
          retries: 2,
          queueDeadlineMs: 5000,
          pipelineDepth: 1,
          maxRequestBytes: 64,
          maxAnswerBytes: 64,
          discover: true,
        },
      ],
      poll: { parameters: ['fMeasure', 'fSetpoint', 'measure', 'setpoint', 'valveOutput', 'alarmInfo'], intervalMs: 500 },
      instruments: [],
      http: { host: '127.0.0.1', port: 8080, token: null, allowedHosts: [] },
      secured: false,
      store: {
        url: 'sqlite:./data/flowbus.db',
        batchRows: 500,
        batchMs: 250,
        retention: { transactionsDays: null, parameterValuesDays: null },
      },
      log: { level: 'info' },
      metrics: { enabled: true },
      programs: { onRestart: 'safe', rate: 10, restoreWaitMs: 30000 },
    });
  });

  it('treats an empty section (only comments under it) as its defaults', () => {
    const config = parseConfig(`${MINIMAL}http:\n  # host: 0.0.0.0\npoll:\n`, 'test.yaml');
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080, token: null, allowedHosts: [] });
    expect(config.poll.intervalMs).toBe(500);
  });

  it('gives each parse its own default arrays', () => {
    const a = parseConfig(MINIMAL, 'a');
    a.poll.parameters.push('capacity');
    a.instruments.push({ node: 9 });
    const b = parseConfig(MINIMAL, 'b');
    expect(b.poll.parameters).toHaveLength(6);
    expect(b.instruments).toEqual([]);
  });

  it('fills in the bus of instruments when there is one bus and makes parameter names canonical', () => {
    const config = parseConfig(`${MINIMAL}poll: { parameters: [FMEASURE, dde 206] }\ninstruments:\n  - node: 3\n    poll: { parameters: [valve output] }\n`, 't');
    expect(config.poll.parameters).toEqual(['fMeasure', 'fSetpoint']);
    expect(config.instruments[0]).toEqual({ node: 3, bus: 'main', poll: { parameters: ['valveOutput'] } });
  });

  it('accepts several named buses with instruments on each', () => {
    const config = parseConfig(
      'buses:\n  - { name: left, port: /dev/ttyUSB0 }\n  - { name: right, port: "tcp://10.0.0.5:4001" }\ninstruments:\n  - { node: 3, bus: right }\n  - { node: 3, bus: left }\n',
      't',
    );
    expect(config.buses.map((b) => b.name)).toEqual(['left', 'right']);
  });

  it('simulatorConfig is one sim bus with nodes 3, 5, 7, the API on 127.0.0.1:8080 and SQLite', () => {
    const config = simulatorConfig();
    expect(config.buses).toHaveLength(1);
    expect(config.buses[0]?.port).toBe('sim://?nodes=3,5,7');
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(config.store.url).toMatch(/^sqlite:/);
  });

  it('defaultConfig is a single discovered serial bus', () => {
    expect(defaultConfig().buses).toMatchObject([{ name: 'main', port: '/dev/ttyUSB0', discover: true }]);
  });

  it('leaves TypeBox settings as it found them', () => {
    const before = Settings.Get().maxErrors;
    problems('buses: []\n');
    expect(Settings.Get().maxErrors).toBe(before);
  });
});

describe('errors, each with its path and what was expected', () => {
  it.each([
    ['baud: 12', 'buses[0].baud: must be an integer 300..4000000, got 12 (line speed in baud)'],
    ['baud: 9600.5', 'buses[0].baud: must be an integer 300..4000000, got 9600.5 (line speed in baud)'],
    ['baud: fast', 'buses[0].baud: must be an integer 300..4000000, got "fast" (line speed in baud)'],
    ['protocol: modbus', 'buses[0].protocol: must be one of binary, ascii, got "modbus" (ProPar framing on the line)'],
    ['replyTimeoutMs: 5', 'buses[0].replyTimeoutMs: must be an integer 10..10000, got 5 (time allowed for a reply, ms)'],
    ['retries: 11', 'buses[0].retries: must be an integer 0..10, got 11 (further attempts after a reply timeout)'],
    ['queueDeadlineMs: 10', 'buses[0].queueDeadlineMs: must be an integer 50..600000, got 10 (longest a request may wait in the queue, ms)'],
    ['pipelineDepth: 3', 'buses[0].pipelineDepth: must be an integer 1..2, got 3 (requests in flight at once; 2 needs protocol binary)'],
    ['maxRequestBytes: 251', 'buses[0].maxRequestBytes: must be an integer 8..250, got 251 (largest chained request, bytes)'],
    ['maxAnswerBytes: 7', 'buses[0].maxAnswerBytes: must be an integer 8..250, got 7 (largest expected chained answer, bytes)'],
    ['discover: maybe', 'buses[0].discover: must be true or false, got "maybe" (walk the bus at start to find instruments)'],
    ['nodes: [3, 129]', 'buses[0].nodes[1]: must be an integer 1..128, got 129 (node address 1..127, or 128 for the instrument on the local RS232 port)'],
    ['nodes: [3, 3]', 'buses[0].nodes: lists 3 more than once'],
    ['nodes: 3', 'buses[0].nodes: must be a list (no repeats), got 3 (known node addresses, polled even when discover is false)'],
    ['name: Main', `buses[0].name: must be a string matching ^[a-z0-9_-]+$, got "Main" (bus name of lowercase letters, digits, '_' or '-'; needed when there is more than one bus)`],
  ])('bus %s', (line, expected) => {
    expect(only(`buses:\n  - port: /dev/ttyUSB0\n    ${line}\n`)).toBe(expected);
  });

  it.each([
    ['mode: passive', 'mode: must be one of master, bridge, got "passive" (operating mode)'],
    ['mode: bridge', 'bridge: is required in bridge mode: instrumentPort and masterPort'],
    ['store: { retention: { transactionsDays: 0 } }', 'store.retention.transactionsDays: must be an integer 1..36500 or null, got 0 (delete transactions older than this many days, in small batches; null keeps everything)'],
    ['poll: { intervalMs: 10 }', 'poll.intervalMs: must be an integer 50..3600000, got 10 (time between polls of one instrument, ms)'],
    ['http: { port: 70000 }', 'http.port: must be an integer 0..65535, got 70000 (TCP port of the API, 0 = any free port)'],
    ['http: { host: "" }', 'http.host: must be a non-empty string, got "" (bind address; 127.0.0.1 keeps the API local, 0.0.0.0 opens it to the network)'],
    ['http: { token: abc }', 'http.token: must be a string of at least 8 characters or null, got a value of 3 characters (not shown) (bearer token of at least 8 characters that writes need; null refuses all writes)'],
    ['secured: 1', 'secured: must be true or false, got 1 (true allows writes to secured parameters (wrapped in Init Reset 64..82))'],
    ['store: { url: "postgres://db/x" }', 'store.url: must be a string matching ^(sqlite:|mysql://), got "postgres://db/x" (sqlite:PATH or mysql://user:pass@host:3306/db)'],
    ['log: { level: verbose }', 'log.level: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose" (log verbosity)'],
    ['instruments: [{ node: 0 }]', 'instruments[0].node: must be an integer 1..128, got 0 (node address 1..127, or 128 for the instrument on the local RS232 port)'],
    ['instruments: [{ name: x }]', 'instruments[0].node: is required (node address 1..127, or 128 for the instrument on the local RS232 port)'],
    ['instruments: [{ node: 3, poll: { intervalMs: 1 } }]', 'instruments[0].poll.intervalMs: must be an integer 50..3600000, got 1 (time between polls of one instrument, ms)'],
    ['instruments: [{ node: 3 }, { node: 3 }]', 'instruments[1]: node 3 on bus main is already configured by instruments[0]'],
  ])('%s', (line, expected) => {
    expect(only(`${MINIMAL}${line}\n`)).toBe(expected);
  });

  it('needs at least one bus, and a port on each', () => {
    expect(only('buses: []\n')).toBe('buses: needs at least one bus in master mode (each with a `port:`)');
    expect(only('mode: master\n')).toBe('buses: needs at least one bus in master mode (each with a `port:`)');
    expect(only('buses:\n  - baud: 9600\n')).toMatch(/^buses\[0\]\.port: is required \(where the bus is: /);
  });

  it('refuses an empty file and a file that is not a mapping', () => {
    expect(only('# nothing yet\n')).toBe(
      '(top level): the configuration is empty; it needs at least `buses:` with one `port:` (or `mode: bridge` with a `bridge:` section)',
    );
    expect(only('- port: /dev/ttyUSB0\n')).toBe('(top level): must be a mapping of keys to values, got a list (flowbus gateway configuration)');
  });

  it('checks the port scheme minimally and leaves the rest to the transport', () => {
    expect(only('buses:\n  - port: "udp://10.0.0.5:4001"\n')).toBe(
      'buses[0].port: unknown scheme "udp:" in "udp://10.0.0.5:4001"; use a device path, serial://, tcp:// or sim://',
    );
    expect(only('buses:\n  - port: "   "\n')).toBe('buses[0].port: must not be blank');
    for (const port of ['/dev/ttyUSB0', 'COM3', 'serial:///dev/ttyUSB0?baud=38400', 'tcp://lab-moxa:4001', 'sim://?nodes=3,5,7']) {
      expect(parseConfig(`buses:\n  - port: "${port}"\n`, 't').buses[0]?.port).toBe(port);
    }
  });

  it('refuses ascii with pipelineDepth 2, saying why', () => {
    expect(only('buses:\n  - port: /dev/ttyUSB0\n    protocol: ascii\n    pipelineDepth: 2\n')).toBe(
      'buses[0].pipelineDepth: must be 1 with protocol ascii: ASCII frames carry no sequence number, so two requests in flight cannot be told apart (use protocol binary for 2)',
    );
    expect(parseConfig('buses:\n  - port: /dev/ttyUSB0\n    pipelineDepth: 2\n', 't').buses[0]?.pipelineDepth).toBe(2);
  });

  it('refuses bridge.inject with protocol ascii, saying why', () => {
    const bridge = 'mode: bridge\nbridge:\n  instrumentPort: /dev/ttyUSB0\n  masterPort: /dev/ttyUSB1\n  protocol: ascii\n  inject: true\n';
    expect(only(bridge)).toMatch(/^bridge\.inject: cannot be true with protocol ascii: ASCII frames carry no sequence number/);
    expect(parseConfig(bridge.replace('ascii', 'binary'), 't').bridge?.inject).toBe(true);
    // --inject sets it, and is refused the same way with ascii.
    const off = parseConfig(bridge.replace('ascii', 'binary').replace('  inject: true\n', ''), 't');
    expect(off.bridge?.inject).toBe(false);
    expect(applyOverrides(off, { flags: { inject: true } }).bridge?.inject).toBe(true);
    expect(() => applyOverrides(parseConfig(bridge.replace('  inject: true\n', ''), 't'), { flags: { inject: true } })).toThrow(/no sequence number/);
  });

  it('wants unique bus names, a name on each of several buses, and instruments on a defined bus', () => {
    expect(only('buses:\n  - { name: a, port: /dev/ttyUSB0 }\n  - { name: a, port: /dev/ttyUSB1 }\n')).toBe(
      'buses[1].name: "a" is already the name of buses[0]; bus names must be unique',
    );
    expect(only('buses:\n  - { name: a, port: /dev/ttyUSB0 }\n  - { port: /dev/ttyUSB1 }\n')).toBe(
      'buses[1].name: is required when there is more than one bus',
    );
    const two = 'buses:\n  - { name: left, port: /dev/ttyUSB0 }\n  - { name: right, port: /dev/ttyUSB1 }\n';
    expect(only(`${two}instruments: [{ node: 3 }]\n`)).toBe('instruments[0].bus: is required when there is more than one bus (buses: left, right)');
    expect(only(`${two}instruments: [{ node: 3, bus: rigth }]\n`)).toBe(
      'instruments[0].bus: no bus is named "rigth", did you mean "right"? (buses: left, right)',
    );
  });

  it('reports every wrong field at once, in file order, with its line', () => {
    const list = problems('buses:\n  - port: /dev/ttyUSB0\n    baud: 12\n    retries: -1\nhttp:\n  port: -5\nlog: { level: loud }\n');
    expect(list.map((p) => `${p.path} ${p.where}`)).toEqual(['buses[0].baud line 3', 'buses[0].retries line 4', 'http.port line 6', 'log.level line 7']);
  });

  it('has a readable message', () => {
    const err = caught(
      () => parseConfig('buses:\n  - port: /dev/ttyUSB0\n    baud: 12\n    replyTimeOutMs: 200\npoll:\n  parameters: [fMeasure, fMesure]\n', 'lab.yaml'),
      'CONFIG_INVALID',
    );
    expect(err.message).toBe(
      [
        'lab.yaml: invalid configuration, 3 problems:',
        '  buses[0].baud (line 3): must be an integer 300..4000000, got 12 (line speed in baud)',
        '  buses[0].replyTimeOutMs (line 4): unknown key "replyTimeOutMs", did you mean "replyTimeoutMs"?',
        '  poll.parameters[1] (line 6): unknown parameter "fMesure", did you mean fMeasure, measure, pressure? (see `flowbus params`)',
      ].join('\n'),
    );
  });
});

describe('unknown keys', () => {
  it.each([
    ['buses:\n  - port: /dev/ttyUSB0\n    replyTimeOutMs: 200\n', 'buses[0].replyTimeOutMs: unknown key "replyTimeOutMs", did you mean "replyTimeoutMs"?'],
    [`${MINIMAL}pol: { intervalMs: 100 }\n`, 'pol: unknown key "pol", did you mean "poll"?'],
    [`${MINIMAL}http: { tokn: secret-secret }\n`, 'http.tokn: unknown key "tokn", did you mean "token"?'],
    [`${MINIMAL}instruments: [{ node: 3, poll: { interval: 100 } }]\n`, 'instruments[0].poll.interval: unknown key "interval", did you mean "intervalMs"?'],
    [`${MINIMAL}colour: blue\n`, 'colour: unknown key "colour"; known keys here: mode, gateway, buses, bridge, poll, instruments, http, secured, store, log, metrics, mqtt, programs'],
  ])('%#', (text, expected) => {
    expect(only(text)).toBe(expected);
  });
});

describe('poll parameters', () => {
  it('names unknown parameters with suggestions, in the defaults and per instrument', () => {
    expect(only(`${MINIMAL}poll: { parameters: [fMeasure, valveOutputt] }\n`)).toMatch(
      /^poll\.parameters\[1\]: unknown parameter "valveOutputt", did you mean valveOutput\b/,
    );
    expect(only(`${MINIMAL}instruments: [{ node: 5, poll: { parameters: [setpont] } }]\n`)).toMatch(
      /^instruments\[0\]\.poll\.parameters\[0\]: unknown parameter "setpont", did you mean setpoint\b/,
    );
  });

  it('accepts an empty list to switch polling off for one instrument', () => {
    const config = parseConfig(`${MINIMAL}instruments: [{ node: 5, poll: { parameters: [] } }]\n`, 't');
    expect(config.instruments[0]?.poll).toEqual({ parameters: [] });
  });
});

describe('YAML syntax and missing files', () => {
  it('gives line and column of a syntax error', () => {
    const err = caught(() => parseConfig('buses:\n  - port: /dev/ttyUSB0\n    baud: [38400\n', 'bad.yaml'), 'CONFIG_SYNTAX');
    expect(err.message).toMatch(/^bad\.yaml: YAML syntax error:\n {2}line \d+, column \d+: /);
    expect(err.details.errors).toEqual([expect.objectContaining({ line: expect.any(Number), column: expect.any(Number) })]);
  });

  it('treats a repeated key as a syntax error', () => {
    const err = caught(() => parseConfig('buses:\n  - port: /dev/ttyUSB0\n    baud: 9600\n    baud: 19200\n', 'dup.yaml'), 'CONFIG_SYNTAX');
    expect(err.message).toContain('line 4, column 5');
  });

  it('loads a file, and says when it is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowbus-config-'));
    const file = join(dir, 'flowbus.yaml');
    await writeFile(file, MINIMAL);
    expect((await loadConfig(file)).buses[0]?.port).toBe('/dev/ttyUSB0');
    await expect(loadConfig(join(dir, 'nope.yaml'))).rejects.toMatchObject({
      code: 'CONFIG_NOT_FOUND',
      message: `config file ${join(dir, 'nope.yaml')} not found`,
    });
    await writeFile(file, 'buses:\n  - port: /dev/ttyUSB0\n    baud: 1\n');
    await expect(loadConfig(file)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(`${file}: invalid configuration`) });
    await rm(dir, { recursive: true, force: true });
  });
});

describe('applyOverrides', () => {
  const base = parseConfig(
    'buses:\n  - { name: main, port: /dev/ttyUSB0 }\n  - { name: aux, port: /dev/ttyUSB1 }\nhttp: { host: 127.0.0.1, port: 8080 }\nlog: { level: info }\n',
    'file',
  );

  it('leaves the config alone without overrides, and never mutates it', () => {
    const before = structuredClone(base);
    expect(applyOverrides(base, { env: {}, flags: {} })).toEqual(before);
    applyOverrides(base, { env: { FLOWBUS_HTTP_PORT: '9000' }, flags: { port: '/dev/ttyS0' } });
    expect(base).toEqual(before);
  });

  it('applies each env var to its field', () => {
    const config = applyOverrides(base, {
      env: {
        FLOWBUS_API_TOKEN: 'a-long-secret',
        FLOWBUS_HTTP_HOST: '0.0.0.0',
        FLOWBUS_HTTP_PORT: '9000',
        FLOWBUS_STORE_URL: 'mysql://u:p@db:3306/flowbus',
        FLOWBUS_PORT: 'tcp://moxa:4001',
        FLOWBUS_LOG_LEVEL: 'debug',
        FLOWBUS_HTTP_ALLOWED_HOSTS: ' flowbus.lab.example, 10.0.0.5 ,,',
        FLOWBUS_GATEWAY_NAME: 'reactor-3',
        UNRELATED: 'x',
      },
    });
    expect(config.gateway.name).toBe('reactor-3');
    expect(config.http).toEqual({ host: '0.0.0.0', port: 9000, token: 'a-long-secret', allowedHosts: ['flowbus.lab.example', '10.0.0.5'] });
    expect(config.store.url).toBe('mysql://u:p@db:3306/flowbus');
    expect(config.buses.map((b) => b.port)).toEqual(['tcp://moxa:4001', '/dev/ttyUSB1']);
    expect(config.log.level).toBe('debug');
  });

  it('takes flags over env over the file', () => {
    const env = { FLOWBUS_HTTP_PORT: '9000', FLOWBUS_LOG_LEVEL: 'debug', FLOWBUS_PORT: '/dev/ttyS0' };
    const config = applyOverrides(base, { env, flags: { httpPort: '9100', port: 'sim://?nodes=3' } });
    expect(config.http.port).toBe(9100); // flag beats env
    expect(config.buses[0]?.port).toBe('sim://?nodes=3'); // flag beats env
    expect(config.log.level).toBe('debug'); // env beats file
    expect(config.http.host).toBe('127.0.0.1'); // file, nothing overrides it
    expect(applyOverrides(base, { env, flags: { httpPort: 0, mode: 'master' } }).http.port).toBe(0);
  });

  it('refuses a bad allowed host, naming FLOWBUS_HTTP_ALLOWED_HOSTS', () => {
    expect(() => applyOverrides(base, { env: { FLOWBUS_HTTP_ALLOWED_HOSTS: 'ok.example,http://bad/x' } })).toThrow(/FLOWBUS_HTTP_ALLOWED_HOSTS/);
  });

  it('ignores empty env vars', () => {
    expect(applyOverrides(base, { env: { FLOWBUS_API_TOKEN: '', FLOWBUS_HTTP_PORT: '' } }).http).toEqual(base.http);
  });

  it('validates overridden values and names where they came from', () => {
    const err = caught(
      () => applyOverrides(base, { env: { FLOWBUS_HTTP_PORT: 'eighty', FLOWBUS_API_TOKEN: 'short' }, flags: { logLevel: 'loud', mode: 'passive' } }),
      'CONFIG_INVALID',
    );
    expect(err.message).toBe(
      [
        'command line and environment: invalid configuration, 4 problems:',
        '  mode (flag --mode): must be one of master, bridge, got "passive" (operating mode)',
        '  http.port (env FLOWBUS_HTTP_PORT): must be an integer 0..65535, got "eighty" (TCP port of the API, 0 = any free port)',
        '  http.token (env FLOWBUS_API_TOKEN): must be a string of at least 8 characters or null, got a value of 5 characters (not shown) (bearer token of at least 8 characters that writes need; null refuses all writes)',
        '  log.level (flag --log-level): must be one of fatal, error, warn, info, debug, trace, silent, got "loud" (log verbosity)',
      ].join('\n'),
    );
    expect(() => applyOverrides(base, { env: { FLOWBUS_STORE_URL: 'redis://x' } })).toThrow(/store\.url \(env FLOWBUS_STORE_URL\)/);
    expect(() => applyOverrides(base, { env: {}, flags: { port: 'udp://x' } })).toThrow(/buses\[0\]\.port \(flag --port\): unknown scheme/);
  });
});
