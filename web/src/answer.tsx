/** The API's answer to a read or write, in words: status and read-back, or the error and what is allowed. */
import { ApiError, type ValueView } from './api';
import { fmt, time } from './format';

export interface WriteAnswer {
  readonly written?: unknown;
  readonly status?: { readonly code: number; readonly name: string };
  readonly readBack?: ValueView;
}

export type Outcome = { kind: 'ok'; text: string } | { kind: 'error'; text: string; code?: string; allowed?: string } | { kind: 'busy' } | null;

export function valueText(v: ValueView | undefined): string {
  if (!v) return '–';
  const shown = typeof v.value === 'number' ? fmt(v.value, 6) : String(v.value);
  return `${shown}${v.unit ? ` ${v.unit}` : ''}${v.label ? ` (${v.label})` : ''}`;
}

/** `backNote` goes after the read-back value (the setpoint's % of capacity). */
export function writeOutcome(a: WriteAnswer, backNote = ''): Outcome {
  const status = a.status ? `${a.status.name}${a.status.code ? ` (status ${a.status.code})` : ''}` : 'done';
  const back = a.readBack ? `; read back ${valueText(a.readBack)}${backNote} at ${time(a.readBack.time)}` : '';
  return { kind: 'ok', text: `${status}${back}` };
}

/** What the error's details say is allowed: a range, or a list of values. */
export function allowedText(details: unknown): string | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const d = details as Record<string, unknown>;
  const unit = typeof d.unit === 'string' ? ` ${d.unit}` : '';
  if (Array.isArray(d.allowed)) {
    const items = (d.allowed as unknown[]).map((x) => {
      if (typeof x === 'object' && x !== null && 'label' in x) {
        const e = x as { label: unknown; value?: unknown };
        return `${String(e.label)}${e.value === undefined ? '' : ` (${String(e.value)})`}`;
      }
      return String(x);
    });
    return `Allowed: ${items.join(', ')}`;
  }
  // The API sends null for a bound that does not apply (strings: `min: null, max: null, length: 16`).
  const min = typeof d.min === 'number' ? d.min : null;
  const max = typeof d.max === 'number' ? d.max : null;
  if (min !== null && max !== null) return `Allowed range: ${fmt(min, 6)} .. ${fmt(max, 6)}${unit}`;
  if (min !== null) return `Allowed: at least ${fmt(min, 6)}${unit}`;
  if (max !== null) return `Allowed: at most ${fmt(max, 6)}${unit}`;
  const length = typeof d.maxLength === 'number' ? d.maxLength : typeof d.length === 'number' ? d.length : null;
  if (length !== null) return `Allowed: at most ${length} characters`;
  return undefined;
}

export function errorOutcome(err: unknown): Outcome {
  if (err instanceof ApiError) {
    const allowed = allowedText(err.details);
    return { kind: 'error', text: err.message, code: err.code, ...(allowed ? { allowed } : {}) };
  }
  return { kind: 'error', text: `The gateway did not answer: ${err instanceof Error ? err.message : String(err)}` };
}

export function OutcomeView({ outcome }: { outcome: Outcome }) {
  return (
    <div role="status" aria-live="polite" class="outcome">
      {outcome?.kind === 'busy' && <span class="muted">Sending…</span>}
      {outcome?.kind === 'ok' && <span class="ok">{outcome.text}</span>}
      {outcome?.kind === 'error' && (
        <span class="error">
          {outcome.text}
          {outcome.code && <> <code>{outcome.code}</code></>}
          {outcome.allowed && <span class="allowed"> {outcome.allowed}</span>}
        </span>
      )}
    </div>
  );
}
