/**
 * The compact rows as the files of MySQL's `LOAD DATA LOCAL INFILE`: the server reads them
 * without parsing SQL, and they are written here straight into one Buffer per table, with no
 * SQL literals, no intermediate tuples and no joins.
 *
 * The format is LOAD DATA's default (fields end with a tab, lines with a newline, the backslash
 * escapes), read with `CHARACTER SET binary` so the server takes every byte as it is: the bytes
 * of a binary column are written raw, the text of a text column as its UTF-8 bytes (the column
 * is utf8mb4). In both, NUL, tab, newline and the backslash are escaped (\0 \t \n \\); NULL is \N.
 * A value is written exactly as `insertStatements` renders it as a literal (an int that is not a
 * safe integer, a real that is not finite, hex that is not lowercase hex: NULL), so the rows that
 * arrive are the same whichever way they went.
 */

/** Hex digit values by char code; -1: not a lowercase hex digit (as db.ts's literal() takes them). */
const HEX_VALUE = new Int8Array(65536).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUE[97 + i] = 10 + i;

const TEXT_SPECIAL = /[\0\t\n\\]/;
const TEXT_SPECIAL_ALL = /[\0\t\n\\]/g;
const TEXT_ESCAPE: Record<string, string> = { '\0': '\\0', '\t': '\\t', '\n': '\\n', '\\': '\\\\' };

const BACKSLASH = 0x5c;
const TAB = 0x09;
const NEWLINE = 0x0a;

/** A LOAD DATA file being written: one value after the other, `tab()` between fields, `end()` after a row. */
export class TsvWriter {
  private buf: Buffer;
  private p = 0;

  constructor(sizeHint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, sizeHint));
  }

  /** The bytes written (a view of the writer's buffer: the writer is not used after this). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.p);
  }

  private room(n: number): void {
    if (this.p + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.p + n));
    this.buf.copy(next, 0, 0, this.p);
    this.buf = next;
  }

  tab(): void {
    this.room(1);
    this.buf[this.p++] = TAB;
  }

  end(): void {
    this.room(1);
    this.buf[this.p++] = NEWLINE;
  }

  null(): void {
    this.room(2);
    this.buf[this.p++] = BACKSLASH;
    this.buf[this.p++] = 0x4e; // N
  }

  /** An integer column: a safe integer in decimal, anything else NULL. */
  int(v: number | string | null | undefined): void {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      this.null();
      return;
    }
    this.room(17);
    if (v < 0) {
      this.buf[this.p++] = 0x2d;
      v = -v;
    }
    // In pieces of 8 digits, each in 32-bit integer arithmetic (a µs time has 16 digits).
    if (v < 1e8) {
      this.digits(v);
      return;
    }
    const high = Math.floor(v / 1e8);
    if (high < 1e8) {
      this.digits(high);
    } else {
      const top = Math.floor(high / 1e8);
      this.digits(top);
      this.eight(high - top * 1e8);
    }
    this.eight(v - high * 1e8);
  }

  /** 0 <= v < 1e8, without leading zeros. */
  private digits(v: number): void {
    let len = 1;
    for (let m = 10; m <= v && len < 8; m *= 10) len++;
    const b = this.buf;
    let at = this.p + len;
    this.p = at;
    let x = v | 0;
    do {
      const q = (x / 10) | 0;
      b[--at] = 48 + x - q * 10;
      x = q;
    } while (x > 0);
  }

  /** 0 <= v < 1e8, as exactly 8 digits. */
  private eight(v: number): void {
    const b = this.buf;
    let x = v | 0;
    for (let at = this.p + 7; at >= this.p; at--) {
      const q = (x / 10) | 0;
      b[at] = 48 + x - q * 10;
      x = q;
    }
    this.p += 8;
  }

  /** A real column: a finite number as JavaScript prints it (what the INSERT text holds), anything else NULL. */
  real(v: number | string | null | undefined): void {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.null();
      return;
    }
    const s = `${v}`;
    this.room(s.length);
    this.p += this.buf.write(s, this.p, 'latin1');
  }

  /** A binary column from lowercase hex: its bytes, escaped; NULL when it is not lowercase hex. */
  hex(v: number | string | null | undefined): void {
    if (typeof v !== 'string') {
      this.null();
      return;
    }
    const n = v.length;
    this.room(n + 2);
    const b = this.buf;
    let p = this.p;
    for (let i = 0; i + 1 < n; i += 2) {
      const hi = HEX_VALUE[v.charCodeAt(i)] as number;
      const lo = HEX_VALUE[v.charCodeAt(i + 1)] as number;
      if ((hi | lo) < 0) {
        this.null();
        return;
      }
      const x = (hi << 4) | lo;
      if (x === 0x00 || x === TAB || x === NEWLINE || x === BACKSLASH) {
        b[p++] = BACKSLASH;
        b[p++] = x === 0x00 ? 0x30 : x === TAB ? 0x74 : x === NEWLINE ? 0x6e : BACKSLASH;
      } else {
        b[p++] = x;
      }
    }
    if (n % 2 === 1 && HEX_VALUE[v.charCodeAt(n - 1)] === -1) {
      this.null();
      return;
    }
    this.p = p;
  }

  /** A text column: its UTF-8 bytes, escaped (a number as its decimal text, as the INSERT text has it). */
  text(v: number | string | null | undefined): void {
    if (v === null || v === undefined) {
      this.null();
      return;
    }
    let s = typeof v === 'string' ? v : `${v}`;
    if (TEXT_SPECIAL.test(s)) s = s.replace(TEXT_SPECIAL_ALL, (c) => TEXT_ESCAPE[c] as string);
    this.room(s.length * 3);
    this.p += this.buf.write(s, this.p, 'utf8');
  }
}

/** Largest piece of a file in one packet of the protocol (the server takes up to max_allowed_packet, 16 MiB by default). */
const PIECE = 1024 * 1024;

/** The file in pieces for the protocol's packets. */
export function pieces(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < file.length; i += PIECE) out.push(file.subarray(i, Math.min(file.length, i + PIECE)));
  return out;
}

/** The LOAD DATA statement for a table and its columns in file order; rows whose key is already there are skipped, as INSERT IGNORE does. */
export function loadDataSql(table: string, columns: readonly string[]): string {
  return `LOAD DATA LOCAL INFILE '${table}.tsv' IGNORE INTO TABLE ${table} CHARACTER SET binary (${columns.join(', ')})`;
}
