/**
 * The one-shot commands as a user types them (`flowbus scan|get|set|params|config check`),
 * each a process of its own, against the built-in simulator.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, BUILD_TIMEOUT_MS, buildOnce, flowbus, flowbusIn } from '../helpers/cli.js';

const PORT = 'sim://?nodes=3,5';

/** Runs a command whose reader goes away after the first chunk, as `| head -1` does. */
function flowbusIntoHead(...args: string[]): Promise<{ code: number | null; signal: string | null; first: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let first = '';
    let stderr = '';
    child.stdout.once('data', (b: Buffer) => {
      first = b.toString();
      child.stdout.destroy();
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code, signal) => done({ code, signal, first, stderr }));
  });
}

/** A socat -x -v capture of `pairs` request/reply pairs, 20 ms apart: enough output to fill a pipe. */
function bigCapture(pairs: number): string {
  const req = '10 02 01 80 11 04 01 80 00 01 81 00 02 82 00 03 83 00 04 04 00 05 10 03';
  const rep = '10 02 01 80 0c 02 01 80 03 81 7f 82 04 83 20 04 43 10 03';
  const lines: string[] = [];
  for (let i = 0; i < pairs; i++) {
    const t = (ms: number) => `2015/06/08 13:${String(Math.floor(ms / 60000) % 60).padStart(2, '0')}:${String(Math.floor(ms / 1000) % 60).padStart(2, '0')}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
    lines.push(`> ${t(i * 20)}  length=24 from=${i * 24} to=${i * 24 + 23}`, ` ${req}`);
    lines.push(`< ${t(i * 20 + 10)}  length=19 from=${i * 19} to=${i * 19 + 18}`, ` ${rep}`);
  }
  return lines.join('\n') + '\n';
}

describe('a closed pipe (| head) ends a command quietly with status 0', () => {
  it.each([
    ['params', () => ['params']],
    ['params --json', () => ['params', '--json']],
    ['decode', () => {
      const dir = mkdtempSync(join(tmpdir(), 'flowbus-epipe-'));
      writeFileSync(join(dir, 'big.log'), bigCapture(3000));
      return ['decode', join(dir, 'big.log')];
    }],
    ['decode --json', () => {
      const dir = mkdtempSync(join(tmpdir(), 'flowbus-epipe-'));
      writeFileSync(join(dir, 'big.log'), bigCapture(3000));
      return ['decode', '--json', join(dir, 'big.log')];
    }],
  ])('%s', async (_name, args) => {
    const r = await flowbusIntoHead(...args());
    expect(r.first.length).toBeGreaterThan(0);
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
  }, 60_000);
});

describe('flowbus one-shot commands', () => {
  beforeAll(buildOnce, BUILD_TIMEOUT_MS);

  it('scan finds the instruments with their identity', async () => {
    const r = await flowbus('scan', '--port', PORT, '--json');
    expect(r.code).toBe(0);
    const found = JSON.parse(r.stdout) as { node: number; bhtModelNumber: string }[];
    expect(found.map((f) => f.node)).toEqual([3, 5]);
    expect(found[0]?.bhtModelNumber).toBe('F-201EV-ABD');
  });

  it('scan on a silent line: one message with the likely causes and status 1, with or without --full', async () => {
    const silent = createServer((socket) => socket.resume());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = `tcp://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const [chain, full, json] = await Promise.all([
        flowbus('scan', '--port', port, '--timeout', '100'),
        flowbus('scan', '--port', port, '--full'),
        flowbus('scan', '--port', port, '--timeout', '100', '--json'),
      ]);
      const cause = new RegExp(`^error CLI_NO_INSTRUMENTS: no instrument answered on ${port.replace(/[.]/g, '\\.')} \\(binary\\): check the cable .*powered, the baud rate \\(--baud; 38400 by default\\), the framing \\(--protocol binary or ascii.*\\), and the node`);
      for (const r of [chain, full, json]) {
        expect(r.code).toBe(1);
        expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(cause);
      }
      expect(chain.stdout).toBe('');
      expect(full.stdout).toBe('');
      expect(JSON.parse(json.stdout)).toEqual([]);
    } finally {
      await new Promise<void>((r) => silent.close(() => r()));
    }
  }, 60_000);

  it('get reads several parameters in one go', async () => {
    const r = await flowbus('get', '--port', PORT, '3', 'fMeasure', 'fluidName', '--json');
    expect(r.code).toBe(0);
    const values = JSON.parse(r.stdout) as { key: string; name: string; unit?: string; time: string; value: unknown }[];
    expect(values.map((v) => v.key)).toEqual(['fMeasure', 'fluidName']);
    expect(typeof values[0]?.value).toBe('number');
    expect(values[1]?.value).toBe('EtOH 15mba');
    // The fields of the API's value view: the name, the unit (the instrument's own capacity unit), the time.
    expect(values[0]).toMatchObject({ name: 'Fmeasure', unit: 'mg/min' });
    expect(values[1]).toMatchObject({ name: 'Fluid Name' });
    expect(values[1]).not.toHaveProperty('unit');
    for (const v of values) expect(Math.abs(Date.parse(v.time) - Date.now())).toBeLessThan(60_000);
  });

  it('set writes and reads back; an enumeration by name; a setpoint above capacity is refused before the wire', async () => {
    const ok = await flowbus('set', '--port', PORT, '3', 'fSetpoint', '100');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^fSetpoint\s+100\b/m);
    const named = await flowbus('set', '--port', PORT, '3', 'controlMode', 'valve closed');
    expect(named.code).toBe(0);
    expect(named.stdout).toMatch(/^controlMode\s+3 \(/m);
    const refused = await flowbus('set', '--port', PORT, '3', 'fSetpoint', '99999');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/error PARAM_INVALID_VALUE: fSetpoint \(DDE 206\): 99999 is outside 0\.\.6980\.39 mg\/min/);
    const range = await flowbus('set', '--port', PORT, '3', 'controlMode', '300');
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/error PARAM_INVALID_VALUE: .*controlMode.*0\.\.255/);
  });

  it('get and set address a channel of a multi-channel instrument as node/channel', async () => {
    const port = 'sim://?nodes=3,5&channels=5:3';
    const got = await flowbus('get', '--port', port, '5/2', 'fluidName', 'capacity', 'capacityUnit', '--json');
    expect(got.code).toBe(0);
    expect((JSON.parse(got.stdout) as { value: unknown }[]).map((v) => v.value)).toEqual(['Ar', 140, 'mln/min']);
    // Checked against channel 3's capacity (100 mln/min, up to 102.4 %), not channel 1's 6817 mg/min.
    const refused = await flowbus('set', '--port', port, '5/3', 'fSetpoint', '120');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/120 is outside 0\.\.102\.39\d* mln\/min .*capacity is 100 mln\/min/);
    const ok = await flowbus('set', '--port', port, '5/3', 'fSetpoint', '50');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^fSetpoint\s+50 mln\/min \(50 %\)/m);
    const bad = await flowbus('get', '--port', port, '5/0', 'fMeasure');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/error CLI_BAD_NODE: channel must be 1\.\.16/);
  });

  it('set refuses what the API refuses: initReset on its own, unlisted enumeration numbers, over-long text, and names the setpoint range in a type error', async () => {
    const [initReset, unlisted, tag, text] = await Promise.all([
      flowbus('set', '--port', PORT, '--secured', '3', 'initReset', '64'),
      flowbus('set', '--port', PORT, '3', 'controlMode', '99'),
      flowbus('set', '--port', PORT, '3', 'userTag', 'a user tag of 29 characters!!'),
      flowbus('set', '--port', PORT, '3', 'fSetpoint', 'abc'),
    ]);
    expect(initReset.code).toBe(2);
    expect(initReset.stderr).toMatch(/error PARAM_SECURED: initReset \(DDE 7\) is never written on its own/);
    expect(unlisted.code).toBe(2);
    expect(unlisted.stderr).toMatch(/error PARAM_BAD_ENUM: controlMode \(DDE 12\): 99 is not one of its listed values/);
    expect(tag.code).toBe(2);
    expect(tag.stderr).toMatch(/error PARAM_INVALID_VALUE: userTag \(DDE 115\): 29 characters is too long: at most 16 characters/);
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/error PARAM_INVALID_VALUE: fSetpoint .*allowed range 0\.\.6980\.39 mg\/min/);
  });

  it('params searches the database; config check explains a config; every command has --help', async () => {
    const p = await flowbus('params', 'fmeasure');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/DDE 205\s+fMeasure/);
    const c = await flowbus('config', 'check', 'flowbus.example.yaml');
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/flowbus\.example\.yaml: ok/);
    const cmds = ['serve', 'scan', 'get', 'set', 'params', 'decode', 'replay', 'export'];
    const helps = await Promise.all(cmds.map((cmd) => flowbus(cmd, '--help')));
    helps.forEach((h, i) => {
      expect(h.code, cmds[i]).toBe(0);
      expect(h.stdout, cmds[i]).toMatch(new RegExp(`^Usage: flowbus ${cmds[i]}`));
    });
  }, 60_000);

  it.skipIf(!existsSync(resolve('../shared/captures/bridgeEtOH2014-12-03.log')))('replay --config imports into the configured store, with its spool beside the configured one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowbus-replay-config-'));
    const elsewhere = mkdtempSync(join(tmpdir(), 'flowbus-replay-cwd-'));
    try {
      const cfg = join(dir, 'gateway.yaml');
      writeFileSync(cfg, `buses:\n  - port: sim://?nodes=3\nstore:\n  url: sqlite:${join(dir, 'log.db')}\n  spoolDir: ${join(dir, 'spool')}\n`);
      const r = await flowbusIn(elsewhere, 'replay', resolve('../shared/captures/bridgeEtOH2014-12-03.log'), '--config', cfg);
      expect(r.code, r.stderr).toBe(0);
      const db = new Database(join(dir, 'log.db'), { readonly: true });
      const n = (db.prepare("select count(*) as n from log_transactions t join log_sources s on s.id = t.source where s.bus = 'capture'").get() as { n: number }).n;
      db.close();
      expect(n).toBe(191);
      expect(existsSync(join(dir, 'spool-replay'))).toBe(true);
      expect(readdirSync(elsewhere)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    }
  }, 60_000);
});
