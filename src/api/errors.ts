/**
 * The API's one error registry: the only place where error codes become HTTP statuses
 * (STYLE habit 12). Every error the API sends, its own, the gateway's, and Fastify's
 * (validation, unknown route, bad JSON), has the shape `{ code, message, details }`.
 *
 * | status | codes                                                                 | meaning                                   |
 * |--------|-----------------------------------------------------------------------|-------------------------------------------|
 * | 400    | API_BAD_REQUEST                                                       | request validation (names the field), malformed JSON |
 * | 400    | GATEWAY_BAD_NODE, PARAM_NONE                                          | bad node syntax, no parameter named       |
 * | 400    | PARAM_INVALID_VALUE, PARAM_BAD_ENUM                                   | invalid value; the message names the allowed range (the instrument's, for a setpoint), maximum length or listed values |
 * | 400    | PARAM_BAD_UNIT, PARAM_WRITE_REFUSED                                   | a unit other than % or the capacity unit; a multi-parameter write refused as a whole (details.problems) |
 * | 401    | API_UNAUTHORIZED                                                      | missing or wrong bearer token             |
 * | 403    | API_WRITES_DISABLED                                                   | no token configured, so no writes         |
 * | 404    | GATEWAY_NODE_UNKNOWN, PARAM_UNKNOWN, API_NOT_FOUND                    | unknown instrument, parameter or route    |
 * | 404    | BRIDGE_NOT_OBSERVED, BRIDGE_STALE                                     | bridge mode: never seen on the wire, or not within maxAge |
 * | 405    | API_METHOD_NOT_ALLOWED                                                | the route has no such method; `Allow` lists those it has |
 * | 409    | GATEWAY_NODE_AMBIGUOUS                                                | node on several buses: say `bus:node`     |
 * | 409    | PARAM_READ_ONLY, PARAM_SECURED, PARAM_FACTORY, PARAM_WRITE_ONLY       | the parameter cannot be written (or read) |
 * | 409    | BRIDGE_READ_ONLY                                                      | bridge mode: the gateway does not own the bus |
 * | 409    | GATEWAY_FLUID_BUSY                                                    | fluid sets listed while the setpoint is not 0, or a write during the listing |
 * | 404    | GATEWAY_FLUID_UNKNOWN                                                 | no fluid set by that name or number       |
 * | 400    | GATEWAY_NOT_ALARM_SETTING                                             | an alarm-settings write naming another parameter |
 * | 413    | API_BODY_TOO_LARGE                                                    | body over the limit                       |
 * | 414    | API_URI_TOO_LONG                                                      | a path segment over 100 characters        |
 * | 415    | API_UNSUPPORTED_MEDIA_TYPE                                            | a POST/PUT/PATCH/DELETE without `content-type: application/json` |
 * | 421    | API_BAD_HOST                                                          | the Host header is not a name the gateway is served under (http.allowedHosts) |
 * | 422    | BUS_STATUS, BUS_ERROR_FRAME                                           | the instrument refused; the message names the status |
 * | 502    | BUS_BAD_REPLY                                                         | the answer could not be decoded           |
 * | 503    | BUS_UNAVAILABLE, BUS_NODE_BACKOFF, BUS_QUEUE_DEADLINE, BUS_ABORTED, TRANSPORT_UNAVAILABLE, TRANSPORT_WRITE_FAILED, GATEWAY_NO_BUS, API_NOT_READY | the bus cannot serve the request now |
 * | 503    | API_TOO_MANY_STREAMS                                                  | GET /events while the most event streams are open |
 * | 503    | PARAM_CAPACITY_UNKNOWN                                                | a setpoint cannot be checked: the instrument's capacity could not be read |
 * | 503    | BRIDGE_INJECT_PAUSED                                                  | bridge mode with injection: paused because the master's traffic suffered |
 * | 503    | BRIDGE_IDENTIFY_LIMIT                                                 | bridge mode with injection: too many unknown nodes identified within a minute |
 * | 400    | STORE_BAD_CURSOR, STORE_BAD_TIME, STORE_BAD_BUCKET                    | bad cursor, time or bucket in a log query |
 * | 503    | STORE_UNAVAILABLE, STORE_TIMEOUT, STORE_AUTH, STORE_NO_DATABASE       | the transaction log database cannot answer now (or refuses the store's user, or has no such database) |
 * | 400    | GATEWAY_PROGRAM_INVALID                                               | a program of the wrong shape (names the field) |
 * | 404    | GATEWAY_PROGRAM_UNKNOWN                                               | no such program                           |
 * | 409    | GATEWAY_PROGRAM_STATE, GATEWAY_PROGRAM_BUSY                           | pause/resume/abort not possible now; an instrument in another program |
 * | 503    | GATEWAY_PROGRAM_OFFLINE                                               | a program's instrument is offline         |
 * | 504    | BUS_TIMEOUT                                                           | no reply within the reply timeout         |
 * | 500    | API_INTERNAL (anything else: not a GatewayError, or an internal code) | logged with the original; the message is generic |
 */
