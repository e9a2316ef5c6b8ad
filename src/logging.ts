import { Writable } from 'node:stream';
import pino from 'pino';
import { redactSecrets, type Logger } from './shared/index.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const SKIP = new Set(['level', 'time', 'pid', 'hostname', 'msg']);

/** One line per record for people at a terminal: `13:38:21.012 INFO  bus main open  address=/dev/ttyUSB0`. */
function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          const ms = Number(rec.time);
          const t = Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : String(rec.time);
          const extras = Object.entries(rec)
            .filter(([k, v]) => !SKIP.has(k) && v !== undefined)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          out.write(`${t} ${LEVELS[Number(rec.level)] ?? rec.level} ${String(rec.msg ?? '')}${extras ? '  ' + extras : ''}\n`);
        } catch {
          out.write(line + '\n');
        }
      }
      done();
    },
  });
}

/** Headers and fields that carry credentials, wherever a log line puts them. */
const SECRET_PATHS = [
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  'token',
  '*.token',
  'password',
  '*.password',
];

/** Strings in a log record with credentials redacted (see `redactSecrets`), a few levels deep. */
function redactFields(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (depth > 4 || value === null || typeof value !== 'object' || value instanceof Error || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map((v) => redactFields(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactFields(v, depth + 1);
  return out;
}

/**
 * pino's options for every logger of the gateway. Credentials never reach the log: the
 * Authorization header and token/password fields are censored by path, and every string, the
 * message included, has tokens in query strings, URL passwords and Bearer tokens replaced.
 */
export function loggerOptions(level: string): pino.LoggerOptions {
  return {
    level,
    // No pid and hostname on every line.
    base: null,
    redact: { paths: SECRET_PATHS, censor: '***' },
    formatters: { log: (obj) => redactFields(obj) as Record<string, unknown> },
    serializers: {
      err: (err: Error) => {
        const s = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
        return redactFields(s) as Record<string, unknown>;
      },
    },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((a) => (typeof a === 'string' ? redactSecrets(a) : a)) as Parameters<typeof method>;
        return method.apply(this, redacted);
      },
    },
  };
}

/** A child's bindings are written on each of its lines without passing `formatters.log`: redact them when the child is made. */
function redactingChildren(l: pino.Logger): pino.Logger {
  const child = l.child.bind(l);
  l.child = ((bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => redactingChildren(child(redactFields(bindings) as pino.Bindings, options))) as unknown as typeof l.child;
  return l;
}

/** The process logger: JSON lines (for files and log shippers) or one readable line per record. `out` is for tests. */
export function createLogger(level: string, format: 'json' | 'pretty', out: NodeJS.WritableStream = process.stdout): Logger {
  const dest = format === 'pretty' ? prettyStream(out) : out;
  return redactingChildren(pino(loggerOptions(level), dest)) as unknown as Logger;
}
