import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { buildApp, lazyChildLogger } from '../../src/api/app.js';
import { createLogger } from '../../src/logging.js';
import { busError, FakeService } from './fake-service.js';

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', 'json', out), lines };
}

describe("a request's logger", () => {
  it('is made only when the request logs a line: none for requests that log nothing', async () => {
    const { logger, lines } = memoryLogger();
    const service = new FakeService();
    // Watched from the start: Fastify's own loggers (per plugin) are children made while it builds.
    const child = vi.spyOn(logger as unknown as { child: (...a: unknown[]) => unknown }, 'child');
    const app = await buildApp({ service, version: '1', logger });
    await app.ready();
    const made = child.mock.calls.length;
    for (let i = 0; i < 20; i++) {
      expect((await app.inject('/api/v1/instruments/3/parameters/fMeasure')).statusCode).toBe(200);
      expect((await app.inject('/healthz')).statusCode).toBe(200);
    }
    expect(child.mock.calls.length - made).toBe(0);
    // A request that logs (a 5xx is warned once a minute per code) still logs with its request id.
    service.fail = busError({ kind: 'timeout', attempts: 3, timeoutMs: 500 });
    expect((await app.inject('/api/v1/instruments/3/parameters/fMeasure')).statusCode).toBe(504);
    expect(child.mock.calls.length - made).toBe(1);
    const warned = lines.find((l) => l.code === 'BUS_TIMEOUT');
    expect(warned).toMatchObject({ level: 40, reqId: expect.any(String) });
    await app.close();
  });

  it('passes every call through to one child with the bindings and options Fastify gave', () => {
    const { logger, lines } = memoryLogger();
    const parent = logger as unknown as Parameters<typeof lazyChildLogger>[0];
    const child = vi.spyOn(parent, 'child');
    const lazy = lazyChildLogger(parent, { reqId: 'req-7' }, {});
    expect(lazy.level).toBe('info');
    expect(child).not.toHaveBeenCalled();
    lazy.info({ a: 1 }, 'first');
    lazy.error('second');
    lazy.debug('not at info');
    expect(child).toHaveBeenCalledTimes(1);
    expect(child).toHaveBeenCalledWith({ reqId: 'req-7' }, {});
    expect(lines.map((l) => [l.msg, l.reqId, l.level])).toEqual([
      ['first', 'req-7', 30],
      ['second', 'req-7', 50],
    ]);
    expect(lazyChildLogger(parent, {}, { level: 'warn' }).level).toBe('warn');
  });
});
