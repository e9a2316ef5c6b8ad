/**
 * The one-shot commands as a user types them (`flowbus scan|get|set|params|config check`),
 * each a process of its own, against the built-in simulator.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = resolve('bin/flowbus.js');
const PORT = 'sim://?nodes=3,5';

async function flowbus(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BIN, ...args], { timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('flowbus one-shot commands', () => {
  it('scan finds the instruments with their identity', async () => {
    const r = await flowbus('scan', '--port', PORT, '--json');
    expect(r.code).toBe(0);
    const found = JSON.parse(r.stdout) as { node: number; bhtModelNumber: string }[];
    expect(found.map((f) => f.node)).toEqual([3, 5]);
    expect(found[0]?.bhtModelNumber).toBe('F-201EV-ABD');
  });

  it('get reads several parameters in one go', async () => {
    const r = await flowbus('get', '--port', PORT, '3', 'fMeasure', 'fluidName', '--json');
    expect(r.code).toBe(0);
    const values = JSON.parse(r.stdout) as { key: string; value: unknown }[];
    expect(values.map((v) => v.key)).toEqual(['fMeasure', 'fluidName']);
    expect(typeof values[0]?.value).toBe('number');
    expect(values[1]?.value).toBe('EtOH 15mba');
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
});
