import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from './shared/index.js';

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

/** The process logger: JSON lines (for files and log shippers) or one readable line per record. */
export function createLogger(level: string, format: 'json' | 'pretty'): Logger {
  const dest = format === 'pretty' ? prettyStream(process.stdout) : process.stdout;
  return pino({ level, base: undefined }, dest) as unknown as Logger;
}
