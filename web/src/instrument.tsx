/**
 * One instrument: its facts and live readings, a chart of measure, setpoint and valve, the
 * setpoint and control mode, and a browser over the whole parameter database.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, get, send, type Instrument, type ProgramView, type ValueView } from './api';
import { OutcomeView, errorOutcome, valueText, writeOutcome, type Outcome, type WriteAnswer } from './answer';
import { LiveChart, type Feed, type Reading } from './chart';
import { fmt, pct, ago } from './format';
import { href, useLive, useToken } from './hooks';
import { bridgeReadOnly, live, percentOf, readings } from './live';
import { Facts, OnlineBadge, Readings, alarmText, instrumentTitle } from './overview';

export interface ParamDef {
  readonly dde: number;
  readonly key: string;
  readonly name: string;
  readonly valueType: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly secured: boolean;
  readonly highlySecured: boolean;
  readonly min: number | null;
  readonly max: number | null;
  readonly unit?: string;
  readonly description?: string;
  readonly enumeration?: readonly { readonly value: number; readonly label: string }[];
  readonly enumerationOpen?: boolean;
  readonly bits?: boolean;
  readonly maxLength?: number;
}

let paramDb: Promise<ParamDef[]> | null = null;
/** The parameter database, fetched once per page. */
function parameters(): Promise<ParamDef[]> {
  paramDb ??= get<{ parameters: ParamDef[] }>('/parameters').then(
    (r) => r.parameters,
    (err: unknown) => {
      paramDb = null; // asked again next time
      throw err;
    },
  );
  return paramDb;
}

const path = (id: string, param: string) => `/instruments/${encodeURIComponent(id)}/parameters/${encodeURIComponent(param)}`;

/** Why writes are not possible from this tab, or null when they are. */
function useWriteBlock(): string | null {
  const token = useToken();
  const l = useLive();
  if (bridgeReadOnly(l.bus)) return 'Read-only: in bridge mode another master owns the bus (bridge.inject is off).';
  if (!token) return 'Read-only: enter the API token at the top of the page to write.';
  return null;
}

function readingOf(i: Instrument): Reading {
  const r = readings(i.values, i.identity);
  const t = Date.parse(i.values.fMeasure?.time ?? i.values.measure?.time ?? '') || Date.now();
  return { t: t / 1000, ...r };
}

/**
 * The instrument as the live model has it, or, while the event stream is not connected, as
 * fetched every second; every new reading goes to `feed` (the chart).
 */
