/**
 * `flowbus db convert` as a process: killed with SIGKILL mid-run and started again, it leaves
 * exactly the rows one uninterrupted run leaves; what it says; what it refuses.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, BUILD_TIMEOUT_MS, buildOnce, flowbus } from '../helpers/cli.js';
import { buildOldLog, inTieGroups, variedLog } from './old-log.js';

const dir = mkdtempSync(join(tmpdir(), 'flowbus-convert-cli-'));
const N = 4000;
const pristine = join(dir, 'pristine.db');

/** The compact tables, every row in key order: what two conversions must agree on exactly. */
function dump(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    return {
      log_sources: db.prepare('SELECT * FROM log_sources ORDER BY id').all(),
      log_series: db.prepare('SELECT * FROM log_series ORDER BY id').all(),
      log_transactions: db.prepare('SELECT * FROM log_transactions ORDER BY source, started_us, k').all(),
      log_values: db.prepare('SELECT * FROM log_values ORDER BY series, time_us, k, position').all(),
      checkpoint: db.prepare('SELECT last_started_us, last_id, transactions, parameter_values FROM flowbus_convert').all(),
    };
  } finally {
    db.close();
  }
}

/** Transactions the checkpoint says are converted (0 before the first chunk commits). */
function converted(file: string): number {
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const t = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'flowbus_convert'").get() as { n: number };
    if (t.n === 0) return 0;
    const r = db.prepare('SELECT transactions FROM flowbus_convert WHERE id = 1').get() as { transactions: number } | undefined;
    return r?.transactions ?? 0;
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

/** Starts the conversion and kills it with SIGKILL once the checkpoint has passed `after`; the count converted when it died. */
async function killMidRun(file: string, after: number): Promise<number> {
  const child = spawn(process.execPath, [BIN, 'db', 'convert', '--store', `sqlite:${file}`, '--batch', '10'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  while (converted(file) <= after && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await exited;
  return converted(file);
}

beforeAll(async () => {
  buildOnce();
  // Ties in threes: with --batch 10 most chunk boundaries, and so most points a kill can stop at, split one.
  await buildOldLog(`sqlite:${pristine}`, inTieGroups(variedLog(N, 1_767_225_600_000_000, 7), 3));
}, BUILD_TIMEOUT_MS);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('flowbus db convert (the command)', () => {
  it('killed with SIGKILL twice mid-run and run again: exactly the rows of one uninterrupted run, none missing, none twice', async () => {
    const whole = join(dir, 'whole.db');
    const killed = join(dir, 'killed.db');
    copyFileSync(pristine, whole);
    copyFileSync(pristine, killed);
    const one = await flowbus('db', 'convert', '--store', `sqlite:${whole}`, '--batch', '10');
    expect(one.stderr).not.toContain('error');
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`converted ${N.toLocaleString('en')} transactions`);

    const first = await killMidRun(killed, 300);
    expect(first).toBeGreaterThan(300);
    expect(first).toBeLessThan(N);
    const second = await killMidRun(killed, first + 200);
    expect(second).toBeLessThan(N);
    const rest = await flowbus('db', 'convert', '--store', `sqlite:${killed}`, '--batch', '10');
    expect(rest.code).toBe(0);
    expect(rest.stdout).toContain(`converted ${(N - second).toLocaleString('en')} transactions`);
    expect(rest.stdout).toContain(`after ${second.toLocaleString('en')} converted before`);
    expect(rest.stdout).toContain(`verified: ${N.toLocaleString('en')} transactions`);

    const [a, b] = [dump(whole), dump(killed)];
    expect(a.log_transactions).toHaveLength(N);
    expect(b).toEqual(a);
  }, 240_000);

  it('says what it did: the rate, the verification, the space the old tables take; running again converts 0 and says so', async () => {
    const file = join(dir, 'again.db');
    copyFileSync(pristine, file);
    const r = await flowbus('db', 'convert', '--url', `sqlite:${file}`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/converted 4,000 transactions \([\d,]+ parameter values\), in [\d.]+ s/);
    expect(r.stdout).toMatch(/verified: 4,000 transactions and [\d,]+ parameter values equal old vs new/);
    expect(r.stdout).toMatch(/the old tables stay: [\d.]+ MB; flowbus db convert --drop-old drops them/);
    // Not a terminal: plain progress lines, the last at 100%.
    expect(r.stderr).toMatch(/converting 100\.0% 4,000\/4,000 transactions, [\d,]+\/s, ETA 0:00/);
    const again = await flowbus('db', 'convert', '--url', `sqlite:${file}`);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to convert: all 4,000 transactions were converted before (verified ');
    const json = await flowbus('db', 'convert', '--url', `sqlite:${file}`, '--drop-old', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ converted: 0, before: N, dropped: true, verified: { transactions: N } });
    expect(json.stderr.trim().split('\n').map((l) => JSON.parse(l) as { phase: string }).at(-1)).toMatchObject({ phase: 'verify', done: N, total: N, percent: 100 });
    const gone = await flowbus('db', 'convert', '--url', `sqlite:${file}`);
    expect(gone.code).toBe(0);
    expect(gone.stdout).toContain('nothing to convert: the old tables were dropped on ');
  }, 120_000);

  it('refuses a bad URL, a log that is not there (creating none), and a bad --batch, each with its code', async () => {
    const other = await flowbus('db', 'convert', '--store', 'postgres://x/y');
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/^error CONFIG_INVALID: .*\n.*store\.url .*must be a string matching \^\(sqlite:\|mysql:\/\/\)/);
    const bad = await flowbus('db', 'convert', '--store', 'mysql://root@127.0.0.1:3306/');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error STORE_BAD_URL: the mysql:// store URL names no database (mysql://user:pass@host:3306/db)\n');
    const away = await flowbus('db', 'convert', '--store', 'mysql://root@127.0.0.1:1/flowbus_conv');
    expect(away.code).toBe(2);
    expect(away.stderr).toMatch(/^error STORE_UNAVAILABLE: cannot convert mysql:\/\/root@127\.0\.0\.1:1\/flowbus_conv: .*ECONNREFUSED/);
    const missing = join(dir, 'nothing-here.db');
    const none = await flowbus('db', 'convert', '--store', `sqlite:${missing}`);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`error STORE_NOT_FOUND: no transaction log at ${missing}`);
    expect(existsSync(missing)).toBe(false);
    const batch = await flowbus('db', 'convert', '--store', `sqlite:${pristine}`, '--batch', '0');
    expect(batch.code).toBe(2);
    expect(batch.stderr).toContain('error CLI_BAD_OPTION: --batch must be a whole number 1..10000, got "0"');
  }, 60_000);
});
