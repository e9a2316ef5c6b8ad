/** `flowbus backup > file` and `flowbus restore` as processes, against a simulator served on TCP (the same instrument for both). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveTcp, type TcpServer } from '../../simulator/cli.js';
import { createSimulator } from '../../simulator/index.js';
import { BUILD_TIMEOUT_MS, buildOnce, flowbus } from '../helpers/cli.js';



describe('flowbus backup and restore as processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowbus-backup-cli-'));
  const sim = createSimulator({ nodes: [3] });
  let server: TcpServer | undefined;
  let port = '';

  beforeAll(async () => {
    await buildOnce();
    server = await serveTcp(sim, '127.0.0.1', 0);
    port = `tcp://127.0.0.1:${server.port}`;
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await server?.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('backup > file; a change; restore --dry-run writes nothing; restore --yes makes it equal again', async () => {
    const inst = sim.instruments.get(3)!;
    const backup = await flowbus('backup', '3', '--port', port);
    expect(backup.code).toBe(0);
    const file = join(dir, 'mfc3.json');
    writeFileSync(file, backup.stdout);
    expect(JSON.parse(backup.stdout)).toMatchObject({ identity: { serial: inst.get('serialNumber') }, parameters: { userTag: { dde: 115 } } });
    const tag = inst.get('userTag');
    inst.set('userTag', 'moved');
    inst.set('controlMode', 3);
    const dry = await flowbus('restore', '3', file, '--port', port, '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/userTag\s+"moved"/);
    expect(dry.stdout).toMatch(/controlMode\s+3\s+\d+\s+write/);
    expect(inst.get('userTag')).toBe('moved');
    const restore = await flowbus('restore', '3', file, '--port', port, '--yes');
    expect(restore.stderr).not.toMatch(/^error/m);
    expect(restore.code).toBe(0);
    expect(restore.stdout).toMatch(/every written parameter matches the backup/);
    expect(inst.get('userTag')).toBe(tag);
    expect(inst.get('controlMode')).not.toBe(3);
  });
});
