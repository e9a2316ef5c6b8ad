/** Web pages in a browser on the lab PC cannot reach the API: the Host check (DNS rebinding), JSON-only changes (no simple cross-site requests), no CORS headers. */
import { describe, expect, it } from 'vitest';
import { buildApp, type AppDeps } from '../../src/api/index.js';
import { FakeService } from './fake-service.js';
import { appWithLog } from './log-lines.js';

const TOKEN = 'correct-horse-battery';

async function appWith(deps: Partial<AppDeps> = {}) {
  const service = new FakeService();
  const app = await buildApp({ service, token: TOKEN, logger: false, version: '1', ...deps });
  return { app, service };
}

const hostStatus = async (app: Awaited<ReturnType<typeof buildApp>>, host: string) => (await app.inject({ url: '/api/v1/bus', headers: { host } })).statusCode;

describe('the Host header must name the gateway', () => {
  it('refuses another name with 421 API_BAD_HOST saying how to allow it', async () => {
    const { app } = await appWith();
    for (const path of ['/api/v1/bus', '/healthz', '/docs', '/api/v1/nothing']) {
      const res = await app.inject({ url: path, headers: { host: 'evil.example' } });
      expect(res.statusCode, path).toBe(421);
      const body = res.json<{ code: string; message: string; details: { allowed: string[] } }>();
      expect(body.code).toBe('API_BAD_HOST');
      expect(body.message).toContain('"evil.example"');
      expect(body.message).toContain('http.allowedHosts');
      expect(body.message).toContain('FLOWBUS_HTTP_ALLOWED_HOSTS');
      expect(body.details.allowed).toEqual(['127.0.0.1', 'localhost', '[::1]']);
    }
    const put = await app.inject({ method: 'PUT', url: '/api/v1/instruments/3/parameters/fSetpoint', payload: { value: 1 }, headers: { host: 'evil.example:8080', authorization: `Bearer ${TOKEN}` } });
    expect(put.statusCode).toBe(421);
    await app.close();
  });

  it('accepts the loopback names with or without port, in any case', async () => {
    const { app } = await appWith();
    for (const host of ['127.0.0.1', '127.0.0.1:8080', 'localhost', 'LocalHost:80', 'localhost.', '[::1]', '[::1]:8080']) expect(await hostStatus(app, host), host).toBe(200);
    for (const host of ['127.0.0.1.evil.example', 'localhost.evil.example', '10.0.0.5', '[::2]:8080', 'evil.example:127.0.0.1']) expect(await hostStatus(app, host), host).toBe(421);
    await app.close();
  });

  it('accepts http.host when it is not a wildcard, and the configured names; "*" allows any', async () => {
    const named = await appWith({ listenHost: '192.168.1.10', allowedHosts: ['flowbus.lab.example', 'fe80::1'] });
    for (const host of ['192.168.1.10:8080', 'flowbus.lab.example', 'FLOWBUS.lab.example:8080', '[fe80::1]:8080', 'localhost']) expect(await hostStatus(named.app, host), host).toBe(200);
    expect(await hostStatus(named.app, 'evil.example')).toBe(421);
    await named.app.close();
    const wildcard = await appWith({ listenHost: '0.0.0.0' });
    expect(await hostStatus(wildcard.app, '0.0.0.0:8080')).toBe(421);
    await wildcard.app.close();
    const any = await appWith({ allowedHosts: ['*'] });
    expect(await hostStatus(any.app, 'evil.example')).toBe(200);
    await any.app.close();
  });

  it('a burst of bad Hosts is logged once, then counted', async () => {
    const { app, lines } = await appWithLog({ service: new FakeService(), token: TOKEN });
    for (let i = 0; i < 100; i++) await app.inject({ url: `/api/v1/bus?i=${i}`, headers: { host: `evil${i}.example` } });
    await app.close();
    expect(lines.filter((l) => String(l.msg).startsWith('request refused'))).toHaveLength(1);
    expect(lines.filter((l) => l.refusedNotLogged !== undefined)).toMatchObject([{ refusedNotLogged: 99 }]);
  });
});

describe('state-changing requests need content-type: application/json', () => {
  it('refuses POST /discover as a page would send it (text/plain, a form, no body) with 415, before any walk', async () => {
    const { app, service } = await appWith();
    const sends = [
      { headers: { 'content-type': 'text/plain' }, payload: 'x' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' },
      { headers: { 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--' },
      { headers: {} },
      { headers: { 'content-type': 'application/jsonx' }, payload: '{}' },
    ];
    for (const s of sends) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/discover', ...s });
      expect(res.statusCode, JSON.stringify(s.headers)).toBe(415);
      const body = res.json<{ code: string; message: string }>();
      expect(body.code).toBe('API_UNSUPPORTED_MEDIA_TYPE');
      expect(body.message).toContain('content-type: application/json');
    }
    expect(service.discoveries).toBe(0);
    for (const s of [{ headers: { 'content-type': 'application/json' } }, { headers: { 'content-type': 'Application/JSON; charset=utf-8' }, payload: '{}' }]) {
      expect((await app.inject({ method: 'POST', url: '/api/v1/discover', ...s })).statusCode).toBe(200);
    }
    expect(service.discoveries).toBe(2);
    await app.close();
  });

  it('refuses a PUT without a JSON content type before the token is checked', async () => {
    const { app, service } = await appWith();
    const res = await app.inject({ method: 'PUT', url: '/api/v1/instruments/3/parameters/fSetpoint', payload: '{"value":1}', headers: { 'content-type': 'text/plain' } });
    expect(res.statusCode).toBe(415);
    expect(service.writes).toEqual([]);
    await app.close();
  });
});

describe('CORS', () => {
  it('sends no CORS headers, to a preflight or to a request with an Origin', async () => {
    const { app } = await appWith();
    const origin = { origin: 'http://evil.example' };
    const answers = [
      await app.inject({ method: 'OPTIONS', url: '/api/v1/discover', headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } }),
      await app.inject({ method: 'OPTIONS', url: '/api/v1/instruments/3/parameters/fSetpoint', headers: { ...origin, 'access-control-request-method': 'PUT' } }),
      await app.inject({ url: '/api/v1/instruments', headers: origin }),
      await app.inject({ method: 'POST', url: '/api/v1/discover', headers: { ...origin, 'content-type': 'application/json' } }),
    ];
    for (const res of answers) expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    expect(answers[0]?.statusCode).toBe(405);
    await app.close();
  });
});
