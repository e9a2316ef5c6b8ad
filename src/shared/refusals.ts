/**
 * Log lines an outsider can cause (a write without a token, bad JSON, a wrong media type, a
 * write in bridge mode) must not let them fill the disk. A `RefusalLimiter` lets the first
 * refusal of each (source, code) through in full, counts the ones after it, and logs the counts
 * as one summary line at most once a window. It remembers at most `maxKeys` pairs: beyond that,
 * refusals are only counted, in the same summary. So per window it writes at most `maxKeys`
 * full lines plus one summary, whatever arrives, and holds at most `maxKeys` entries.
 */
import type { ErrorCode } from './codes.js';
import type { Logger } from './logger.js';

export interface RefusalLimiterOptions {
  /** The window, ms: one summary line at most this often, and a source's next refusal after it is logged in full again. Default 60 000. */
  readonly windowMs?: number;
  /** Most (source, code) pairs remembered at once; default 100. */
  readonly maxKeys?: number;
  /** Sources named in a summary line, the busiest first; default 10. */
  readonly listed?: number;
}

/** The host part of a client address: `10.0.0.5:51234` -> `10.0.0.5`, `[::1]:8080` -> `::1`. A source varies its port for free, so the limiter keys on the host alone. */
export function sourceHost(source: string): string {
  const v6 = /^\[([^\]]*)\](?::\d+)?$/.exec(source);
  if (v6) return v6[1] ?? source;
  const v4 = /^([^:]+):\d+$/.exec(source);
  return v4 ? (v4[1] ?? source) : source;
}

interface Seen {
  readonly source: string;
  readonly code: ErrorCode;
  /** Refusals after the logged one. */
  count: number;
}

export class RefusalLimiter {
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly listed: number;
  private readonly seen = new Map<string, Seen>();
  /** Refusals of sources the map had no room for. */
  private untracked = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    options: RefusalLimiterOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 100;
    this.listed = options.listed ?? 10;
  }

  /**
   * Counts one refusal from `source` (an address, with or without port) with `code`; calls
   * `logFull` when this is the first from that host and code in the window.
   */
  refused(source: string, code: ErrorCode, logFull: () => void): void {
    const host = sourceHost(source);
    const key = `${host} ${code}`;
    const was = this.seen.get(key);
    this.arm();
    if (was) {
      was.count++;
      return;
    }
    if (this.seen.size >= this.maxKeys) {
      this.untracked++;
      return;
    }
    this.seen.set(key, { source: host, code, count: 0 });
    logFull();
  }

  /** Logs the summary of the window now (when anything was left out) and starts a new window. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const left = [...this.seen.values()].filter((s) => s.count > 0).sort((a, b) => b.count - a.count);
    const total = left.reduce((n, s) => n + s.count, 0) + this.untracked;
    if (total > 0) {
      const sources = left.slice(0, this.listed).map((s) => ({ source: s.source, code: s.code, count: s.count }));
      const codes = [...new Set(left.map((s) => s.code))];
      this.log.warn(
        {
          refusedNotLogged: total,
          sources,
          ...(left.length > this.listed ? { moreSources: left.length - this.listed } : {}),
          ...(this.untracked > 0 ? { untracked: this.untracked } : {}),
        },
        `${total} more refused request(s) not logged one by one in the last ${Math.round(this.windowMs / 1000)} s (${codes.join(', ') || 'from more sources than tracked'})` +
          (this.untracked > 0 ? `; ${this.untracked} from sources beyond the ${this.maxKeys} tracked` : ''),
      );
    }
    this.seen.clear();
    this.untracked = 0;
  }

  /** Logs what is left and stops the timer. */
  close(): void {
    this.flush();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.windowMs);
    this.timer.unref();
  }
}

/** Longest text kept of a value an outsider chose (a URL, a written value) in a log line. */
export const LOGGED_TEXT_MAX = 200;

/** Cuts text an outsider chose to a bounded length for the log, saying how much was left out. */
export function clip(text: string, max = LOGGED_TEXT_MAX): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

const SECRET_QUERY = /([?&;](?:token|access_token|api_key|apikey|key|password|passwd|pwd|secret|auth|authorization)=)[^&#\s]*/gi;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/gi;
const BEARER_TOKEN = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;

/**
 * Text with credentials replaced by `***`: query parameters that carry them (`?token=`,
 * `access_token=`, `password=`, ...), the password of a `scheme://user:password@host` URL, and
 * `Bearer` tokens. Used on every log line (see src/logging.ts) and on the URLs the API logs.
 */
export function redactSecrets(text: string): string {
  if (!/[=@]|bearer/i.test(text)) return text;
  return text.replace(SECRET_QUERY, '$1***').replace(URL_PASSWORD, '$1:***@').replace(BEARER_TOKEN, '$1 ***');
}
