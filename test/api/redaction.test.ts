/** Credentials never reach the log: tokens in query strings, Authorization headers, URL passwords. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { GatewayError, redactSecrets } from '../../src/shared/index.js';
import { FakeService } from './fake-service.js';
import { appWithLog } from './log-lines.js';

const TOKEN = 'correct-horse-battery';
const SECRET = 'S3cr3t-T0ken-value';

describe('credentials are redacted in the log', () => {
  it('a token in the query string of a refused or failing request never appears in the log', async () => {
    const service = new FakeService();
    const { app, text, lines } = await appWithLog({ service, token: TOKEN });
    const url = '/api/v1/instruments/3/parameters/fSetpoint';
    for (const q of [`token=${SECRET}`, `access_token=${SECRET}`, `x=1&token=${SECRET}&y=2`, `api_key=${SECRET}`]) {
      await app.inject({ method: 'PUT', url: `${url}?${q}`, payload: { value: 1 } });
      await app.inject({ method: 'PUT', url: `${url}?${q}`, payload: { value: 1 }, headers: { authorization: `Bearer ${SECRET}` }, remoteAddress: '10.0.0.9' });
    }
    service.instruments = () => {
      throw new TypeError(`boom mysql://flow:${SECRET}@db/x`);
    };
    await app.inject(`/api/v1/instruments?token=${SECRET}`);
    await app.close();
    expect(lines.length).toBeGreaterThan(2);
    expect(text()).toContain('token=***');
    expect(text()).not.toContain(SECRET);
  });

  it('the process logger censors Authorization headers, token and password fields, URL passwords and Bearer tokens in messages', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString('utf8');
        done();
      },
    });
    const log = createLogger('info', 'json', sink);
    log.info({ req: { headers: { authorization: `Bearer ${SECRET}` } } }, 'request');
    log.info({ token: SECRET, store: { url: `mysql://user:${SECRET}@127.0.0.1:3306/test`, password: SECRET } }, 'config');
    log.warn({ url: `/x?access_token=${SECRET}` }, `asked /y?token=${SECRET} with Authorization: Bearer ${SECRET}`);
    log.error({ err: new GatewayError('STORE_UNAVAILABLE', `cannot reach mysql://root:${SECRET}@db:3306/flow`) }, 'store down');
    log.child({ dsn: `mysql://u:${SECRET}@h/d` }).info('child');
    expect(out.split('\n').filter(Boolean)).toHaveLength(5);
    expect(out).not.toContain(SECRET);
    expect(out).toContain('mysql://user:***@127.0.0.1:3306/test');
  });

  it('redactSecrets keeps everything else as it was', () => {
    expect(redactSecrets('/api/v1/instruments/3/parameters?names=fMeasure&maxAge=5')).toBe('/api/v1/instruments/3/parameters?names=fMeasure&maxAge=5');
    expect(redactSecrets('sqlite:./data/flowbus.db')).toBe('sqlite:./data/flowbus.db');
    expect(redactSecrets('this request needs "Authorization: Bearer <token>"')).toBe('this request needs "Authorization: Bearer <token>"');
    expect(redactSecrets('/x?a=1&password=hunter2#frag')).toBe('/x?a=1&password=***#frag');
  });
});
