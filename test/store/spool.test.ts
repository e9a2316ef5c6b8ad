/**
 * The spool's replay position survives a restart, so a large spool cut off in the middle of its
 * replay goes on from there; a position that does not belong to the file never skips a batch.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool, SPOOL_FILE, SPOOL_POS_FILE } from '../../src/store/spool.js';
import type { Rows } from '../../src/store/rows.js';
import { recordingLogger } from './helpers.js';

const batch = (n: number): Rows[] => [{ tx: [`id-${n}`, 'main', n], values: [[`id-${n}`, 0, n]] }] as unknown as Rows[];
const idsOf = (rows: readonly { tx: readonly unknown[] }[]): unknown[] => rows.map((r) => r.tx[0]);

async function drain(spool: Spool, upTo = Infinity): Promise<unknown[]> {
  const seen: unknown[] = [];
  for (let i = 0; i < upTo; i++) {
    const next = await spool.next();
    if (!next) break;
    seen.push(...idsOf(next.rows));
    await spool.consumed(next);
  }
  return seen;
}

describe('spool replay position', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('resumes after the last batch written, and empties the file once everything is', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowbus-spool-'));
    const first = await Spool.open(dir, recordingLogger());
    for (let i = 0; i < 10; i++) await first.append(batch(i));
    expect(await drain(first, 4)).toEqual(['id-0', 'id-1', 'id-2', 'id-3']);
    // Stopped mid-replay (as a crash would leave it: the file and the position, nothing else).
    await first.close();
    expect(readFileSync(join(dir, SPOOL_POS_FILE), 'utf8')).toMatch(/"offset":\d+/);

    const log = recordingLogger();
    const second = await Spool.open(dir, log);
    expect(second.batches).toBe(6);
    expect(log.lines.some((l) => /resuming where the last run stopped/.test(l.msg ?? ''))).toBe(true);
    expect(await drain(second)).toEqual(['id-4', 'id-5', 'id-6', 'id-7', 'id-8', 'id-9']);
    expect(await second.truncateIfDone()).toBe(true);
    expect(readFileSync(join(dir, SPOOL_FILE), 'utf8')).toBe('');
    await second.close();
  });

  it('a position left from an earlier generation of the file replays everything', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowbus-spool-'));
    const first = await Spool.open(dir, recordingLogger());
    for (let i = 0; i < 5; i++) await first.append(batch(i));
    await drain(first, 3);
    const stale = readFileSync(join(dir, SPOOL_POS_FILE), 'utf8');
    await drain(first);
    expect(await first.truncateIfDone()).toBe(true);
    // A new outage fills the file again; then an old position reappears (say its removal was not on disk at a power cut).
    for (let i = 100; i < 106; i++) await first.append(batch(i));
    await first.close();
    writeFileSync(join(dir, SPOOL_POS_FILE), stale);

    const second = await Spool.open(dir, recordingLogger());
    expect(second.batches).toBe(6);
    expect(await drain(second)).toEqual(['id-100', 'id-101', 'id-102', 'id-103', 'id-104', 'id-105']);
    await second.close();
  });

  it('a position that is not a line boundary, or past the end, is ignored', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowbus-spool-'));
    const first = await Spool.open(dir, recordingLogger());
    for (let i = 0; i < 3; i++) await first.append(batch(i));
    await drain(first, 1);
    await first.close();
    const { head } = JSON.parse(readFileSync(join(dir, SPOOL_POS_FILE), 'utf8')) as { head: string };
    for (const offset of [5, 1_000_000]) {
      writeFileSync(join(dir, SPOOL_POS_FILE), JSON.stringify({ offset, head }));
      const s = await Spool.open(dir, recordingLogger());
      expect(s.batches).toBe(3);
      await s.close();
    }
  });

  it('a spool written to the end but not emptied (stopped just before) is emptied at the next start', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowbus-spool-'));
    const first = await Spool.open(dir, recordingLogger());
    for (let i = 0; i < 3; i++) await first.append(batch(i));
    await drain(first, 2);
    await first.close();
    const { head } = JSON.parse(readFileSync(join(dir, SPOOL_POS_FILE), 'utf8')) as { head: string };
    const size = readFileSync(join(dir, SPOOL_FILE)).length;
    writeFileSync(join(dir, SPOOL_POS_FILE), JSON.stringify({ offset: size, head }));
    const second = await Spool.open(dir, recordingLogger());
    expect(second.batches).toBe(0);
    expect(second.hasBacklog).toBe(false);
    expect(readFileSync(join(dir, SPOOL_FILE), 'utf8')).toBe('');
    await second.close();
  });

  it('an unreadable position is said at debug level (and everything replays); a missing one, the usual case, is not', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flowbus-spool-'));
    const first = await Spool.open(dir, recordingLogger());
    for (let i = 0; i < 3; i++) await first.append(batch(i));
    await first.close();
    rmSync(join(dir, SPOOL_POS_FILE), { force: true });
    const quiet = recordingLogger();
    await (await Spool.open(dir, quiet)).close();
    expect(quiet.lines.filter((l) => l.level === 'debug')).toEqual([]);

    writeFileSync(join(dir, SPOOL_POS_FILE), '{"offset": 12, "he');
    const log = recordingLogger();
    const second = await Spool.open(dir, log);
    expect(second.batches).toBe(3);
    const debug = log.lines.filter((l) => l.level === 'debug');
    expect(debug.map((l) => l.msg)).toEqual(['dropped: an unreadable spool position; the spool replays from its start']);
    expect(debug[0]?.obj).toMatchObject({ path: join(dir, SPOOL_POS_FILE), err: expect.stringMatching(/JSON/) });
    await second.close();
  });
});