function useInstrument(id: string, feed: Feed): { instrument: Instrument | undefined; missing: string | null } {
  const l = useLive();
  const [polled, setPolled] = useState<Instrument | undefined>(undefined);
  const [missing, setMissing] = useState<string | null>(null);
  // Not polled while the gateway is unreachable either: the stream's reconnects are the probe.
  const streaming = l.stream === 'live' || l.unreachable;
  useEffect(() => {
    const onValues = (e: { instrument: string }) => {
      const i = live.instruments.get(id);
      if (e.instrument === id && i) for (const f of feed) f(readingOf(i));
    };
    live.valueListeners.add(onValues);
    return () => void live.valueListeners.delete(onValues);
  }, [id, feed]);
  useEffect(() => {
    if (streaming) return;
    let alive = true;
    const poll = () =>
      get<Instrument>(`/instruments/${encodeURIComponent(id)}`).then(
        (i) => {
          if (!alive) return;
          setPolled(i);
          setMissing(null);
          for (const f of feed) f(readingOf(i));
        },
        (err: unknown) => alive && setMissing(err instanceof ApiError && err.status === 404 ? err.message : null),
      );
    void poll();
    const timer = setInterval(() => void poll(), 1000);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, [id, feed, streaming]);
  const known = l.instruments.get(id);
  const newer = polled && (!known || Date.parse(polled.lastSeen ?? '') > Date.parse(known.lastSeen ?? '')) ? polled : known;
  return { instrument: newer, missing };
}

function Header({ i }: { i: Instrument }) {
  const id = i.identity;
  return (
    <section class={`panel ${live.unreachable ? 'stale' : ''}`} aria-label="Instrument">
      <div class="inst-head">
        <h1>
          {instrumentTitle(i)} <span class="addr">· {i.id}</span>
        </h1>
        <OnlineBadge online={i.online} stale={live.unreachable} />
        <span class="muted">last seen {ago(i.lastSeen)}</span>
      </div>
      <Facts instrument={i} wide>
        <dt>Firmware</dt>
        <dd>{id.firmware ?? '–'}</dd>
      </Facts>
      <Readings instrument={i} alarm={alarmText(i)} />
      {live.batchEnds.has(i.id) && (
        <p class="warn" data-field="batch">
          batch ended
        </p>
      )}
    </section>
  );
}

function SetpointForm({ i, block }: { i: Instrument; block: string | null }) {
  const cap = i.identity.capacity;
  const unit = i.identity.capacityUnit ?? 'capacity unit';
  const [value, setValue] = useState('');
  const [inUnit, setInUnit] = useState<'unit' | '%'>('unit');
  const [outcome, setOutcome] = useState<Outcome>(null);
  const [warning, setWarning] = useState<string | null>(null);
  const apply = async () => {
    // A new attempt: nothing of the last one stays on screen.
    setOutcome(null);
    setWarning(null);
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) {
      setWarning('Enter a number.');
      return;
    }
    // Percent goes to the API as percent (`"unit": "%"`): the gateway's one conversion turns it into
    // fSetpoint in the capacity unit, and its range error names both.
    const percent = inUnit === '%' ? n : percentOf(n, cap);
    // The API decides what is allowed (up to 102.4 % of capacity); above 100 % only a note.
    if (percent !== null && percent > 100 && percent <= 102.4) setWarning(`${pct(percent)} of capacity: the instrument may not reach it.`);
    setOutcome({ kind: 'busy' });
    try {
      const a = await send<WriteAnswer>('PUT', path(i.id, 'fSetpoint'), inUnit === '%' ? { value: n, unit: '%' } : { value: n });
      // In % mode the read-back is also shown in % of capacity, as the API gives it.
      const back = a.readBack as { value?: unknown; percent?: number } | undefined;
      const inPct = inUnit === '%' ? (back?.percent ?? (typeof back?.value === 'number' ? percentOf(back.value, cap) : null)) : null;
      setOutcome(writeOutcome(a, inPct === null ? undefined : ` (${pct(inPct)} of capacity)`));
    } catch (err) {
      setOutcome(errorOutcome(err));
    }
  };
  return (
    <form
      class="panel"
      aria-label="Setpoint entry"
      onSubmit={(e) => {
        e.preventDefault();
        void apply();
      }}
    >
      <h2>Setpoint</h2>
      {block && <p class="muted">{block}</p>}
      <div class="row">
        <label>
          Setpoint{' '}
          <input type="number" step="any" inputMode="decimal" value={value} disabled={block !== null} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Unit{' '}
          <select value={inUnit} disabled={block !== null} onChange={(e) => setInUnit((e.target as HTMLSelectElement).value === '%' ? '%' : 'unit')}>
            <option value="unit">{unit}</option>
            {cap ? <option value="%">%</option> : null}
          </select>
        </label>
        <button type="submit" disabled={block !== null || outcome?.kind === 'busy'}>
          Apply
        </button>
      </div>
      {warning && <p class="warn">{warning}</p>}
      <OutcomeView outcome={outcome} />
    </form>
  );
}

/**
 * Modes that drive the valve fully closed or open, or hand it to something else, asked about first
 * (controlMode: close valve, setpoint = 100 %, purge valve, setpoint = 0 %, valve steering, valve safe state).
 */
const VALVE_EXTREMES = /close valve|valve clos|fully open|purge|safe state|setpoint = (?:0|100)%|valve ste(?:a|e)ring/i;

