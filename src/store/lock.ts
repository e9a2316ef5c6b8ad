/**
 * An exclusive claim on a spool directory. Two gateways appending to one spool would interleave
 * batches, and the one that empties it after its own replay would throw away the other's rows,
 * so the second one must refuse to start. The claim is a file created with O_EXCL, holding the
 * owner's pid, host and boot; a claim whose owner is gone (kill -9, a power cut, a reboot) is
 * taken over, with a warning.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GatewayError, type Logger } from '../shared/index.js';

export const LOCK_FILE = 'flowbus-spool.lock';

interface Claim {
  readonly pid: number;
  readonly host: string;
  /** Linux's boot id: a pid from an earlier boot says nothing about this one. */
  readonly boot: string | null;
  readonly since: string;
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readClaim(path: string): Claim | undefined {
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as Partial<Claim>;
    if (typeof c.pid !== 'number' || typeof c.host !== 'string') return undefined;
    return { pid: c.pid, host: c.host, boot: typeof c.boot === 'string' ? c.boot : null, since: String(c.since ?? '') };
  } catch {
    return undefined;
  }
}

export interface SpoolLock {
  readonly path: string;
  release(): void;
}

/** Claims `dir` for this process; throws STORE_SPOOL_LOCKED when a live process holds it. */
export function lockSpoolDir(dir: string, logger: Logger): SpoolLock {
  const path = join(dir, LOCK_FILE);
  const mine: Claim = { pid: process.pid, host: hostname(), boot: bootId(), since: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(mine) + '\n', { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const held = readClaim(path);
    if (held && held.host === mine.host && (held.boot === null || held.boot === mine.boot) && alive(held.pid)) {
      const who = held.pid === process.pid ? 'this process already' : `process ${held.pid}`;
      throw new GatewayError(
        'STORE_SPOOL_LOCKED',
        `the spool directory ${dir} is in use: ${who} holds it (since ${held.since}). Two gateways must not share a spool; give each its own store.spoolDir`,
        { dir, pid: held.pid, since: held.since },
      );
    }
    if (held && held.host !== mine.host) {
      // Another machine (a shared network folder): its pids cannot be checked from here.
      throw new GatewayError(
        'STORE_SPOOL_LOCKED',
        `the spool directory ${dir} is claimed by process ${held.pid} on ${held.host} (since ${held.since}). If that gateway is gone, delete ${path}`,
        { dir, pid: held.pid, host: held.host, since: held.since },
      );
    }
    logger.warn({ path, previous: held ?? null }, 'spool directory: taking over the claim of a gateway that is no longer running');
    rmSync(path, { force: true });
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      // Only our own claim: never remove one another process took over.
      if (readClaim(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}
