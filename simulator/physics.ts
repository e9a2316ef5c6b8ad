/**
 * Flow physics, computed lazily from elapsed time so that no timers are needed: the
 * measured flow follows its target with a first-order lag,
 *
 *   m(t) = target + (m0 - target) * exp(-(t - t0) / tau),
 *
 * and every change of target (setpoint, control mode, ...) starts a new segment at the
 * current value. All flows are raw counts (32000 = 100 %); times are ms of the
 * simulator's clock.
 */
export interface Segment {
  /** Start of the segment. */
  readonly t0: number;
  /** Clean measure at t0. */
  readonly m0: number;
  /** What the flow is heading for (0 with the valve closed, even with a setpoint). */
  readonly target: number;
  /** The effective setpoint during the segment, for the response alarm. */
  readonly setpoint: number;
}

/** How long a segment is kept after it ended, for the response alarm window. */
const HISTORY_MS = 60_000;

export class FlowModel {
  private segments: Segment[];
  /** Integral of the clean measure (counts x ms) from `integralFrom` to the start of the current segment. */
  private integralBase = 0;
  private integralFrom: number;

  constructor(
    private readonly tauMs: number,
    now: number,
    m0: number,
    target: number,
    setpoint: number,
  ) {
    this.segments = [{ t0: now, m0, target, setpoint }];
    this.integralFrom = now;
  }

  get current(): Segment {
    return this.segments[this.segments.length - 1] as Segment;
  }

  /** The clean (noise-free) measure at time t. */
  measureAt(t: number): number {
    return valueIn(this.segmentAt(t), t, this.tauMs);
  }

  /** Starts a new segment at time t from the current measure (or from `m0` when given). */
  rebase(t: number, target: number, setpoint: number, m0?: number): void {
    const cur = this.current;
    const at = Math.max(t, cur.t0);
    this.integralBase += integralIn(cur, cur.t0 < this.integralFrom ? this.integralFrom : cur.t0, at, this.tauMs);
    const start = m0 ?? valueIn(cur, at, this.tauMs);
    this.segments.push({ t0: at, m0: start, target, setpoint });
    const keepFrom = at - HISTORY_MS;
    while (this.segments.length > 2 && (this.segments[1] as Segment).t0 < keepFrom) this.segments.shift();
  }

  /** Integral of the clean measure, counts x ms, since the last `resetIntegral` (or creation). */
  integralAt(t: number): number {
    const cur = this.current;
    const from = Math.max(cur.t0, this.integralFrom);
    return this.integralBase + (t > from ? integralIn(cur, from, t, this.tauMs) : 0);
  }

  /** Starts the integral again from 0 at time t. */
  resetIntegral(t: number): void {
    this.integralBase = 0;
    this.integralFrom = t;
  }

  /**
   * The smallest |setpoint - measure| over [from, to]; 0 when the window reaches back
   * before the model's history (so no alarm fires just after start-up).
   */
  minErrorOver(from: number, to: number): number {
    const first = this.segments[0] as Segment;
    if (from < first.t0) return 0;
    let best = Infinity;
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i] as Segment;
      const next = this.segments[i + 1];
      const a = Math.max(from, seg.t0);
      const b = Math.min(to, next ? next.t0 : to);
      if (b < a) continue;
      // The measure is monotone within a segment, so its range is spanned by the ends.
      const ma = valueIn(seg, a, this.tauMs);
      const mb = valueIn(seg, b, this.tauMs);
      const lo = Math.min(ma, mb);
      const hi = Math.max(ma, mb);
      const err = seg.setpoint < lo ? lo - seg.setpoint : seg.setpoint > hi ? seg.setpoint - hi : 0;
      best = Math.min(best, err);
    }
    return best;
  }

  private segmentAt(t: number): Segment {
    for (let i = this.segments.length - 1; i > 0; i--) {
      const seg = this.segments[i] as Segment;
      if (seg.t0 <= t) return seg;
    }
    return this.segments[0] as Segment;
  }
}

function valueIn(seg: Segment, t: number, tau: number): number {
  const dt = Math.max(0, t - seg.t0);
  if (tau <= 0) return seg.target;
  return seg.target + (seg.m0 - seg.target) * Math.exp(-dt / tau);
}

/** Integral of m over [a, b] within one segment. */
function integralIn(seg: Segment, a: number, b: number, tau: number): number {
  if (b <= a) return 0;
  if (tau <= 0) return seg.target * (b - a);
  const ea = Math.exp(-(a - seg.t0) / tau);
  const eb = Math.exp(-(b - seg.t0) / tau);
  return seg.target * (b - a) + (seg.m0 - seg.target) * tau * (ea - eb);
}
