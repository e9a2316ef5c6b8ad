/** Log queries with times or buckets outside what the log holds are a precise 400, never a 500 (real SQLite store). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/index.js';
import { configFrom } from '../../src/config/index.js';
import { silentLogger } from '../../src/shared/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { freshTarget, type TestTarget } from '../store/helpers.js';
import { FakeService } from './fake-service.js';

let target: TestTarget;
let store: Store;
let app: FastifyInstance;

beforeAll(async () => {
  target = await freshTarget('sqlite');
  const config = configFrom({ buses: [{ port: 'sim://' }], store: { url: target.url, spoolDir: `${target.dir}/spool` } });
  store = await openStore(config.store, { logger: silentLogger });
  app = await buildApp({ service: new FakeService(), logger: false, version: '1', store });
});

afterAll(async () => {
  await app.close();
  await store.close();
  await target.cleanup();
});

const HISTORY = '/api/v1/instruments/3/parameters/fMeasure/history';

describe('times and buckets of log queries', () => {
  it('a time outside what the log holds is 400 STORE_BAD_TIME naming the range', async () => {
    for (const url of [
      `${HISTORY}?until=-271821-04-20T00:00:00Z`,
      `${HISTORY}?since=-271821-04-20T00:00:00Z`,
      `${HISTORY}?until=%2B275760-09-13T00:00:00Z`,
      `${HISTORY}?until=1969-01-01T00:00:00Z`,
      '/api/v1/transactions?until=-271821-04-20T00:00:00Z',
      '/api/v1/transactions?since=%2B200000-01-01T00:00:00Z',
    ]) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(400);
      const body = res.json<{ code: string; message: string }>();
      expect(body.code).toBe('STORE_BAD_TIME');
      expect(body.message).toContain('2255-06-05');
    }
  });

  it('a start after the end is 400 STORE_BAD_TIME naming both, also against the default end (now)', async () => {
    const cases: [string, string][] = [
      [`${HISTORY}?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z`, 'since (2026-01-02T00:00:00.000000Z) is after until (2026-01-01T00:00:00.000000Z)'],
      [`${HISTORY}?since=2200-01-01T00:00:00Z`, 'since (2200-01-01T00:00:00.000000Z) is after until (now)'],
      ['/api/v1/transactions?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', 'since (2026-01-02T00:00:00.000000Z) is after until (2026-01-01T00:00:00.000000Z)'],
    ];
    for (const [url, message] of cases) {
      const res = await app.inject(url);
      expect([res.statusCode, res.json<{ code: string }>().code], url).toEqual([400, 'STORE_BAD_TIME']);
      expect(res.json<{ message: string }>().message.startsWith(message), url).toBe(true);
    }
  });

  it('a bucket too wide says so, with the allowed range', async () => {
    const res = await app.inject(`${HISTORY}?bucket=999999d`);
    expect(res.statusCode).toBe(400);
    const body = res.json<{ code: string; message: string }>();
    expect(body.code).toBe('STORE_BAD_BUCKET');
    expect(body.message).toContain('between 1ms and 366d');
  });

  it('times at the edges of the range answer 200', async () => {
    const res = await app.inject(`${HISTORY}?since=1970-01-01T00:00:00Z&until=2255-01-01T00:00:00Z&bucket=366d`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ since: '1970-01-01T00:00:00.000000Z', until: '2255-01-01T00:00:00.000000Z', points: [] });
  });
});
