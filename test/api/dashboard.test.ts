/**
 * The dashboard's files on the API's port: `/` and `/assets/*` from a built dashboard, with the
 * build's brotli and gzip copies, cache headers and the page's content security policy; without
 * one, `/` redirects to the API documentation. A built dashboard is faked in a temporary folder
 * (the real bundle is exercised by the browser tests).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, HOME_PAGE, buildApp, loadDashboard } from '../../src/api/index.js';
import { FakeService } from './fake-service.js';

const PAGE = '<!doctype html><title>flowbus</title><script type="module" src="/assets/index-abc123.js"></script>';
const SCRIPT = 'console.log("dashboard");'.repeat(20);

let dir: string;
let app: FastifyInstance;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowbus-dash-'));
  mkdirSync(join(dir, 'assets'));
  const put = (rel: string, text: string) => {
    writeFileSync(join(dir, rel), text);
    writeFileSync(join(dir, `${rel}.gz`), gzipSync(text));
    writeFileSync(join(dir, `${rel}.br`), brotliCompressSync(text));
  };
  put('index.html', PAGE);
  put('assets/index-abc123.js', SCRIPT);
  app = await buildApp({ service: new FakeService(), logger: false, version: '1', dashboardDir: dir });
});
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the dashboard on /', () => {
  it('serves the page, brotli to a browser that takes it, with the CSP and no caching', async () => {
    const res = await app.inject({ url: '/', headers: { 'accept-encoding': 'gzip, deflate, br' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(res.rawPayload).toString()).toBe(PAGE);
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('serves gzip or the plain file by Accept-Encoding, and 304 for a known ETag', async () => {
    const gz = await app.inject({ url: '/assets/index-abc123.js', headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.rawPayload).toString()).toBe(SCRIPT);
    expect(gz.headers['cache-control']).toContain('immutable');
    const plain = await app.inject('/assets/index-abc123.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(SCRIPT);
    const again = await app.inject({ url: '/assets/index-abc123.js', headers: { 'if-none-match': String(plain.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it('a missing asset, or a path out of the folder, is 404 in the API error shape', async () => {
    for (const url of ['/assets/nope.js', '/assets/../index.html.br', '/assets/%2e%2e/%2e%2e/package.json']) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(404);
      expect((res.json() as { code: string }).code, url).toBe('API_NOT_FOUND');
    }
  });

  it('loads only what the folder holds: no dashboard without index.html', () => {
    expect(loadDashboard(join(dir, 'assets'))).toBeUndefined();
    expect([...(loadDashboard(dir)?.files.keys() ?? [])].sort()).toEqual(['/assets/index-abc123.js', '/index.html']);
  });

  it('without a built dashboard, / redirects to the API documentation', async () => {
    const bare = await buildApp({ service: new FakeService(), logger: false, version: '1', dashboardDir: join(dir, 'missing') });
    try {
      const res = await bare.inject('/');
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe(HOME_PAGE);
    } finally {
      await bare.close();
    }
  });
});

describe('GET /api/v1/parameters', () => {
  it('lists all 425 parameters with range and enumeration, and searches', async () => {
    const all = (await app.inject('/api/v1/parameters')).json() as { count: number; parameters: { key: string; dde: number; min: number | null; max: number | null; write: boolean; enumeration?: { value: number; label: string }[] }[] };
    expect(all.count).toBe(425);
    const mode = all.parameters.find((p) => p.key === 'controlMode');
    expect(mode?.dde).toBe(12);
    expect(mode?.write).toBe(true);
    expect(mode?.enumeration?.length).toBeGreaterThan(5);
    const hits = (await app.inject('/api/v1/parameters?q=capacity%20unit&limit=3')).json() as { parameters: { key: string }[] };
    expect(hits.parameters[0]?.key).toBe('capacityUnit');
    expect(hits.parameters.length).toBeLessThanOrEqual(3);
    const long = await app.inject(`/api/v1/parameters?q=${'x'.repeat(65)}`);
    expect(long.statusCode).toBe(400);
  });
});
