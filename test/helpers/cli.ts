/**
 * The CLI as a process, as it ships: `bin/flowbus.js` runs the compiled program in dist/.
 * Tests that spawn it call `buildOnce()` first (in beforeAll), which compiles dist/ when the
 * sources changed since the last build, so that `npx vitest run <file>` after an edit tests
 * the edit and not the previous build. Two test files doing so at once wait for one build.
 */
import { execFileSync } from 'node:child_process';
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
