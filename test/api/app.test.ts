import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/index.js';
import { ReadResultSchema } from '../../src/api/schemas.js';
import type { ReadResult, ValueView } from '../../src/gateway/index.js';
import { GatewayError } from '../../src/shared/index.js';
import { BUS, FakeService, INSTRUMENT, TIME, busError, valueView } from './fake-service.js';
import { appWithLog as loggedApp } from './log-lines.js';

const TOKEN = 'correct-horse-battery';
const AUTH = { authorization: `Bearer ${TOKEN}` };

let service: FakeService;
let app: FastifyInstance;

beforeEach(async () => {
  service = new FakeService();
  app = await buildApp({ service, token: TOKEN, logger: false, version: '9.9.9' });
});

afterEach(async () => {
  await app.close();
});

interface ErrorJson {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/** Asserts the one error shape and returns it. */
function errorOf(res: LightMyRequestResponse, status: number, code: string): ErrorJson {
  const body = res.json<ErrorJson>();
  expect({ status: res.statusCode, code: body.code }).toEqual({ status, code });
  expect(Object.keys(body).sort()).toEqual(['code', 'details', 'message']);
  expect(typeof body.message).toBe('string');
  expect(typeof body.details).toBe('object');
  return body;
}

const put = (url: string, payload: unknown, headers: Record<string, string> = AUTH) => app.inject({ method: 'PUT', url, payload: payload as object, headers });

describe('reads', () => {
  it('GET /api/v1/instruments lists every instrument', async () => {
    const res = await app.inject('/api/v1/instruments');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ instruments: [INSTRUMENT] });
  });

  it('GET /api/v1/instruments/{node} answers one instrument', async () => {
    const res = await app.inject('/api/v1/instruments/main:3');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(INSTRUMENT);
  });

  it('GET .../parameters reads the named parameters in one call, errors inline', async () => {
    service.paramErrors.set('fluidName', busError({ kind: 'status', status: 4, index: 2 }));
    const res = await app.inject('/api/v1/instruments/3/parameters?names=fMeasure, fSetpoint,fluidName&maxAge=500');
    expect(res.statusCode).toBe(200);
    expect(service.reads).toEqual([{ ref: '3', names: ['fMeasure', 'fSetpoint', 'fluidName'], maxAge: 500 }]);
    const body = res.json<{ instrument: string; values: Record<string, unknown>[] }>();
    expect(body.instrument).toBe('main:3');
    expect(body.values[0]).toEqual({ dde: 205, key: 'fMeasure', name: 'Fmeasure', raw: '42200000', value: 40, time: TIME, cached: true });
    expect(body.values[1]).toMatchObject({ dde: 206, key: 'fSetpoint', value: 40 });
    expect(body.values[2]).toMatchObject({ dde: 25, key: 'fluidName', error: { code: 'BUS_STATUS', details: { statusName: 'PARM_NUMBER' } } });
  });

  it('GET .../parameters answers byte for byte what its response schema writes (fields in schema order, nothing the schema lacks)', async () => {
    const extra = { unit: 'ln/min', label: 'x', inUnit: { value: 1.5, unit: 'ln/min' }, percent: 37.5, alarms: ['min', 'max'] };
    const result: ReadResult = {
      instrument: 'main:3',
      values: [
        { ...valueView('fMeasure', 40.25, extra), notInTheSchema: 1 } as ValueView,
        { dde: 25, key: 'fluidName', name: 'Fluid name', error: { code: 'BUS_STATUS', message: 'no such parameter', details: { status: 4 } } },
        valueView('fluidName', 'N2 "dry"'),
      ],
    };
    service.readParams = async () => result;
    const res = await app.inject('/api/v1/instruments/3/parameters?names=fMeasure,fluidName,fluidName');
    expect(res.statusCode).toBe(200);
    // The same answer through Fastify's own serialiser of the route's 200 schema.
    const plain = Fastify();
    plain.get('/', { schema: { response: { 200: ReadResultSchema } } }, async () => result);
    const expected = await plain.inject('/');
    await plain.close();
    expect(res.payload).toBe(expected.payload);
    expect(res.headers['content-type']).toBe(expected.headers['content-type']);
    expect(res.json<{ values: Record<string, unknown>[] }>().values[0]).not.toHaveProperty('notInTheSchema');
  });

