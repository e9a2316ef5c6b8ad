/**
 * Bearer-token check for writes. Reads are open; every request that changes an instrument
 * needs `Authorization: Bearer <token>`. Without a configured token writes are disabled.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { clip, isGatewayError, redactSecrets, type ErrorCode, type RefusalLimiter } from '../shared/index.js';
import { ApiError, fastifyClientError } from './errors.js';

/** `ip:port` of the client (`[ip]:port` for IPv6), as written to the log and passed to the service. */
export function clientAddress(request: FastifyRequest): string {
  const ip = request.ip;
  const port = request.socket?.remotePort;
  if (port === undefined) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares in constant time: both sides are hashed first, so lengths never leak either. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * An onRequest hook that refuses a write unless it carries the right token: 403
 * API_WRITES_DISABLED when no token is configured, 401 API_UNAUTHORIZED when the header is
 * missing or wrong. The service logs the writes it sees; refusals here never reach it, so
 * they are logged here, with the client address, through the app's refusal limiter.
 */
export function requireToken(token: string | null | undefined, refusals: RefusalLimiter) {
  const configured = typeof token === 'string' && token.length > 0 ? token : undefined;
  return async function checkToken(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const err = refusal(configured, request.headers.authorization);
    if (!err) return;
    logRefusal(refusals, request, err.code, err.message);
    throw err;
  };
}

/** The request's URL as the log may show it: credentials redacted, length bounded. */
export function loggedUrl(url: string): string {
  return clip(redactSecrets(url));
}

/**
 * Logs a refused request: in full the first time a client host meets this code in the window,
 * then only counted (see RefusalLimiter), so an outsider cannot fill the log. `write` marks
 * refused writes (PUT of a parameter); other refusals (a bad Host, a wrong media type) say "request".
 */
export function logRefusal(refusals: RefusalLimiter, request: FastifyRequest, code: ErrorCode | undefined, message: string, write = true): void {
  const source = clientAddress(request);
  const what = code ?? 'API_BAD_REQUEST';
  refusals.refused(source, what, () => {
    const params = (request.params ?? {}) as Record<string, unknown>;
    const str = (v: unknown) => (v === undefined ? undefined : clip(String(v)));
    request.log.warn(
      { ...(write ? { write: true } : {}), source, method: clip(request.method, 20), url: loggedUrl(request.url), node: str(params.node), param: str(params.param), code: what },
      `${write ? 'write' : 'request'} refused: ${clip(redactSecrets(message))} (from ${source})`,
    );
  });
}

/**
 * An onError hook for write routes: logs the refusals that never reached the service
 * (malformed JSON, a body that fails the schema, a wrong media type). Token and bridge-mode
 * refusals are logged by their hooks, and the service logs everything it sees, so
 * GatewayErrors are skipped.
 */
export function logWriteRefusals(refusals: RefusalLimiter) {
  return async function logWriteRefusal(request: FastifyRequest, _reply: FastifyReply, error: FastifyError): Promise<void> {
    if (isGatewayError(error)) return;
    // The code the client was answered with, not Fastify's own.
    logRefusal(refusals, request, error.validation ? 'API_BAD_REQUEST' : (fastifyClientError(error)?.body.code ?? 'API_INTERNAL'), error.message);
  };
}

/** Why a request with this Authorization header may not write; undefined when it may. */
export function refusal(configured: string | undefined, header: string | undefined): ApiError | undefined {
  if (configured === undefined) {
    return new ApiError(
      'API_WRITES_DISABLED',
      'writes are disabled because no API token is configured; to enable them set http.token in the config file or the FLOWBUS_API_TOKEN environment variable, and send it as "Authorization: Bearer <token>"',
    );
  }
  if (header === undefined || header.length === 0) {
    return new ApiError('API_UNAUTHORIZED', 'this request needs "Authorization: Bearer <token>"', { reason: 'missing' });
  }
  const m = BEARER.exec(header);
  if (!m) return new ApiError('API_UNAUTHORIZED', 'the Authorization header must be "Bearer <token>"', { reason: 'malformed' });
  if (!tokenMatches(m[1] ?? '', configured)) return new ApiError('API_UNAUTHORIZED', 'wrong API token', { reason: 'wrong-token' });
  return undefined;
}
