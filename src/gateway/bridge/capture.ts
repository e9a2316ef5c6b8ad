import { createWriteStream, type WriteStream } from 'node:fs';
import { formatSocatRecord, type Direction } from '../../observe/index.js';
import { errorLine, type Logger } from '../../shared/index.js';

export interface CaptureWriterOptions {
  /** Write what has accumulated this often, ms. Default 250. */
  readonly flushMs?: number;
  /** Text waiting for the disk beyond which records are dropped (and counted), bytes. Default 8 MiB. */
  readonly maxPendingBytes?: number;
  /** Called once when the file cannot be opened or written; writing stops then. */
  readonly onError?: (err: Error) => void;
  /** Where a failing `onError` is said (debug level). Default: nowhere. */
  readonly log?: Logger;
}

/**
 * Appends bursts to a file in socat's `-x -v` format, so a live bridge leaves captures
 * that `flowbus decode` and `flowbus replay` read. Never throws and never blocks the
 * caller: records are formatted into memory and written on a timer; a slow or failing
 * disk costs records (counted in `dropped`), never forwarding.
 */
export class CaptureWriter {
  private readonly stream: WriteStream;
  private pending: string[] = [];
  private pendingBytes = 0;
  private readonly offsets: Record<Direction, number> = { '>': 0, '<': 0 };
  private readonly timer: NodeJS.Timeout;
  private failed: Error | undefined;
  private readonly maxPending: number;
  records = 0;
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly options: CaptureWriterOptions = {},
  ) {
    this.maxPending = options.maxPendingBytes ?? 8 * 1024 * 1024;
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (err) => this.fail(err));
    this.timer = setInterval(() => this.flush(), options.flushMs ?? 250);
    this.timer.unref?.();
  }

  /** The error that stopped writing, if any. */
  get error(): Error | undefined {
    return this.failed;
  }

  /** One burst of one direction, seen at `time` (µs, written as the wall-clock digits socat would write). */
  record(direction: Direction, time: number, bytes: Uint8Array, injected = false): void {
    if (bytes.length === 0) return;
    const from = this.offsets[direction];
    this.offsets[direction] = from + bytes.length;
    if (this.failed || this.pendingBytes + this.stream.writableLength > this.maxPending) {
      this.dropped++;
      return;
    }
    const text = formatSocatRecord(direction, time, bytes, from, injected);
    this.pending.push(text);
    this.pendingBytes += text.length;
    this.records++;
  }

  /** The stream of a direction starts again (a reopened port): offsets restart at 0, as in a new socat session. */
  restart(direction: Direction): void {
    this.offsets[direction] = 0;
  }

  flush(): void {
    if (this.pending.length === 0 || this.failed) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.stream.write(text);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.flush();
    await new Promise<void>((resolve) => {
      if (this.stream.destroyed) return resolve();
      this.stream.end(() => resolve());
      this.stream.once('error', () => resolve());
    });
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      this.options.onError?.(err);
    } catch (thrown) {
      // The callback's problem, not the bridge's: the capture stops either way.
      this.options.log?.debug({ err: errorLine(thrown), capture: this.path, why: errorLine(err) }, 'dropped: the capture onError callback threw');
    }
  }
}
