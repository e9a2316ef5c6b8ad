/**
 * The `socat -x -v` capture format (captures/README.md):
 *
 * ```
 * > 2015/06/08 13:38:21.012908  length=24 from=0 to=23
 *  10 02 01 80 11 04 01 80 00 01 81 00 02 82 00 03 83 00 04 04 00 05 10 03
 * ```
 *
 * Times are kept as integer **microseconds since the epoch**. socat writes the
 * recording PC's local wall-clock time without a zone; we read (and write) those
 * digits as if they were UTC, so `new Date(time / 1000).toISOString()` shows the
 * wall-clock time as written. Only differences between times carry meaning.
 */

/** `>` = bytes toward the instrument (master to instrument), `<` = bytes from the instrument. */
export type Direction = '>' | '<';

export interface SocatRecord {
  readonly direction: Direction;
  /** Microseconds since the epoch, the recording's local wall-clock time read as UTC. */
  readonly time: number;
  /** The `length=` field. */
  readonly length: number;
  /** The `from=` field: offset of the first byte in this direction's stream. */
  readonly from: number;
  /** The `to=` field: offset of the last byte (inclusive). */
  readonly to: number;
  readonly bytes: Uint8Array;
  /** 1-based line number of the header line. */
  readonly line: number;
  /** Marked ` injected` by a bridge with injection on: the gateway's own request, or the reply to it. */
  readonly injected?: boolean;
}

/** A line (or record) the parser could not use. Never fatal. */
export interface SocatProblem {
  /** 1-based line number. */
  readonly line: number;
  readonly message: string;
  readonly text: string;
}

export interface SocatCapture {
  readonly records: SocatRecord[];
  readonly problems: SocatProblem[];
}

const HEADER = /^([<>]) (\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{1,6}) +length=(\d+) from=(\d+) to=(\d+)( injected)?\s*$/;
const HEX_LINE = /^(?: [0-9a-fA-F]{2})+\s*$/;

/** Parses `2015/06/08 13:38:21.012908` style fields into microseconds since the epoch (wall clock read as UTC). */
function toMicros(y: string, mo: string, d: string, h: string, mi: string, s: string, frac: string): number | undefined {
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (!Number.isFinite(ms)) return undefined;
  const check = new Date(ms);
  if (check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCHours() !== Number(h)) return undefined;
  return ms * 1000 + Number(frac.padEnd(6, '0'));
}

/** Formats microseconds since the epoch as socat does: `2015/06/08 13:38:21.012908` (UTC fields). */
export function formatSocatTime(time: number): string {
  const ms = Math.floor(time / 1000);
  const d = new Date(ms);
  const micros = time - Math.floor(time / 1_000_000) * 1_000_000;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return (
    `${d.getUTCFullYear()}/${p2(d.getUTCMonth() + 1)}/${p2(d.getUTCDate())} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${String(micros).padStart(6, '0')}`
  );
}

/**
 * Parses a socat `-x -v` capture. Never throws: a line that is neither a record
 * header nor a hex line belonging to one is reported in `problems` with its line
 * number, and a record whose byte count disagrees with `length=` is kept (with its
 * real bytes) and reported too. Hex lines that follow one header are concatenated.
 */
export function parseSocatCapture(text: string): SocatCapture {
  const records: SocatRecord[] = [];
  const problems: SocatProblem[] = [];
  const lines = text.split('\n');
  // A trailing newline leaves one empty string at the end; it is not a line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  let current: { direction: Direction; time: number; length: number; from: number; to: number; line: number; hex: number[]; injected: boolean } | undefined;

  const close = (): void => {
    if (!current) return;
    const bytes = Uint8Array.from(current.hex);
    if (bytes.length === 0) {
      problems.push({ line: current.line, message: 'record header without data bytes', text: '' });
    } else {
      if (bytes.length !== current.length) {
        problems.push({ line: current.line, message: `length=${current.length} but ${bytes.length} data bytes`, text: '' });
      }
      records.push({
        direction: current.direction,
        time: current.time,
        length: current.length,
        from: current.from,
        to: current.to,
        bytes,
        line: current.line,
        ...(current.injected ? { injected: true } : {}),
      });
    }
    current = undefined;
  };

  // Set after a bad header or line, so that the hex lines under it are not reported again.
  let skipping = false;

  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const h = HEADER.exec(line);
    if (h) {
      close();
      const f = (n: number): string => h[n] ?? '';
      const time = toMicros(f(2), f(3), f(4), f(5), f(6), f(7), f(8));
      if (time === undefined) {
        problems.push({ line: lineNo, message: 'invalid date or time', text: line });
        current = undefined;
        skipping = true;
        return;
      }
      skipping = false;
      current = { direction: f(1) as Direction, time, length: Number(f(9)), from: Number(f(10)), to: Number(f(11)), line: lineNo, hex: [], injected: f(12) !== '' };
      return;
    }
    if (HEX_LINE.test(line)) {
      if (current) {
        for (const pair of line.trim().split(/ +/)) current.hex.push(parseInt(pair, 16));
      } else if (!skipping) {
        problems.push({ line: lineNo, message: 'data line without a record header', text: line });
      }
      return;
    }
    if (line.trim() === '') return;
    close();
    skipping = true;
    problems.push({ line: lineNo, message: 'not a socat record header or hex line', text: line });
  });
  close();
  return { records, problems };
}

/**
 * Formats one record exactly as `socat -x -v` writes it (two lines, each ending in
 * `\n`). `offsetFrom` is the offset of the first byte in this direction's stream;
 * the caller keeps one running offset per direction.
 */
export function formatSocatRecord(direction: Direction, time: number, bytes: Uint8Array, offsetFrom: number, injected = false): string {
  let hex = '';
  for (const b of bytes) hex += ' ' + b.toString(16).padStart(2, '0');
  const to = offsetFrom + bytes.length - 1;
  return `${direction} ${formatSocatTime(time)}  length=${bytes.length} from=${offsetFrom} to=${to}${injected ? ' injected' : ''}\n${hex}\n`;
}
