/** The logging interface every layer receives (pino's shape, so a pino logger fits). The codec never logs. */
export interface Logger {
  error(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silentLogger;
  },
};

/** Longest error text a `dropped` line carries: an error message can quote a whole request or row. */
const DROPPED_TEXT_MAX = 500;

/** An error as one short line for a log: `CODE: message`, at most 500 characters. */
export function errorLine(err: unknown): string {
  let text: string;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    text = typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message || err.name;
  } else {
    text = String(err);
  }
  return text.length > DROPPED_TEXT_MAX ? `${text.slice(0, DROPPED_TEXT_MAX)}...` : text;
}

/**
 * A rejection handler for an error that is deliberately not acted on (a close during cleanup,
 * a listener kept only so the process does not crash): it says at debug level what was dropped,
 * `dropped: <what>`, with the error. `file.close().catch(dropped(log, 'closing the spool file'))`.
 */
export function dropped(log: Logger, what: string): (err: unknown) => void {
  return (err: unknown) => log.debug({ err: errorLine(err) }, `dropped: ${what}`);
}
