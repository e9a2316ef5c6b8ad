/** Refused requests an outsider can send must not fill the log: one line per client host and code, then a counted summary. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeService } from './fake-service.js';
import { appWithLog } from './log-lines.js';

const TOKEN = 'correct-horse-battery';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const URL = '/api/v1/instruments/3/parameters/fSetpoint';
const N = 300;

function bridgeService(): FakeService {
  const s = new FakeService();
  Object.defineProperty(s, 'mode', { value: 'bridge' });
  return s;
}

const bursts: { name: string; code: string; status: number; service?: () => FakeService; send: { payload?: string; headers: Record<string, string> } }[] = [
  { name: 'no token', code: 'API_UNAUTHORIZED', status: 401, send: { payload: '{"value":1}', headers: { 'content-type': 'application/json' } } },
  { name: 'bad JSON', code: 'API_BAD_REQUEST', status: 400, send: { payload: '{"value": ', headers: { ...AUTH, 'content-type': 'application/json' } } },
  { name: 'a body that fails the schema', code: 'API_BAD_REQUEST', status: 400, send: { payload: '{"value":null}', headers: { ...AUTH, 'content-type': 'application/json' } } },
  { name: 'a wrong media type', code: 'API_UNSUPPORTED_MEDIA_TYPE', status: 415, send: { payload: 'x', headers: { ...AUTH, 'content-type': 'application/xml' } } },
  { name: 'bridge mode', code: 'BRIDGE_READ_ONLY', status: 409, service: bridgeService, send: { payload: '{"value":1}', headers: { ...AUTH, 'content-type': 'application/json' } } },
];

describe('refused writes are logged once per client host and code, then counted', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  for (const b of bursts) {
    it(`${N} PUTs refused for ${b.name}: one full line and one summary with the count`, async () => {
      const service = b.service?.() ?? new FakeService();
      const { app, lines, text } = await appWithLog({ service, token: TOKEN });
      for (let i = 0; i < N; i++) {
        // Each request from another source port: the limiter keys on the host alone.
        const res = await app.inject({ method: 'PUT', url: URL, ...b.send, remoteAddress: '10.1.2.3' });
        expect(res.statusCode).toBe(b.status);
      }
      const before = lines.length;
      await app.close();
      const refused = lines.filter((l) => String(l.msg).startsWith('write refused'));
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({ level: 40, source: expect.stringMatching(/^10\.1\.2\.3/) as unknown, code: b.code });
      // The summary comes when the window ends (here: when the app closes).
      expect(before).toBe(1);
      const summaries = lines.filter((l) => l.refusedNotLogged !== undefined);
      expect(summaries).toHaveLength(1);
      expect(summaries[0]).toMatchObject({ refusedNotLogged: N - 1, sources: [{ source: '10.1.2.3', code: b.code, count: N - 1 }] });
      expect(lines).toHaveLength(2);
      expect(text().length).toBeLessThan(2000);
      expect(service.writes).toEqual([]);
    });
  }

  it('another host and another code each get their own first line', async () => {
    const { app, lines } = await appWithLog({ service: new FakeService(), token: TOKEN });
    for (const remoteAddress of ['10.0.0.1', '10.0.0.2', '10.0.0.1']) {
      await app.inject({ method: 'PUT', url: URL, payload: { value: 1 }, remoteAddress });
      await app.inject({ method: 'PUT', url: URL, payload: { value: 1 }, headers: { authorization: 'Bearer wrong-token' }, remoteAddress });
    }
    await app.close();
    const refused = lines.filter((l) => String(l.msg).startsWith('write refused'));
    expect(refused.map((l) => `${String(l.source).split(':')[0]} ${String(l.msg).includes('wrong') ? 'wrong' : 'missing'}`)).toEqual(['10.0.0.1 missing', '10.0.0.2 missing']);
    expect(lines.filter((l) => l.refusedNotLogged !== undefined)[0]).toMatchObject({ refusedNotLogged: 4 });
  });

  it('remembers a bounded number of hosts: the rest only counted in the summary', async () => {
    const { app, lines } = await appWithLog({ service: new FakeService(), token: TOKEN, refusalLog: { maxKeys: 5 } });
    for (let i = 0; i < 40; i++) await app.inject({ method: 'PUT', url: URL, payload: { value: 1 }, remoteAddress: `10.0.${i}.1` });
    await app.close();
    expect(lines.filter((l) => String(l.msg).startsWith('write refused'))).toHaveLength(5);
    const [summary] = lines.filter((l) => l.refusedNotLogged !== undefined);
    expect(summary).toMatchObject({ refusedNotLogged: 35, untracked: 35 });
    expect(lines).toHaveLength(6);
  });

  it('logs again in full after the window, with the count of the window before', async () => {
    const { app, lines } = await appWithLog({ service: new FakeService(), token: TOKEN, refusalLog: { windowMs: 50 } });
    vi.useFakeTimers();
    for (let i = 0; i < 10; i++) await app.inject({ method: 'PUT', url: URL, payload: { value: 1 } });
    const summaries = () => lines.filter((l) => l.refusedNotLogged !== undefined);
    await vi.advanceTimersByTimeAsync(49);
    expect(summaries()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(summaries()).toMatchObject([{ refusedNotLogged: 9 }]);
    await app.inject({ method: 'PUT', url: URL, payload: { value: 1 } });
    await app.close();
    expect(lines.filter((l) => String(l.msg).startsWith('write refused'))).toHaveLength(2);
  });
});
