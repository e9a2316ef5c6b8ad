import type { BusView } from './api';
import { useLive } from './hooks';

const ERROR_OUTCOMES = ['timeout', 'status', 'error-frame', 'bus-unavailable', 'queue-deadline'];

function errors(b: BusView): number {
  let n = 0;
  for (const k of ERROR_OUTCOMES) n += b.transactions?.[k] ?? 0;
  return n;
}

/** One line per bus (transport, wire use, errors, backed-off nodes), the store, and the event stream. */
export function StatusStrip() {
  const l = useLive();
  const s = l.bus?.store;
  return (
    <section class="strip" aria-label="Gateway status">
      {(l.bus?.buses ?? []).map((b) => {
        const state = b.transport?.state ?? 'unknown';
        const backedOff = b.nodesBackedOff?.length ?? 0;
        return (
          <div class="item" key={b.name} data-bus={b.name}>
            <strong>bus {b.name}</strong> <span class={`badge ${state === 'open' ? 'ok' : 'bad'}`}>{state}</span>
            {typeof b.wireUtilisation === 'number' && <span> wire {(b.wireUtilisation * 100).toFixed(0)} %</span>}
            <span> errors {errors(b)}</span>
            {backedOff > 0 && <span class="bad"> backed off: {backedOff}</span>}
            {b.transport?.reason && state !== 'open' && <span class="muted"> ({b.transport.reason})</span>}
          </div>
        );
      })}
      <div class="item" data-store={s?.state ?? 'none'}>
        <strong>log</strong>{' '}
        {s ? (
          <>
            <span class={`badge ${s.state === 'healthy' ? 'ok' : 'warn'}`}>{s.state}</span>
            {s.state !== 'healthy' && typeof s.rowsWaiting === 'number' && <span> {s.rowsWaiting} rows waiting</span>}
          </>
        ) : (
          <span class="muted">none</span>
        )}
      </div>
      <div class="item">
        <strong>live</strong> <span class={`badge ${l.stream === 'live' ? 'ok' : 'warn'}`}>{l.stream}</span>
      </div>
    </section>
  );
}
