/** An app whose log lines (pino JSON, the production logger's options) a test can read. */
import { Writable } from 'node:stream';
import { buildApp, type AppDeps } from '../../src/api/index.js';
import { createLogger } from '../../src/logging.js';

export interface LoggedApp {
  readonly app: Awaited<ReturnType<typeof buildApp>>;
  readonly lines: Record<string, unknown>[];
  /** Every byte written to the log. */
  readonly text: () => string;
}

export async function appWithLog(deps: Omit<AppDeps, 'logger' | 'version'> & { version?: string }): Promise<LoggedApp> {
  const lines: Record<string, unknown>[] = [];
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const app = await buildApp({ version: '1', ...deps, logger: createLogger('info', 'json', sink) });
  return { app, lines, text: () => chunks.join('') };
}
