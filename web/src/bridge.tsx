/**
 * Bridge mode: both links (instrument side and master side), the counters of each direction,
 * how long the master has been quiet, the link events (GET /bus's list and those of the stream)
 * and the instruments seen on the wire. Read-only: another master owns the bus.
 */
import type { BusView } from './api';
import { ago, fmt, time } from './format';
import { useLive } from './hooks';
import type { LinkEvent } from './live';
import { InstrumentCard } from './overview';
import { StatusStrip } from './status';

interface Side {
  readonly address: string;
  readonly state: string;
  readonly since: string;
  readonly reconnects: number;
  readonly lastError?: string;
}

type Counters = Readonly<Record<string, number | Readonly<Record<string, number>>>>;

interface BridgeDetails {
  readonly sides: Readonly<Record<string, Side>>;
  readonly directions: { readonly '>': Counters; readonly '<': Counters };
  readonly forwardLatency?: { readonly count: number; readonly p50Us: number | null; readonly p99Us: number | null; readonly maxUs: number | null };
  readonly lastMasterByte?: string;
  readonly masterSilent: boolean;
  readonly outstandingRequests: number;
  readonly decodeBacklogBytes: number;
  readonly events: readonly LinkEvent[];
  readonly capture?: { readonly path: string; readonly records: number; readonly dropped: number; readonly error?: string };
}

const SIDES: readonly { key: string; title: string }[] = [
  { key: 'instrument', title: 'Instrument side' },
  { key: 'master', title: 'Master side' },
];

const COUNTERS: readonly { key: string; label: string }[] = [
  { key: 'bytes', label: 'Bytes read' },
  { key: 'forwarded', label: 'Bytes forwarded' },
  { key: 'droppedNoPeer', label: 'Dropped: other side down' },
  { key: 'droppedOverflow', label: 'Dropped: overflow' },
  { key: 'droppedWriteFailed', label: 'Dropped: write failed' },
  { key: 'bursts', label: 'Bursts' },
  { key: 'frames', label: 'Frames' },
  { key: 'discards', label: 'Discards' },
  { key: 'discardedBytes', label: 'Discarded bytes' },
];

/** Numeric counters the gateway reports beyond the known ones, under their own names. */
function extraCounters(...dirs: (Counters | undefined)[]): { key: string; label: string }[] {
  const known = new Set(COUNTERS.map((c) => c.key));
  const keys = new Set<string>();
  for (const d of dirs) for (const [k, v] of Object.entries(d ?? {})) if (typeof v === 'number' && !known.has(k)) keys.add(k);
  return [...keys].map((key) => ({ key, label: key }));
}

function num(c: Counters | undefined, key: string): number | null {
  const v = c?.[key];
  return typeof v === 'number' ? v : null;
}

function reasons(c: Counters | undefined): string {
  const r = c?.discardReasons;
  if (!r || typeof r !== 'object') return '–';
  const list = Object.entries(r).map(([k, n]) => `${k}: ${n}`);
  return list.length ? list.join(', ') : 'none';
}

