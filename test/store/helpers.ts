/** Shared by the store tests: the two dialects, fresh databases, transactions, a recording logger. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { LoggedTransaction } from '../../src/gateway/index.js';
import { newId, type Logger } from '../../src/shared/index.js';

export const MYSQL_URL = process.env.FLOWBUS_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const CI = process.env.CI === 'true';

function serverOf(url: string) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username) || 'root', password: decodeURIComponent(u.password) };
}

let available: Promise<string | undefined> | undefined;

/** Undefined when the MySQL/MariaDB server answers; otherwise why not. Under CI=true an absent server is an error. */
export function mysqlProblem(): Promise<string | undefined> {
  available ??= (async () => {
    try {
      const c = await createConnection({ ...serverOf(MYSQL_URL), connectTimeout: 2000 });
      await c.query('SELECT 1');
      await c.end();
      return undefined;
    } catch (err) {
      const why = `MySQL tests skipped: no server at ${MYSQL_URL.replace(/:[^:@/]*@/, ':***@')} (${err instanceof Error ? err.message : String(err)}); set FLOWBUS_TEST_MYSQL_URL`;
      if (CI) throw new Error(`${why}. Under CI=true the database tests must run.`);
      console.warn(why);
      return why;
    }
  })();
  return available;
}

/** Whether the MySQL suites run (top-level await in the test files). */
export async function mysqlRuns(): Promise<boolean> {
  return (await mysqlProblem()) === undefined;
}

/** A database of its own for one test file; `drop` removes it. */
export async function freshMysqlDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `flowbus_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const c = await createConnection({ ...serverOf(MYSQL_URL), connectTimeout: 2000 });
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(MYSQL_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const d = await createConnection({ ...serverOf(MYSQL_URL), connectTimeout: 2000 });
      await d.query(`DROP DATABASE IF EXISTS ${name}`);
      await d.end();
    },
  };
}

export interface TestTarget {
  readonly url: string;
  readonly dir: string;
  cleanup(): Promise<void>;
}

/** A fresh store target of the dialect: a SQLite file in a temp dir, or a fresh MySQL database. */
export async function freshTarget(dialect: 'sqlite' | 'mysql'): Promise<TestTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-store-'));
  if (dialect === 'sqlite') {
    return { url: `sqlite:${join(dir, 'log.db')}`, dir, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const db = await freshMysqlDatabase();
  return {
    url: db.url,
    dir,
    cleanup: async () => {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let clock = Date.now() - 60_000;

/**
 * What identifies a transaction written by makeTx in the log's answers: its start in µs (the
 * log's ids are its own, made from the row's key; makeTx's start times never repeat).
 */
export const logKey = (t: Pick<LoggedTransaction, 'startedAt'>): number => Math.round(t.startedAt * 1000);

/** A logged read of node 3 with four parameters; times strictly increasing across calls. */
export function makeTx(overrides: Partial<LoggedTransaction> = {}, i = 0): LoggedTransaction {
  clock += 1.25;
  const measure = 10 + (i % 100);
  return {
    id: newId(),
    bus: 'main',
    mode: 'master',
    node: 3,
    seq: i & 0xff,
    command: 4,
    commandName: 'read',
    purpose: 'poll',
    outcome: 'ok',
    status: undefined,
    errorCode: undefined,
    requestBytes: Uint8Array.of(0x10, 0x02, 0x03, i & 0xff, 0x04),
    replyBytes: Uint8Array.of(0x10, 0x02, 0x80, i & 0xff, 0x02),
    startedAt: clock,
    endedAt: clock + 0.75,
    latencyMs: 0.75,
    attempts: 1,
    params: [
      { process: 33, fbnr: 0, wireType: 0x40, dde: 205, key: 'fMeasure', raw: Buffer.from(new Float32Array([measure]).buffer).reverse().toString('hex'), value: measure },
      { process: 1, fbnr: 1, wireType: 0x20, dde: 9, key: 'setpoint', raw: '3e80', value: 16000 },
      { process: 1, fbnr: 0, wireType: 0x20, dde: 8, key: 'measure', raw: '7d00', value: 32000 },
      { process: 1, fbnr: 17, wireType: 0x60, dde: 25, key: 'fluidName', raw: Buffer.from("N2 'dry'").toString('hex'), value: "N2 'dry'" },
    ],
    error: undefined,
    ...overrides,
  };
}

export interface RecordedLine {
  readonly level: string;
  readonly msg: string;
  readonly obj: unknown;
}

/** A logger that keeps every line. */
export function recordingLogger(lines: RecordedLine[] = []): Logger & { lines: RecordedLine[] } {
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      lines.push({ level, msg: msg ?? (typeof obj === 'string' ? obj : ''), obj });
    };
  const logger = { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), child: () => logger };
  return logger;
}

/** A second process running a store whose database is unreachable, so it spools (test/store/crash-child.ts). */
export interface SpoolingChild {
  readonly pid: number | undefined;
  /** Transactions it has reported safely in its spool. */
  spooled(): number;
  /** kill -9, and wait for it to be gone. */
  kill(): Promise<void>;
}

export function spawnSpoolingChild(spoolDir: string): SpoolingChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/store/crash-child.ts', spoolDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let spooled = 0;
  child.stdout.on('data', (d: Buffer) => {
    const m = /spooled (\d+)\s*$/.exec(d.toString());
    if (m) spooled = Number(m[1]);
  });
  return {
    pid: child.pid,
    spooled: () => spooled,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
