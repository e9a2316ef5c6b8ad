import { describe, expect, it } from 'vitest';
import { GatewayError, dropped, errorLine, type Logger } from '../../src/shared/index.js';

function recorder(): Logger & { lines: { level: string; obj: unknown; msg: string | undefined }[] } {
  const lines: { level: string; obj: unknown; msg: string | undefined }[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => void lines.push({ level, obj, msg });
  const log = { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => log };
  return log;
}

describe('dropped', () => {
  it('says at debug level what was dropped, with the error as one line', async () => {
    const log = recorder();
    await Promise.reject(new GatewayError('STORE_UNAVAILABLE', 'the database is unreachable')).catch(dropped(log, 'closing the database'));
    expect(log.lines).toEqual([{ level: 'debug', obj: { err: 'STORE_UNAVAILABLE: the database is unreachable' }, msg: 'dropped: closing the database' }]);
  });

  it('keeps a long error short, and takes what is not an Error', () => {
    expect(errorLine(new Error('x'.repeat(10_000)))).toHaveLength(503);
    expect(errorLine('just text')).toBe('just text');
    expect(errorLine(Object.assign(new Error('open failed'), { code: 'ENOENT' }))).toBe('ENOENT: open failed');
  });
});
