/** The one wait-until helper of the tests: polls a condition on real time until it holds, or fails naming it. */
import { vi } from 'vitest';

export interface WaitOptions {
  /** How long to keep trying before failing (default 5000 ms). */
  readonly timeoutMs?: number;
  /** What is awaited, in words: the error names it (default "the condition"). */
  readonly what?: string;
  /** Time between two checks (default 20 ms). */
  readonly intervalMs?: number;
}

/** What a check returns when it holds: anything but `undefined`, `null` and `false`. */
export type Held<T> = Exclude<T, undefined | null | false>;

const held = <T>(v: T): v is Held<T> => v !== undefined && v !== null && v !== false;

/**
 * Calls `check` (sync or async) until it returns a value other than `undefined`, `null` or `false`, and returns that
 * value (`true` for a boolean check). A check that throws fails the wait at once with that error.
 * After `timeoutMs` it throws an Error naming `what` and the last value seen.
 *
 * Real time only: a test on vitest fake timers advances them (`vi.advanceTimersByTimeAsync`) instead of waiting.
 */
export async function waitUntil<T>(check: () => T | Promise<T>, options: WaitOptions = {}): Promise<Held<T>> {
  const { timeoutMs = 5000, what = 'the condition', intervalMs = 20 } = options;
  const start = performance.now();
  let checks = 0;
  for (;;) {
    const v = await check();
    checks++;
    if (held(v)) return v;
    const waited = performance.now() - start;
    if (waited >= timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${checks} checks; last seen: ${String(v)})`);
    }
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, timeoutMs - waited)));
  }
}

/**
 * On vitest fake timers: runs the clock `ms` forward and returns what `promise` settled with, or fails when it is still
 * pending then (so a test says how long the code under test may take, and never hangs waiting on a clock that stands still).
 */
export async function settledAfter<T>(ms: number, promise: Promise<T>): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => {
    settled = true;
  });
  watched.catch(() => {});
  await vi.advanceTimersByTimeAsync(ms);
  if (!settled) throw new Error(`still pending after ${ms} ms of fake time`);
  return watched;
}
