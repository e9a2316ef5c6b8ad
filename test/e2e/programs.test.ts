/**
 * Setpoint programs across a restart of `flowbus serve` (SIGTERM half way through a ramp), for
 * each `onRestart`: resumed, held, or ended in the safe state; never forgotten. And
 * `flowbus program run` on a simulated bus.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';
import { startServe, untilReady, type ServeProcess } from '../helpers/serve.js';
import { waitUntil } from '../helpers/wait.js';

const TOKEN = 'programs-e2e-token-0123456789';
const env = { FLOWBUS_API_TOKEN: TOKEN };

interface View {
  id: string;
  state: string;
  step: { index: number } | null;
  reason?: { code: string };
  safe?: { applied: boolean };
  instruments: { id: string; target: number | null }[];
}

async function api<T>(s: ServeProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s.url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function fSetpoint(s: ServeProcess, node: number): Promise<number> {
  const r = await api<{ value: number }>(s, 'GET', `/instruments/${node}/parameters/fSetpoint`);
  return r.body.value;
}

describe('programs across a restart of flowbus serve', () => {
  beforeAll(buildOnce, BUILD_TIMEOUT_MS);
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** Starts a program, SIGTERMs the gateway half way through its ramp, starts it again in the same directory. */
  async function killHalfWay(onRestart: 'resume' | 'hold' | 'safe') {
    const cwd = mkdtempSync(join(tmpdir(), `flowbus-programs-${onRestart}-`));
    dirs.push(cwd);
    const first = await startServe({ cwd, env });
    await untilReady(first);
    const program = { name: `restart-${onRestart}`, onRestart, ramp: 'stepped', instruments: ['3', { ref: '5', safe: 'valve-closed' }], steps: [{ type: 'ramp', seconds: 60, values: { '3': 3000, '5': 1000 } }] };
    const started = await api<View>(first, 'POST', '/programs', program);
    expect(started.status).toBe(201);
    const id = started.body.id;
    await waitUntil(async () => (await fSetpoint(first, 3)) > 20, { what: 'the ramp under way' });
    expect(await first.stop()).toBe(0);
    const saved = JSON.parse(readFileSync(join(cwd, 'data', 'programs.json'), 'utf8')) as { programs: { id: string; state: string }[] };
    expect(saved.programs.find((p) => p.id === id)?.state).toBe('running');
    const second = await startServe({ cwd, env });
    await untilReady(second);
    return { second, id };
  }

  it('onRestart: resume continues the program', async () => {
    const { second: s, id } = await killHalfWay('resume');
    try {
      const v = await waitUntil(async () => {
        const r = (await api<View>(s, 'GET', `/programs/${id}`)).body;
        return r.state === 'running' && (r.instruments[0]?.target ?? 0) > 0 ? r : undefined;
      }, { timeoutMs: 20_000, what: 'the program resumed and writing' });
      expect(v.step?.index).toBe(0);
      // The new simulator starts at 0: the ramp goes on from there, written by the resumed program.
      await waitUntil(async () => (await fSetpoint(s, 3)) > 0, { what: 'a setpoint written after the restart' });
      expect(s.lines.some((l) => String(l.msg).includes(`program ${id}`) && String(l.msg).includes('resumed (onRestart: resume)'))).toBe(true);
    } finally {
      await s.stop();
    }
  });

  it('onRestart: hold keeps it held, writing nothing, until resumed', async () => {
    const { second: s, id } = await killHalfWay('hold');
    try {
      const v = await waitUntil(async () => {
        const r = (await api<View>(s, 'GET', `/programs/${id}`)).body;
        return r.state === 'held' ? r : undefined;
      }, { timeoutMs: 20_000, what: 'the program held' });
      expect(v.step?.index).toBe(0);
      expect(await fSetpoint(s, 3)).toBe(0);
      expect(s.lines.some((l) => String(l.msg).includes(`program ${id}`) && String(l.msg).includes('held (onRestart: hold)'))).toBe(true);
      expect((await api<View>(s, 'POST', `/programs/${id}/resume`, {})).body.state).toBe('running');
      await waitUntil(async () => (await fSetpoint(s, 3)) > 0, { what: 'the ramp going on after resume' });
    } finally {
      await s.stop();
    }
  });

  it('onRestart: safe ends it with every instrument in its safe state', async () => {
    const { second: s, id } = await killHalfWay('safe');
    try {
      const v = await waitUntil(async () => {
        const r = (await api<View>(s, 'GET', `/programs/${id}`)).body;
        return r.state === 'failed' && r.safe ? r : undefined;
      }, { timeoutMs: 20_000, what: 'the program in the safe state' });
      expect(v.reason?.code).toBe('GATEWAY_PROGRAM_RESTARTED');
      expect(v.safe?.applied).toBe(true);
      expect(await fSetpoint(s, 3)).toBe(0);
      const mode = await api<{ value: number }>(s, 'GET', '/instruments/5/parameters/controlMode');
      expect(mode.body.value).toBe(3);
      expect(s.lines.some((l) => String(l.msg).includes(`program ${id}`) && String(l.msg).includes('onRestart: safe'))).toBe(true);
    } finally {
      await s.stop();
    }
  });
});

describe('flowbus program run', () => {
  beforeAll(buildOnce, BUILD_TIMEOUT_MS);

  it('runs a program from a YAML file on a simulated bus, and on a gateway with --url, with progress lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowbus-program-run-'));
    try {
      const file = join(dir, 'p.yaml');
      writeFileSync(file, ['name: cli', 'instruments: [main:3]', 'steps:', '  - { type: hold, seconds: 0.5, values: { main:3: 1000 } }', '  - { type: ramp, seconds: 1, values: { main:3: 2000 } }', ''].join('\n'));
      const r = spawnSync(process.execPath, [BIN, 'program', 'run', file, '--port', 'sim://?nodes=3'], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^program \S+ \(cli\): 2 steps on main:3/);
      expect(r.stdout).toMatch(/running step 2\/2 ramp/);
      expect(r.stdout).toMatch(/completed 2 steps main:3=2000 mg\/min/);
      // The same file on a running gateway, which owns the port.
      const s = await startServe({ env });
      try {
        await untilReady(s);
        const r2 = spawnSync(process.execPath, [BIN, 'program', 'run', file, '--url', s.url], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } });
        expect(r2.status).toBe(0);
        expect(r2.stdout).toMatch(/completed 2 steps main:3=2000 mg\/min/);
        expect((await api<{ programs: View[] }>(s, 'GET', '/programs')).body.programs.map((p) => p.state)).toEqual(['completed']);
      } finally {
        await s.stop();
      }
      const bad = spawnSync(process.execPath, [BIN, 'program', 'run', file], { encoding: 'utf8', timeout: 30_000 });
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('CLI_BAD_OPTION');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
