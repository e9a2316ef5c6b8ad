/**
 * Two gateways must not share a spool directory: the second would interleave its batches with
 * the first's, and whichever emptied the file after its replay would discard the other's rows.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyOverrides, configFrom, parseConfig, type ConfigFlags } from '../../src/config/index.js';
import { defaultSpoolDir, openStore, SPOOL_FILE, type StoreConfig } from '../../src/store/index.js';
import { legacyToRows as toRows } from '../../src/store/legacy.js';
import { freshTarget, makeTx, recordingLogger, spawnSpoolingChild, logKey } from './helpers.js';
import { waitUntil } from '../helpers/wait.js';

const NO_RETENTION = { transactionsDays: null, parameterValuesDays: null };

/** A small-batch store config on `url`, spooling in `spoolDir`. */
const storeConfig = (url: string, spoolDir: string): StoreConfig => ({ url, spoolDir, batchRows: 100, batchMs: 20, retention: NO_RETENTION });

describe('the spool directory belongs to one gateway', () => {
  it('refuses a second store on a spool another live process holds, and takes over once it is killed', async () => {
    const target = await freshTarget('sqlite');
    const spoolDir = join(target.dir, 'spool');
    const config = storeConfig(target.url, spoolDir);
    try {
      const child = spawnSpoolingChild(spoolDir);
      try {
        await waitUntil(() => child.spooled() > 0, { timeoutMs: 20_000, what: 'the other gateway to spool' });
        const refused = await openStore(config, { logger: recordingLogger() }).then(
          () => undefined,
          (e: unknown) => e as { code?: string; message?: string },
        );
        expect(refused?.code).toBe('STORE_SPOOL_LOCKED');
        expect(refused?.message).toContain(spoolDir);
        expect(refused?.message).toContain(`process ${child.pid}`);
      } finally {
        await child.kill();
      }
      const log = recordingLogger();
      const store = await openStore(config, { logger: log });
      expect(log.lines.some((l) => l.level === 'warn' && /taking over the claim/.test(l.msg ?? ''))).toBe(true);
      // Its spool is ours now, and is written.
      await waitUntil(() => store.status().state === 'healthy', { timeoutMs: 20_000, what: 'the spool written' });
      await store.close();
    } finally {
      await target.cleanup();
    }
  });

  it('refuses a second store in the same process, and opens once the first is closed', async () => {
    const target = await freshTarget('sqlite');
    const config = storeConfig(target.url, join(target.dir, 'spool'));
    try {
      const first = await openStore(config, { logger: recordingLogger() });
      await expect(openStore(config, { logger: recordingLogger() })).rejects.toMatchObject({ code: 'STORE_SPOOL_LOCKED', message: /this process already holds it/ });
      expect(first.status().state).toBe('healthy');
      await first.close();
      const second = await openStore(config, { logger: recordingLogger() });
      await second.close();
    } finally {
      await target.cleanup();
    }
  });

  it('refuses a spool claimed from another host, saying which file to delete', async () => {
    const target = await freshTarget('sqlite');
    const spoolDir = join(target.dir, 'spool');
    try {
      const first = await openStore(storeConfig(target.url, spoolDir), { logger: recordingLogger() });
      await first.close();
      writeFileSync(join(spoolDir, 'flowbus-spool.lock'), JSON.stringify({ pid: 1, host: 'other-host.lab', boot: null, since: '2026-01-01T00:00:00.000Z' }));
      await expect(openStore(storeConfig(target.url, spoolDir), { logger: recordingLogger() })).rejects.toMatchObject({
        code: 'STORE_SPOOL_LOCKED',
        message: /other-host\.lab.*delete .*flowbus-spool\.lock/,
      });
    } finally {
      await target.cleanup();
    }
  });

  it('a store that cannot start (not a SQLite file) says why and lets go of the spool', async () => {
    const target = await freshTarget('sqlite');
    const spoolDir = join(target.dir, 'spool');
    try {
      const bad = join(target.dir, 'notes.txt');
      writeFileSync(bad, 'these are my lab notes, not a database\n'.repeat(100));
      await expect(openStore(storeConfig(`sqlite:${bad}`, spoolDir), { logger: recordingLogger() })).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        message: /notes\.txt.*not a database/,
      });
      const good = await openStore(storeConfig(target.url, spoolDir), { logger: recordingLogger() });
      await good.close();
    } finally {
      await target.cleanup();
    }
  });
});