import { GatewayError, isApiErrorCode, type ApiErrorCode } from '../shared/index.js';
import { patternHint } from './patterns.js';

export interface ErrorMapping {
  readonly status: number;
  /** Extra response headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

export const REALM = 'flowbus-gateway';

/**
 * Error code -> HTTP status, for every code of API_ERROR_CODES (src/shared/codes.ts): a code
 * there without a status here, or a status here for a code not there, fails the type check.
 * Internal codes (and anything not a GatewayError) are unexpected: 500 API_INTERNAL.
 */
export const HTTP_ERRORS: Readonly<Record<ApiErrorCode, ErrorMapping>> = {
  // the API's own
  API_BAD_REQUEST: { status: 400 },
  API_UNAUTHORIZED: { status: 401, headers: { 'www-authenticate': `Bearer realm="${REALM}"` } },
  API_WRITES_DISABLED: { status: 403 },
  API_NOT_FOUND: { status: 404 },
  API_METHOD_NOT_ALLOWED: { status: 405 },
  API_BODY_TOO_LARGE: { status: 413 },
  API_URI_TOO_LONG: { status: 414 },
  API_UNSUPPORTED_MEDIA_TYPE: { status: 415 },
  API_BAD_HOST: { status: 421 },
  API_NOT_READY: { status: 503 },
  API_TOO_MANY_STREAMS: { status: 503 },
  API_INTERNAL: { status: 500 },
  // instruments and parameters
  GATEWAY_BAD_NODE: { status: 400 },
  GATEWAY_NODE_UNKNOWN: { status: 404 },
  GATEWAY_NODE_AMBIGUOUS: { status: 409 },
  GATEWAY_NO_BUS: { status: 503 },
  GATEWAY_PROGRAM_INVALID: { status: 400 },
  GATEWAY_PROGRAM_UNKNOWN: { status: 404 },
  GATEWAY_PROGRAM_STATE: { status: 409 },
  GATEWAY_PROGRAM_BUSY: { status: 409 },
  GATEWAY_PROGRAM_OFFLINE: { status: 503 },
  PARAM_NONE: { status: 400 },
  PARAM_UNKNOWN: { status: 404 },
  PARAM_INVALID_VALUE: { status: 400 },
  PARAM_BAD_ENUM: { status: 400 },
  PARAM_READ_ONLY: { status: 409 },
  PARAM_SECURED: { status: 409 },
  PARAM_FACTORY: { status: 409 },
  PARAM_WRITE_ONLY: { status: 409 },
  PARAM_CAPACITY_UNKNOWN: { status: 503 },
  PARAM_BAD_UNIT: { status: 400 },
  PARAM_WRITE_REFUSED: { status: 400 },
  // the bus
  BUS_STATUS: { status: 422 },
  BUS_ERROR_FRAME: { status: 422 },
  BUS_BAD_REPLY: { status: 502 },
  BUS_TIMEOUT: { status: 504 },
  BUS_UNAVAILABLE: { status: 503 },
  BUS_NODE_BACKOFF: { status: 503 },
  BUS_QUEUE_DEADLINE: { status: 503 },
  BUS_ABORTED: { status: 503 },
  TRANSPORT_UNAVAILABLE: { status: 503 },
  TRANSPORT_WRITE_FAILED: { status: 503 },
  // the transaction log
  STORE_BAD_CURSOR: { status: 400 },
  STORE_BAD_TIME: { status: 400 },
  STORE_BAD_BUCKET: { status: 400 },
  STORE_UNAVAILABLE: { status: 503 },
  STORE_TIMEOUT: { status: 503 },
  STORE_AUTH: { status: 503 },
  STORE_NO_DATABASE: { status: 503 },
  // bridge mode: answers come from what was observed on the wire
  BRIDGE_NOT_OBSERVED: { status: 404 },
  BRIDGE_STALE: { status: 404 },
  BRIDGE_READ_ONLY: { status: 409 },
  GATEWAY_FLUID_BUSY: { status: 409 },
  GATEWAY_FLUID_UNKNOWN: { status: 404 },
  GATEWAY_NOT_ALARM_SETTING: { status: 400 },
  BRIDGE_INJECT_PAUSED: { status: 503 },
  BRIDGE_IDENTIFY_LIMIT: { status: 503 },
} satisfies Record<ApiErrorCode, ErrorMapping>;

/** An error raised by the API layer itself. */
export class ApiError extends GatewayError {
  constructor(code: Extract<ApiErrorCode, `API_${string}`>, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'ApiError';
  }
}

export interface HttpError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { code: ApiErrorCode; message: string; details: Record<string, unknown> };
}

