/**
 * The spool: an append-only file of JSON lines, one batch per line, synced to disk per batch.
 * It holds the rows the database could not take, in arrival order, and is read back oldest
 * first. It is emptied only when every batch in it has been committed to the database; a
 * crash between the commit and the truncation makes the next start write those batches
 * again, which the primary keys turn into no-ops.
 *
 * How far the replay got is kept beside it (`flowbus-spool.pos`), so that a restart in the
 * middle of writing a large spool goes on from there instead of from the start. The position
 * names the spool's first line by hash: a position left over from an earlier generation of the
 * file (emptied, then filled again) never matches, so it can only ever cost a replay, never skip
 * a batch.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dropped, errorLine, type Logger } from '../shared/index.js';
import { lockSpoolDir, type SpoolLock } from './lock.js';
import type { LegacyRows } from './legacy.js';
import type { Rows } from './rows.js';

export const SPOOL_FILE = 'flowbus-spool.jsonl';
export const SPOOL_POS_FILE = 'flowbus-spool.pos';

/** The saved replay position: an offset just after a line, in the file whose first line hashes to `head`. */
interface SavedPosition {
  readonly offset: number;
  readonly head: string;
}

const hashLine = (line: Buffer | string): string => createHash('sha256').update(line).digest('hex').slice(0, 32);

/**
 * One spooled batch: `{"v":2,"rows":[{"tx":[...],"values":[[...],...]},...]}` (compact rows,
 * rows.ts). Lines of `"v":1` were written by versions before the compact log: their rows are in
 * the old column orders (`{"tx":[...],"pv":[...]}`, legacy.ts) and are converted when replayed.
 */
interface SpoolLine {
  readonly v: 1 | 2;
  readonly rows: (Rows | LegacyRows)[];
}

/** What a spool line holds: compact rows, or (a spool of an older version) rows in the old column orders. */
export type SpooledRows = { readonly v: 2; readonly rows: Rows[] } | { readonly v: 1; readonly rows: LegacyRows[] };

function isRows(x: unknown): x is Rows {
  const r = x as { tx?: unknown; values?: unknown };
  return typeof r === 'object' && r !== null && Array.isArray(r.tx) && Array.isArray(r.values) && r.values.every((p) => Array.isArray(p));
}

function isLegacyRows(x: unknown): x is LegacyRows {
  const r = x as { tx?: unknown; pv?: unknown };
  return typeof r === 'object' && r !== null && Array.isArray(r.tx) && Array.isArray(r.pv) && r.pv.every((p) => Array.isArray(p));
}

function parseLine(text: string): SpooledRows | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<SpoolLine>;
    if (!Array.isArray(parsed.rows)) return undefined;
    if (parsed.v === 2 && parsed.rows.every(isRows)) return { v: 2, rows: parsed.rows as Rows[] };
    if (parsed.v === 1 && parsed.rows.every(isLegacyRows)) return { v: 1, rows: parsed.rows as LegacyRows[] };
    return undefined;
  } catch {
    return undefined;
  }
}

const READ_CHUNK = 1 << 20;

export type SpooledBatch = SpooledRows & {
  /** Byte offset just after the line: pass to `consumed`. */
  readonly end: number;
};

