/**
 * What the store benches share (bench/store.ts, bench/store-ab.ts, bench/multi-gateway.ts): the
 * transaction they write, MariaDB's CPU time, a fresh database on the test server.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection } from 'mysql2/promise';
import type { LoggedTransaction } from '../src/gateway/index.js';
import { newId } from '../src/shared/index.js';

/** A master's chained read of 4 parameters (2 floats, 2 integers), as a bus logs one; `i` varies the node, SEQ and fMeasure. */
export function storeTx(i: number, at = performance.timeOrigin + performance.now()): LoggedTransaction {
  const v = 10 + (i % 1000) / 10;
  return {
    id: newId(), bus: 'main', mode: 'master', node: 3 + (i % 4), seq: i & 0xff, command: 4, commandName: 'read', purpose: 'poll', outcome: 'ok',
    status: undefined, errorCode: undefined,
    requestBytes: Uint8Array.of(0x10, 0x02, 0x03, i & 0xff, 0x04, 0x01, 0x21, 0x01, 0x40, 0x01, 0x21, 0x01, 0x20, 0x10, 0x03),
    replyBytes: Uint8Array.of(0x10, 0x02, 0x03, i & 0xff, 0x02, 0x01, 0x21, 0x42, 0x20, 0x00, 0x00, 0x10, 0x03),
    startedAt: at - 3, endedAt: at, latencyMs: 3, attempts: 1, error: undefined,
    params: [
      { process: 33, fbnr: 0, wireType: 0x40, dde: 205, key: 'fMeasure', raw: '42200000', value: v },
      { process: 33, fbnr: 3, wireType: 0x40, dde: 206, key: 'fSetpoint', raw: '42200000', value: 40 },
      { process: 1, fbnr: 0, wireType: 0x20, dde: 8, key: 'measure', raw: '7d00', value: 32000 },
      { process: 1, fbnr: 1, wireType: 0x20, dde: 9, key: 'setpoint', raw: '7d00', value: 32000 },
    ],
  };
}

/** The MariaDB server's pid when it runs here. */
const serverPid = (() => {
  for (const name of ['mariadbd', 'mysqld']) {
    try {
      return Number(execFileSync('pidof', ['-s', name], { encoding: 'utf8' }).trim()) || undefined;
    } catch {
      // not this name
    }
  }
  return undefined;
})();

/** The MariaDB server's CPU time (utime + stime) in ms, when it runs here. */
export function serverCpuMs(): number | undefined {
  if (serverPid === undefined) return undefined;
  const fields = readFileSync(`/proc/${serverPid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command), in clock ticks (100/s).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** A database of its own on the server of `base` (a mysql:// URL), and how to drop it. */
export async function freshMysqlDb(base: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const u = new URL(base);
  const name = `flowbus_bench_${process.pid}_${Math.random().toString(36).slice(2, 7)}`;
  const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
  await c.query(`CREATE DATABASE ${name}`);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: async () => { await c.query(`DROP DATABASE ${name}`); await c.end(); } };
}
