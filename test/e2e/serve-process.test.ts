/**
 * `flowbus serve` as a service manager runs it: a process of its own, JSON logs, stopped with
 * SIGTERM. It must stop cleanly (exit 0), with every transaction it logged in the database and
 * nothing left in the spool, and release the spool so that the next start can claim it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';
import { freePort } from '../helpers/serve.js';
import { waitUntil } from '../helpers/wait.js';
import { PURPOSES } from '../../src/store/codes.js';

interface Running {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

function start(cwd: string, httpPort: number): Running {
  const child = spawn(process.execPath, [BIN, 'serve', '--simulator', '--http-port', String(httpPort), '--store', 'sqlite:./log.db', '--log-format', 'json'], {
    cwd,
    env: { ...process.env, FLOWBUS_API_TOKEN: 'a-long-enough-token' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    const parts = (rest + text).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  child.stderr!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, exited };
}

describe('flowbus serve as a service', () => {
  beforeAll(buildOnce, BUILD_TIMEOUT_MS);
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-serve-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops cleanly on SIGTERM with every logged transaction in the database, and starts again on the same files', async () => {
    const port = await freePort();
    const first = start(dir, port);
    try {
      await waitUntil(() => first.lines.some((l) => /flowbus-gateway .* listening/.test(String(l.msg))), { timeoutMs: 60_000, what: 'listening' });
      const base = `http://127.0.0.1:${port}/api/v1`;
      // Discovery runs after 'listening': wait for the instrument, as a client would.
      await waitUntil(async () => ((await fetch(`${base}/instruments/3`)).status === 200 ? true : undefined), { timeoutMs: 30_000, what: 'instrument 3 discovered' });
      const put = await fetch(`${base}/instruments/3/parameters/fSetpoint`, {
        method: 'PUT',
        headers: { authorization: 'Bearer a-long-enough-token', 'content-type': 'application/json' },
        body: JSON.stringify({ value: 10 }),
      });
      expect(put.status, await put.clone().text()).toBe(200);
      await waitUntil(async () => ((await (await fetch(`${base}/bus`)).json()) as { store?: { written?: number } }).store?.written || undefined, { timeoutMs: 10_000, what: 'rows written' });
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);
    expect(first.lines.some((l) => /shutting down/.test(String(l.msg)))).toBe(true);
    const closed = first.lines.find((l) => /store closed/.test(String(l.msg)));
    expect(closed).toBeDefined();

    const db = new Database(join(dir, 'log.db'), { readonly: true });
    const n = (db.prepare('select count(*) as n from log_transactions').get() as { n: number }).n;
    const writes = (db.prepare('select count(*) as n from log_transactions where purpose = ?').get(PURPOSES.indexOf('write')) as { n: number }).n;
    db.close();
    expect(n).toBe(closed!.written);
    expect(writes).toBeGreaterThanOrEqual(1);
    // The spool is beside the store (sqlite:./log.db), emptied.
    expect(readFileSync(join(dir, 'log.db.spool', 'flowbus-spool.jsonl'), 'utf8')).toBe('');

    // The next start claims the same spool and appends to the same database.
    const second = start(dir, port);
    try {
      await waitUntil(() => second.lines.some((l) => /flowbus-gateway .* listening/.test(String(l.msg))), { timeoutMs: 60_000, what: 'listening again' });
    } finally {
      second.child.kill('SIGTERM');
    }
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('a SIGTERM while it is still starting waits for the start, then stops cleanly', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'flowbus-serve-early-'));
    try {
      const early = start(cwd, await freePort());
      // Fastify's own line comes while the gateway is still starting, before it says it listens.
      await waitUntil(() => early.lines.some((l) => /Server listening/.test(String(l.msg))), { timeoutMs: 60_000, what: 'the HTTP server up' });
      early.child.kill('SIGTERM');
      expect(await early.exited).toBe(0);
      expect(early.lines.some((l) => /shutting down/.test(String(l.msg)))).toBe(true);
      expect(early.lines.some((l) => /store closed/.test(String(l.msg)))).toBe(true);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);

  it('a port already in use: exit 2 with a message that says what to do, not a stack trace', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const { port } = busy.address() as { port: number };
    const cwd = mkdtempSync(join(tmpdir(), 'flowbus-serve-busy-'));
    try {
      const child = spawn(process.execPath, [BIN, 'serve', '--simulator', '--http-port', String(port), '--log-format', 'json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (t: string) => (err += t));
      child.stdout!.resume();
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(2);
      expect(err).toMatch(new RegExp(`error API_LISTEN_FAILED: 127\\.0\\.0\\.1:${port} is in use .*--http-port`));
      expect(err).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);

  it('a port in use while discovery still waits at node 128: only the real failure is reported', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const { port } = busy.address() as { port: number };
    // A line that accepts and never answers: discovery is still asking node 128 when the listen fails.
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const line = `tcp://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const cwd = mkdtempSync(join(tmpdir(), 'flowbus-serve-busy-'));
    try {
      const child = spawn(process.execPath, [BIN, 'serve', '--port', line, '--http-port', String(port), '--store', 'sqlite:./log.db', '--log-format', 'json'], {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      let out = '';
      child.stderr!.setEncoding('utf8').on('data', (t: string) => (err += t));
      child.stdout!.setEncoding('utf8').on('data', (t: string) => (out += t));
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(2);
      expect(err).toMatch(/error API_LISTEN_FAILED: /);
      const warnings = out.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level >= 40);
      expect(warnings.map((w) => w.msg)).toEqual([]);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
      await new Promise<void>((r) => silent.close(() => r()));
      rmSync(cwd, { recursive: true, force: true });
    }
  }, 60_000);
});