  it('GET .../parameters without names reads the polled parameters', async () => {
    const res = await app.inject('/api/v1/instruments/3/parameters');
    expect(res.statusCode).toBe(200);
    expect(service.reads[0]?.names).toEqual(['fMeasure', 'fSetpoint']);
  });

  it('GET .../parameters/{param} reads one parameter by key, name or DDE number', async () => {
    for (const ref of ['fSetpoint', 'Fsetpoint', '206']) {
      const res = await app.inject(`/api/v1/instruments/3/parameters/${ref}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ dde: 206, key: 'fSetpoint', name: 'Fsetpoint', value: 40, time: TIME });
    }
  });

  it('GET /api/v1/bus answers the mode and every bus', async () => {
    const res = await app.inject('/api/v1/bus');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ mode: 'master', buses: [BUS] });
  });

  it('POST /api/v1/discover walks once for concurrent callers', async () => {
    const discover = { method: 'POST', url: '/api/v1/discover', headers: { 'content-type': 'application/json' } } as const;
    const [a, b] = await Promise.all([app.inject(discover), app.inject({ ...discover, payload: '{}' })]);
    expect(a.statusCode).toBe(200);
    expect(b.json()).toEqual({ instruments: [INSTRUMENT] });
    expect(service.discoveries).toBe(1);
  });

  it('GET /api/v1/transactions filters and shows bytes as hex', async () => {
    const res = await app.inject('/api/v1/transactions?node=3&outcome=ok&limit=5');
    expect(res.statusCode).toBe(200);
    expect(service.filters).toEqual([{ node: 3, outcome: 'ok', limit: 5 }]);
    const [t] = res.json<{ transactions: Record<string, unknown>[] }>().transactions;
    expect(t).toMatchObject({
      id: 't-1',
      node: 3,
      command: 4,
      status: null,
      errorCode: null,
      request: '10 02 03 07 04',
      reply: '10 02 80',
      time: '2026-01-02T03:04:05.000Z',
      latencyMs: 4.5,
      error: null,
      params: [{ dde: 205, key: 'fMeasure', value: 40, raw: '42200000' }],
    });
  });

  it('GET /api/v1/transactions defaults the limit and refuses a bad outcome', async () => {
    await app.inject('/api/v1/transactions');
    expect(service.filters).toEqual([{ limit: 100 }]);
    const body = errorOf(await app.inject('/api/v1/transactions?outcome=great'), 400, 'API_BAD_REQUEST');
    expect(body.details.field).toBe('querystring.outcome');
  });
});

describe('writes', () => {
  it('accepts a write with the right token and passes value and client address through', async () => {
    const res = await put('/api/v1/instruments/3/parameters/fSetpoint', { value: 42.5 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ instrument: 'main:3', param: { dde: 206, key: 'fSetpoint' }, written: 42.5, status: { code: 0, name: 'OK' }, transactionId: 't-42' });
    expect(service.writes).toHaveLength(1);
    expect(service.writes[0]).toMatchObject({ ref: '3', param: 'fSetpoint', value: 42.5 });
    expect(service.writes[0]?.source).toMatch(/^127\.0\.0\.1(:\d+)?$/);
  });

  it('passes an enumeration label through to the service', async () => {
    const res = await put('/api/v1/instruments/3/parameters/controlMode', { value: 'valve closed' });
    expect(res.statusCode).toBe(200);
    expect(service.writes[0]?.value).toBe('valve closed');
    expect(res.json()).toMatchObject({ written: 3 });
  });

  it('401 without a token, never reaching the service', async () => {
    const res = await put('/api/v1/instruments/3/parameters/fSetpoint', { value: 1 }, {});
    errorOf(res, 401, 'API_UNAUTHORIZED');
    expect(res.headers['www-authenticate']).toContain('Bearer');
    expect(service.writes).toEqual([]);
  });

  it('401 with a wrong token (also one of another length, or not Bearer)', async () => {
    for (const authorization of [`Bearer ${TOKEN.slice(0, -1)}x`, 'Bearer short', `Basic ${TOKEN}`, `Bearer ${TOKEN}${TOKEN}`]) {
      errorOf(await put('/api/v1/instruments/3/parameters/fSetpoint', { value: 1 }, { authorization }), 401, 'API_UNAUTHORIZED');
    }
    expect(service.writes).toEqual([]);
  });

  it('checks the token before the body', async () => {
    errorOf(await put('/api/v1/instruments/3/parameters/fSetpoint', {}, {}), 401, 'API_UNAUTHORIZED');
  });

  it('403 API_WRITES_DISABLED when no token is configured, saying how to enable writes', async () => {
    for (const token of [null, undefined, '']) {
      const open = await buildApp({ service, token, logger: false, version: '1' });
      const body = errorOf(await open.inject({ method: 'PUT', url: '/api/v1/instruments/3/parameters/fSetpoint', payload: { value: 1 }, headers: AUTH }), 403, 'API_WRITES_DISABLED');
      expect(body.message).toContain('http.token');
      expect(body.message).toContain('FLOWBUS_API_TOKEN');
      await open.close();
    }
    expect(service.writes).toEqual([]);
  });

  it('logs refusals the service never sees (token, malformed body) with the client address', async () => {
    const { app: logged, lines } = await appWithLog();
    const url = '/api/v1/instruments/3/parameters/fSetpoint';
    await logged.inject({ method: 'PUT', url, payload: { value: 1 }, headers: { authorization: 'Bearer nope' } });
    await logged.inject({ method: 'PUT', url, payload: {}, headers: AUTH });
    await logged.close();
    const refusals = lines.filter((l) => String(l.msg).startsWith('write refused'));
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({ level: 40, write: true, node: '3', param: 'fSetpoint', code: 'API_UNAUTHORIZED' });
    expect(refusals[1]).toMatchObject({ level: 40, write: true, node: '3', param: 'fSetpoint', code: 'API_BAD_REQUEST' });
    for (const r of refusals) expect(String(r.source)).toMatch(/^127\.0\.0\.1/);
  });

  it('400 API_BAD_REQUEST for a malformed body', async () => {
    const url = '/api/v1/instruments/3/parameters/fSetpoint';
    expect(errorOf(await put(url, {}), 400, 'API_BAD_REQUEST').details.field).toBe('body.value');
    expect(errorOf(await put(url, { value: null }), 400, 'API_BAD_REQUEST').message).toContain('body.value');
    expect(errorOf(await put(url, { value: true }), 400, 'API_BAD_REQUEST').details.field).toBe('body.value');
    errorOf(await app.inject({ method: 'PUT', url, payload: '{"value": ', headers: { ...AUTH, 'content-type': 'application/json' } }), 400, 'API_BAD_REQUEST');
    errorOf(await app.inject({ method: 'PUT', url, payload: 'value=3', headers: { ...AUTH, 'content-type': 'text/plain' } }), 415, 'API_UNSUPPORTED_MEDIA_TYPE');
    errorOf(await app.inject({ method: 'PUT', url, headers: AUTH }), 415, 'API_UNSUPPORTED_MEDIA_TYPE');
    errorOf(await app.inject({ method: 'PUT', url, headers: { ...AUTH, 'content-type': 'application/json' } }), 400, 'API_BAD_REQUEST');
    errorOf(await app.inject({ method: 'PUT', url, payload: 'x', headers: { ...AUTH, 'content-type': 'application/xml' } }), 415, 'API_UNSUPPORTED_MEDIA_TYPE');
    expect(service.writes).toEqual([]);
  });
});

/** The app with a real pino logger whose JSON lines the test can read. */
const appWithLog = () => loggedApp({ service, token: TOKEN });

describe('error mapping', () => {
  it('404 for an unknown parameter, with suggestions', async () => {
    const body = errorOf(await app.inject('/api/v1/instruments/3/parameters/fSetpiont'), 404, 'PARAM_UNKNOWN');
    expect(body.message).toContain('fSetpiont');
    errorOf(await put('/api/v1/instruments/3/parameters/noSuchThing', { value: 1 }), 404, 'PARAM_UNKNOWN');
  });

  it('404 for an over-long unknown name says the limit and suggests nothing, on every path that takes a name', async () => {
    const name = 'q'.repeat(80);
    for (const res of [
      await app.inject(`/api/v1/instruments/3/parameters/${name}`),
      await app.inject(`/api/v1/instruments/3/parameters?names=fMeasure,${name}`),
      await put(`/api/v1/instruments/3/parameters/${name}`, { value: 1 }),
    ]) {
      const body = errorOf(res, 404, 'PARAM_UNKNOWN');
      expect(body.details).toMatchObject({ length: 80, max: 64, suggestions: [] });
      expect(body.message).toContain('at most 64');
    }
  });

  it('400 when names= lists more parameters than one read takes, naming the limit, before the service', async () => {
    const names = Array.from({ length: 33 }, (_, i) => String(i + 1)).join(',');
    const body = errorOf(await app.inject(`/api/v1/instruments/3/parameters?names=${names}`), 400, 'API_BAD_REQUEST');
    expect(body.details).toMatchObject({ field: 'querystring.names', count: 33, max: 32 });
    expect(body.message).toContain('at most 32');
    expect(service.reads).toEqual([]);
    const ok = await app.inject(`/api/v1/instruments/3/parameters?names=${Array.from({ length: 32 }, () => 'fMeasure').join(',')}`);
    expect(ok.statusCode).toBe(200);
  });

  it('404 for an unknown node, 400 for bad node syntax, 409 for an ambiguous node', async () => {
    errorOf(await app.inject('/api/v1/instruments/9'), 404, 'GATEWAY_NODE_UNKNOWN');
    errorOf(await app.inject('/api/v1/instruments/9/parameters?names=fMeasure'), 404, 'GATEWAY_NODE_UNKNOWN');
    errorOf(await app.inject('/api/v1/instruments/abc!'), 400, 'GATEWAY_BAD_NODE');
    expect(errorOf(await app.inject('/api/v1/instruments/5'), 409, 'GATEWAY_NODE_AMBIGUOUS').details.candidates).toEqual(['a:5', 'b:5']);
  });

  it('400 PARAM_INVALID_VALUE names the allowed range', async () => {
    const body = errorOf(await put('/api/v1/instruments/3/parameters/setpoint', { value: 40000 }), 400, 'PARAM_INVALID_VALUE');
    expect(body.message).toContain('0..32767');
    expect(body.details).toMatchObject({ min: 0, max: 32767, value: 40000 });
    const text = errorOf(await put('/api/v1/instruments/3/parameters/setpoint', { value: 'lots' }), 400, 'PARAM_INVALID_VALUE');
    expect(text.message).toContain('allowed range 0..32767');
    const long = errorOf(await put('/api/v1/instruments/3/parameters/fluidName', { value: 'x'.repeat(30) }), 400, 'PARAM_INVALID_VALUE');
    expect(long.message).toContain('10');
  });

  it('400 PARAM_BAD_ENUM lists the allowed labels', async () => {
    const body = errorOf(await put('/api/v1/instruments/3/parameters/controlMode', { value: 'valve shut' }), 400, 'PARAM_BAD_ENUM');
    expect(body.message).toContain('"close valve" (3)');
    expect(body.message).toContain('"setpoint = BUS setpoint" (0)');
    expect(Array.isArray(body.details.allowed)).toBe(true);
  });

  it('400 for a number the enumeration does not list, with the allowed values', async () => {
    for (const [param, value] of [['controlMode', 99], ['controlMode', 255], ['valveSafeState', 6]] as const) {
      const body = errorOf(await put(`/api/v1/instruments/3/parameters/${param}`, { value }), 400, 'PARAM_BAD_ENUM');
      expect(body.message).toContain(`${value} is not one of its listed values`);
      expect(body.message).toMatch(/allowed: "/);
      expect(Array.isArray(body.details.allowed)).toBe(true);
    }
    expect(service.writes).toHaveLength(3);
  });

  it('400 for text too long for its parameter, naming the maximum (never a 500)', async () => {
    const body = errorOf(await put('/api/v1/instruments/3/parameters/userTag', { value: 'x'.repeat(300) }), 400, 'PARAM_INVALID_VALUE');
    expect(body.message).toContain('300 characters is too long: at most 16 characters');
    expect(body.details).toMatchObject({ param: 'userTag', length: 16 });
    const bytes = errorOf(await put('/api/v1/instruments/3/parameters/ifiData', { value: '01 00 02' }), 400, 'PARAM_INVALID_VALUE');
    expect(bytes.message).toContain('cannot contain a 00 byte');
  });

  it('409 for read-only, secured, factory and write-only parameters', async () => {
    errorOf(await put('/api/v1/instruments/3/parameters/fMeasure', { value: 1 }), 409, 'PARAM_READ_ONLY');
    for (const code of ['PARAM_SECURED', 'PARAM_FACTORY', 'PARAM_WRITE_ONLY'] as const) {
      service.fail = new GatewayError(code, `refused: ${code}`, { param: 'x' });
      errorOf(await put('/api/v1/instruments/3/parameters/fSetpoint', { value: 1 }), 409, code);
    }
  });

  it('422 for a ProPar status, naming the status', async () => {
    service.fail = busError({ kind: 'status', status: 6, index: 0 });
    const body = errorOf(await put('/api/v1/instruments/3/parameters/fSetpoint', { value: 1 }), 422, 'BUS_STATUS');
    expect(body.message).toContain('PARM_VALUE');
    expect(body.details.statusName).toBe('PARM_VALUE');
  });

  it('422 for a per-parameter status on a single read, naming the status', async () => {
    service.paramErrors.set('fSetpoint', busError({ kind: 'status', status: 4, index: 0 }));
    const body = errorOf(await app.inject('/api/v1/instruments/3/parameters/fSetpoint'), 422, 'BUS_STATUS');
    expect(body.message).toContain('PARM_NUMBER');
  });

  it('422 for an error frame', async () => {
    service.fail = busError({ kind: 'error-frame', code: 5 });
    errorOf(await app.inject('/api/v1/instruments/3/parameters/fSetpoint'), 422, 'BUS_ERROR_FRAME');
  });

  it('504 for a reply timeout', async () => {
    service.fail = busError({ kind: 'timeout', attempts: 3, timeoutMs: 100 });
    const body = errorOf(await app.inject('/api/v1/instruments/3/parameters/fSetpoint'), 504, 'BUS_TIMEOUT');
    expect(body.details).toMatchObject({ node: 3, attempts: 3, timeoutMs: 100 });
  });

  it('503 when the bus is unavailable, the node backed off, the queue deadline passed, or aborted', async () => {
    const failures = [
      busError({ kind: 'bus-unavailable', reason: 'port closed' }),
      busError({ kind: 'node-backoff', until: Date.parse(TIME) }),
      busError({ kind: 'queue-deadline', waitedMs: 2000 }),
      busError({ kind: 'aborted' }),
    ];
    for (const f of failures) {
      service.fail = f;
      errorOf(await app.inject('/api/v1/instruments/3/parameters?names=fMeasure'), 503, f.code);
    }
  });

  it('a run of 503s (a dashboard polling through an outage) writes one warning a minute, not one per request', async () => {
    const { app: logged, lines } = await appWithLog();
    service.fail = busError({ kind: 'bus-unavailable', reason: 'port closed' });
    for (let i = 0; i < 50; i++) errorOf(await logged.inject('/api/v1/instruments/3/parameters?names=fMeasure'), 503, 'BUS_UNAVAILABLE');
    service.fail = busError({ kind: 'queue-deadline', waitedMs: 2000 });
    errorOf(await logged.inject('/api/v1/instruments/3/parameters?names=fMeasure'), 503, 'BUS_QUEUE_DEADLINE');
    await logged.close();
    const warnings = lines.filter((l) => l.level === 40);
    // One per code: every request still got its answer.
    expect(warnings.map((w) => w.code)).toEqual(['BUS_UNAVAILABLE', 'BUS_QUEUE_DEADLINE']);
  });

  it('400 for a value outside an enumeration lists the allowed values', async () => {
    const body = errorOf(await app.inject('/api/v1/transactions?outcome=bogus'), 400, 'API_BAD_REQUEST');
    expect(body.message).toMatch(/^querystring\.outcome must be one of ok, status, .*timeout/);
  });

  it('400 for query validation, naming the field', async () => {
    const body = errorOf(await app.inject('/api/v1/instruments/3/parameters/fMeasure?maxAge=soon'), 400, 'API_BAD_REQUEST');
    expect(body.details.field).toBe('querystring.maxAge');
    expect(body.message).toContain('querystring.maxAge');
  });

  it('500 API_INTERNAL with a generic message for anything unexpected', async () => {
    // An internal code (one no request is meant to meet) is answered like any other surprise.
    service.fail = new GatewayError('GATEWAY_INTERNAL', 'secret internals /etc/passwd');
    const body = errorOf(await app.inject('/api/v1/instruments/3/parameters/fSetpoint'), 500, 'API_INTERNAL');
    expect(body.message).not.toContain('secret');
    service.instruments = () => {
      throw new TypeError('boom');
    };
    errorOf(await app.inject('/api/v1/instruments'), 500, 'API_INTERNAL');
  });

  it('404 API_NOT_FOUND for unknown routes, 405 for a known route with another method', async () => {
    errorOf(await app.inject('/api/v1/nothing'), 404, 'API_NOT_FOUND');
    errorOf(await app.inject({ method: 'DELETE', url: '/api/v1/instruments' }), 405, 'API_METHOD_NOT_ALLOWED');
  });
});

describe('health, readiness and docs', () => {
  it('/healthz answers 200 always', async () => {
    service.isReady = false;
    const res = await app.inject('/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', version: '9.9.9' });
  });

  it('/readyz answers 200 when ready, 503 with the reasons otherwise', async () => {
    const ok = await app.inject('/readyz');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ status: 'ready', mode: 'master' });
    service.isReady = false;
    service.busState = 'reconnecting';
    const body = errorOf(await app.inject('/readyz'), 503, 'API_NOT_READY');
    expect(body.details.reasons).toEqual(['bus main (sim://) is reconnecting: ENOENT /dev/ttyUSB0']);
    expect(body.message).toContain('reconnecting');
  });

  it('serves the OpenAPI document and Swagger UI', async () => {
    const res = await app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json<{ info: { title: string; version: string }; paths: Record<string, unknown>; components: { securitySchemes: Record<string, unknown> } }>();
    expect(doc.info).toMatchObject({ title: 'flowbus-gateway', version: '9.9.9' });
    expect(Object.keys(doc.paths)).toContain('/api/v1/instruments/{node}/parameters/{param}');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const docs = await app.inject('/docs');
    expect([200, 301, 302]).toContain(docs.statusCode);
    if (docs.statusCode !== 200) {
      const again = await app.inject(String(docs.headers.location));
      expect(again.statusCode).toBe(200);
    } else {
      expect(docs.body).toContain('swagger');
    }
  });
});

describe('validation errors say what the field must be, in words', () => {
  it('an unknown body field is named as a field, not as a false schema', async () => {
    const body = errorOf(await put('/api/v1/instruments/3/parameters/fSetpoint', { value: 10, foo: 1 }), 400, 'API_BAD_REQUEST');
    expect(body.message).toBe('body.foo is not a field of this request');
    expect(body.details.field).toBe('body.foo');
    expect(service.writes).toHaveLength(0);
  });

  it('an enumeration lists its values in details.allowed', async () => {
    const body = errorOf(await app.inject('/api/v1/transactions?outcome=bogus'), 400, 'API_BAD_REQUEST');
    expect(body.details.allowed).toContain('timeout');
    expect(body.message).toContain('must be one of ok,');
  });

  it('a pattern is explained, not quoted', async () => {
    const node = errorOf(await app.inject('/api/v1/transactions?node=x:y:z'), 400, 'API_BAD_REQUEST');
    expect(node.message).toBe('querystring.node must be a node (3), bus:node (main:3) or bus:node/channel (main:3/2), node and channel 0 to 999');
    const gateway = errorOf(await app.inject('/api/v1/transactions?gateway=a%20b'), 400, 'API_BAD_REQUEST');
    expect(gateway.message).toContain("must be a gateway's name");
    expect(gateway.message).not.toContain('^');
  });
});

describe('time ranges', () => {
  it('a since after until is refused, not answered with an empty list', async () => {
    for (const url of ['/api/v1/transactions?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z']) {
      const body = errorOf(await app.inject(url), 400, 'STORE_BAD_TIME');
      expect(body.message, url).toBe('since (2026-01-02T00:00:00.000000Z) is after until (2026-01-01T00:00:00.000000Z)');
    }
  });
});

describe('query numbers as they are written', () => {
  it('a limit that is not a decimal integer, or given twice, is refused, not read as another number', async () => {
    for (const [q, message] of [
      ['limit=1.5', 'querystring.limit must be an integer, written in decimal digits'],
      ['limit=true', 'querystring.limit must be an integer, written in decimal digits'],
      ['limit=0x10', 'querystring.limit must be an integer, written in decimal digits'],
      ['limit=', 'querystring.limit must be an integer, written in decimal digits'],
      ['limit=5&limit=6', 'querystring.limit is given more than once'],
      ['node=3&node=5', 'querystring.node is given more than once'],
    ] as const) {
      const body = errorOf(await app.inject(`/api/v1/transactions?${q}`), 400, 'API_BAD_REQUEST');
      expect(body.message, q).toBe(message);
    }
  });

  it('decimal numbers still pass, in the query and in the path', async () => {
    expect((await app.inject('/api/v1/transactions?limit=5')).statusCode).toBe(200);
    expect((await app.inject('/api/v1/transactions?limit=%2B5')).statusCode).toBe(200);
    expect((await app.inject('/api/v1/instruments/3/parameters/fMeasure?maxAge=1000')).statusCode).toBe(200);
  });
});
