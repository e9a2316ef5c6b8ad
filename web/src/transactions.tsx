/**
 * The transaction log (GET /api/v1/transactions): filters, keyset paging with a stack of cursors
 * for "Previous", a CSV download of the whole filter (every page), and each row opening to its bytes and
 * decoded parameters. The filters are kept in the hash's query so that a reload keeps them.
 */
import { useEffect, useState } from 'preact/hooks';
import { API, ApiError, get, withQuery } from './api';
import { fmt } from './format';
import { useLive } from './hooks';

/** The outcomes GET /transactions filters on (openapi.json). */
export const OUTCOMES = ['ok', 'status', 'error-frame', 'timeout', 'bus-unavailable', 'queue-deadline', 'node-backoff', 'aborted', 'unanswered', 'orphan', 'undecodable'] as const;
const PAGE_SIZES = [50, 100, 500] as const;

interface TxParam {
  readonly process: number;
  readonly fbnr: number;
  readonly wireType: number;
  readonly dde?: number;
  readonly key?: string;
  readonly name?: string;
  readonly valueType?: string;
  readonly unit?: string;
  readonly value?: number | string;
  readonly label?: string;
  readonly raw?: string;
}

interface Tx {
  readonly id: string;
  readonly bus: string;
  readonly mode: string;
  readonly node: number | null;
  readonly seq: number;
  readonly command: number | null;
  readonly commandName: string;
  readonly purpose: string;
  readonly outcome: string;
  readonly status: number | null;
  readonly errorCode: number | null;
  readonly request: string | null;
  readonly reply: string | null;
  readonly time: string;
  readonly latencyMs: number | null;
  readonly attempts: number;
  readonly params: readonly TxParam[];
  readonly error: string | null;
}

interface Page {
  readonly transactions: readonly Tx[];
  readonly nextCursor?: string | null;
}

export interface Filters {
  node: string;
  param: string;
  outcome: string;
  /** datetime-local values (the browser's time zone). */
  from: string;
  to: string;
  limit: number;
}

const EMPTY: Filters = { node: '', param: '', outcome: '', from: '', to: '', limit: 100 };

function hashQuery(): URLSearchParams {
  const i = location.hash.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : location.hash.slice(i + 1));
}

function filtersFromHash(): Filters {
  const q = hashQuery();
  const limit = Number(q.get('limit'));
  return {
    node: q.get('node') ?? '',
    param: q.get('param') ?? '',
    outcome: q.get('outcome') ?? '',
    from: q.get('from') ?? '',
    to: q.get('to') ?? '',
    limit: (PAGE_SIZES as readonly number[]).includes(limit) ? limit : EMPTY.limit,
  };
}

function filtersToHash(f: Filters): void {
  const q = withQuery('', { node: f.node, param: f.param, outcome: f.outcome, from: f.from, to: f.to, limit: f.limit === EMPTY.limit ? undefined : f.limit });
  // replaceState fires no hashchange: the route stays, only the query changes.
  history.replaceState(null, '', `#/transactions${q}`);
}

/** A datetime-local value (local time) as ISO 8601; left as typed when it does not parse, so that the API says why. */
function isoOf(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

export function queryOf(f: Filters, cursor: string | undefined): Record<string, string | number | undefined> {
  return { node: f.node.trim(), param: f.param.trim(), outcome: f.outcome, since: isoOf(f.from), until: isoOf(f.to), limit: f.limit, cursor };
}

/** Date and time of day (to the ms), in the browser's time zone. */
function whenParts(iso: string): [string, string] {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return ['', iso];
  return [d.toLocaleDateString(), d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3 } as Intl.DateTimeFormatOptions)];
}

function when(iso: string): string {
  return whenParts(iso).join(' ').trim();
}

function outcomeClass(outcome: string): string {
  if (outcome === 'ok') return 'ok';
  if (outcome === 'unanswered' || outcome === 'orphan' || outcome === 'node-backoff' || outcome === 'aborted') return 'warn';
  return 'bad';
}