describe('the default spool goes beside the store', () => {
  /** Runs `fn` with a fresh temporary working directory, as a gateway started in its own folder. */
  async function inFolder(fn: (dir: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'flowbus-spool-default-'));
    const back = process.cwd();
    process.chdir(dir);
    try {
      await fn(dir);
    } finally {
      process.chdir(back);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const configured = (url: string, env: Record<string, string> = {}, flags: ConfigFlags = {}) =>
    applyOverrides(configFrom({ buses: [{ port: 'sim://' }], store: { url, batchRows: 100, batchMs: 20 } }), { env, flags }).store;

  it('two gateways in one folder with their own stores each get their own spool', async () => {
    await inFolder(async (dir) => {
      const a = await openStore(configured('sqlite:./data/a.db'), { logger: recordingLogger() });
      try {
        const b = await openStore(configured('sqlite:./data/b.db'), { logger: recordingLogger() });
        expect(a.status().spoolFile).toBe(join(dir, 'data', 'a.db.spool', SPOOL_FILE));
        expect(b.status().spoolFile).toBe(join(dir, 'data', 'b.db.spool', SPOOL_FILE));
        await b.close();
      } finally {
        await a.close();
      }
    });
  });

  it('a MySQL store spools under ./data by host, port and database; --spool-dir and FLOWBUS_SPOOL_DIR choose', () => {
    expect(defaultSpoolDir('mysql://flow:secret@db.example:3307/flowbus')).toBe('./data/mysql-db.example-3307-flowbus.spool');
    expect(defaultSpoolDir('mysql://flow@db/lab/1')).toBe('./data/mysql-db-3306-lab_1.spool');
    expect(defaultSpoolDir('sqlite:/var/lib/flowbus/log.db')).toBe('/var/lib/flowbus/log.db.spool');
    expect(configured('sqlite:./x.db', { FLOWBUS_SPOOL_DIR: '/srv/spool-env' }).spoolDir).toBe('/srv/spool-env');
    expect(configured('sqlite:./x.db', { FLOWBUS_SPOOL_DIR: '/srv/spool-env' }, { spoolDir: '/srv/spool-flag' }).spoolDir).toBe('/srv/spool-flag');
    expect(parseConfig('buses: [{ port: sim:// }]\nstore: { spoolDir: /srv/spool-file }\n', 't').store.spoolDir).toBe('/srv/spool-file');
  });

  it('an upgraded gateway keeps the old ./data/spool while it holds rows, writes them, then spools beside the store', async () => {
    await inFolder(async (dir) => {
      const waiting = [makeTx({ node: 21 }, 1), makeTx({ node: 21 }, 2)];
      mkdirSync(join(dir, 'data', 'spool'), { recursive: true });
      writeFileSync(join(dir, 'data', 'spool', SPOOL_FILE), `${JSON.stringify({ v: 1, rows: waiting.map((t) => toRows(t)) })}\n`);
      const log = recordingLogger();
      const first = await openStore(configured('sqlite:./data/flowbus.db'), { logger: log });
      try {
        expect(first.status().spoolFile).toBe(join(dir, 'data', 'spool', SPOOL_FILE));
        expect(log.lines.some((l) => l.level === 'warn' && /earlier version in \.\/data\/spool holds rows/.test(l.msg))).toBe(true);
        await waitUntil(() => first.status().state === 'healthy' && first.status().spooledBatches === 0, { timeoutMs: 20_000, what: 'the old spool written' });
        expect((await first.listTransactions({ node: 21, limit: 10 })).transactions.map(logKey)).toEqual(waiting.map(logKey).reverse());
      } finally {
        await first.close();
      }
      const next = await openStore(configured('sqlite:./data/flowbus.db'), { logger: recordingLogger() });
      expect(next.status().spoolFile).toBe(join(dir, 'data', 'flowbus.db.spool', SPOOL_FILE));
      await next.close();
    });
  });
});
