/**
 * Reading the config: YAML text -> object -> defaults -> validation, plus the overrides the
 * composition root passes in from the environment and the command line. Nothing here reads
 * `process.env`: main.ts hands the environment over.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { GatewayError } from '../shared/index.js';
import { type Config } from './schema.js';
import { type Locate, validateConfig } from './validate.js';

/** The commented example shipped at the repository root (`flowbus config example`). */
export const EXAMPLE_CONFIG_URL = new URL('../../flowbus.example.yaml', import.meta.url);

export interface YamlSyntaxProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/**
 * Parses and validates config text. `source` names it in messages (usually the file path).
 * Throws `CONFIG_SYNTAX` (details: `{ source, errors }` with line and column) for bad YAML
 * and `CONFIG_INVALID` (details: `{ source, problems }`) for a wrong field.
 */
export function parseConfig(text: string, source: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const errors: YamlSyntaxProblem[] = doc.errors.map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      return { line, column: col, message: e.message.split('\n')[0] ?? e.message };
    });
    const lines = errors.map((e) => `  line ${e.line}, column ${e.column}: ${e.message}`);
    throw new GatewayError('CONFIG_SYNTAX', [`${source}: YAML syntax error${errors.length === 1 ? '' : 's'}:`, ...lines].join('\n'), {
      source,
      errors,
    });
  }
  // A missing key has no node: name the line of the nearest enclosing one.
  const locate: Locate = (segments) => {
    for (let n = segments.length; n > 0; n--) {
      const node: unknown = doc.getIn(segments.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) {
        const line = lineCounter.linePos(range[0]).line;
        return { where: `line ${line}`, line };
      }
    }
    return undefined;
  };
  return validateConfig(doc.toJS({ maxAliasCount: 100 }), source, locate);
}

/** Reads and parses a config file. Throws `CONFIG_NOT_FOUND` when there is no such file. */
export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GatewayError('CONFIG_NOT_FOUND', `config file ${path} not found`, { path }, { cause: e });
    const why = code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new GatewayError('CONFIG_UNREADABLE', `cannot read config file ${path}: ${why}`, { path }, { cause: e });
  }
  return parseConfig(text, path);
}

/** The text of the commented example config. */
export async function readExampleConfig(): Promise<string> {
  return readFile(EXAMPLE_CONFIG_URL, 'utf8');
}

/** Command-line values that override the file and the environment (all as commander gives them). */
export interface ConfigFlags {
  /** Replaces the first bus's port. */
  readonly port?: string;
  /** http.host */
  readonly host?: string;
  /** http.port */
  readonly httpPort?: string | number;
  /** http.token */
  readonly token?: string;
  /** store.url */
  readonly storeUrl?: string;
  /** store.spoolDir */
  readonly spoolDir?: string;
  /** log.level */
  readonly logLevel?: string;
  readonly mode?: string;
  /** bridge.instrumentPort */
  readonly instrumentPort?: string;
  /** bridge.masterPort */
  readonly masterPort?: string;
  /** bridge.capture */
  readonly capture?: string;
  /** bridge.inject */
  readonly inject?: boolean;
}

export interface ConfigOverrides {
  /** The process environment, passed in by the composition root. Empty values count as unset. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly flags?: ConfigFlags;
}

interface Override {
  readonly flag?: keyof ConfigFlags;
  readonly option?: string;
  readonly env?: string;
  readonly path: readonly (string | number)[];
  readonly integer?: boolean;
  /** A comma-separated list in the environment: `a, b,c` -> ['a', 'b', 'c']. */
  readonly list?: boolean;
}