function ControlModeForm({ i, block }: { i: Instrument; block: string | null }) {
  const [modes, setModes] = useState<ParamDef['enumeration']>(undefined);
  const [current, setCurrent] = useState<ValueView | null>(null);
  const [choice, setChoice] = useState<string>('');
  const [outcome, setOutcome] = useState<Outcome>(null);
  // Unknown until GET /bus has answered: nothing is read before the mode is known.
  const bus = useLive().bus;
  const mode = bus?.mode;
  // A passive bridge never asks the instrument; with injection it can.
  const passive = bridgeReadOnly(bus);
  useEffect(() => {
    let alive = true;
    parameters().then(
      (ps) => alive && setModes(ps.find((p) => p.key === 'controlMode')?.enumeration ?? []),
      (err: unknown) => alive && setOutcome(errorOutcome(err)),
    );
    const show = (v: ValueView) => {
      setCurrent(v);
      setChoice(String(v.value));
    };
    // In bridge mode the gateway never asks the instrument: the mode is known only if the master read it.
    const seen = i.values.controlMode;
    if (passive) {
      if (seen) show(seen);
    } else if (mode !== undefined) {
      get<ValueView>(path(i.id, 'controlMode')).then(
        (v) => alive && show(v),
        (err: unknown) => alive && setOutcome(errorOutcome(err)),
      );
    }
    return () => {
      alive = false;
    };
  }, [i.id, mode, passive]);
  const apply = async () => {
    const mode = modes?.find((m) => String(m.value) === choice);
    if (!mode) return;
    if (VALVE_EXTREMES.test(mode.label) && !confirm(`"${mode.label}" drives the valve of ${i.id} fully open or closed, or past its setpoint control. Are you sure?`)) {
      setOutcome({ kind: 'error', text: 'Not sent: cancelled.' });
      return;
    }
    setOutcome({ kind: 'busy' });
    try {
      const a = await send<WriteAnswer>('PUT', path(i.id, 'controlMode'), { value: mode.value });
      setOutcome(writeOutcome(a));
      if (a.readBack) setCurrent(a.readBack);
    } catch (err) {
      setOutcome(errorOutcome(err));
    }
  };
  return (
    <form
      class="panel"
      aria-label="Control mode entry"
      onSubmit={(e) => {
        e.preventDefault();
        void apply();
      }}
    >
      <h2>Control mode</h2>
      {block && <p class="muted">{block}</p>}
      <p class="muted">Now: {current ? valueText(current) : '…'}</p>
      <div class="row">
        <label>
          Control mode{' '}
          <select value={choice} disabled={block !== null || !modes} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
            {(modes ?? []).map((m) => (
              <option key={m.value} value={String(m.value)}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={block !== null || !modes || outcome?.kind === 'busy'}>
          Apply
        </button>
      </div>
      <OutcomeView outcome={outcome} />
    </form>
  );
}

/** The words of a key (camelCase) or a name, lower case. */
function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9%]+/)
    .filter((w) => w !== '');
}

/** Exact key, name or DDE first, then a prefix of the key or name, of one of their words, then any substring, then the description. */
export function rank(p: ParamDef, q: string): number {
  const key = p.key.toLowerCase();
  const name = p.name.toLowerCase();
  if (String(p.dde) === q || key === q || name === q) return 0;
  if (key.startsWith(q) || name.startsWith(q)) return 1;
  if ([...words(p.key), ...words(p.name)].some((w) => w.startsWith(q))) return 2;
  if (key.includes(q) || name.includes(q)) return 3;
  if (p.description?.toLowerCase().includes(q)) return 4;
  return -1;
}

function rangeText(p: ParamDef, unit: string | undefined): string {
  if (p.valueType === 'string') return p.maxLength ? `text, up to ${p.maxLength} characters` : 'text';
  if (p.min === null && p.max === null) return '–';
  const wide = (x: number | null) => x === null || Math.abs(x) > 1e30;
  if (wide(p.min) && wide(p.max)) return 'any number';
  return `${fmt(p.min, 6)} .. ${fmt(p.max, 6)}${unit ? ` ${unit}` : ''}`;
}

