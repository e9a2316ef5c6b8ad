/**
 * `flowbus simulate` as a user types it, each run a process of its own: a bad option is one line
 * with its code and exit status 2, never a stack trace; --pty never replaces what it did not make.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socatAvailable } from '../../simulator/cli.js';

const BIN = resolve('bin/flowbus.js');

async function simulate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, 'simulate', ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs the simulator until it says it is ready, then stops it with SIGTERM; resolves its exit code and output. */
function simulateUntilReady(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, 'simulate', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stopped = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`simulator not ready: ${stdout} ${stderr}`));
    }, 20_000);
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (!stopped && stdout.includes('Ctrl-C to stop')) {
        stopped = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

let dir: string;
let busy: net.Server;
let busyPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowbus-sim-cli-'));
  busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  busyPort = (busy.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => busy.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('flowbus simulate: bad options', () => {
  const cases: [string, () => string[], string, RegExp][] = [
    ['a port out of range', () => ['--tcp', '127.0.0.1:99999'], 'SIM_BAD_OPTION', /--tcp "127\.0\.0\.1:99999".*0\.\.65535/],
    ['a probability above 1', () => ['--faults', 'drop=2'], 'SIM_BAD_OPTION', /drop=2.*0\.\.1/],
    ['an unknown fault', () => ['--faults', 'bogus=0.1'], 'SIM_BAD_OPTION', /bogus=0\.1.*use drop/],
    ['a node that is no number', () => ['--nodes', 'abc'], 'SIM_BAD_OPTION', /"abc".*1\.\.127/],
    ['a node out of range', () => ['--nodes', '200'], 'SIM_BAD_OPTION', /"200".*1\.\.127/],
    ['a baud that is no number', () => ['--baud', 'abc'], 'SIM_BAD_OPTION', /--baud "abc"/],
    ['an unknown protocol', () => ['--protocol', 'foo'], 'SIM_BAD_OPTION', /binary or ascii, got "foo"/],
    ['a missing instruments file', () => ['--instruments', '/missing.json'], 'SIM_BAD_OPTION', /\/missing\.json: no such file/],
    ['an instruments file that is not JSON', () => ['--instruments', resolve('README.md')], 'SIM_BAD_OPTION', /is not JSON/],
    ['a pty in a missing folder', () => ['--pty', join(dir, 'missing', 'ttyV0')], 'SIM_PTY_PATH', /folder .*missing does not exist/],
    ['a port in use', () => ['--tcp', `127.0.0.1:${busyPort}`], 'SIM_LISTEN_FAILED', /is in use by another program/],
  ];
  it.each(cases)('%s: one line with the code, status 2', async (_what, args, code, message) => {
    const r = await simulate(...args());
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error ${code}: `));
    expect(lines[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  });
});

describe.skipIf(!(await socatAvailable()))('flowbus simulate --pty: never replaces what it did not make', () => {
  it.each([
    ['a regular file', (p: string) => writeFileSync(p, 'my notes\n'), 'a file'],
    ['a folder', (p: string) => mkdirSync(p), 'a folder'],
    ['a link to something else', (p: string) => symlinkSync(resolve('README.md'), p), 'a link to'],
  ] as const)('refuses %s at PATH or PATH.sim and leaves it as it was', async (what, make, shown) => {
    for (const at of ['', '.sim']) {
      const base = join(dir, `${what.replace(/ /g, '-')}${at || '-main'}`);
      const victim = base + at;
      make(victim);
      const before = lstatSync(victim);
      const r = await simulate('--pty', base);
      expect(r.code).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(new RegExp(`^error SIM_PTY_PATH_EXISTS: .*${victim.replace(/[.]/g, '\\.')} exists and is ${shown}`))]);
      const after = lstatSync(victim);
      expect(after.ino).toBe(before.ino);
      expect(after.mode).toBe(before.mode);
      if (before.isFile()) expect(readFileSync(victim, 'utf8')).toBe('my notes\n');
      if (before.isSymbolicLink()) expect(readlinkSync(victim)).toBe(resolve('README.md'));
    }
  }, 60_000);

  it('replaces a stale link to a /dev/pts/N left by a simulator that was killed, and removes it on exit', async () => {
    const path = join(dir, 'stale');
    symlinkSync('/dev/pts/9999', path);
    symlinkSync('/dev/pts/9998', `${path}.sim`);
    const r = await simulateUntilReady('--pty', path);
    expect(r.stdout).toContain(`pty: a master opens ${path}`);
    expect(r.code).toBe(0);
    expect(existsSync(path)).toBe(false);
  }, 30_000);
});
