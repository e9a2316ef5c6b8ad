import { useEffect, useState } from 'preact/hooks';
import { getToken, onTokenChange } from './api';
import { live, type Live } from './live';

/** Re-renders the caller whenever the live model changes. */
export function useLive(): Live {
  const [, setVersion] = useState(live.version);
  useEffect(() => live.subscribe(() => setVersion(live.version)), []);
  return live;
}

export function useToken(): string | null {
  const [token, set] = useState(getToken());
  useEffect(() => onTokenChange(() => set(getToken())), []);
  return token;
}

/** The route is the part of the URL after `#`: `/`, `/instrument/main:3`, `/transactions`, `/bridge`. */
export function currentRoute(): string[] {
  // A page's own query (`#/transactions?node=main:3`) is not part of the route.
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, '').replace(/\?.*$/, ''));
  return hash === '' ? [] : hash.split('/');
}

export function useRoute(): string[] {
  const [route, set] = useState(currentRoute());
  useEffect(() => {
    const on = () => set(currentRoute());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return '#/' + parts.map(encodeURIComponent).join('/');
}
