/** `flowbus backup` and `flowbus restore`, run in process against one in-process simulator (the same one for each command). */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerBackupCommands } from '../../src/commands/backup.js';
import { registerOneShotCommands } from '../../src/commands/oneshot.js';
import { simulatorFactory } from '../../src/sim.js';
import { startBridgeApi } from '../bridge/api-rig.js';

const PORT = 'sim://?nodes=3';
let sims: ReturnType<typeof simulatorFactory>;
let dir: string;

beforeEach(() => {
  sims = simulatorFactory();
  dir = mkdtempSync(join(tmpdir(), 'flowbus-backup-'));
});

afterEach(async () => {
  for (const s of sims.simulators.values()) await s.close();
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = undefined;
  vi.restoreAllMocks();
});

/** Runs one command; its stdout and stderr lines, and its exit status. */
async function flowbus(...args: string[]): Promise<{ out: string; err: string; status: number }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  process.exitCode = undefined;
  const program = new Command().exitOverride();
  registerOneShotCommands(program, sims);
  registerBackupCommands(program, sims);
  await program.parseAsync(['node', 'flowbus', ...args]);
  vi.restoreAllMocks();
  const status = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out: out.join('\n'), err: err.join('\n'), status };
}

function instrument() {
  const sim = [...sims.simulators.values()][0];
  if (!sim) throw new Error('no simulator yet');
  return sim.instruments.get(3)!;
}

async function backupFile(): Promise<string> {
  const r = await flowbus('backup', '3', '-p', PORT);
  expect(r.status).toBe(0);
  const file = join(dir, 'backup.json');
  writeFileSync(file, r.out);
  return file;
}

describe('flowbus backup and restore', () => {
  it('backup holds every readable parameter with the identity', async () => {
    const file = await backupFile();
    const b = JSON.parse(readFileSync(file, 'utf8')) as { identity: { serial: string }; parameters: Record<string, { value: unknown }>; unsupported: string[] };
    expect(b.identity.serial).toBe(instrument().get('serialNumber'));
    expect(b.parameters.userTag).toBeDefined();
    expect(Object.keys(b.parameters).length + b.unsupported.length).toBeGreaterThan(400);
  });

  it('backup, change on the instrument, restore: equal again; the factory parameter is left alone', async () => {
    const file = await backupFile();
    const tag = instrument().get('userTag');
    const limit = instrument().get('alarmLimitMaximum');
    instrument().set('userTag', 'changed');
    instrument().set('alarmLimitMaximum', 12345);
    instrument().set('sensorBridgeCurrent', 1.5);
    const r = await flowbus('restore', '3', file, '-p', PORT, '--yes');
    expect(r.err).not.toMatch(/error/);
    expect(r.out).toMatch(/userTag\s+"changed"\s+".*"\s+write/);
    expect(r.out).toMatch(/sensorBridgeCurrent\s+1\.5\s+\S+\s+not restored: factory parameter/);
    expect(r.out).toMatch(/every written parameter matches the backup/);
    expect(r.status).toBe(0);
    expect(instrument().get('userTag')).toBe(tag);
    expect(instrument().get('alarmLimitMaximum')).toBe(limit);
    expect(instrument().get('sensorBridgeCurrent')).toBe(1.5);
  });

  it('--dry-run shows the differences and writes nothing', async () => {
    const file = await backupFile();
    instrument().set('userTag', 'changed');
    const r = await flowbus('restore', '3', file, '-p', PORT, '--dry-run');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/parameter\s+current\s+backup/);
    expect(r.out).toMatch(/userTag\s+"changed"/);
    expect(r.out).toMatch(/dry run: 1 of 1 differences would be written/);
    expect(instrument().get('userTag')).toBe('changed');
  });

  it('refuses a backup of another instrument unless --force', async () => {
    const file = await backupFile();
    const b = JSON.parse(readFileSync(file, 'utf8')) as { identity: { serial: string } };
    b.identity.serial = 'OTHER123';
    writeFileSync(file, JSON.stringify(b));
    instrument().set('userTag', 'changed');
    const r = await flowbus('restore', '3', file, '-p', PORT, '--yes');
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/CLI_BACKUP_MISMATCH.*serial "OTHER123" in the backup.*--force/);
    expect(instrument().get('userTag')).toBe('changed');
    const forced = await flowbus('restore', '3', file, '-p', PORT, '--yes', '--force');
    expect(forced.status).toBe(0);
    expect(instrument().get('userTag')).not.toBe('changed');
  });

  it('secured parameters only with --secured, inside Init Reset 64 ... 82', async () => {
    const file = await backupFile();
    const saved = instrument().get('polynomialConstantA');
    instrument().set('polynomialConstantA', 42);
    const locked = await flowbus('restore', '3', file, '-p', PORT, '--yes');
    expect(locked.out).toMatch(/polynomialConstantA\s+42\s+\S+\s+not restored: secured \(add --secured\)/);
    expect(instrument().get('polynomialConstantA')).toBe(42);
    const open = await flowbus('restore', '3', file, '-p', PORT, '--yes', '--secured');
    expect(open.out).toMatch(/polynomialConstantA\s+42\s+\S+\s+write/);
    expect(open.status).toBe(0);
    expect(instrument().get('polynomialConstantA')).toBe(saved);
    expect(instrument().get('initReset')).toBe(82);
  });

  it('without --yes and no terminal it refuses to write', async () => {
    const file = await backupFile();
    instrument().set('userTag', 'changed');
    const r = await flowbus('restore', '3', file, '-p', PORT);
    expect(r.err).toMatch(/CLI_NOT_CONFIRMED/);
    expect(instrument().get('userTag')).toBe('changed');
  });
});

