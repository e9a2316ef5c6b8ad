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
  const hash = location.hash.replace(/^#\/?/, '').replace(/\?.*$/, '');
  // Split before decoding: an id with a slash (`main:5/2`, a channel) comes encoded as one segment.
  return hash === '' ? [] : hash.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s; // a stray % in a hand-typed URL: the segment as typed
    }
  });
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
