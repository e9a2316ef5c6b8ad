/**
 * The instrument page's live chart (uPlot): measure and setpoint in the capacity unit on the left
 * axis, valve output in % on the right. The past comes from the history API (mean per bucket);
 * for the preset windows new readings are appended as they arrive and the window slides.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError, get, withQuery } from './api';
import { live } from './live';

export interface Reading {
  /** Seconds since the epoch. */
  readonly t: number;
  readonly measure: number | null;
  readonly setpoint: number | null;
  readonly valve: number | null;
}

/** New readings of one instrument, from the event stream or the page's own poll. */
export type Feed = Set<(r: Reading) => void>;

type Preset = '1m' | '10m' | '1h' | '24h';
const PRESETS: readonly { key: Preset; label: string; seconds: number; bucket: string }[] = [
  { key: '1m', label: '1 minute', seconds: 60, bucket: '1s' },
  { key: '10m', label: '10 minutes', seconds: 600, bucket: '2s' },
  { key: '1h', label: '1 hour', seconds: 3600, bucket: '10s' },
  { key: '24h', label: '24 hours', seconds: 86_400, bucket: '5m' },
];
type Win = { kind: 'preset'; preset: Preset } | { kind: 'range'; from: number; to: number };

/** Widths the API accepts (`STORE_BAD_BUCKET`: a number and ms|s|m|h|d), seconds. */
const STEPS: readonly [number, string][] = [
  [1, '1s'], [2, '2s'], [5, '5s'], [10, '10s'], [15, '15s'], [30, '30s'],
  [60, '1m'], [120, '2m'], [300, '5m'], [600, '10m'], [900, '15m'], [1800, '30m'],
  [3600, '1h'], [7200, '2h'], [10_800, '3h'], [21_600, '6h'], [43_200, '12h'],
  [86_400, '1d'], [172_800, '2d'], [604_800, '7d'], [2_592_000, '30d'],
];

/** About 300 points over a span of `seconds`. */
export function bucketFor(seconds: number): string {
  const want = seconds / 300;
  if (want < 1) return `${Math.max(1, Math.round(want * 1000))}ms`;
  for (const [s, text] of STEPS) if (s >= want) return text;
  return `${Math.min(366, Math.ceil(want / 86_400))}d`;
}

interface HistoryPoint {
  readonly time: string;
  readonly value?: number | string;
  readonly mean?: number;
}

type Cols = [number[], (number | null)[], (number | null)[], (number | null)[]];
const empty = (): Cols => [[], [], [], []];

/** The three histories side by side, one row per distinct time. */
function merge(series: readonly (readonly HistoryPoint[])[]): Cols {
  const rows = new Map<number, (number | null)[]>();
  series.forEach((points, k) => {
    for (const p of points) {
      const v = p.mean ?? (typeof p.value === 'number' ? p.value : null);
      const t = Date.parse(p.time) / 1000;
      let row = rows.get(t);
      if (!row) rows.set(t, (row = [null, null, null]));
      row[k] = k === 2 && v !== null ? (v / 16777215) * 100 : v;
    }
  });
  const out = empty();
  for (const t of [...rows.keys()].sort((a, b) => a - b)) {
    const r = rows.get(t) ?? [];
    out[0].push(t);
    out[1].push(r[0] ?? null);
    out[2].push(r[1] ?? null);
    out[3].push(r[2] ?? null);
  }
  return out;
}

function fromSamples(id: string, since: number): Cols {
  const s = live.samples.get(id);
  const out = empty();
  if (!s) return out;
  for (let i = 0; i < s.t.length; i++) {
    const t = s.t[i] ?? 0;
    if (t < since) continue;
    out[0].push(t);
    out[1].push(s.measure[i] ?? null);
    out[2].push(s.setpoint[i] ?? null);
    out[3].push(s.valve[i] ?? null);
  }
  return out;
}

