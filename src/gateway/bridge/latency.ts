import type { ForwardLatencyView } from '../service.js';

/** Log2 histogram of forward latencies, 1 µs .. 2^24 µs: O(1) per sample, fixed memory. */
export class LatencyHistogram {
  private readonly counts = new Array<number>(26).fill(0);
  private n = 0;
  private sum = 0;
  private max = 0;

  add(us: number): void {
    const v = Math.max(0, us);
    const i = v <= 1 ? 0 : Math.min(25, Math.ceil(Math.log2(v)));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.n++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  private quantile(q: number): number | null {
    if (this.n === 0) return null;
    const want = Math.ceil(q * this.n);
    let acc = 0;
    for (let i = 0; i < this.counts.length; i++) {
      acc += this.counts[i] ?? 0;
      if (acc >= want) return Math.min(2 ** i, this.max);
    }
    return this.max;
  }

  view(): ForwardLatencyView {
    return {
      count: this.n,
      meanUs: this.n ? Math.round((this.sum / this.n) * 10) / 10 : null,
      p50Us: this.quantile(0.5),
      p99Us: this.quantile(0.99),
      maxUs: this.n ? Math.round(this.max * 10) / 10 : null,
      buckets: this.counts.map((count, i) => ({ leUs: 2 ** i, count })).filter((b) => b.count > 0),
    };
  }
}
