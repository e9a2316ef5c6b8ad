/**
 * Two gateways must not share a spool directory: the second would interleave its batches with
 * the first's, and whichever emptied the file after its replay would discard the other's rows.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore, type StoreConfig } from '../../src/store/index.js';
import { freshTarget, recordingLogger, spawnSpoolingChild, until } from './helpers.js';

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
        await until(() => child.spooled() > 0, 20_000, 'the other gateway to spool');
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
      await until(() => store.status().state === 'healthy', 20_000, 'the spool written');
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