export class Spool {
  /** Bytes of complete, synced lines. */
  private size = 0;
  /** Where the next unreplayed line starts. */
  private readOffset = 0;
  /** Hash of the file's first line (this generation of the spool); undefined while it is empty. */
  private head: string | undefined;
  private readonly posPath: string;
  private appending: Promise<void> = Promise.resolve();
  private pendingAppends = 0;
  /** Batches and rows in the file not yet replayed. */
  batches = 0;
  rows = 0;
  badLines = 0;
  spooledBatches = 0;

  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
    private readonly logger: Logger,
    private readonly lock: SpoolLock,
  ) {
    this.posPath = join(dirname(path), SPOOL_POS_FILE);
  }

  /**
   * Opens (creating) the spool in `dir`, claimed for this process alone (STORE_SPOOL_LOCKED
   * when another live gateway holds it), and counts what an earlier run left there.
   */
  static async open(dir: string, logger: Logger): Promise<Spool> {
    mkdirSync(dir, { recursive: true });
    const lock = lockSpoolDir(dir, logger);
    const path = join(dir, SPOOL_FILE);
    let file: FileHandle | undefined;
    try {
      file = await open(path, 'a+');
      const spool = new Spool(path, file, logger, lock);
      await spool.scan();
      // An earlier run wrote all of it but stopped before emptying it.
      if (spool.batches === 0 && spool.size > 0) await spool.truncateIfDone();
      return spool;
    } catch (err) {
      await file?.close().catch(dropped(logger, `closing ${path} after it failed to open`));
      lock.release();
      throw err;
    }
  }

  private async scan(): Promise<void> {
    const { size } = await this.file.stat();
    this.size = size;
    if (size === 0) {
      this.forgetPosition();
      return;
    }
    const saved = this.readPosition();
    let offset = 0;
    let last = 0;
    let resumed = false;
    while (offset < size) {
      const line = await this.readLine(offset, size);
      if (!line) break;
      if (offset === 0) {
        this.head = hashLine(line.text);
        if (saved && saved.head === this.head && saved.offset > 0 && saved.offset <= size && (await this.endsLine(saved.offset))) {
          // Lines before the saved position are in the database already.
          this.readOffset = saved.offset;
          resumed = true;
          if (saved.offset === size) break;
          offset = saved.offset;
          last = saved.offset;
          continue;
        }
      }
      const rows = parseLine(line.text);
      this.batches++;
      if (rows) this.rows += rows.rows.length;
      offset = line.end;
      last = line.end;
    }
    if (resumed && this.readOffset === size) last = size;
    if (last < size) {
      // A line cut short by a crash: end it, so it stays one bad line that replay reports and
      // skips, and the next batch starts on a line of its own.
      await this.file.appendFile('\n');
      await this.file.datasync();
      this.size = size + 1;
      this.batches++;
    }
    if (this.batches === 0) return;
    this.logger.warn(
      { path: this.path, batches: this.batches, rows: this.rows, ...(resumed ? { resumeAt: this.readOffset } : {}) },
      `spool from an earlier run holds ${this.rows} transactions in ${this.batches} batches${resumed ? ' not yet written (resuming where the last run stopped)' : ''}; they will be written when the database is reachable`,
    );
  }

  /** Whether the byte before `offset` is a newline (a saved position must be a line boundary). */
  private async endsLine(offset: number): Promise<boolean> {
    const b = Buffer.alloc(1);
    const { bytesRead } = await this.file.read(b, 0, 1, offset - 1);
    return bytesRead === 1 && b[0] === 0x0a;
  }

  private readPosition(): SavedPosition | undefined {
    try {
      const p = JSON.parse(readFileSync(this.posPath, 'utf8')) as Partial<SavedPosition>;
      if (typeof p.offset === 'number' && Number.isSafeInteger(p.offset) && typeof p.head === 'string') return { offset: p.offset, head: p.head };
    } catch (err) {
      // None (the usual case after a clean run), or unreadable: replay from the start (idempotent).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.debug({ err: errorLine(err), path: this.posPath }, 'dropped: an unreadable spool position; the spool replays from its start');
    }
    return undefined;
  }

  /** Saves the replay position; atomic (write, then rename), not synced: losing it costs a replay, not data. */
  private savePosition(): void {
    if (this.head === undefined) return;
    const tmp = `${this.posPath}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ offset: this.readOffset, head: this.head } satisfies SavedPosition));
      renameSync(tmp, this.posPath);
    } catch (err) {
      this.logger.warn({ path: this.posPath, err: err instanceof Error ? err.message : String(err) }, 'cannot save the spool position; a restart would replay from the start');
    }
  }

  private forgetPosition(): void {
    rmSync(this.posPath, { force: true });
  }

  /** The line starting at `offset` (without its newline); at the end of `limit` a partial line counts as a line. */
  private async readLine(offset: number, limit: number): Promise<{ text: string; end: number } | undefined> {
    if (offset >= limit) return undefined;
    const chunks: Buffer[] = [];
    let pos = offset;
    while (pos < limit) {
      const len = Math.min(READ_CHUNK, limit - pos);
      const buf = Buffer.alloc(len);
      const { bytesRead } = await this.file.read(buf, 0, len, pos);
      if (bytesRead === 0) break;
      const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(buf.subarray(0, nl));
        return { text: Buffer.concat(chunks).toString('utf8'), end: pos + nl + 1 };
      }
      chunks.push(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return { text: Buffer.concat(chunks).toString('utf8'), end: pos };
  }

  /** Runs file mutations (appends, truncation) one at a time, in call order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.appending.then(fn);
    // The chain only orders the mutations: a failure is the caller's (it gets `p`), not the next one's.
    this.appending = p.then(
      () => {},
      // eslint-disable-next-line no-restricted-syntax -- reported to the caller through `p`
      () => {},
    );
    return p;
  }

  /** Appends one batch and syncs it; appends run one at a time, in call order. */
  append(rows: readonly Rows[]): Promise<void> {
    const data = Buffer.from(JSON.stringify({ v: 2, rows }) + '\n', 'utf8');
    this.batches++;
    this.rows += rows.length;
    this.pendingAppends++;
    return this.serial(async () => {
      try {
        const first = this.size === 0;
        await this.file.appendFile(data);
        await this.file.datasync();
        if (first) this.head = hashLine(data.subarray(0, data.length - 1));
        this.size += data.length;
        this.spooledBatches++;
      } catch (err) {
        this.batches = Math.max(0, this.batches - 1);
        this.rows = Math.max(0, this.rows - rows.length);
        throw err;
      } finally {
        this.pendingAppends--;
      }
    });
  }

  /** Whether batches wait in the file (or are being appended to it). */
  get hasBacklog(): boolean {
    return this.batches > 0 || this.pendingAppends > 0;
  }

  /**
   * The oldest unreplayed batch, skipping (and reporting) lines that do not parse; undefined
   * when the synced part of the file is exhausted.
   */
  async next(): Promise<SpooledBatch | undefined> {
    while (true) {
      const line = await this.readLine(this.readOffset, this.size);
      if (!line) return undefined;
      const rows = parseLine(line.text);
      if (rows) return { ...rows, end: line.end };
      this.badLines++;
      this.batches = Math.max(0, this.batches - 1);
      this.logger.error(
        { path: this.path, offset: this.readOffset, bytes: line.end - this.readOffset, sample: line.text.slice(0, 80) },
        'spool line does not parse (truncated or damaged): skipped; the other batches are written',
      );
      this.readOffset = line.end;
      this.savePosition();
    }
  }

  /** Marks the batch returned by `next` as committed; empties the file once everything is. */
  async consumed(batch: SpooledBatch): Promise<void> {
    this.readOffset = batch.end;
    this.savePosition();
    this.batches = Math.max(0, this.batches - 1);
    this.rows = Math.max(0, this.rows - batch.rows.length);
    await this.truncateIfDone();
  }

  /** Empties the file when every line in it has been replayed and no append is queued. */
  truncateIfDone(): Promise<boolean> {
    return this.serial(async () => {
      if (this.pendingAppends > 0 || this.readOffset < this.size) return false;
      if (this.size > 0) {
        await this.file.truncate(0);
        await this.file.datasync();
      }
      this.forgetPosition();
      this.head = undefined;
      this.size = 0;
      this.readOffset = 0;
      this.batches = 0;
      this.rows = 0;
      return true;
    });
  }

  /** Waits for the appends started so far. */
  async drain(): Promise<void> {
    await this.appending;
  }

  async close(): Promise<void> {
    try {
      await this.drain();
      await this.file.close();
    } finally {
      this.lock.release();
    }
  }
}
