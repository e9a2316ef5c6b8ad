/**
 * The CLI as a process, as it ships: `bin/flowbus.js` runs the compiled program in dist/.
 * Tests that spawn it call `buildOnce()` first (in beforeAll), which compiles dist/ when the
 * sources changed since the last build, so that `npx vitest run <file>` after an edit tests
 * the edit and not the previous build. Two test files doing so at once wait for one build.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/flowbus.js', import.meta.url));
export const ENSURE_BUILD = fileURLToPath(new URL('../../scripts/ensure-build.mjs', import.meta.url));

/** Builds dist/ when it is out of date (tsc takes about 30 s; up to date, 0.1 s). */
export function buildOnce(): void {
  execFileSync(process.execPath, [ENSURE_BUILD], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 180_000 });
}

/** For beforeAll: the build may take a while on a busy machine. */
export const BUILD_TIMEOUT_MS = 180_000;

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const execFileAsync = promisify(execFile);

/** Runs `bin/flowbus.js ARGS` to its end (in `cwd`, default this process's): exit code and output, never a throw. */
export async function flowbusIn(cwd: string, ...args: string[]): Promise<CliResult> {
  try {
    const r = await execFileAsync(process.execPath, [BIN, ...args], { timeout: 60_000, cwd, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `flowbusIn` in this process's working directory. */
export function flowbus(...args: string[]): Promise<CliResult> {
  return flowbusIn(process.cwd(), ...args);
}
