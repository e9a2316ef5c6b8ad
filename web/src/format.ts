/** Numbers and times as a lab engineer reads them; times in the browser's own time zone. */
export function fmt(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  // Whole digits are never rounded away (a capacity of 6817 stays 6817); small values keep `digits` significant ones.
  const decimals = abs === 0 ? 0 : Math.min(3, Math.max(0, digits - 1 - Math.floor(Math.log10(abs))));
  return value.toLocaleString(undefined, { maximumFractionDigits: decimals });
}

export function pct(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const text = value.toFixed(1);
  // Noise around zero reads as 0.0 %, not -0.0 %.
  return `${text === '-0.0' ? '0.0' : text} %`;
}

export function time(iso: string | null | undefined, withDate = false): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return withDate ? d.toLocaleString() : d.toLocaleTimeString();
}

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
