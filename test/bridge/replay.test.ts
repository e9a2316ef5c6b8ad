/** `flowbus replay`: the shared captures imported into a sink give the figures of their README, with stable ids. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MemorySink, replayCapture, runReplay, type LoggedTransaction } from '../../src/gateway/index.js';
import { idTime } from '../../src/shared/index.js';

const CAPTURES = join(dirname(fileURLToPath(import.meta.url)), '../../../shared/captures');
const HAVE = existsSync(join(CAPTURES, 'log2.log')) && existsSync(join(CAPTURES, 'bridgeEtOH2014-12-03.log'));
if (!HAVE) console.warn(`the shared captures are not at ${CAPTURES}: skipping the replay tests`);

function count(rows: readonly LoggedTransaction[], pred: (t: LoggedTransaction) => boolean): number {
  return rows.filter(pred).length;
}

describe.skipIf(!HAVE)('replay of the shared captures', () => {
  const cases = [
    { file: 'log2.log', requests: 668, replies: 668, paired: 668, unanswered: 0, errorFrames: 260 },
    { file: 'bridgeEtOH2014-12-03.log', requests: 191, replies: 185, paired: 185, unanswered: 6, errorFrames: 0 },
  ];
  for (const c of cases) {
    it(`${c.file}: the README's counts, the capture's own times, the same ids twice`, async () => {
      const path = join(CAPTURES, c.file);
      const sink = new MemorySink(10_000);
      const progress: number[] = [];
      const result = await replayCapture({ path }, sink, { bus: 'capture', onProgress: (p) => progress.push(p.records) });
      const rows = sink.list({ limit: 10_000 }).reverse();
      expect(result.summary.frames).toEqual({ '>': c.requests, '<': c.replies });
      expect(result.summary.undecodableFrames).toEqual({ '>': 0, '<': 0 });
      expect(rows).toHaveLength(result.transactions);
      expect(count(rows, (t) => t.requestBytes !== undefined && t.replyBytes !== undefined)).toBe(c.paired);
      expect(count(rows, (t) => t.outcome === 'unanswered')).toBe(c.unanswered);
      expect(count(rows, (t) => t.outcome === 'orphan')).toBe(0);
      expect(count(rows, (t) => t.outcome === 'error-frame')).toBe(c.errorFrames);
      expect(rows.every((t) => t.mode === 'bridge' && t.purpose === 'observed' && t.bus === 'capture')).toBe(true);
      // The capture's own clock (2014/2015), not the time of the import.
      const first = new Date(Math.min(...rows.map((t) => t.startedAt))).getUTCFullYear();
      expect([2014, 2015]).toContain(first);
      expect(progress[progress.length - 1]).toBe(result.summary.records['>'] + result.summary.records['<']);

      const again = new MemorySink(10_000);
      await replayCapture({ text: readFileSync(path, 'utf8') }, again, { bus: 'capture' });
      const ids = rows.map((t) => t.id);
      expect(again.list({ limit: 10_000 }).reverse().map((t) => t.id)).toEqual(ids);
      expect(new Set(ids).size).toBe(ids.length);
      // UUIDv7 carrying each transaction's own (capture) time: the store's retention deletes by id
      // range and its pages sort by id, so replayed ids must sort by time like live ones.
      for (const t of rows) {
        expect(t.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(idTime(t.id)).toBe(Math.floor(t.startedAt));
      }
    });
  }

  it('log2: read answers are named through their request (the Bright rolling index)', async () => {
    const sink = new MemorySink(10_000);
    await replayCapture({ path: join(CAPTURES, 'log2.log') }, sink);
    const serial = sink.list({ limit: 10_000 }).flatMap((t) => t.params).find((p) => p.key === 'serialNumber' && p.value !== undefined);
    expect(serial?.value).toBe('M11209321A');
  });

  it('runReplay: imports into the sink the composition root opens, then flushes and closes it', async () => {
    const rows: LoggedTransaction[] = [];
    const calls: string[] = [];
    const lines: string[] = [];
    const draws: string[] = [];
    const code = await runReplay(
      join(CAPTURES, 'bridgeEtOH2014-12-03.log'),
      { store: 'sqlite::memory:' },
      async (where) => {
        calls.push(`open ${where.store}`);
        return { write: (t) => rows.push(t), flush: async () => void calls.push('flush'), close: async () => void calls.push('close') };
      },
      { out: (l) => lines.push(l), err: (l) => lines.push(l), tty: true, draw: (t) => draws.push(t) },
    );
    expect(code).toBe(0);
    expect(calls).toEqual(['open sqlite::memory:', 'flush', 'close']);
    expect(rows).toHaveLength(191);
    expect(lines.join('\n')).toContain('191 transactions from');
    expect(draws.some((d) => d.includes('100%'))).toBe(true);
    expect(await runReplay('/nonexistent/capture.log', {}, async () => ({ write() {}, flush: async () => {}, close: async () => {} }), { err: () => {}, out: () => {} })).toBe(2);
  });
});
