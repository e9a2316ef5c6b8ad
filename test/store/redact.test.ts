/** The store URL's password never shows: not in the status, not in GET /api/v1/bus, not in the log. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/index.js';
import { redactUrl } from '../../src/shared/index.js';
import { openStore } from '../../src/store/index.js';
import { FakeService } from '../api/fake-service.js';
import { recordingLogger } from './helpers.js';

describe('redactUrl', () => {
  it.each([
    ['mysql://flow:hunter2@db:3306/flowbus', 'mysql://flow:***@db:3306/flowbus'],
    ['mysql://flow:hunter@secret2@db:3306/flowbus', 'mysql://flow:***@db:3306/flowbus'],
    ['mysql://flow:a:b/c@db/flowbus', 'mysql://flow:***@db/flowbus'],
    ['mysql://flow@db/flowbus', 'mysql://flow@db/flowbus'],
    ['mysql://db/flowbus', 'mysql://db/flowbus'],
    ['sqlite:./data/flowbus.db', 'sqlite:./data/flowbus.db'],
  ])('%s -> %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});

describe('the store URL password', () => {
  it('is hidden in the status, in GET /api/v1/bus and in the log of an unreachable MySQL store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowbus-redact-'));
    const log = recordingLogger();
    // Port 1: nothing listens, so the store starts spooling and reports the failure.
    const store = await openStore(
      { url: 'mysql://flow:hunter@secret2@127.0.0.1:1/flowbus', spoolDir: join(dir, 'spool'), batchRows: 10, batchMs: 20, retention: { transactionsDays: null, parameterValuesDays: null } },
      { logger: log, options: { connectTimeoutMs: 200, retryMinMs: 50, retryMaxMs: 100 } },
    );
    const app = await buildApp({ service: new FakeService(), logger: false, version: '1', store });
    try {
      expect(store.status().url).toBe('mysql://flow:***@127.0.0.1:1/flowbus');
      const bus = await app.inject({ url: '/api/v1/bus' });
      expect(bus.json<{ store: { url: string } }>().store.url).toBe('mysql://flow:***@127.0.0.1:1/flowbus');
      expect(bus.body).not.toContain('secret2');
      expect(bus.body).not.toContain('hunter');
      expect(log.lines.length).toBeGreaterThan(0);
      expect(JSON.stringify(log.lines)).not.toMatch(/hunter|secret2/);
    } finally {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