/** Most enumeration entries listed in a message; the details always carry all of them. */
const MAX_LISTED = 32;

function allowedText(details: Record<string, unknown>, message: string): string {
  const parts: string[] = [];
  const allowed = details.allowed;
  if (Array.isArray(allowed) && allowed.length > 0) {
    const entries = allowed.slice(0, MAX_LISTED).map((e: { value?: unknown; label?: unknown }) => `"${String(e.label)}" (${String(e.value)})`);
    const more = allowed.length > MAX_LISTED ? `, ... ${allowed.length - MAX_LISTED} more in details.allowed` : '';
    parts.push(`allowed: ${entries.join(', ')}${more}`);
  }
  const { min, max } = details;
  if (typeof min === 'number' && typeof max === 'number' && !message.includes(`${min}..${max}`)) parts.push(`allowed range ${min}..${max}`);
  if (typeof details.length === 'number' && details.length > 0 && !message.includes(`length ${details.length}`) && !message.includes(`at most ${details.length} `)) {
    parts.push(`at most ${details.length} ${details.expected === 'bytes' ? 'bytes' : 'characters'}`);
  }
  return parts.length > 0 ? `${message}; ${parts.join('; ')}` : message;
}

/** The message a client sees: the error's own, completed where the registry promises more. */
function clientMessage(err: GatewayError): string {
  switch (err.code) {
    case 'PARAM_INVALID_VALUE':
    case 'PARAM_BAD_ENUM':
      return allowedText(err.details, err.message);
    case 'BUS_STATUS': {
      const name = err.details.statusName;
      return typeof name === 'string' && !err.message.includes(name) ? `${err.message} (status ${name})` : err.message;
    }
    default:
      return err.message;
  }
}

/** Makes details safe for JSON (byte arrays as hex, bigints as text). */
function jsonSafe(details: Record<string, unknown>): Record<string, unknown> {
  // Most details are plain JSON already (a refused name, a range): sent as they are. Only those
  // holding bytes, bigints or objects that are not plain are copied, with bytes as hex and bigints
  // as text, and what JSON cannot hold left out as JSON.stringify would.
  if (plainJson(details, 0)) return details;
  return JSON.parse(
    JSON.stringify(details, (_k, v: unknown) => {
      if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
      if (typeof v === 'bigint') return v.toString();
      return v;
    }),
  ) as Record<string, unknown>;
}

/** Strings, finite numbers, booleans, null, and arrays and plain objects of them, a few levels deep. */
function plainJson(v: unknown, depth: number): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v !== 'object' || depth > 4) return false;
  if (Array.isArray(v)) return v.length <= 1_000 && v.every((x) => plainJson(x, depth + 1));
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  return Object.values(v).every((x) => x !== undefined && plainJson(x, depth + 1));
}

/** The HTTP answer for a GatewayError, or undefined when its code is an internal one (not answered by code). */
export function mapGatewayError(err: GatewayError): HttpError | undefined {
  if (!isApiErrorCode(err.code)) return undefined;
  const mapping = HTTP_ERRORS[err.code];
  return { status: mapping.status, headers: mapping.headers ?? {}, body: { code: err.code, message: clientMessage(err), details: jsonSafe(err.details) } };
}

export function internalError(requestId: string): HttpError {
  return {
    status: 500,
    headers: {},
    body: { code: 'API_INTERNAL', message: 'internal error; the gateway log has the details', details: { requestId } },
  };
}

/** One validation problem as Fastify reports it (ajv's or TypeBox's error shape). */
export interface ValidationIssue {
  readonly keyword?: string;
  readonly instancePath?: string;
  readonly message?: string;
  readonly params?: Record<string, unknown>;
}