describe('flowbus set with a unit', () => {
  it('takes 50% or --unit and writes the raw or float value', async () => {
    let r = await flowbus('set', '3', 'fSetpoint', '50%', '-p', PORT);
    expect(r.err).toBe('');
    expect(instrument().get('fSetpoint')).toBe(3408.5);
    expect(r.out).toMatch(/fSetpoint\s+3408\.5 mg\/min \(50 %\)/);
    r = await flowbus('set', '3', 'setpoint', '25', '--unit', '%', '-p', PORT);
    expect(instrument().get('setpoint')).toBe(8000);
    r = await flowbus('set', '3', 'setpoint', '6817 mg/min', '-p', PORT);
    expect(instrument().get('setpoint')).toBe(32000);
    r = await flowbus('set', '3', 'fSetpoint', '110%', '-p', PORT);
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/0\.\.6980\.39 mg\/min \(0\.\.102\.4 %\)/);
    r = await flowbus('set', '3', 'fSetpoint', '10', '--unit', 'ln/min', '-p', PORT);
    expect(r.err).toMatch(/PARAM_BAD_UNIT/);
    expect(instrument().get('setpoint')).toBe(32000);
  });
});

describe('flowbus backup --url', () => {
  it('reads the snapshot through a running gateway: a bridge with injection, the master staying attached', async () => {
    const rig = await startBridgeApi({ token: 'backup-url-token', read: ['fluidName', 'capacity'], bridge: { inject: true, injectIdleMs: 5 } });
    try {
      const url = await rig.app.listen({ host: '127.0.0.1', port: 0 });
      const r = await flowbus('backup', '3', '--url', url);
      expect(r.status).toBe(0);
      const b = JSON.parse(r.out) as { instrument: string; identity: { serial: string }; parameters: Record<string, { value: unknown }> };
      expect(b.instrument).toBe('tap:3');
      expect(b.parameters.serialNumber?.value).toBe(rig.sim.instruments.get(3)!.get('serialNumber'));
      expect(r.err).toMatch(/^tap:3: \d+ parameters/);
      // Neither or both of --port and --url: refused.
      expect((await flowbus('backup', '3')).err).toMatch(/CLI_BAD_OPTION.*either --port/);
      // An answer of the gateway's that is an error is the command's error.
      expect((await flowbus('backup', '9', '--url', url)).err).toMatch(/404 GATEWAY_NODE_UNKNOWN/);
    } finally {
      await rig.close();
    }
  });
});
