import { useState } from 'preact/hooks';
import { setToken } from './api';
import { useLive, useToken } from './hooks';
import { bridgeReadOnly } from './live';

/**
 * The API token, entered once per tab: kept in session storage (gone when the tab closes), sent
 * only in the Authorization header of writes.
 */
export function TokenBox() {
  const token = useToken();
  const l = useLive();
  const [draft, setDraft] = useState('');
  if (bridgeReadOnly(l.bus)) return <p class="token muted" data-writes="bridge">Read-only: in bridge mode another master owns the bus (bridge.inject is off).</p>;
  if (token) {
    return (
      <div class="token" data-writes="token">
        <span>Writes use the token kept in this tab.</span>{' '}
        <button type="button" onClick={() => setToken(null)}>
          Forget token
        </button>
      </div>
    );
  }
  return (
    <form
      class="token"
      data-writes="none"
      onSubmit={(e) => {
        e.preventDefault();
        if (draft.trim()) setToken(draft.trim());
        setDraft('');
      }}
    >
      <label>
        API token{' '}
        <input type="password" autocomplete="off" value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} aria-label="API token" />
      </label>{' '}
      <button type="submit">Use token</button>{' '}
      <span class="muted">Read-only until a token is entered: writes need the gateway's API token.</span>
    </form>
  );
}
