import { useEffect, useState } from 'preact/hooks';
import type { ComponentType } from 'preact';
import { href, useLive, useRoute } from './hooks';
import { Overview } from './overview';
import { TokenBox } from './token';

/** Pages other than the overview load on first use, so that the overview stays small. */
const pages: Record<string, () => Promise<ComponentType<{ route: string[] }>>> = {
  instrument: () => import('./instrument').then((m) => m.InstrumentPage),
  transactions: () => import('./transactions').then((m) => m.TransactionsPage),
  bridge: () => import('./bridge').then((m) => m.BridgePage),
};

function Lazy({ name, route }: { name: string; route: string[] }) {
  const [page, setPage] = useState<{ name: string; C: ComponentType<{ route: string[] }> } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    const load = pages[name];
    if (!load) return;
    load().then(
      (C) => alive && setPage({ name, C }),
      (err: unknown) => alive && setError(String(err)),
    );
    return () => {
      alive = false;
    };
  }, [name]);
  if (error) return <p class="error" role="alert">Cannot load this page: {error}</p>;
  if (!page || page.name !== name) return <p class="muted">Loading…</p>;
  return <page.C route={route} />;
}

export function App() {
  const route = useRoute();
  const l = useLive();
  const name = route[0] ?? '';
  const bridge = l.bus?.mode === 'bridge';
  // The tab says which bench it shows, where several gateways run.
  useEffect(() => {
    document.title = l.bus?.gateway ? `flowbus · ${l.bus.gateway}` : 'flowbus-gateway';
  }, [l.bus?.gateway]);
  return (
    <>
      <header class="top">
        <a class="brand" href={href()}>
          flowbus{l.bus?.gateway ? <span class="muted" data-gateway={l.bus.gateway}> · {l.bus.gateway}</span> : null}
        </a>
        <nav aria-label="Pages">
          <a href={href()} aria-current={name === '' ? 'page' : undefined}>
            Overview
          </a>
          <a href={href('transactions')} aria-current={name === 'transactions' ? 'page' : undefined}>
            Transactions
          </a>
          {bridge && (
            <a href={href('bridge')} aria-current={name === 'bridge' ? 'page' : undefined}>
              Bridge
            </a>
          )}
          <a href="/docs">API</a>
        </nav>
        <TokenBox />
      </header>
      {name === '' ? <Overview /> : pages[name] ? <Lazy name={name} route={route} /> : <p class="error">No such page: {name}</p>}
    </>
  );
}