function us(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${fmt(v)} µs`;
}

function SidePanel({ title, side, name }: { title: string; side: Side | undefined; name: string }) {
  const state = side?.state ?? 'unknown';
  return (
    <section class="panel" aria-label={title} data-side={name} data-state={state}>
      <h2>
        {title} <span class={`badge ${state === 'open' ? 'ok' : 'bad'}`}>{state}</span>
      </h2>
      <dl class="kv">
        <dt>Port</dt>
        <dd class="mono">{side?.address ?? '–'}</dd>
        <dt>Since</dt>
        <dd>
          {time(side?.since, true)} ({ago(side?.since)})
        </dd>
        <dt>Reconnects</dt>
        <dd data-field="reconnects">{side?.reconnects ?? '–'}</dd>
        <dt>Reason</dt>
        <dd data-field="reason">{side?.lastError ?? '–'}</dd>
      </dl>
    </section>
  );
}

/** The events of GET /bus and of the stream, once each, newest first. */
function mergedEvents(fromBus: readonly LinkEvent[], fromStream: readonly LinkEvent[]): LinkEvent[] {
  const seen = new Map<string, LinkEvent>();
  for (const e of [...fromBus, ...fromStream]) seen.set(`${e.time}|${e.side}|${e.kind}|${e.reason}`, e);
  return [...seen.values()].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
}

function eventClass(kind: string): string {
  if (kind === 'open' || kind === 'reopened' || kind === 'master-resumed') return 'ok';
  return 'bad';
}

function BusBridge({ bus, streamEvents }: { bus: BusView; streamEvents: readonly LinkEvent[] }) {
  const b = bus.bridge as BridgeDetails | undefined;
  if (!b) return <p class="muted">Bus {bus.name} reports no bridge details.</p>;
  const down = b.directions['>'];
  const up = b.directions['<'];
  const events = mergedEvents(b.events, streamEvents).slice(0, 100);
  return (
    <>
      <div class="panels">
        {SIDES.map((s) => (
          <SidePanel key={s.key} title={s.title} side={b.sides[s.key]} name={s.key} />
        ))}
        <section class="panel" aria-label="Master activity" data-master-silent={String(b.masterSilent)}>
          <h2>
            Master <span class={`badge ${b.masterSilent ? 'warn' : 'ok'}`}>{b.masterSilent ? 'silent' : b.lastMasterByte ? 'speaking' : 'not heard yet'}</span>
          </h2>
          <dl class="kv">
            <dt>Last spoke</dt>
            <dd data-field="last-master-byte">
              {b.lastMasterByte ? `${ago(b.lastMasterByte)} (${time(b.lastMasterByte)})` : 'never'}
            </dd>
            <dt>Waiting for a reply</dt>
            <dd>{b.outstandingRequests}</dd>
            <dt>Decoder backlog</dt>
            <dd>{b.decodeBacklogBytes} bytes</dd>
            <dt>Forwarding time</dt>
            <dd>
              p50 {us(b.forwardLatency?.p50Us)}, p99 {us(b.forwardLatency?.p99Us)}, max {us(b.forwardLatency?.maxUs)}
            </dd>
            {b.capture && (
              <>
                <dt>Capture</dt>
                <dd>
                  <span class="mono">{b.capture.path}</span>: {b.capture.records} records, {b.capture.dropped} dropped
                  {b.capture.error && <span class="error"> ({b.capture.error})</span>}
                </dd>
              </>
            )}
          </dl>
        </section>
      </div>
      <section class="panel table-wrap" aria-label="Counters">
        <h2>Counters of bus {bus.name}</h2>
        <table aria-label="Counters per direction">
          <thead>
            <tr>
              <th>Counter</th>
              <th>master → instrument</th>
              <th>instrument → master</th>
            </tr>
          </thead>
          <tbody>
            {[...COUNTERS, ...extraCounters(down, up)].map((c) => (
              <tr key={c.key} data-counter={c.key}>
                <th scope="row">{c.label}</th>
                <td data-direction=">">{fmt(num(down, c.key))}</td>
                <td data-direction="<">{fmt(num(up, c.key))}</td>
              </tr>
            ))}
            <tr data-counter="discardReasons">
              <th scope="row">Discard reasons</th>
              <td>{reasons(down)}</td>
              <td>{reasons(up)}</td>
            </tr>
          </tbody>
        </table>
      </section>
      <section class="panel table-wrap" aria-label="Link events">
        <h2>Link events</h2>
        {events.length === 0 ? (
          <p class="muted">None yet.</p>
        ) : (
          <table aria-label="Link events, newest first">
            <thead>
              <tr>
                <th>Time</th>
                <th>Side</th>
                <th>Event</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr key={`${e.time}|${e.side}|${e.kind}|${e.reason}`} data-event={e.kind}>
                  <td>{time(e.time, true)}</td>
                  <td>{e.side}</td>
                  <td>
                    <span class={`badge ${eventClass(e.kind)}`}>{e.kind}</span>
                  </td>
                  <td>{e.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

export function BridgePage(_props: { route: string[] }) {
  const l = useLive();
  if (!l.bus) return <main><p class="muted">Loading…</p></main>;
  if (l.bus.mode !== 'bridge') {
    return (
      <main>
        <p class="muted">The gateway runs as the bus master: this page is for bridge mode.</p>
      </main>
    );
  }
  const list = [...l.instruments.values()].sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  return (
    <main>
      <StatusStrip />
      <h1 class="page-title">Bridge</h1>
      <p class="muted" data-writes="bridge">
        Read-only: another master owns the bus, so the gateway only forwards and observes. Writes are refused (409 BRIDGE_READ_ONLY).
      </p>
      {l.loadError && (
        <p class="error" role="alert">
          Cannot reach the gateway: {l.loadError}
        </p>
      )}
      {l.bus.buses.map((b) => (
        <BusBridge key={b.name} bus={b} streamEvents={l.linkEvents} />
      ))}
      <h2 class="page-title">Observed instruments</h2>
      {list.length === 0 && <p class="muted">No instrument seen on the wire yet.</p>}
      <section class="cards" aria-label="Observed instruments">
        {list.map((i) => (
          <InstrumentCard key={i.id} instrument={i} live={l} />
        ))}
      </section>
    </main>
  );
}
