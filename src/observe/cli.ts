import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseSocatCapture } from './socat.js';
import { decodeCapture, type CaptureDecodeResult } from './decode.js';
import { formatSummary, formatTransaction, transactionToJson } from './format.js';

export interface DecodeCommandOptions {
  readonly json?: boolean;
  readonly timeout?: string;
  readonly ascii?: boolean;
}

/** What `flowbus decode` prints, as lines. Exported for tests and for `replay`. */
export function decodeOutputLines(result: CaptureDecodeResult, json: boolean): string[] {
  const lines: string[] = [];
  if (json) {
    for (const t of result.transactions) lines.push(JSON.stringify(transactionToJson(t)));
    for (const p of result.problems) lines.push(JSON.stringify({ type: 'problem', ...p }));
    lines.push(JSON.stringify(result.summary));
  } else {
    for (const t of result.transactions) lines.push(formatTransaction(t));
    for (const p of result.problems) lines.push(`line ${p.line}: ${p.message}${p.text ? `: ${p.text.slice(0, 80)}` : ''}`);
    lines.push(formatSummary(result.summary));
  }
  return lines;
}

/** What a capture command needs before it can decode: the file's text and the pairing timeout. */
export interface CaptureInput {
  readonly text: string;
  readonly timeoutMs: number | undefined;
}

/**
 * Reads a capture file for `flowbus decode` and `flowbus replay`: checks `--timeout` and reads the
 * file, reporting each problem in one line through `err`. Returns the input, or exit code 2.
 */
export async function readCaptureInput(command: string, file: string, timeout: string | undefined, err: (line: string) => void): Promise<CaptureInput | 2> {
  let timeoutMs: number | undefined;
  if (timeout !== undefined) {
    timeoutMs = Number(timeout);
    if (!(timeoutMs > 0)) {
      err(`flowbus ${command}: --timeout must be a number of milliseconds > 0, got "${timeout}"`);
      return 2;
    }
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String((e as Error).message);
    err(`flowbus ${command}: cannot read ${file}: ${why}`);
    return 2;
  }
  // A file with no record at all is not a capture (a config file, a log): say so rather than "0 transactions".
  const parsed = parseSocatCapture(text);
  if (parsed.records.length === 0) {
    const first = parsed.problems[0];
    err(
      `flowbus ${command}: ${file} holds no socat -x -v record${first ? ` (line ${first.line}: ${first.message})` : ' (it is empty)'}; ` +
        'a capture has lines like "> 2015/06/08 13:38:21.012908  length=24 from=0 to=23" followed by the bytes in hex',
    );
    return 2;
  }
  return { text, timeoutMs };
}

/**
 * Runs `flowbus decode FILE`. Returns the exit code: 0, or 2 when the file cannot be
 * read or an option is invalid. Writes through `out`/`err` so tests can capture them.
 */
export async function runDecode(
  file: string,
  options: DecodeCommandOptions,
  out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
  err: (line: string) => void = (l) => process.stderr.write(l + '\n'),
): Promise<number> {
  const input = await readCaptureInput('decode', file, options.timeout, err);
  if (input === 2) return 2;
  const { text, timeoutMs } = input;
  const result = decodeCapture(text, {
    protocol: options.ascii ? 'ascii' : 'binary',
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  for (const line of decodeOutputLines(result, options.json === true)) out(line);
  return 0;
}

/** Adds `flowbus decode FILE [--json]` to the program. */
export function registerDecodeCommand(program: Command): void {
  program
    .command('decode')
    .description('decode a socat -x -v capture of a ProPar line: one line per transaction, then a summary')
    .argument('<file>', 'capture file written by socat -x -v (or by the passive bridge)')
    .option('--json', 'one JSON object per transaction per line, then a {"type":"summary"} object')
    .option('--timeout <ms>', 'close a request as unanswered after this many ms of capture time', '1000')
    .option('--ascii', 'the capture holds ASCII ProPar (pair replies in order)')
    .action(async (file: string, opts: DecodeCommandOptions) => {
      const code = await runDecode(file, opts);
      if (code !== 0) process.exitCode = code;
    });
}