/** Sets the plot's data and marks its box with the number of points and the last time (for tests). */
function show(u: uPlot | null, box: HTMLDivElement | null, d: Cols): void {
  u?.setData(d);
  if (!box) return;
  box.dataset.points = String(d[0].length);
  box.dataset.last = String(d[0][d[0].length - 1] ?? '');
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function LiveChart({ id, unit, feed }: { id: string; unit: string; feed: Feed }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = useRef<Cols>(empty());
  const win = useRef<Win>({ kind: 'preset', preset: '10m' });
  const [shown, setShown] = useState<Win>(win.current);
  const [note, setNote] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [from, setFrom] = useState(() => localInput(Date.now() - 3600_000));
  const [to, setTo] = useState(() => localInput(Date.now()));

  // The x range: the preset window ending now, or the chosen range.
  const xRange = (): [number, number] => {
    const w = win.current;
    if (w.kind === 'range') return [w.from, w.to];
    const p = PRESETS.find((x) => x.key === w.preset) ?? PRESETS[1];
    const now = Date.now() / 1000;
    return [now - (p?.seconds ?? 600), now];
  };

  // Creates the plot once, sized to its box.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fg = cssVar('--fg', '#1b1f24');
    const grid = cssVar('--line', '#d9dde3');
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const narrow = el.clientWidth < 500;
    const u = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: el.clientWidth < 500 ? 240 : 320,
        scales: {
          x: { time: true, range: () => xRange() },
          y: { auto: true },
          pct: { range: [0, 100] },
        },
        series: [
          {},
          { label: 'Measure', scale: 'y', stroke: '#1f6feb', width: 2, spanGaps: true, value: (_u, v) => (v === null ? '–' : `${v.toPrecision(4)} ${unit}`) },
          { label: 'Setpoint', scale: 'y', stroke: '#c77d12', width: 1.5, dash: [6, 4], spanGaps: true, value: (_u, v) => (v === null ? '–' : `${v.toPrecision(4)} ${unit}`) },
          { label: 'Valve', scale: 'pct', stroke: '#1a7f37', width: 1, spanGaps: true, value: (_u, v) => (v === null ? '–' : `${v.toFixed(1)} %`) },
        ],
        // On a phone the axis labels go (the legend names the series) and the axes narrow, so that the plot keeps most of the width.
        axes: narrow
          ? [
              { ...axis, size: 30 },
              { ...axis, scale: 'y', size: 42 },
              { ...axis, scale: 'pct', side: 1, grid: { show: false }, size: 30 },
            ]
          : [
              { ...axis },
              { ...axis, scale: 'y', label: unit, size: 60 },
              { ...axis, scale: 'pct', side: 1, label: 'valve %', grid: { show: false }, size: 50 },
            ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      data.current,
      el,
    );
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - u.width) >= 1) u.setSize({ width: w, height: w < 500 ? 240 : 320 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The plot is made once per instrument; the window lives in a ref.
  }, [id, unit]);

  // Loads the past for the window shown.
  useEffect(() => {
    let alive = true;
    const [since, until] = xRange();
    const w = win.current;
    const bucket = w.kind === 'range' ? bucketFor(until - since) : (PRESETS.find((p) => p.key === w.preset)?.bucket ?? '2s');
    const iso = (s: number) => new Date(s * 1000).toISOString();
    // The log keeps history for channel 1 only: a channel (`main:5/2`) shows its live samples.
    const ask = (param: string) =>
      id.includes('/')
        ? Promise.resolve({ points: [] as HistoryPoint[] })
        : get<{ points: HistoryPoint[] }>(withQuery(`/instruments/${encodeURIComponent(id)}/parameters/${param}/history`, { since: iso(since), until: iso(until), bucket }));
    setLoading(true);
    Promise.all([ask('fMeasure'), ask('fSetpoint'), ask('valveOutput')]).then(
      (h) => {
        if (!alive) return;
        const d = merge(h.map((x) => x.points));
        // Readings of this tab newer than the log's last bucket (the log writes in batches).
        if (w.kind === 'preset') {
          const extra = fromSamples(id, (d[0][d[0].length - 1] ?? since) + 0.001);
          for (let k = 0; k < 4; k++) (d[k] as (number | null)[]).push(...(extra[k] as (number | null)[]));
        }
        data.current = d;
        setNote(null);
        setLoading(false);
        show(plot.current, box.current, d);
      },
      (err: unknown) => {
        if (!alive) return;
        setLoading(false);
        if (err instanceof ApiError && err.code === 'API_NOT_READY') {
          setNote('The gateway keeps no transaction log: the chart shows only what this tab has seen (up to 15 minutes).');
          data.current = fromSamples(id, since);
        } else {
          setNote(`Cannot load the history: ${err instanceof Error ? err.message : String(err)}. Showing what this tab has seen.`);
          data.current = fromSamples(id, since);
        }
        show(plot.current, box.current, data.current);
      },
    );
    return () => {
      alive = false;
    };
  }, [id, shown]);

  // Appends new readings and slides the preset windows.
  useEffect(() => {
    const onReading = (r: Reading) => {
      if (win.current.kind !== 'preset') return;
      const d = data.current;
      const last = d[0][d[0].length - 1];
      if (last !== undefined && r.t <= last) return;
      d[0].push(r.t);
      d[1].push(r.measure);
      d[2].push(r.setpoint);
      d[3].push(r.valve);
      const [since] = xRange();
      let drop = 0;
      while (drop < d[0].length && (d[0][drop] ?? 0) < since) drop++;
      if (drop > 0) for (const col of d) col.splice(0, drop);
      show(plot.current, box.current, d);
    };
    feed.add(onReading);
    // Slides the window between readings too (an instrument that went quiet).
    const timer = setInterval(() => {
      if (win.current.kind === 'preset') plot.current?.setData(data.current);
    }, 5000);
    return () => {
      feed.delete(onReading);
      clearInterval(timer);
    };
  }, [feed]);

  const choose = (w: Win) => {
    win.current = w;
    setShown(w);
  };
  const rangeError = (() => {
    const a = Date.parse(from);
    const b = Date.parse(to);
    if (Number.isNaN(a) || Number.isNaN(b)) return 'Enter both times.';
    return a < b ? null : '"From" must be before "To".';
  })();

  return (
    <section class="panel" aria-label="Chart">
      <div class="row chart-controls">
        <div role="group" aria-label="Time window" class="seg">
          {PRESETS.map((p) => (
            <button type="button" key={p.key} aria-pressed={shown.kind === 'preset' && shown.preset === p.key} onClick={() => choose({ kind: 'preset', preset: p.key })}>
              {p.label}
            </button>
          ))}
        </div>
        <form
          class="row"
          aria-label="Time range"
          onSubmit={(e) => {
            e.preventDefault();
            if (!rangeError) choose({ kind: 'range', from: Date.parse(from) / 1000, to: Date.parse(to) / 1000 });
          }}
        >
          <label>
            From <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            To <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" aria-pressed={shown.kind === 'range'} disabled={rangeError !== null}>
            Show
          </button>
        </form>
      </div>
      {note && <p class="muted" role="note">{note}</p>}
      <p class="muted chart-state">
        {loading ? 'Loading history…' : shown.kind === 'range' ? `${new Date(shown.from * 1000).toLocaleString()} – ${new Date(shown.to * 1000).toLocaleString()} (fixed)` : 'Live: new readings are added as they arrive.'}
      </p>
      <div ref={box} class="chart" role="img" aria-label={`Measure and setpoint (${unit}) and valve output (%) of ${id}`} />
    </section>
  );
}
