import type { ComponentChildren } from 'preact';
import type { Instrument } from './api';
import { fmt, pct, ago } from './format';
import { href, useLive } from './hooks';
import { percentOf, readings, type Live } from './live';
import { Sparkline } from './sparkline';
import { StatusStrip } from './status';

/** The configured name, else the user tag, model or node; the address goes beside it (tags repeat). */
export function instrumentTitle(i: Instrument): string {
  return i.name ?? (i.identity.userTag?.trim() || i.identity.model || `node ${i.node}`);
}

/** Online or offline; "unknown" while the gateway cannot be reached. */
export function OnlineBadge({ online, stale }: { online: boolean; stale: boolean }) {
  if (stale) return <span class="badge unknown" data-field="online">unknown</span>;
  return (
    <span class={`badge ${online ? 'ok' : 'bad'}`} data-field="online">
      {online ? 'online' : 'offline'}
    </span>
  );
}

/** The active alarms by name (the alarmInfo view's `alarms`), else its label or the bits in hex. */
export function alarmText(i: Instrument): { text: string; bad: boolean } {
  const v = i.values.alarmInfo;
  if (!v || typeof v.value !== 'number') return { text: 'unknown', bad: false };
  if (v.value === 0 || v.alarms?.length === 0) return { text: 'none', bad: false };
  if (v.alarms) return { text: v.alarms.join(', '), bad: true };
  return { text: v.label ?? `0x${v.value.toString(16)}`, bad: true };
}

/** Measure and setpoint in the capacity unit and in percent, and valve output: on the cards and the instrument page. */
export function Readings({ instrument: i, alarm }: { instrument: Instrument; alarm?: { text: string; bad: boolean } }) {
  const id = i.identity;
  const r = readings(i.values, id);
  const unit = id.capacityUnit ?? '';
  // Percent of capacity as the gateway computes it (its one conversion); from the capacity where a view has none.
  const gatewayPercent = (key: string) => (i.values[key] as { percent?: number } | undefined)?.percent;
  const measurePct = gatewayPercent('fMeasure') ?? gatewayPercent('measure') ?? percentOf(r.measure, id.capacity);
  const setpointPct = gatewayPercent('fSetpoint') ?? gatewayPercent('setpoint') ?? percentOf(r.setpoint, id.capacity);
  return (
    <div class="readings">
      <div>
        <span class="label">Measure</span>
        <span class="value" data-field="measure">
          {fmt(r.measure)} <small>{unit}</small>
        </span>
        <span class="sub">{pct(measurePct)}</span>
      </div>
      <div>
        <span class="label">Setpoint</span>
        <span class="value" data-field="setpoint">
          {fmt(r.setpoint)} <small>{unit}</small>
        </span>
        <span class="sub">{pct(setpointPct)}</span>
      </div>
      <div>
        <span class="label">Valve</span>
        <span class="value" data-field="valve">{pct(r.valve)}</span>
        {alarm && (
          <span class={`sub ${alarm.bad ? 'bad' : ''}`} data-field="alarms">
            alarm: {alarm.text}
          </span>
        )}
      </div>
    </div>
  );
}

/** Who an instrument is: address, model, serial, fluid, capacity (and, on its own page, more). */
export function Facts({ instrument: i, wide, children }: { instrument: Instrument; wide?: boolean; children?: ComponentChildren }) {
  const id = i.identity;
  return (
    <dl class={wide ? 'facts inst-facts' : 'facts'}>
      <dt>Address</dt>
      <dd>{i.id}</dd>
      <dt>Model</dt>
      <dd>{id.model ?? '–'}</dd>
      <dt>Serial</dt>
      <dd data-field="serial">{id.serial ?? '–'}</dd>
      <dt>Fluid</dt>
      <dd>{id.fluidName ?? '–'}</dd>
      <dt>Capacity</dt>
      <dd data-field="capacity">
        {fmt(id.capacity ?? null)} {id.capacityUnit ?? ''}
      </dd>
      {children}
    </dl>
  );
}

export function InstrumentCard({ instrument: i, live }: { instrument: Instrument; live: Live }) {
  const title = instrumentTitle(i);
  const alarm = alarmText(i);
  const batch = live.batchEnds.get(i.id);
  const stale = live.unreachable;
  return (
    <article class={`card ${i.online ? '' : 'offline'} ${stale ? 'stale' : ''}`} aria-label={`Instrument ${i.id}`} data-instrument={i.id}>
      <header>
        <h2>
          <a href={href('instrument', i.id)}>
            {title} <span class="addr">· {i.id}</span>
          </a>
        </h2>
        <OnlineBadge online={i.online} stale={stale} />
      </header>
      <Facts instrument={i} />
      <Readings instrument={i} alarm={alarm} />
      {batch && (
        <p class="warn" data-field="batch">
          batch ended{batch.value !== undefined ? ` at ${fmt(batch.value)}` : ''}
        </p>
      )}
      <Sparkline samples={live.samples.get(i.id)} label={`Measure and setpoint of ${i.id}, last 5 minutes`} />
      <footer class="muted">last seen {ago(i.lastSeen)}</footer>
    </article>
  );
}

export function Overview() {
  const l = useLive();
  const list = [...l.instruments.values()].sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
  return (
    <main>
      <StatusStrip />
      {l.loadError && !l.unreachable && <p class="error" role="alert">Cannot reach the gateway: {l.loadError}</p>}
      {list.length === 0 && !l.loadError && <p class="muted">No instruments found yet.</p>}
      <section class="cards" aria-label="Instruments">
        {list.map((i) => (
          <InstrumentCard key={i.id} instrument={i} live={l} />
        ))}
      </section>
    </main>
  );
}
