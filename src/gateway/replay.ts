import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Protocol } from '../codec/index.js';
import { dropped, silentLogger, type Logger } from '../shared/index.js';
import { CaptureDecoder, parseSocatCapture, readCaptureInput, type CaptureSummary, type SocatProblem, type Transaction } from '../observe/index.js';
import { deterministicId, loggedFromObserved } from './bridge/index.js';
import type { TransactionSink } from './sink.js';

export interface ReplayProgress {
  readonly records: number;
  readonly totalRecords: number;
  readonly transactions: number;
}

export interface ReplayOptions {
  /** Bus name stored with every transaction. Default 'capture'. */
  readonly bus?: string;
  readonly protocol?: Protocol;
  /** Pairing timeout in ms of capture time. Default 1000. */
  readonly timeoutMs?: number;
  /** Called every `progressEvery` records and once at the end. */
  readonly onProgress?: (p: ReplayProgress) => void;
  /** Default 200. */
  readonly progressEvery?: number;
}

export interface ReplayResult {
  /** SHA-256 of the capture's text: the namespace of the transactions' ids. */
  readonly contentHash: string;
  readonly transactions: number;
  readonly summary: CaptureSummary;
  readonly problems: readonly SocatProblem[];
}

/**
 * Imports a `socat -x -v` capture into a transaction sink: the same decoding as
 * `flowbus decode` (CaptureDecoder), each transaction logged as observed in bridge mode
 * with the capture's own timestamps. Ids are derived from the file's content hash and
 * the transaction's position, so importing a file twice writes the same ids again and a
 * store that inserts by id keeps one copy. Yields to the event loop every `progressEvery`
 * records so a progress bar can draw and the sink can write.
 */
export async function replayCapture(source: { readonly text: string } | { readonly path: string }, sink: TransactionSink, options: ReplayOptions = {}): Promise<ReplayResult> {
  const text = 'text' in source ? source.text : await readFile(source.path, 'utf8');
  const contentHash = createHash('sha256').update(text).digest('hex');
  const bus = options.bus ?? 'capture';
  const { records, problems } = parseSocatCapture(text);
  const decoder = new CaptureDecoder({
    ...(options.protocol ? { protocol: options.protocol } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  decoder.problems = problems.length;
  let index = 0;
  const write = (list: Transaction[]): void => {
    for (const t of list) sink.write(loggedFromObserved(t, bus, deterministicId(contentHash, index++, t.time / 1000)));
  };
  const every = Math.max(1, options.progressEvery ?? 200);
  const progress = (n: number): void => options.onProgress?.({ records: n, totalRecords: records.length, transactions: index });
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as (typeof records)[number];
    // A `from=` that does not continue the stream marks a new socat session (or a reopened bridge port).
    if (r.from !== decoder.offset(r.direction)) write(decoder.restart(r.direction));
    write(decoder.push(r.direction, r.time, r.bytes));
    if ((i + 1) % every === 0) {
      progress(i + 1);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  write(decoder.finish());
  progress(records.length);
  return { contentHash, transactions: index, summary: decoder.summary(), problems };
}

/** A sink the composition root opens for `--store URL` (the transaction log store). */
export interface ClosableSink extends TransactionSink {
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** `[#########...........]  45%  300/668 records  210 transactions` */
export function progressBar(p: ReplayProgress, width = 30): string {
  const frac = p.totalRecords === 0 ? 1 : p.records / p.totalRecords;
  const full = Math.round(frac * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.round(frac * 100)).padStart(3)}%  ${p.records}/${p.totalRecords} records  ${p.transactions} transactions`;
}

export interface ReplayCommandOptions {
  readonly store?: string;
  /** The gateway's config file: its store (and spool directory, with `-replay` appended). */
  readonly config?: string;
  readonly bus?: string;
  readonly ascii?: boolean;
  readonly timeout?: string;
}

/** Opens the transaction log replay imports into. */
export type ReplaySinkOpener = (where: { readonly store?: string; readonly config?: string }) => Promise<ClosableSink>;

/**
 * Runs `flowbus replay FILE`. Returns the exit code: 0, 1 when the store fails, 2 for a
 * bad file or option. `openSink` comes from the composition root: the store named by
 * `--store`, else the one of `--config`, else FLOWBUS_STORE_URL or the default.
 */
export async function runReplay(
  file: string,
  options: ReplayCommandOptions,
  openSink: ReplaySinkOpener,
  io: { out?: (line: string) => void; err?: (line: string) => void; tty?: boolean; draw?: (text: string) => void; log?: Logger } = {},
): Promise<number> {
  const out = io.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const err = io.err ?? ((l: string) => process.stderr.write(l + '\n'));
  const tty = io.tty ?? process.stderr.isTTY === true;
  const draw = io.draw ?? ((t: string) => process.stderr.write(`\r${t}`));
  const input = await readCaptureInput('replay', file, options.timeout, err);
  if (input === 2) return 2;
  const { text, timeoutMs } = input;
  let sink: ClosableSink;
  try {
    sink = await openSink({ ...(options.store ? { store: options.store } : {}), ...(options.config ? { config: options.config } : {}) });
  } catch (e) {
    err(`flowbus replay: cannot open the store: ${(e as Error).message}`);
    return 1;
  }
  try {
    const result = await replayCapture({ text }, sink, {
      bus: options.bus ?? 'capture',
      protocol: options.ascii ? 'ascii' : 'binary',
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(tty ? { onProgress: (p: ReplayProgress) => draw(progressBar(p)) } : {}),
    });
    await sink.flush();
    if (tty) draw('\n');
    const s = result.summary;
    out(
      `${result.transactions} transactions from ${file} (sha256 ${result.contentHash.slice(0, 12)}) are in the log: ` +
        `paired ${s.paired}, unanswered ${s.unanswered}, orphan replies ${s.unmatchedReplies}, error frames ${s.errorFrames}` +
        `${result.problems.length ? `, ${result.problems.length} unusable line(s)` : ''}. Their ids come from the file's content, so a file imported before keeps one copy.`,
    );
    return 0;
  } catch (e) {
    if (tty) draw('\n');
    err(`flowbus replay: ${(e as Error).message}`);
    return 1;
  } finally {
    // The rows were flushed (or the failure printed) already: a close that fails has nothing to add.
    await sink.close().catch(dropped(io.log ?? silentLogger, 'closing the store after the import'));
  }
}

/** Adds `flowbus replay FILE [--store URL | --config FILE]` to the program. */
export function registerReplayCommand(program: Command, openSink: ReplaySinkOpener): void {
  program
    .command('replay')
    .description('import a socat -x -v capture into the transaction log, with the capture\'s own timestamps; importing a file twice keeps one copy')
    .argument('<file>', 'capture file written by socat -x -v or by the bridge (--capture)')
    .option('--store <url>', 'transaction log to import into (sqlite:PATH or mysql://...); a password here shows in ps: prefer env FLOWBUS_STORE_URL')
    .option('-c, --config <file>', "the gateway's config file: import into its store (default: FLOWBUS_STORE_URL, else ./data/flowbus.db)")
    .option('--bus <name>', 'bus name stored with the transactions', 'capture')
    .option('--timeout <ms>', 'close a request as unanswered after this many ms of capture time', '1000')
    .option('--ascii', 'the capture holds ASCII ProPar (pair replies in order)')
    .action(async (file: string, opts: ReplayCommandOptions) => {
      const code = await runReplay(file, opts, openSink);
      if (code !== 0) process.exitCode = code;
    });
}
