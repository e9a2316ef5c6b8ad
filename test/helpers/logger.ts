/** A logger that keeps every line it is given, for tests that assert what was logged (bindings of child loggers merged in). */
import type { Logger } from '../../src/shared/index.js';

export interface Line {
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

export function recordingLogger(lines: Line[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (obj: object | string, msg?: string) =>
    lines.push(typeof obj === 'string' ? { level, obj: bindings, msg: obj } : { level, obj: { ...bindings, ...obj }, msg });
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: (b) => recordingLogger(lines, { ...bindings, ...b }) };
}
