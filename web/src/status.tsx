import { useLive } from './hooks';
import { errorTotal } from './live';

/** One line per bus (transport, wire use, errors per minute, backed-off nodes), the store, and the event stream. */
export function StatusStrip() {
  const l = useLive();
  const s = l.bus?.store;
  const stale = l.unreachable;
  return (
    <section class={`strip ${stale ? 'stale' : ''}`} aria-label="Gateway status" data-reachable={stale ? 'no' : 'yes'}>
      {stale && (
        <div class="item" role="alert">
          <span class="badge bad">gateway unreachable</span> <span class="muted">retrying; the values below are stale</span>
        </div>
      )}
      {(l.bus?.buses ?? []).map((b) => {
        const state = stale ? 'unknown' : (b.transport?.state ?? 'unknown');
        const backedOff = b.nodesBackedOff?.length ?? 0;
        const rate = l.errorsPerMinute(b.name);
        return (
          <div class="item" key={b.name} data-bus={b.name}>
            <strong>bus {b.name}</strong> <span class={`badge ${state === 'open' ? 'ok' : stale ? 'unknown' : 'bad'}`}>{state}</span>
            <span class="values">
              {typeof b.wireUtilisation === 'number' && <span> wire {(b.wireUtilisation * 100).toFixed(0)} %</span>}
              <span data-field="errors" title={`${errorTotal(b.transactions)} errors since the gateway started`}>
                {' '}
                errors/min {rate === null ? '–' : rate}
              </span>
              {backedOff > 0 && <span class="bad"> backed off: {backedOff}</span>}
              {b.transport?.reason && state !== 'open' && !stale && <span class="muted"> ({b.transport.reason})</span>}
            </span>
          </div>
        );
      })}
      <div class="item" data-store={stale ? 'unknown' : (s?.state ?? 'none')}>
        <strong>log</strong>{' '}
        {stale ? (
          <span class="badge unknown">unknown</span>
        ) : s ? (
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
