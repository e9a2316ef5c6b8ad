/** The systemd unit in deploy/ is valid, and starts the gateway with options `flowbus serve` has. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, BUILD_TIMEOUT_MS, buildOnce } from '../helpers/cli.js';

const UNIT = resolve('deploy/flowbus-gateway.service');
const text = readFileSync(UNIT, 'utf8');

function systemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('deploy/flowbus-gateway.service', () => {
  beforeAll(buildOnce, BUILD_TIMEOUT_MS);

  it('starts `flowbus serve` with options that exist, and stops it with SIGTERM', () => {
    const exec = /^ExecStart=(.+)$/m.exec(text)?.[1]?.split(/\s+/) ?? [];
    // The bin itself, so that its #! line's node settings apply (bin/flowbus.js).
    expect(exec.slice(0, 3)).toEqual(['/opt/flowbus-gateway/bin/flowbus.js', 'serve', '--config']);
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --v8-pool-size=1');
    const help = execFileSync(process.execPath, [BIN, 'serve', '--help'], { encoding: 'utf8' });
    const options = exec.filter((a) => a.startsWith('--'));
    expect(options.length).toBeGreaterThan(0);
    for (const o of options) expect(help, o).toContain(o);
    expect(text).toMatch(/^KillSignal=SIGTERM$/m);
    expect(text).toMatch(/^Restart=always$/m);
  });

  it.skipIf(!systemdAnalyze())('passes systemd-analyze verify (but for the install paths this machine lacks)', () => {
    let out = '';
    try {
      execFileSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      out = String((err as { stderr?: string }).stderr ?? err);
    }
    // Only complaints about paths that exist after installing are acceptable here.
    const problems = out.split('\n').filter((l) => l.trim() && !/\/opt\/flowbus-gateway|\/etc\/flowbus-gateway/.test(l));
    expect(problems).toEqual([]);
  });
});
