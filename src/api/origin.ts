/**
 * What keeps web pages open in a browser on the lab PC away from the API. Two checks, before
 * any route runs:
 *
 * - The Host header must be a name the gateway is served under (loopback names, http.host when
 *   it is not a wildcard, http.allowedHosts): a page that rebinds its own DNS name to 127.0.0.1
 *   still sends its own name, and is refused with 421 API_BAD_HOST.
 * - A request that changes something (POST, PUT, PATCH, DELETE) must say
 *   `content-type: application/json`, even without a body. A browser sends that only after a
 *   CORS preflight (OPTIONS), which the gateway never grants: it sends no CORS headers at all. A
 *   page's "simple" request (a form, `text/plain`, no body at all) is refused with 415
 *   API_UNSUPPORTED_MEDIA_TYPE before the route runs.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { clip, type RefusalLimiter } from '../shared/index.js';
import { logRefusal } from './auth.js';
import { ApiError } from './errors.js';

/** Names every gateway answers to: this machine. */
export const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'] as const;

/** Bind addresses that mean "every interface": no name of their own. */
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

/** Methods that change something and so need a JSON content type. */
const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `LocalHost.` -> `localhost`, `::1` -> `[::1]`, `name:8080` -> `name`. */
export function normaliseHostName(text: string): string {
  let h = text.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end < 0 ? h : h.slice(0, end + 1);
  } else if ((h.match(/:/g) ?? []).length > 1) {
    h = `[${h}]`;
  } else if (h.includes(':')) {
    h = h.slice(0, h.indexOf(':'));
  }
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** The names the API answers to, or 'any'. */
export function allowedHostNames(listenHost: string | undefined, extra: readonly string[] = []): ReadonlySet<string> | 'any' {
  if (extra.some((e) => e.trim() === '*')) return 'any';
  const names = new Set<string>(LOOPBACK_HOSTS);
  if (listenHost !== undefined && !WILDCARDS.has(listenHost.trim())) names.add(normaliseHostName(listenHost));
  for (const e of extra) names.add(normaliseHostName(e));
  return names;
}

/** Whether `host` (a bind address) is this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = normaliseHostName(host);
  return h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** An onRequest hook: 421 API_BAD_HOST unless the Host header names the gateway. */
export function checkHost(allowed: ReadonlySet<string> | 'any', refusals: RefusalLimiter) {
  // Callback style, as every request passes here: an async hook costs each request a promise and a turn.
  return function hostCheck(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (allowed === 'any') return done();
    const header = request.headers.host;
    const name = header === undefined ? undefined : normaliseHostName(header);
    if (name !== undefined && allowed.has(name)) return done();
    const shown = header === undefined ? 'no Host header' : `the name ${JSON.stringify(clip(header, 100))}`;
    const err = new ApiError(
      'API_BAD_HOST',
      `the gateway is not served under ${shown}; to allow a name add it to http.allowedHosts in the config file or to FLOWBUS_HTTP_ALLOWED_HOSTS (comma-separated), or use "*" to allow any`,
      { host: header === undefined ? null : clip(header, 100), allowed: [...allowed] },
    );
    logRefusal(refusals, request, err.code, err.message, false);
    throw err;
  };
}

/** `application/json; charset=utf-8` -> `application/json`. */
function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return header.split(';')[0]?.trim().toLowerCase();
}

/** An onRequest hook: 415 API_UNSUPPORTED_MEDIA_TYPE for a state-changing request that is not `content-type: application/json`. */
export function requireJsonForChanges(refusals: RefusalLimiter) {
  return function jsonOnly(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    // An unknown path or method is answered by the 404/405 handler, which changes nothing.
    if (!CHANGING.has(request.method) || request.is404) return done();
    const type = mediaType(request.headers['content-type']);
    if (type === 'application/json') return done();
    const got = type === undefined ? 'none' : JSON.stringify(clip(type, 100));
    const err = new ApiError(
      'API_UNSUPPORTED_MEDIA_TYPE',
      `${request.method} needs "content-type: application/json" (got ${got}), even without a body (POST /api/v1/discover: send {} or nothing); this keeps web pages from sending it`,
      { contentType: type === undefined ? null : clip(type, 100), expected: 'application/json' },
    );
    logRefusal(refusals, request, err.code, err.message, request.method === 'PUT');
    throw err;
  };
}
