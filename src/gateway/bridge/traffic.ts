import type { Transaction } from '../../observe/index.js';

/** Reply latencies kept for the mean and p99 in GET /bus: the most recent ones. */
const LATENCY_SAMPLES = 2048;

/** Counts of the observed transactions, for GET /bus: outcomes, orphan replies, reply latencies. */
export class TrafficStats {
  readonly outcomes: Record<string, number> = {};
  private readonly replyLatencies: number[] = [];
  orphans = 0;

  add(t: Transaction): void {
    this.outcomes[t.outcome] = (this.outcomes[t.outcome] ?? 0) + 1;
    if (t.outcome === 'orphan') this.orphans++;
    if (t.latencyMs !== undefined) {
      this.replyLatencies.push(t.latencyMs);
      if (this.replyLatencies.length > LATENCY_SAMPLES) this.replyLatencies.shift();
    }
  }

  /** Mean and p99 of the recent reply latencies, ms. */
  latency(): { count: number; meanMs: number | null; p99Ms: number | null } {
    const sorted = [...this.replyLatencies].sort((a, b) => a - b);
    const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : null;
    const p99 = sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] as number) : null;
    return { count: sorted.length, meanMs: mean === null ? null : Math.round(mean * 1000) / 1000, p99Ms: p99 };
  }
}
