/**
 * A problem that lasts and is met again and again (a bus that stays down, an instrument that stays
 * silent): worth a log line the first time, again when its reason changes, and as a reminder every
 * 10 minutes with how often it was met, but never on every attempt. An adapter unplugged for a
 * weekend must not write a warning every 10 s.
 */
export class OngoingProblem {
  private current: { reason: string; since: number; attempts: number; loggedAt: number } | undefined;

  constructor(private readonly remindMs = 600_000) {}

  /** Counts one more meeting with the problem; returns what to log now, or undefined to stay quiet. */
  seen(reason: string, now = Date.now()): { first: boolean; attempts: number; since: number } | undefined {
    const was = this.current;
    if (was) was.attempts++;
    if (was && was.reason === reason && now - was.loggedAt < this.remindMs) return undefined;
    this.current = { reason, since: was?.since ?? now, attempts: was?.attempts ?? 1, loggedAt: now };
    return { first: !was, attempts: this.current.attempts, since: this.current.since };
  }

  /** Ends it: how long it lasted (s) and how often it was met, or undefined when there was none. */
  over(now = Date.now()): { forS: number; attempts: number } | undefined {
    const was = this.current;
    this.current = undefined;
    return was && { forS: Math.round((now - was.since) / 1000), attempts: was.attempts };
  }
}
