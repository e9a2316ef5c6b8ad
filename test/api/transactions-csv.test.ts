/** GET /transactions?format=csv from a real SQLite store: the whole filter, streamed past one page, capped by `limit`. */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/api/index.js';
import { silentLogger } from '../../src/shared/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { freshTarget, makeTx, type TestTarget } from '../store/helpers.js';
import { FakeService } from './fake-service.js';

const ROWS = 2600;
let target: TestTarget;
let store: Store;
let app: FastifyInstance;

beforeAll(async () => {
  target = await freshTarget('sqlite');
  store = await openStore(
    { url: target.url, spoolDir: join(target.dir, 'spool'), batchRows: 500, batchMs: 20, retention: { transactionsDays: null, parameterValuesDays: null } },
    { logger: silentLogger },
  );
  for (let i = 0; i < ROWS; i++) store.write(makeTx({ node: i % 2 === 0 ? 3 : 5 }, i));
  await store.flush();
  app = await buildApp({ service: new FakeService(), logger: false, version: '1', store });
});

afterAll(async () => {
  await app?.close();
  await store?.close();
  await target?.cleanup();
});

const dataLines = (body: string) => body.split('\n').filter((l) => l !== '').slice(1);

describe('CSV export of the transaction log', () => {
  it('gives every row of the filter, more than one page, each once', async () => {
    const res = await app.inject('/api/v1/transactions?format=csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/csv');
    const lines = dataLines(res.body);
    expect(lines).toHaveLength(ROWS);
    expect(new Set(lines.map((l) => l.split(',')[0])).size).toBe(ROWS);
  });

  it('applies the filter and `limit` across pages', async () => {
    const node5 = dataLines((await app.inject('/api/v1/transactions?format=csv&node=5')).body);
    expect(node5).toHaveLength(ROWS / 2);
    const capped = await app.inject({ url: '/api/v1/transactions?node=3&limit=1100', headers: { accept: 'text/csv' } });
    expect(dataLines(capped.body)).toHaveLength(1100);
  });

  it('JSON pages stay at most 1000 rows', async () => {
    const res = await app.inject('/api/v1/transactions?limit=5000');
    expect(res.statusCode).toBe(400);
    expect(res.json<{ code: string }>().code).toBe('API_BAD_REQUEST');
    expect((await app.inject('/api/v1/transactions')).json<{ transactions: unknown[] }>().transactions).toHaveLength(100);
  });
});
