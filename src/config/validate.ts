/**
 * Turns an untrusted object into a `Config`: defaults from the schema, then the schema
 * check, then the checks a schema cannot express (unique names, references, the parameter
 * database). Every problem is collected, with a readable path and what was expected, and
 * the whole list is thrown as one `CONFIG_INVALID`.
 */
import { Settings } from 'typebox/system';
import { Value } from 'typebox/value';
import { findParam, suggestParams } from '../params/index.js';
import { GatewayError } from '../shared/index.js';
import { type Config, ConfigSchema, PORT_SCHEMES } from './schema.js';

/** One wrong field. `path` reads like `buses[0].baud`; `segments` is the same path as keys. */
export interface ConfigProblem {
  readonly path: string;
  readonly segments: readonly (string | number)[];
  readonly message: string;
  /** Where the value came from, e.g. `line 7` or `env FLOWBUS_HTTP_PORT`. */
  readonly where?: string;
  /** The 1-based line in the file, when the problem came from one. */
  readonly line?: number;
}

/** Says where the value at a path came from (a YAML line, an env var, a flag), if known. */
export type Locate = (segments: readonly (string | number)[]) => { readonly where: string; readonly line?: number } | undefined;

type Segments = (string | number)[];
type JsonSchema = Record<string, unknown>;

/** Far more than a sane file has wrong, but bounded (TypeBox's own default is 8). */
const MAX_SCHEMA_ERRORS = 200;

export function formatPath(segments: readonly (string | number)[]): string {
  if (segments.length === 0) return '(top level)';
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}

