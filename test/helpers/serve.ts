/**
 * `flowbus serve` as a process of its own, as `npm start` runs it: JSON logs collected, stopped
 * with SIGTERM. For tests of the whole gateway (the process, the dashboard in a browser) and for
 * benchmarks that measure it from outside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from './cli.js';
import { waitUntil } from './wait.js';

/** A TCP port nothing listens on right now (on 127.0.0.1). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly cwd: string;
  /** The JSON log lines so far. */
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
  /** SIGTERM, wait for the exit, remove the working directory (when it made one); the exit code. */
  stop(): Promise<number | null>;
}

export interface ServeOptions {
  /** Arguments after `serve` (default `--simulator`, as npm start). `--http-port` and `--log-format json` are added. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory (default: a new temporary one, removed by stop()). */
  readonly cwd?: string;
  /** The HTTP port (default: a free one). */
  readonly port?: number;
}

/** Starts `flowbus serve` (dist/ must be built: `buildOnce()`); does not wait for it. */
export async function startServe(options: ServeOptions = {}): Promise<ServeProcess> {
  const port = options.port ?? (await freePort());
  const ownCwd = options.cwd === undefined;
  const cwd = options.cwd ?? mkdtempSync(join(tmpdir(), 'flowbus-serve-'));
  const child = spawn(process.execPath, [BIN, 'serve', ...(options.args ?? ['--simulator']), '--http-port', String(port), '--log-format', 'json'], {
    cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    const parts = (rest + text).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) {
      if (!p.trim()) continue;
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        lines.push({ msg: p });
      }
    }
  });
  child.stderr!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const code = await exited;
    if (ownCwd) rmSync(cwd, { recursive: true, force: true });
    return code;
  };
  return { child, port, url: `http://127.0.0.1:${port}`, cwd, lines, exited, stop };
}

/** Waits until `count` instruments are online with their identity read (serial number known). */
export async function untilReady(s: ServeProcess, count = 3, timeoutMs = 60_000): Promise<void> {
  await waitUntil(
    async () => {
      if (s.child.exitCode !== null) throw new Error(`serve exited ${s.child.exitCode} before it was ready`);
      try {
        const res = await fetch(`${s.url}/api/v1/instruments`);
        if (!res.ok) return undefined;
        const body = (await res.json()) as { instruments: { online: boolean; identity: { serial?: string } }[] };
        return body.instruments.filter((i) => i.online && i.identity.serial).length >= count || undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    { timeoutMs, what: `${count} instruments online and identified` },
  );
}