/** `body`, `/value` -> `body.value`; a missing property names itself. */
function fieldOf(context: string, issue: ValidationIssue): string {
  const path = (issue.instancePath ?? '').split('/').filter((s) => s.length > 0);
  const params = issue.params ?? {};
  const missing = params.requiredProperties ?? params.missingProperty;
  if (issue.keyword === 'required' && missing !== undefined) path.push(String(Array.isArray(missing) ? missing[0] : missing));
  return [context, ...path].join('.');
}

/**
 * A Fastify validation failure as API_BAD_REQUEST: the message names the failing field
 * (`body.value`, `querystring.maxAge`) and says what it must be.
 */
export function validationError(context: string, issues: readonly ValidationIssue[]): ApiError {
  // A field the request does not have: named as the field, not as "schema is false" (TypeBox
  // reports it at the field's own path) or "must not have additional properties" (ajv, at the
  // object's, naming the field in its params).
  const extra = issues.find((i) => (i.keyword === 'boolean' && i.message === 'schema is false') || (i.keyword === 'additionalProperties' && typeof i.params?.additionalProperty === 'string'));
  if (extra) {
    const named = extra.keyword === 'additionalProperties' ? String(extra.params?.additionalProperty) : undefined;
    const field = named === undefined ? fieldOf(context, extra) : `${fieldOf(context, extra)}.${named}`;
    return new ApiError('API_BAD_REQUEST', `${field} is not a field of this request`, { field, errors: [{ field, keyword: 'additionalProperties', message: 'is not a field of this request' }] });
  }
  const first = issues.find((i) => i.keyword !== 'anyOf') ?? issues[0] ?? {};
  const field = fieldOf(context, first);
  // Alternatives of a union arrive as one issue per branch with the same path: name them all.
  const samePath = issues.filter((i) => i.instancePath === first.instancePath && i.keyword !== 'anyOf' && i.message);
  const messages = [...new Set(samePath.map((i) => i.message ?? ''))];
  // "must be number", "must be string" -> "must be number or string"
  const what = messages.every((m) => m.startsWith('must be '))
    ? `must be ${messages.map((m) => m.slice('must be '.length)).join(' or ')}`
    : messages.join(' or ') || first.message || 'is invalid';
  const allowed = first.keyword === 'enum' && Array.isArray(first.params?.allowedValues) ? (first.params.allowedValues as unknown[]).map(String) : undefined;
  const hint = first.keyword === 'pattern' ? patternHint(first.params?.pattern) : undefined;
  const problem = first.keyword === 'required' ? 'is required' : allowed ? `must be one of ${allowed.join(', ')}` : (hint ?? what);
  return new ApiError('API_BAD_REQUEST', `${field} ${problem}`, {
    field,
    ...(allowed ? { allowed } : {}),
    errors: issues.map((i) => ({ field: fieldOf(context, i), keyword: i.keyword, message: i.message })),
  });
}

/**
 * Fastify's own HTTP errors (bad JSON, unknown content type, a bad URL, ...) by status. A
 * status not listed is answered as 400 API_BAD_REQUEST; 403 comes only from the static files of
 * /docs (a path outside them), which is a 404 like any other missing file.
 */
const FASTIFY_CODES: Readonly<Record<number, ApiErrorCode>> = {
  400: 'API_BAD_REQUEST',
  403: 'API_NOT_FOUND',
  404: 'API_NOT_FOUND',
  405: 'API_METHOD_NOT_ALLOWED',
  413: 'API_BODY_TOO_LARGE',
  414: 'API_URI_TOO_LONG',
  415: 'API_UNSUPPORTED_MEDIA_TYPE',
};

/** Longest part of Fastify's message kept: some quote the whole URL. */
const FASTIFY_MESSAGE_MAX = 300;

/**
 * A client error (4xx) Fastify or one of its plugins raised before the handler ran (bad JSON,
 * unknown content type, a malformed URL, ...) in the API's shape, with the status the registry
 * gives its code; undefined for anything else.
 */
export function fastifyClientError(err: { statusCode?: number; code?: string; message: string }): HttpError | undefined {
  const status = err.statusCode;
  if (status === undefined || status < 400 || status > 499) return undefined;
  const code = FASTIFY_CODES[status] ?? 'API_BAD_REQUEST';
  const message = status === 403 ? 'no such file' : err.message.length > FASTIFY_MESSAGE_MAX ? `${err.message.slice(0, FASTIFY_MESSAGE_MAX)}...` : err.message;
  return { status: HTTP_ERRORS[code].status, headers: {}, body: { code, message, details: err.code ? { fastifyCode: err.code } : {} } };
}