/** The full text of a CONFIG_INVALID error. */
export function formatProblems(source: string, problems: readonly ConfigProblem[]): string {
  const n = problems.length;
  const lines = problems.map((p) => `  ${p.path}${p.where ? ` (${p.where})` : ''}: ${p.message}`);
  return [`${source}: invalid configuration, ${n} problem${n === 1 ? '' : 's'}:`, ...lines].join('\n');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Edit distance where swapping two neighbours counts as one edit, for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const get = (i: number, j: number) => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(get(i - 1, j) + 1, get(i, j - 1) + 1, get(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, get(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return get(a.length, b.length);
}

/** The known key closest to a typo, if one is close enough to be a plausible intent. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const other = k.toLowerCase();
    // A missing suffix (`interval` for `intervalMs`) is as plausible as a one-letter slip.
    const prefix = lower.length >= 4 && other.startsWith(lower);
    const d = other === lower ? 0 : prefix ? 1 : distance(lower, other) + 0.5;
    if (!best || d < best.d) best = { k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.k : undefined;
}

function pointerSegments(pointer: string): Segments {
  if (pointer === '' || pointer === '#') return [];
  return pointer
    .replace(/^#/, '')
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

function at(root: unknown, segments: readonly (string | number)[]): unknown {
  let cur = root;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

function schemaAt(schemaPath: string): JsonSchema {
  const found = at(ConfigSchema, pointerSegments(schemaPath).map(String));
  return isRecord(found) ? found : {};
}

/** What a schema accepts, in words: "an integer 300..4000000", "one of binary, ascii". */
export function describeSchema(schema: JsonSchema): string {
  if (Array.isArray(schema.enum)) {
    const values = schema.enum.map((v) => String(v));
    return values.length === 1 ? `"${values[0]}"` : `one of ${values.join(', ')}`;
  }
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.anyOf)) return schema.anyOf.map((s) => describeSchema(isRecord(s) ? s : {})).join(' or ');
  const min = typeof schema.minimum === 'number' ? schema.minimum : undefined;
  const max = typeof schema.maximum === 'number' ? schema.maximum : undefined;
  const range = min !== undefined && max !== undefined ? ` ${min}..${max}` : min !== undefined ? ` >= ${min}` : max !== undefined ? ` <= ${max}` : '';
  switch (schema.type) {
    case 'integer':
      return `an integer${range}`;
    case 'number':
      return `a number${range}`;
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'object':
      return 'a mapping of keys to values';
    case 'array': {
      const parts: string[] = [];
      if (typeof schema.minItems === 'number' && schema.minItems > 0) parts.push(`at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
      if (typeof schema.maxItems === 'number') parts.push(`at most ${schema.maxItems} items`);
      if (schema.uniqueItems === true) parts.push('no repeats');
      return parts.length > 0 ? `a list (${parts.join(', ')})` : 'a list';
    }
    case 'string': {
      const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
      let text = minLength === 1 ? 'a non-empty string' : minLength > 1 ? `a string of at least ${minLength} characters` : 'a string';
      if (typeof schema.maxLength === 'number') text += ` of at most ${schema.maxLength} characters`;
      if (typeof schema.pattern === 'string') text += ` matching ${schema.pattern}`;
      return text;
    }
    default:
      return 'a value';
  }
}

/** A value as it appears in a message: numbers and strings literally, containers by kind. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

/** Fields whose values are secrets: errors say how long the value is, never what it is (logs, journals). */
const SECRET_FIELDS = new Set(['http.token']);

function expectation(schema: JsonSchema, value: unknown, secret = false): string {
  const description = typeof schema.description === 'string' ? ` (${schema.description})` : '';
  const got = secret && typeof value === 'string' ? `a value of ${value.length} characters (not shown)` : describeValue(value);
  return `must be ${describeSchema(schema)}, got ${got}${description}`;
}

type Push = (segments: Segments, message: string) => void;

/** Problems the JSON schema finds, one per field, in document order. */
function schemaProblems(value: unknown, push: Push): void {
  const saved = Settings.Get().maxErrors;
  Settings.Set({ maxErrors: MAX_SCHEMA_ERRORS });
  let errors;
  try {
    errors = Value.Errors(ConfigSchema, value);
  } finally {
    Settings.Set({ maxErrors: saved });
  }
  // For each field keep the failing schema nearest the root: for a union that is the union
  // itself, not each of its branches.
  const byField = new Map<string, { schemaPath: string; segments: Segments; keyword: string }>();
  for (const e of errors) {
    const segments = pointerSegments(e.instancePath);
    if (e.keyword === 'additionalProperties') {
      const known = Object.keys(schemaAt(e.schemaPath).properties ?? {});
      for (const key of e.params.additionalProperties) {
        const hint = closestKey(key, known);
        push(
          [...segments, key],
          hint ? `unknown key "${key}", did you mean "${hint}"?` : `unknown key "${key}"; known keys here: ${known.join(', ')}`,
        );
      }
    } else if (e.keyword === 'required') {
      const properties = (schemaAt(e.schemaPath).properties ?? {}) as Record<string, JsonSchema>;
      const obj = at(value, segments);
      for (const key of e.params.requiredProperties) {
        if (isRecord(obj) && key in obj) continue;
        const about = properties[key]?.description;
        push([...segments, key], `is required${typeof about === 'string' ? ` (${about})` : ''}`);
      }
    } else if (e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties')) {
      // Reported above, once per object, with a suggestion.
    } else {
      const seen = byField.get(e.instancePath);
      if (!seen || e.schemaPath.length < seen.schemaPath.length) byField.set(e.instancePath, { schemaPath: e.schemaPath, segments, keyword: e.keyword });
    }
  }
  for (const { schemaPath, segments, keyword } of byField.values()) {
    const found = at(value, segments);
    if (keyword === 'uniqueItems' && Array.isArray(found)) {
      const repeated = found.find((v, i) => found.indexOf(v) !== i);
      push(segments, `lists ${describeValue(repeated)} more than once`);
    } else {
      push(segments, expectation(schemaAt(schemaPath), found, SECRET_FIELDS.has(segments.join('.'))));
    }
  }
}

/** YAML's `key:` with nothing after it (or only comments) means "the defaults", not null. */
function dropEmptySections(value: unknown): void {
  if (!isRecord(value)) return;
  for (const [key, schema] of Object.entries(ConfigSchema.properties)) {
    if (value[key] === null && 'default' in schema) delete value[key];
  }
}

function checkParams(list: unknown, segments: Segments, push: Push): void {
  if (!Array.isArray(list)) return;
  list.forEach((name, i) => {
    if (typeof name !== 'string' || name.trim() === '' || findParam(name)) return;
    // The database's own ranking also weighs descriptions; for a typo the nearest spelling wins.
    const typo = name.toLowerCase();
    const hints = suggestParams(name, 5)
      .map((key, rank) => ({ key, rank, d: distance(typo, key.toLowerCase()) }))
      .sort((a, b) => a.d - b.d || a.rank - b.rank)
      .slice(0, 3)
      .map((h) => h.key);
    push([...segments, i], `unknown parameter "${name}"${hints.length > 0 ? `, did you mean ${hints.join(', ')}?` : ''} (see \`flowbus params\`)`);
  });
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/** Checks a schema cannot express. Written defensively: the value may also have failed the schema. */
function crossChecks(raw: unknown, value: unknown, push: Push): void {
  if (!isRecord(value)) return;
  if (value.mode === 'bridge') {
    if (!isRecord(value.bridge)) push(['bridge'], 'is required in bridge mode: instrumentPort and masterPort');
    else if (value.bridge.instrumentPort === value.bridge.masterPort) push(['bridge', 'masterPort'], 'must differ from instrumentPort');
  } else if (!Array.isArray(value.buses) || value.buses.length === 0) {
    push(['buses'], 'needs at least one bus in master mode (each with a `port:`)');
  }
  const rawBuses = isRecord(raw) && Array.isArray(raw.buses) ? raw.buses : [];
  const buses = Array.isArray(value.buses) ? value.buses.filter(isRecord) : [];
  const names = new Map<string, number>();
  (Array.isArray(value.buses) ? value.buses : []).forEach((bus, i) => {
    if (!isRecord(bus)) return;
    const rawBus: unknown = rawBuses[i];
    if (rawBuses.length > 1 && isRecord(rawBus) && rawBus.name === undefined) {
      push(['buses', i, 'name'], 'is required when there is more than one bus');
    } else if (typeof bus.name === 'string') {
      const first = names.get(bus.name);
      if (first !== undefined) push(['buses', i, 'name'], `"${bus.name}" is already the name of buses[${first}]; bus names must be unique`);
      else names.set(bus.name, i);
    }
    if (typeof bus.port === 'string') {
      const scheme = SCHEME.exec(bus.port.trim())?.[1];
      if (bus.port.trim() === '') push(['buses', i, 'port'], 'must not be blank');
      // One letter is a Windows drive (C:\...), a path like any other.
      else if (scheme && scheme.length > 1 && !(PORT_SCHEMES as readonly string[]).includes(`${scheme.toLowerCase()}:`)) {
        push(['buses', i, 'port'], `unknown scheme "${scheme}:" in ${JSON.stringify(bus.port)}; use a device path, serial://, tcp:// or sim://`);
      }
    }
    if (bus.protocol === 'ascii' && bus.pipelineDepth === 2) {
      push(
        ['buses', i, 'pipelineDepth'],
        'must be 1 with protocol ascii: ASCII frames carry no sequence number, so two requests in flight cannot be told apart (use protocol binary for 2)',
      );
    }
  });
  if (isRecord(value.bridge) && value.bridge.inject === true && value.bridge.protocol === 'ascii') {
    push(
      ['bridge', 'inject'],
      "cannot be true with protocol ascii: ASCII frames carry no sequence number, so the instrument's reply to an injected request could not be told from its reply to the master (use protocol binary to inject)",
    );
  }
  if (isRecord(value.poll)) checkParams(value.poll.parameters, ['poll', 'parameters'], push);
  const busNames = buses.map((b) => b.name).filter((n): n is string => typeof n === 'string');
  const seen = new Map<string, number>();
  (Array.isArray(value.instruments) ? value.instruments : []).forEach((inst, i) => {
    if (!isRecord(inst)) return;
    if (isRecord(inst.poll)) checkParams(inst.poll.parameters, ['instruments', i, 'poll', 'parameters'], push);
    let bus = inst.bus;
    if (bus === undefined) {
      if (buses.length > 1) push(['instruments', i, 'bus'], `is required when there is more than one bus (buses: ${busNames.join(', ')})`);
      bus = busNames[0];
    } else if (typeof bus === 'string' && buses.length > 0 && !busNames.includes(bus)) {
      const hint = closestKey(bus, busNames);
      push(['instruments', i, 'bus'], `no bus is named "${bus}"${hint ? `, did you mean "${hint}"?` : ''} (buses: ${busNames.join(', ')})`);
    }
    if (typeof inst.node === 'number' && typeof bus === 'string') {
      const key = `${bus}/${inst.node}`;
      const first = seen.get(key);
      if (first !== undefined) push(['instruments', i], `node ${inst.node} on bus ${bus} is already configured by instruments[${first}]`);
      else seen.set(key, i);
    }
  });
}

/** The final touches on a valid config: instrument buses filled in, parameter names canonical. */
function normalise(config: Config): Config {
  const onlyBus = config.buses.length === 1 ? config.buses[0]?.name : undefined;
  const canonical = (names: string[]) => names.map((n) => findParam(n)?.key ?? n);
  config.poll.parameters = canonical(config.poll.parameters);
  for (const inst of config.instruments) {
    if (inst.bus === undefined && onlyBus !== undefined) inst.bus = onlyBus;
    if (inst.poll?.parameters) inst.poll.parameters = canonical(inst.poll.parameters);
  }
  return config;
}

/**
 * Applies defaults to a copy of `raw` and validates it. Throws `CONFIG_INVALID` listing
 * every problem (details: `{ source, problems }`). `locate` adds where a value came from.
 */
export function validateConfig(raw: unknown, source: string, locate?: Locate): Config {
  const problems: ConfigProblem[] = [];
  const push: Push = (segments, message) => {
    const found = locate?.(segments);
    problems.push({ path: formatPath(segments), segments, message, ...found });
  };
  if (raw === null || raw === undefined) {
    push([], 'the configuration is empty; it needs at least `buses:` with one `port:` (or `mode: bridge` with a `bridge:` section)');
  } else {
    const value = structuredClone(raw);
    dropEmptySections(value);
    Value.Default(ConfigSchema, value);
    schemaProblems(value, push);
    crossChecks(raw, value, push);
    if (problems.length === 0) return normalise(value as Config);
    // In file order; problems without a line (the top level) first. The sort is stable.
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  }
  throw new GatewayError('CONFIG_INVALID', formatProblems(source, problems), { source, problems });
}
