import { useEffect, useRef } from 'preact/hooks';
import type { Samples } from './live';

/** Measure (solid) and setpoint (dashed) over the last minutes, on a small canvas. */
export function Sparkline({ samples, minutes = 5, label }: { samples: Samples | undefined; minutes?: number; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 240;
    const h = c.clientHeight || 40;
    if (c.width !== Math.round(w * dpr)) c.width = Math.round(w * dpr);
    if (c.height !== Math.round(h * dpr)) c.height = Math.round(h * dpr);
    const g = c.getContext('2d');
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    if (!samples || samples.t.length < 2) return;
    const end = samples.t[samples.t.length - 1] ?? 0;
    const start = end - minutes * 60;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < samples.t.length; i++) {
      if ((samples.t[i] ?? 0) < start) continue;
      for (const v of [samples.measure[i], samples.setpoint[i]]) {
        if (v === null || v === undefined) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    if (!Number.isFinite(lo)) return;
    if (hi - lo < 1e-9) {
      hi += 1;
      lo -= 1;
    }
    const x = (t: number) => ((t - start) / (end - start || 1)) * (w - 2) + 1;
    const y = (v: number) => h - 2 - ((v - lo) / (hi - lo)) * (h - 4);
    const line = (series: (number | null)[], color: string, dash: number[]) => {
      g.beginPath();
      g.setLineDash(dash);
      g.strokeStyle = color;
      g.lineWidth = 1.5;
      let pen = false;
      for (let i = 0; i < samples.t.length; i++) {
        const t = samples.t[i] ?? 0;
        const v = series[i];
        if (t < start || v === null || v === undefined) {
          pen = false;
          continue;
        }
        if (pen) g.lineTo(x(t), y(v));
        else g.moveTo(x(t), y(v));
        pen = true;
      }
      g.stroke();
    };
    line(samples.setpoint, '#c77d12', [4, 3]);
    line(samples.measure, '#1f6feb', []);
  });
  return <canvas ref={canvas} class="spark" role="img" aria-label={label} />;
}