/** Each override: its flag, its env var and the config field it sets. Flags beat env vars. */
export const CONFIG_OVERRIDES: readonly Override[] = [
  { flag: 'port', option: '--port', env: 'FLOWBUS_PORT', path: ['buses', 0, 'port'] },
  { flag: 'host', option: '--host', env: 'FLOWBUS_HTTP_HOST', path: ['http', 'host'] },
  { flag: 'httpPort', option: '--http-port', env: 'FLOWBUS_HTTP_PORT', path: ['http', 'port'], integer: true },
  { flag: 'token', option: '--token', env: 'FLOWBUS_API_TOKEN', path: ['http', 'token'] },
  { env: 'FLOWBUS_HTTP_ALLOWED_HOSTS', path: ['http', 'allowedHosts'], list: true },
  { flag: 'storeUrl', option: '--store-url', env: 'FLOWBUS_STORE_URL', path: ['store', 'url'] },
  { flag: 'spoolDir', option: '--spool-dir', env: 'FLOWBUS_SPOOL_DIR', path: ['store', 'spoolDir'] },
  { env: 'FLOWBUS_GATEWAY_NAME', path: ['gateway', 'name'] },
  { flag: 'logLevel', option: '--log-level', env: 'FLOWBUS_LOG_LEVEL', path: ['log', 'level'] },
  { flag: 'mode', option: '--mode', path: ['mode'] },
  { flag: 'instrumentPort', option: '--instrument-port', path: ['bridge', 'instrumentPort'] },
  { flag: 'masterPort', option: '--master-port', path: ['bridge', 'masterPort'] },
  { flag: 'capture', option: '--capture', path: ['bridge', 'capture'] },
  { flag: 'inject', option: '--inject', path: ['bridge', 'inject'] },
];

function setIn(target: Record<string | number, unknown>, path: readonly (string | number)[], value: unknown): void {
  let cur = target;
  for (const key of path.slice(0, -1)) {
    // `--instrument-port` without a bridge section in the file starts one.
    if (cur[key] === undefined || cur[key] === null) cur[key] = {};
    cur = cur[key] as Record<string | number, unknown>;
  }
  cur[path[path.length - 1] as string | number] = value;
}

/**
 * Returns a copy of `config` with env vars and flags applied (flags > env > file), validated
 * again. A bad value is refused with `CONFIG_INVALID` naming the env var or flag it came from.
 */
export function applyOverrides(config: Config, overrides: ConfigOverrides): Config {
  const next = structuredClone(config) as unknown as Record<string, unknown>;
  const origins = new Map<string, { where: string }>();
  for (const o of CONFIG_OVERRIDES) {
    const flag = o.flag === undefined ? undefined : overrides.flags?.[o.flag];
    const env = o.env === undefined ? undefined : overrides.env?.[o.env];
    let value: unknown;
    if (flag !== undefined) {
      value = flag;
      origins.set(o.path.join('.'), { where: `flag ${o.option ?? String(o.flag)}` });
    } else if (env !== undefined && env !== '') {
      value = env;
      origins.set(o.path.join('.'), { where: `env ${o.env}` });
    } else {
      continue;
    }
    if (o.integer && typeof value === 'string' && /^\s*\d+\s*$/.test(value)) value = Number(value);
    if (o.list && typeof value === 'string') value = value.split(',').map((v) => v.trim()).filter((v) => v.length > 0);
    setIn(next, o.path, value);
  }
  if (origins.size === 0) return structuredClone(config);
  // An item of a list names the env var of the whole list.
  const locate = (segments: readonly (string | number)[]) => {
    for (let n = segments.length; n > 0; n--) {
      const o = origins.get(segments.slice(0, n).join('.'));
      if (o) return o;
    }
    return undefined;
  };
  return validateConfig(next, 'command line and environment', locate);
}

/** Builds a config from a partial object, every default filled in. Throws `CONFIG_INVALID`. */
export function configFrom(raw: Record<string, unknown>, source = 'built-in configuration'): Config {
  return validateConfig(raw, source);
}

/** What runs without a config file: one bus on /dev/ttyUSB0, found by discovery, everything else default. */
export function defaultConfig(): Config {
  return configFrom({ buses: [{ port: '/dev/ttyUSB0' }] }, 'default configuration');
}

/** What `npm start` runs: the built-in simulator with nodes 3, 5 and 7, API on 127.0.0.1:8080, SQLite store. */
export function simulatorConfig(): Config {
  return configFrom(
    {
      buses: [{ port: 'sim://?nodes=3,5,7' }],
      http: { host: '127.0.0.1', port: 8080 },
      store: { url: 'sqlite:./data/flowbus.db' },
    },
    'simulator configuration',
  );
}
