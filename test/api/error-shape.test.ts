/**
 * Every answer of the gateway that is not a success, whatever produced it (a route, the
 * router, a body parser, Swagger UI's static files), is `{ code, message, details }` with a
 * code from the registry and that code's status.
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOME_PAGE, buildApp } from '../../src/api/index.js';
import { HTTP_ERRORS } from '../../src/api/errors.js';
import type { ApiErrorCode } from '../../src/shared/index.js';
import { FakeService } from './fake-service.js';

const TOKEN = 'correct-horse-battery';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const JSON_TYPE = { 'content-type': 'application/json' };
const P = '/api/v1/instruments/3/parameters';

let app: FastifyInstance;
beforeAll(async () => {
  app = await buildApp({ service: new FakeService(), token: TOKEN, logger: false, version: '1' });
});
afterAll(async () => {
  await app.close();
});

function assertShape(res: { statusCode: number; body: string }, what: string): { code: string; message: string; details: Record<string, unknown> } {
  let body: { code: string; message: string; details: Record<string, unknown> };
  try {
    body = JSON.parse(res.body) as typeof body;
  } catch {
    throw new Error(`${what}: ${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`);
  }
  expect(Object.keys(body).sort(), what).toEqual(['code', 'details', 'message']);
  expect(typeof body.message, what).toBe('string');
  expect(typeof body.details === 'object' && body.details !== null, what).toBe(true);
  expect(HTTP_ERRORS[body.code as ApiErrorCode]?.status, `${what}: ${body.code} answered ${res.statusCode}`).toBe(res.statusCode);
  return body;
}

type Req = { method?: string; url: string; headers?: Record<string, string>; payload?: string };
const MALFORMED: Req[] = [
  { url: `${P}/%u0041` },
  { url: `${P}/%` },
  { url: `${P}/%E0%A4%A` },
  { url: `${P}/${'x'.repeat(101)}` },
  { url: `${P}/${'x'.repeat(90)}` },
  { url: `/api/v1/instruments/${'9'.repeat(200)}` },
  { url: '/api/v1/instruments/300' },
  { url: '/api/v1/instruments/0' },
  { url: '/api/v1/instruments/main:999' },
  { url: '/api/v1/instruments/a:b:c' },
  { url: '/api/v1/nothing' },
  { url: '/docs/static/nothing.js' },
  { url: '/docs/nothing' },
  { url: '/openapi.json/x' },
  { url: `/api/v1/transactions?limit=${'9'.repeat(30)}` },
  { url: '/api/v1/transactions?limit=-1' },
  { url: '/api/v1/transactions?since=yesterday' },
  { url: '/api/v1/transactions?node=300' },
  { url: '/api/v1/transactions?cursor=%00%00' },
  { url: `${P}?names=${',,'.repeat(50)}` },
  { url: `${P}/fMeasure?maxAge=-5` },
  { method: 'DELETE', url: '/api/v1/instruments' },
  { method: 'PATCH', url: `${P}/fSetpoint`, headers: { ...AUTH, ...JSON_TYPE }, payload: '{"value":1}' },
  { method: 'OPTIONS', url: '/api/v1/bus' },
  { method: 'POST', url: '/healthz', headers: JSON_TYPE, payload: '{}' },
  { method: 'GET', url: '/api/v1/discover' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, ...JSON_TYPE }, payload: '{"value": ' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, ...JSON_TYPE }, payload: '{"__proto__": {"x": 1}, "value": 1}' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, ...JSON_TYPE }, payload: '[1,2,3]' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, ...JSON_TYPE }, payload: '"value"' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, ...JSON_TYPE }, payload: `{"value":"${'x'.repeat(70 * 1024)}"}` },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, 'content-type': 'application/xml' }, payload: '<value/>' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, 'content-type': 'text/plain' }, payload: 'value=1' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH }, payload: '' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { authorization: 'Bearer', ...JSON_TYPE }, payload: '{"value":1}' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, ...JSON_TYPE }, payload: '{"value":1e999}' },
  { method: 'PUT', url: `${P}/fSetpoint`, headers: { ...AUTH, ...JSON_TYPE }, payload: '' },
  { method: 'PUT', url: `${P}/fMeasure`, headers: { ...AUTH, ...JSON_TYPE }, payload: '{"value":1}' },
  { method: 'POST', url: '/api/v1/discover', headers: { 'content-type': 'text/plain' }, payload: 'x' },
  { method: 'POST', url: '/api/v1/discover' },
  { url: '/api/v1/bus', headers: { host: 'evil.example' } },
  { url: '/nothing', headers: { host: 'rebind.evil.example:8080' } },
];

describe('every refusal is the one error shape with a registered code', () => {
  for (const r of MALFORMED) {
    it(`${r.method ?? 'GET'} ${r.url.slice(0, 70)}${r.payload ? ` ${r.payload.slice(0, 30)}` : ''}`, async () => {
      const res: LightMyRequestResponse = await app.inject({ method: (r.method ?? 'GET') as 'GET', url: r.url, ...(r.headers ? { headers: r.headers } : {}), ...(r.payload !== undefined ? { payload: r.payload } : {}) });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      assertShape(res, `${r.method ?? 'GET'} ${r.url.slice(0, 80)}`);
    });
  }

  it('a wrong method is 405 with Allow naming the route\'s methods', async () => {
    const res = await app.inject({ method: 'DELETE', url: `${P}/fSetpoint` });
    const body = assertShape(res, 'DELETE');
    expect(body.code).toBe('API_METHOD_NOT_ALLOWED');
    expect(res.headers.allow).toBe('GET, HEAD, PUT');
    expect(body.details.allowed).toEqual(['GET', 'HEAD', 'PUT']);
    expect((await app.inject({ method: 'GET', url: '/api/v1/discover' })).headers.allow).toBe('POST');
    // A path no route has is still a 404.
    expect(assertShape(await app.inject({ method: 'DELETE', url: '/api/v1/nothing' }), 'DELETE').code).toBe('API_NOT_FOUND');
  });

  it('a node outside 1..128 is 400 GATEWAY_BAD_NODE, in both forms', async () => {
    for (const node of ['300', '0', 'main:129', '999']) {
      const body = assertShape(await app.inject(`/api/v1/instruments/${node}`), node);
      expect(body.code).toBe('GATEWAY_BAD_NODE');
      expect(body.message).toContain('1..128');
    }
    expect((await app.inject('/api/v1/instruments/128')).statusCode).toBe(404);
  });

  it('a bad %-escape and an over-long segment answer in the one shape', async () => {
    expect(assertShape(await app.inject(`${P}/%u0041`), 'bad escape').code).toBe('API_BAD_REQUEST');
    const long = assertShape(await app.inject(`${P}/${'x'.repeat(101)}`), 'long');
    expect(long.code).toBe('API_URI_TOO_LONG');
    expect(long.message).toContain('100 characters');
  });

  it('GET / redirects to the home page', async () => {
    const res = await app.inject('/');
    expect(res.statusCode).toBe(302);
    expect(res.headers.location).toBe(HOME_PAGE);
  });

  it('a path out of Swagger UI\'s static files, over a real socket, is 404 API_NOT_FOUND', async () => {
    const served = await buildApp({ service: new FakeService(), token: TOKEN, logger: false, version: '1' });
    await served.listen({ host: '127.0.0.1', port: 0 });
    const { port } = served.server.address() as AddressInfo;
    try {
      for (const path of ['/docs/static/../../package.json', '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/..%2f..%2fpackage.json', '/docs/static/../../../../etc/passwd']) {
        // node:http sends the path as written; fetch would normalise the dots away.
        const res = await new Promise<{ statusCode: number; body: string }>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (r) => {
            let body = '';
            r.on('data', (c: Buffer) => (body += c.toString('utf8')));
            r.on('end', () => resolve({ statusCode: r.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end();
        });
        expect(res.body).not.toContain('"dependencies"');
        expect(assertShape(res, path).code).toBe('API_NOT_FOUND');
      }
    } finally {
      await served.close();
    }
  });
});
