/**
 * The dashboard's only way to the gateway: the HTTP API under /api/v1, same origin. The token is
 * kept in this tab's session storage and sent only in the Authorization header, never in a URL.
 */
export const API = '/api/v1';

/** An answer that is not 2xx, in the API's one error shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'flowbus.token';
const tokenListeners = new Set<() => void>();

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the page stays read-only
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: nothing is kept, writes stay unavailable
  }
  for (const l of tokenListeners) l();
}

export function onTokenChange(listener: () => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

async function parse<T>(res: Response): Promise<T> {
  const type = res.headers.get('content-type') ?? '';
  const body: unknown = type.includes('json') ? await res.json() : await res.text();
  if (res.ok) return body as T;
  const e = (typeof body === 'object' && body !== null ? body : {}) as { code?: string; message?: string; details?: unknown };
  throw new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? (typeof body === 'string' && body ? body : res.statusText), e.details);
}

/** GET a path under /api/v1 (or an absolute path such as /healthz). */
export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path.startsWith('/api/') || path.startsWith('/healthz') ? path : API + path, {
    headers: { accept: 'application/json' },
    ...(signal ? { signal } : {}),
  });
  return parse<T>(res);
}

/** PUT or POST JSON with the token; without a token the API's own 401 comes back. */
export async function send<T>(method: 'PUT' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/json' };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(API + path, { method, headers, body: body === undefined ? '' : JSON.stringify(body) });
  return parse<T>(res);
}

/** Builds `path?k=v&...`, leaving out empty values. */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

// ---- Shapes of the API's answers the dashboard uses (see /openapi.json for all of them) ----

export interface ValueView {
  readonly dde: number;
  readonly key: string;
  readonly name: string;
  readonly raw?: string;
  readonly value: unknown;
  readonly label?: string;
  readonly time: string;
  readonly cached?: boolean;
  readonly unit?: string;
  /** alarmInfo only: the active alarms by name. */
  readonly alarms?: readonly string[];
}

export interface ValueError {
  readonly dde?: number;
  readonly key?: string;
  readonly name?: string;
  readonly error: { readonly code: string; readonly message: string; readonly details?: unknown };
}

export interface Identity {
  readonly idString?: string;
  readonly deviceType?: string;
  readonly model?: string;
  readonly serial?: string;
  readonly firmware?: string;
  readonly userTag?: string;
  readonly fluidName?: string;
  readonly capacity?: number;
  readonly capacityUnit?: string;
  readonly channels?: number;
}

export interface Instrument {
  readonly id: string;
  readonly bus: string;
  readonly node: number;
  /** The name given in the config (`instruments: - node: 3, name: H2 line`). */
  readonly name?: string;
  readonly online: boolean;
  readonly identity: Identity;
  readonly values: Readonly<Record<string, ValueView>>;
  readonly polling?: { readonly parameters: readonly string[]; readonly intervalMs: number };
  readonly lastSeen?: string | null;
}

export interface BusView {
  readonly name: string;
  readonly address?: string;
  readonly transport?: { readonly state: string; readonly since?: string; readonly reconnects?: number; readonly reason?: string };
  readonly transactions?: Readonly<Record<string, number>>;
  readonly wireUtilisation?: number;
  readonly nodesBackedOff?: readonly unknown[];
  readonly [more: string]: unknown;
}

export interface StoreView {
  readonly state: string;
  readonly dialect?: string;
  readonly rowsWaiting?: number;
  readonly spooledBatches?: number;
  readonly [more: string]: unknown;
}

export interface BusStatus {
  /** gateway.name: which gateway this is, where several log into one database. */
  readonly gateway?: string;
  readonly mode: 'master' | 'bridge';
  readonly buses: readonly BusView[];
  readonly store?: StoreView | null;
  readonly [more: string]: unknown;
}

export interface WriteResult {
  readonly [k: string]: unknown;
}

export interface ProgramView {
  readonly id: string;
  readonly name: string;
  readonly state: 'running' | 'paused' | 'held' | 'completed' | 'failed' | 'aborted';
  readonly createdAt: string;
  readonly endedAt?: string;
  readonly steps: number;
  readonly step: { readonly index: number; readonly type: string; readonly elapsedMs: number; readonly timeLeftMs: number | null } | null;
  readonly instruments: readonly { readonly id: string; readonly target: number | null; readonly unit: string | null }[];
  readonly reason?: { readonly code: string; readonly message: string };
}