function ParamDetail({ p, i, block }: { p: ParamDef; i: Instrument; block: string | null }) {
  const unit = p.unit === 'capacity' ? (i.identity.capacityUnit ?? 'capacity unit') : p.unit;
  const closed = p.enumeration && p.enumeration.length > 0 && !p.enumerationOpen && !p.bits;
  const writable = p.write && !p.highlySecured;
  const [read, setRead] = useState<Outcome>(null);
  const [draft, setDraft] = useState(closed ? String(p.enumeration?.[0]?.value ?? '') : '');
  const [wrote, setWrote] = useState<Outcome>(null);
  const doRead = async () => {
    setRead({ kind: 'busy' });
    try {
      const v = await get<ValueView>(path(i.id, p.key));
      setRead({ kind: 'ok', text: `${valueText(v)} at ${new Date(v.time).toLocaleString()}` });
    } catch (err) {
      setRead(errorOutcome(err));
    }
  };
  const doWrite = async () => {
    const numeric = p.valueType !== 'string' && p.valueType !== 'bytes';
    const n = Number(draft);
    const value = numeric && draft.trim() !== '' && Number.isFinite(n) ? n : draft;
    setWrote({ kind: 'busy' });
    // The last read is of the old value.
    setRead(null);
    try {
      setWrote(writeOutcome(await send<WriteAnswer>('PUT', path(i.id, p.key), { value })));
    } catch (err) {
      setWrote(errorOutcome(err));
    }
  };
  return (
    <div class="param-detail" aria-label={`Parameter ${p.key}`} role="region">
      <h3>
        {p.name} <code>{p.key}</code>
      </h3>
      {p.description && <p class="muted">{p.description}</p>}
      <dl class="facts">
        <dt>DDE</dt>
        <dd>{p.dde}</dd>
        <dt>Type</dt>
        <dd>{p.valueType}</dd>
        <dt>Unit</dt>
        <dd>{unit ?? '–'}</dd>
        <dt>Range</dt>
        <dd>{rangeText(p, unit)}</dd>
        <dt>Writable</dt>
        <dd data-field="writable">
          {p.highlySecured ? (
            'no (factory parameter)'
          ) : p.write ? (
            p.secured ? (
              <>
                yes (secured: written only when the gateway's config allows secured writes, <code>secured: true</code>)
              </>
            ) : (
              'yes'
            )
          ) : (
            'no'
          )}
        </dd>
        <dt>Secured</dt>
        <dd>{p.highlySecured ? 'factory' : p.secured ? 'yes' : 'no'}</dd>
      </dl>
      {p.enumeration && p.enumeration.length > 0 && (
        <details>
          <summary>
            {p.bits ? 'Bits' : 'Values'} ({p.enumeration.length}
            {p.enumerationOpen ? ', list incomplete' : ''})
          </summary>
          <ul class="enum">
            {p.enumeration.map((e) => (
              <li key={e.value}>
                <code>{p.bits ? `0x${e.value.toString(16)}` : e.value}</code> {e.label}
              </li>
            ))}
          </ul>
        </details>
      )}
      <div class="row">
        <button type="button" onClick={() => void doRead()} disabled={!p.read}>
          Read
        </button>
        <OutcomeView outcome={read} />
      </div>
      {writable && (
        <form
          class="row"
          aria-label={`Write ${p.key}`}
          onSubmit={(e) => {
            e.preventDefault();
            void doWrite();
          }}
        >
          <label>
            Value{' '}
            {closed ? (
              <select value={draft} disabled={block !== null} onChange={(e) => setDraft((e.target as HTMLSelectElement).value)}>
                {p.enumeration?.map((e) => (
                  <option key={e.value} value={String(e.value)}>
                    {e.label} ({e.value})
                  </option>
                ))}
              </select>
            ) : (
              <input
                type={p.valueType === 'string' || p.valueType === 'bytes' ? 'text' : 'number'}
                step="any"
                value={draft}
                disabled={block !== null}
                onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
              />
            )}
          </label>
          <button type="submit" disabled={block !== null || wrote?.kind === 'busy'}>
            Write
          </button>
          {block && <span class="muted">{block}</span>}
          <OutcomeView outcome={wrote} />
        </form>
      )}
    </div>
  );
}

function ParamBrowser({ i, block }: { i: Instrument; block: string | null }) {
  const [all, setAll] = useState<ParamDef[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [q, setQ] = useState('');
  const [chosen, setChosen] = useState<ParamDef | null>(null);
  useEffect(() => {
    let alive = true;
    parameters().then(
      (ps) => alive && setAll(ps),
      (err: unknown) => alive && setError(err instanceof Error ? err.message : String(err)),
    );
    return () => {
      alive = false;
    };
  }, []);
  const hits = useMemo(() => {
    const text = q.trim().toLowerCase();
    if (!all || text === '') return [];
    return all
      .map((p) => ({ p, r: rank(p, text) }))
      .filter((x) => x.r >= 0)
      .sort((a, b) => a.r - b.r || a.p.dde - b.p.dde)
      .slice(0, 40)
      .map((x) => x.p);
  }, [all, q]);
  return (
    <section class="panel" aria-label="Parameters">
      <details open>
        <summary>
          <h2>Parameters</h2>
        </summary>
        {error && <p class="error">Cannot load the parameter database: {error}</p>}
        <label>
          Search parameters{' '}
          <input type="search" size={24} value={q} placeholder="key, name or DDE number" onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        </label>{' '}
        <span class="muted">{all ? `${all.length} parameters` : 'loading…'}</span>
        <div class="params">
          {q.trim() !== '' && (
            <ul class="param-list" aria-label="Matching parameters">
              {hits.length === 0 && <li class="muted">No parameter matches.</li>}
              {hits.map((p) => (
                <li key={p.dde}>
                  <button type="button" class="link" aria-current={chosen?.dde === p.dde ? 'true' : undefined} onClick={() => setChosen(p)}>
                    {p.key} <span class="muted">({p.name}, DDE {p.dde})</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          {chosen && <ParamDetail key={chosen.dde} p={chosen} i={i} block={block} />}
        </div>
      </details>
    </section>
  );
}

const ACTIVE = new Set(['running', 'paused', 'held']);

/** The program this instrument is in: an active one, else the one that ended last. */
function programOf(id: string, programs: Iterable<ProgramView>): ProgramView | undefined {
  let best: ProgramView | undefined;
  for (const p of programs) {
    if (!p.instruments.some((x) => x.id === id)) continue;
    const rank = (q: ProgramView) => (ACTIVE.has(q.state) ? 1 : 0);
    if (!best || rank(p) > rank(best) || (rank(p) === rank(best) && (p.endedAt ?? p.createdAt) > (best.endedAt ?? best.createdAt))) best = p;
  }
  return best;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function ProgramPanel({ i, block }: { i: Instrument; block: string | null }) {
  const l = useLive();
  const p = programOf(i.id, l.programs.values());
  const [outcome, setOutcome] = useState<Outcome>(null);
  // The time left counts down between events: the view's timeLeftMs is of when it was received.
  const [, tick] = useState(0);
  const key = p ? `${p.id}:${p.state}:${p.step?.index ?? ''}:${p.step?.timeLeftMs ?? ''}` : '';
  const seenAt = useMemo(() => Date.now(), [key]);
  const running = p?.state === 'running';
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, [running]);
  const act = async (action: 'pause' | 'resume' | 'abort') => {
    if (!p) return;
    if (action === 'abort' && !confirm(`Abort program "${p.name}"? Every instrument of it goes to its safe state.`)) {
      setOutcome({ kind: 'error', text: 'Not sent: cancelled.' });
      return;
    }
    setOutcome({ kind: 'busy' });
    try {
      const v = await send<ProgramView>('POST', `/programs/${encodeURIComponent(p.id)}/${action}`, {});
      live.programs.set(v.id, v);
      setOutcome({ kind: 'ok', text: `Program ${v.state}.` });
    } catch (err) {
      setOutcome(errorOutcome(err));
    }
  };
  const mine = p?.instruments.find((x) => x.id === i.id);
  const left = p?.step?.timeLeftMs;
  const shownLeft = left === null || left === undefined ? null : running ? left - (Date.now() - seenAt) : left;
  const active = p !== undefined && ACTIVE.has(p.state);
  const busy = outcome?.kind === 'busy';
  return (
    <section class="panel" aria-label="Program">
      <h2>Program</h2>
      {!p && <p class="muted">Not in a setpoint program.</p>}
      {p && (
        <>
          <dl class="facts">
            <dt>Name</dt>
            <dd>
              {p.name} <span class="muted">({p.id})</span>
            </dd>
            <dt>State</dt>
            <dd data-field="program-state">{p.state}</dd>
            <dt>Step</dt>
            <dd data-field="program-step">{p.step ? `${p.step.index + 1} of ${p.steps} (${p.step.type})` : '–'}</dd>
            <dt>Time left</dt>
            <dd data-field="program-left">{shownLeft === null ? '–' : duration(shownLeft)}</dd>
            <dt>Target</dt>
            <dd data-field="program-target">
              {mine?.target === null || mine?.target === undefined ? '–' : `${fmt(mine.target)} ${mine.unit ?? ''}`}
            </dd>
          </dl>
          {p.reason && <p class="muted">{p.reason.message}</p>}
          {active && (
            <div class="row">
              {block && <p class="muted">{block}</p>}
              {p.state === 'running' ? (
                <button type="button" disabled={block !== null || busy} onClick={() => void act('pause')}>
                  Pause
                </button>
              ) : (
                <button type="button" disabled={block !== null || busy} onClick={() => void act('resume')}>
                  Resume
                </button>
              )}
              <button type="button" disabled={block !== null || busy} onClick={() => void act('abort')}>
                Abort
              </button>
            </div>
          )}
        </>
      )}
      <OutcomeView outcome={outcome} />
    </section>
  );
}

interface CounterView {
  readonly value: number;
  readonly limit: number;
  readonly mode: number;
  readonly modeLabel?: string;
  readonly unit?: string;
  readonly batchReached: boolean;
}

function CounterPanel({ i, block }: { i: Instrument; block: string | null }) {
  const mode = useLive().bus?.mode;
  const [c, setC] = useState<CounterView | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const base = `/instruments/${encodeURIComponent(i.id)}/counter`;
  const load = async () => {
    try {
      setC(await get<CounterView>(base));
    } catch (err) {
      setOutcome(errorOutcome(err));
    }
  };
  useEffect(() => {
    if (mode === 'master') void load();
  }, [i.id, mode]);
  const reset = async () => {
    setOutcome({ kind: 'busy' });
    try {
      await send('POST', `${base}/reset`, {});
      setOutcome({ kind: 'ok', text: 'Counter reset.' });
      await load();
    } catch (err) {
      setOutcome(errorOutcome(err));
    }
  };
  if (mode === 'bridge') return null;
  const unit = c?.unit ?? '';
  return (
    <section class="panel" aria-label="Counter">
      <h2>Counter</h2>
      <dl class="facts">
        <dt>Value</dt>
        <dd data-field="counter-value">{c ? `${fmt(c.value)} ${unit}` : '…'}</dd>
        <dt>Limit</dt>
        <dd>{c ? `${fmt(c.limit)} ${unit}` : '…'}</dd>
        <dt>Mode</dt>
        <dd>{c ? (c.modeLabel ?? String(c.mode)) : '…'}</dd>
      </dl>
      {c?.batchReached && <p class="warn">Batch limit reached.</p>}
      {block && <p class="muted">{block}</p>}
      <div class="row">
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
        <button type="button" disabled={block !== null || outcome?.kind === 'busy'} onClick={() => void reset()}>
          Reset
        </button>
      </div>
      <OutcomeView outcome={outcome} />
    </section>
  );
}

interface FluidSet {
  readonly index: number;
  readonly name: string;
  readonly capacity?: number;
  readonly unit?: string;
}

function FluidPanel({ i, block }: { i: Instrument; block: string | null }) {
  const mode = useLive().bus?.mode;
  const [sets, setSets] = useState<readonly FluidSet[] | null>(null);
  const [choice, setChoice] = useState('');
  const [outcome, setOutcome] = useState<Outcome>(null);
  const base = `/instruments/${encodeURIComponent(i.id)}`;
  const list = async () => {
    setOutcome({ kind: 'busy' });
    try {
      const r = await get<{ active: number; fluids: FluidSet[] }>(`${base}/fluids`);
      setSets(r.fluids);
      setChoice(String(r.active));
      setOutcome(null);
    } catch (err) {
      setOutcome(errorOutcome(err));
    }
  };
  const apply = async () => {
    setOutcome({ kind: 'busy' });
    try {
      const r = await send<{ identity: { fluidName?: string } }>('PUT', `${base}/fluid`, { fluid: Number(choice) });
      setOutcome({ kind: 'ok', text: `Fluid now ${r.identity.fluidName ?? choice}.` });
    } catch (err) {
      setOutcome(errorOutcome(err));
    }
  };
  if (mode === 'bridge') return null;
  const busy = outcome?.kind === 'busy';
  return (
    <section class="panel" aria-label="Fluid">
      <h2>Fluid</h2>
      <p class="muted">Now: {i.identity.fluidName ?? '–'}. Listing switches the instrument through its fluid sets (and back); it is refused while the setpoint is not 0.</p>
      <div class="row">
        <button type="button" disabled={busy} onClick={() => void list()}>
          List fluids
        </button>
        {sets && (
          <>
            <label>
              Fluid{' '}
              <select value={choice} disabled={block !== null} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
                {sets.map((f) => (
                  <option key={f.index} value={String(f.index)}>
                    {f.index}: {f.name}
                    {f.capacity !== undefined ? ` (${fmt(f.capacity)} ${f.unit ?? ''})` : ''}
                  </option>
                ))}
              </select>
            </label>
            <button type="button" disabled={block !== null || busy} onClick={() => void apply()}>
              Switch
            </button>
          </>
        )}
      </div>
      {block && sets && <p class="muted">{block}</p>}
      <OutcomeView outcome={outcome} />
    </section>
  );
}

export function InstrumentPage({ route }: { route: string[] }) {
  const id = route[1] ?? '';
  const feed = useMemo<Feed>(() => new Set(), [id]);
  const { instrument: i, missing } = useInstrument(id, feed);
  const block = useWriteBlock();
  if (!i) {
    return (
      <main>
        <p>
          <a href={href()}>← Overview</a>
        </p>
        {missing ? <p class="error" role="alert">{missing}</p> : <p class="muted">Loading {id}…</p>}
      </main>
    );
  }
  return (
    <main class="inst">
      <p>
        <a href={href()}>← Overview</a>
      </p>
      <Header i={i} />
      <LiveChart id={i.id} unit={i.identity.capacityUnit ?? ''} feed={feed} />
      <div class="inst-forms">
        <SetpointForm i={i} block={block} />
        <ControlModeForm i={i} block={block} />
      </div>
      <div class="inst-forms">
        <ProgramPanel i={i} block={block} />
        <CounterPanel i={i} block={block} />
        <FluidPanel i={i} block={block} />
      </div>
      <ParamBrowser i={i} block={block} />
    </main>
  );
}