function valueText(p: TxParam): string {
  if (p.value === undefined) return p.raw !== undefined ? `0x${p.raw}` : '';
  const v = typeof p.value === 'number' ? fmt(p.value, 6) : JSON.stringify(p.value);
  return p.label ? `${v} (${p.label})` : v;
}

function paramsText(params: readonly TxParam[]): string {
  return params.map((p) => (p.value === undefined ? (p.key ?? `${p.process}/${p.fbnr}`) : `${p.key ?? `${p.process}/${p.fbnr}`}=${valueText(p)}`)).join(', ');
}

function short(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function Details({ t }: { t: Tx }) {
  return (
    <div class="tx-details" data-details={t.id}>
      <dl class="facts">
        <dt>Id</dt>
        <dd class="mono">{t.id}</dd>
        <dt>Mode, SEQ, attempts</dt>
        <dd>
          {t.mode}, {t.seq}, {t.attempts}
        </dd>
        {t.status !== null && (
          <>
            <dt>Status</dt>
            <dd>{t.status}</dd>
          </>
        )}
        {t.errorCode !== null && (
          <>
            <dt>Error code</dt>
            <dd>{t.errorCode}</dd>
          </>
        )}
        <dt>Request</dt>
        <dd class="mono" data-field="request">
          {t.request ?? '–'}
        </dd>
        <dt>Reply</dt>
        <dd class="mono" data-field="reply">
          {t.reply ?? '–'}
        </dd>
      </dl>
      {t.error && (
        <p class="error" data-field="error">
          {t.error}
        </p>
      )}
      {t.params.length > 0 && (
        <div class="table-wrap">
          <table aria-label={`Parameters of transaction ${t.seq}`}>
            <thead>
              <tr>
                <th>Process</th>
                <th>FBnr</th>
                <th>Key</th>
                <th>Name</th>
                <th>Type</th>
                <th>Value</th>
                <th>Unit</th>
                <th>Raw</th>
              </tr>
            </thead>
            <tbody>
              {t.params.map((p, i) => (
                <tr key={i}>
                  <td>{p.process}</td>
                  <td>{p.fbnr}</td>
                  <td>{p.key ?? '–'}</td>
                  <td>{p.name ?? '–'}</td>
                  <td>{p.valueType ?? `wire ${p.wireType}`}</td>
                  <td>{valueText(p) || '–'}</td>
                  <td>{p.unit ?? ''}</td>
                  <td class="mono">{p.raw ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function Row({ t, open, toggle }: { t: Tx; open: boolean; toggle: () => void }) {
  const instrument = `${t.bus}:${t.node ?? '–'}`;
  const params = paramsText(t.params);
  return (
    <>
      {/* The row opens on a click anywhere; the button in it is the keyboard's way (Enter, Space). */}
      <tr class={`tx ${open ? 'open' : ''}`} data-tx={t.id} onClick={toggle}>
        <td>
          <button type="button" class="link" aria-expanded={open} aria-controls={`tx-${t.id}`} aria-label={`Details of ${t.commandName} ${instrument} at ${when(t.time)}`}>
            {open ? '▾' : '▸'}
          </button>{' '}
          <span data-field="time">
            {/* The date goes on a phone: the time of day is what tells rows apart there. */}
            <span class="tx-date">{whenParts(t.time)[0]} </span>
            {whenParts(t.time)[1]}
          </span>
        </td>
        <td data-field="instrument">{instrument}</td>
        <td data-field="command">{t.commandName}</td>
        <td data-field="purpose">{t.purpose}</td>
        <td data-field="params" title={params}>
          <span class="tx-params">{short(params)}</span>
        </td>
        <td data-field="outcome">
          <span class={`badge ${outcomeClass(t.outcome)}`}>{t.outcome}</span>
        </td>
        <td data-field="latency">{t.latencyMs === null ? '–' : `${fmt(t.latencyMs)} ms`}</td>
      </tr>
      {open && (
        <tr class="tx-open" id={`tx-${t.id}`}>
          <td colSpan={7}>
            <Details t={t} />
          </td>
        </tr>
      )}
    </>
  );
}

export function TransactionsPage(_props: { route: string[] }) {
  const l = useLive();
  const [filters, setFilters] = useState<Filters>(filtersFromHash);
  // The free-text fields are applied on change (Enter or leaving the field), not on each key.
  const [draft, setDraft] = useState<Filters>(filters);
  /** Cursors of the pages before this one; the last is this page's. */
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<Page | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [reloads, setReloads] = useState(0);
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    filtersToHash(filters);
    const ctl = new AbortController();
    setLoading(true);
    get<Page>(withQuery('/transactions', queryOf(filters, cursor)), ctl.signal).then(
      (p) => {
        setPage(p);
        setError(null);
        setLoading(false);
      },
      (err: unknown) => {
        if (ctl.signal.aborted) return; // a newer query replaced this one
        setError(err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
        setPage(null);
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [filters, cursor, reloads]);

  const apply = (next: Filters) => {
    setDraft(next);
    setFilters(next);
    setCursors([]);
    setOpen(new Set());
  };
  const field = (k: 'node' | 'param' | 'from' | 'to') => ({
    value: draft[k],
    onInput: (e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value }),
    onChange: (e: Event) => apply({ ...draft, [k]: (e.target as HTMLInputElement).value }),
  });
  const toggle = (id: string) => {
    const next = new Set(open);
    if (!next.delete(id)) next.add(id);
    setOpen(next);
  };
  const instruments = [...l.instruments.keys()].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const rows = page?.transactions ?? [];
  // The whole filter, not this page: no cursor and no page size (the API streams up to its cap).
  const csv = withQuery(`${API}/transactions`, { ...queryOf(filters, undefined), limit: undefined, format: 'csv' });

  return (
    <main>
      <h1 class="page-title">Transactions</h1>
      <form
        class="panel row filters"
        aria-label="Filters"
        onSubmit={(e) => {
          e.preventDefault();
          apply(draft);
        }}
      >
        <label>
          Instrument
          <input list="tx-instruments" placeholder="any (bus:node)" size={16} {...field('node')} />
          <datalist id="tx-instruments">
            {instruments.map((id) => (
              <option key={id} value={id} />
            ))}
          </datalist>
        </label>
        <label>
          Parameter
          <input placeholder="key, name or DDE" size={18} {...field('param')} />
        </label>
        <label>
          Outcome
          <select value={draft.outcome} onChange={(e) => apply({ ...draft, outcome: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {OUTCOMES.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" step="1" {...field('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" step="1" {...field('to')} />
        </label>
        <label>
          Page size
          <select value={String(draft.limit)} onChange={(e) => apply({ ...draft, limit: Number((e.target as HTMLSelectElement).value) })}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={String(n)}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
        <button type="button" onClick={() => apply(EMPTY)}>
          Clear
        </button>
      </form>
      <div class="row pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous page
        </button>
        <button type="button" disabled={!page?.nextCursor} onClick={() => page?.nextCursor && setCursors([...cursors, page.nextCursor])}>
          Next page
        </button>
        <button type="button" onClick={() => setReloads(reloads + 1)}>
          Refresh
        </button>
        <span class="muted" aria-live="polite">
          {loading ? 'Loading…' : `page ${cursors.length + 1}, ${rows.length} transactions, newest first`}
        </span>
        <a href={csv} download="transactions.csv">
          Download CSV
        </a>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {page && rows.length === 0 && <p class="muted">No transactions match.</p>}
      {rows.length > 0 && (
        <div class="table-wrap panel">
          <table class="tx-table" aria-label="Transactions">
            <thead>
              <tr>
                <th>Time</th>
                <th>Instrument</th>
                <th>Command</th>
                <th>Purpose</th>
                <th>Parameters</th>
                <th>Outcome</th>
                <th>Latency</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((t) => (
                <Row key={t.id} t={t} open={open.has(t.id)} toggle={() => toggle(t.id)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
