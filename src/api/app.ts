/**
 * The HTTP API as a Fastify app. `buildApp` never listens: main.ts listens and shuts down,
 * tests call `app.inject()` on the same factory (STYLE habit 10).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { GatewayService, Programs } from '../gateway/index.js';
import { clip, isGatewayError, RefusalLimiter, silentLogger, type Logger } from '../shared/index.js';
import { clientAddress, loggedUrl } from './auth.js';
import { RouteMethods } from './methods.js';
import { allowedHostNames, checkHost, requireJsonForChanges } from './origin.js';
import { type HttpError, fastifyClientError, internalError, mapGatewayError, validationError, type ValidationIssue } from './errors.js';
import { strictValidatorCompiler } from './strict-query.js';
import { dashboardRoutes, loadDashboard } from './dashboard.js';
import { lazyDocsRoutes } from './docs.js';
import { EventStreams, attachEventStreams, eventRoutes, type EventStreamOptions } from './events.js';
import { healthRoutes } from './health.js';
import { historyRoutes } from './history.js';
import type { TransactionLog } from './log.js';
import { instrumentRoutes } from './instruments.js';
import { labRoutes } from './lab.js';
import { metricsRoutes, type MetricsEndpoint } from './metrics.js';
import { parameterRoutes } from './parameters.js';
import { programRoutes } from './programs.js';
import { systemRoutes, type MqttStatusSource } from './system.js';

export interface AppDeps {
  /** The mode the API serves (master now; bridge later). */
  readonly service: GatewayService;
  /** Bearer token writes need; null, undefined or empty disables writes (403 API_WRITES_DISABLED). */
  readonly token?: string | null | undefined;
  /**
   * A pino logger, or any logger of the gateway's `Logger` shape (adapted: fatal logs as
   * error, trace as debug), or false / absent for none.
   */
  readonly logger?: Logger | FastifyBaseLogger | false;
  /** The gateway's version, shown by /healthz and in the OpenAPI document. */
  readonly version: string;
  /** The transaction log; without it, /transactions serves the in-memory ring and /history answers 503. */
  readonly store?: TransactionLog;
  /** This gateway's name (gateway.name): shown by /healthz and /bus; log queries without `gateway=` are about its rows. */
  readonly gateway?: string;
  /** The address the API listens on (http.host): a name it is also reached under, unless a wildcard. */
  readonly listenHost?: string;
  /** More names for the Host check (http.allowedHosts); `*` allows any. Loopback names always pass. */
  readonly allowedHosts?: readonly string[];
  /** How refused requests are logged: the first per client host and code in full, the rest counted once a window (tests shrink it). */
  readonly refusalLog?: { readonly windowMs?: number; readonly maxKeys?: number };
  /** The built dashboard's directory (`findDashboardDir()`); without one, `GET /` redirects to /docs. */
  readonly dashboardDir?: string | undefined;
  /** GET /events: ring size, backlog bound per stream, keep-alive interval, most open streams (EVENT_STREAM_DEFAULTS when absent). */
  readonly events?: EventStreamOptions;
  /** GET /metrics (Prometheus); absent: no such route. */
  readonly metrics?: MetricsEndpoint | undefined;
  /** The MQTT link's state, shown in GET /bus (absent without mqtt.url). */
  readonly mqtt?: MqttStatusSource | undefined;
  /** Setpoint programs (master mode). */
  readonly programs?: Programs | undefined;
}

/** Where the versioned API lives. */
export const API_PREFIX = '/api/v1';

/** Largest request body; a write is a few dozen bytes. */
const BODY_LIMIT = 64 * 1024;

/** Longest path segment (a node or parameter name) the router accepts; longer ones are 414 API_URI_TOO_LONG. */
const MAX_PARAM_LENGTH = 100;

/** Where `GET /` sends a browser when the gateway was built without the dashboard: the API documentation. */
export const HOME_PAGE = '/docs';

type Bindings = Parameters<FastifyBaseLogger['child']>[0];
type ChildLoggerOptions = NonNullable<Parameters<FastifyBaseLogger['child']>[1]>;

function isFastifyLogger(l: Logger | FastifyBaseLogger): l is FastifyBaseLogger {
  const c = l as Partial<FastifyBaseLogger>;
  return typeof c.level === 'string' && typeof c.fatal === 'function' && typeof c.trace === 'function' && typeof c.silent === 'function';
}

/** Gives a gateway `Logger` the few methods Fastify also wants. */
export function fastifyLogger(l: Logger | FastifyBaseLogger): FastifyBaseLogger {
  if (isFastifyLogger(l)) return l;
  return {
    level: 'info',
    fatal: (obj: object | string, msg?: string) => l.error(obj, msg),
    error: (obj: object | string, msg?: string) => l.error(obj, msg),
    warn: (obj: object | string, msg?: string) => l.warn(obj, msg),
    info: (obj: object | string, msg?: string) => l.info(obj, msg),
    debug: (obj: object | string, msg?: string) => l.debug(obj, msg),
    trace: (obj: object | string, msg?: string) => l.debug(obj, msg),
    silent: () => {},
    child: (bindings: Record<string, unknown>) => fastifyLogger(l.child(bindings)),
  } as FastifyBaseLogger;
}

/**
 * Fastify gives every request a child logger (with its request id). Made on every request, it costs
 * more than the rest of a cached read's route, and almost no request logs anything: this one makes
 * the child on the first line the request logs, with the same bindings and options.
 */
export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  let child: FastifyBaseLogger | undefined;
  const real = (): FastifyBaseLogger => (child ??= parent.child(bindings, opts));
  const lazy = {
    get level(): string {
      return child ? child.level : (opts.level ?? parent.level);
    },
    set level(level: string) {
      real().level = level;
    },
    fatal: (...a: Parameters<FastifyBaseLogger['fatal']>) => real().fatal(...a),
    error: (...a: Parameters<FastifyBaseLogger['error']>) => real().error(...a),
    warn: (...a: Parameters<FastifyBaseLogger['warn']>) => real().warn(...a),
    info: (...a: Parameters<FastifyBaseLogger['info']>) => real().info(...a),
    debug: (...a: Parameters<FastifyBaseLogger['debug']>) => real().debug(...a),
    trace: (...a: Parameters<FastifyBaseLogger['trace']>) => real().trace(...a),
    silent: (...a: Parameters<FastifyBaseLogger['silent']>) => real().silent(...a),
    child: (b: Bindings, o?: ChildLoggerOptions) => real().child(b, o),
  };
  return lazy as FastifyBaseLogger;
}

function toHttpError(error: FastifyError, request: FastifyRequest): HttpError {
  if (error.validation) {
    return mapGatewayError(validationError(error.validationContext ?? 'request', error.validation as readonly ValidationIssue[])) ?? internalError(request.id);
  }
  if (isGatewayError(error)) {
    const mapped = mapGatewayError(error);
    if (mapped) return mapped;
  } else {
    const client = fastifyClientError(error);
    if (client) return client;
  }
  return internalError(request.id);
}

function sendError(reply: FastifyReply, http: HttpError): FastifyReply {
  return reply.code(http.status).headers(http.headers).send(http.body);
}

/** Builds the app (routes, validation, error mapping, OpenAPI, Swagger UI) without listening. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { service, version } = deps;
  const serverOptions = {
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors the router meets before any route (a malformed %-escape, a segment over
    // maxParamLength) in the one error shape, like every other answer.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const http = fastifyClientError(error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? { ...error, message: `a path segment is longer than ${MAX_PARAM_LENGTH} characters`, statusCode: 414 } : error);
      return sendError(reply, http ?? internalError(request.id));
    },
  };
  const root = deps.logger
    ? // Per-request lines would flood the log of a gateway that a dashboard polls every second;
      // errors, writes and refusals are logged by the routes and the service.
      Fastify({
        ...serverOptions,
        loggerInstance: fastifyLogger(deps.logger),
        logController: new LogController({ disableRequestLogging: true }),
        childLoggerFactory: (logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions) => lazyChildLogger(logger, bindings, opts),
      })
    : Fastify({ ...serverOptions, logger: false });
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  // TypeBox checks bodies as they are (never coerced: `null` or `true` is not a number) and
  // converts only path and query strings, whose numbers must be written in decimal (strict-query.ts).
  app.setValidatorCompiler(strictValidatorCompiler);

  // Refusals an outsider can cause are logged in full once per client host and code, then counted.
  const refusals = new RefusalLimiter(deps.logger ? fastifyLogger(deps.logger) : silentLogger, deps.refusalLog ?? {});
  root.addHook('onClose', async () => refusals.close());
  // Before everything else: web pages in a browser on the lab PC cannot reach the API.
  app.addHook('onRequest', checkHost(allowedHostNames(deps.listenHost, deps.allowedHosts), refusals));
  app.addHook('onRequest', requireJsonForChanges(refusals));

  // A dashboard that keeps asking through a weekend outage must not write a warning per request:
  // each code is logged once a minute at most, with how many were left out meanwhile.
  const warned = new Map<string, { at: number; suppressed: number }>();
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const http = toHttpError(error, request);
    if (http.body.code === 'API_INTERNAL') {
      // A bug an outsider found can be triggered in a loop: the same limit as refusals.
      refusals.refused(clientAddress(request), 'API_INTERNAL', () =>
        request.log.error({ err: error, source: clientAddress(request) }, `unexpected error on ${request.method} ${loggedUrl(request.url)}`),
      );
    }
    else if (http.status >= 500) {
      const now = Date.now();
      const w = warned.get(http.body.code);
      if (!w || now - w.at >= 60_000) {
        warned.set(http.body.code, { at: now, suppressed: 0 });
        request.log.warn({ code: http.body.code, ...(w?.suppressed ? { sameErrorsSinceLastLine: w.suppressed } : {}) }, http.body.message);
      } else w.suppressed++;
    }
    return sendError(reply, http);
  });
  // A path that exists with another method is a 405 naming the methods it has.
  const routes = new RouteMethods();
  app.addHook('onRoute', (route) => routes.add(route.url, route.method));
  app.setNotFoundHandler((request, reply) => {
    const path = clip(request.url.split('?')[0] ?? '/', 200);
    const allow = routes.allowed(request.url.split('?')[0] ?? '/');
    // A route with this very method that did not match (a file missing under /docs/static/*) is a plain 404.
    if (allow.length > 0 && !allow.includes(request.method)) {
      return sendError(reply, {
        status: 405,
        headers: { allow: allow.join(', ') },
        body: { code: 'API_METHOD_NOT_ALLOWED', message: `${clip(request.method, 20)} is not allowed on ${path}; allowed: ${allow.join(', ')}`, details: { method: request.method, allowed: allow } },
      });
    }
    return sendError(reply, {
      status: 404,
      headers: {},
      body: { code: 'API_NOT_FOUND', message: `no route ${clip(request.method, 20)} ${path}`, details: { method: request.method } },
    });
  });

  // POST /discover has no body: an empty one with `content-type: application/json` is no body,
  // not a 400. Every other body goes to Fastify's own parser (prototype-poisoning checks included).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });

  // The OpenAPI document and Swagger UI, built at the first request for either (src/api/docs.ts).
  lazyDocsRoutes(
    root,
    {
      openapi: '3.1.0',
      info: {
        title: 'flowbus-gateway',
        version,
        description:
          'Bronkhorst FLOW-BUS / ProPar mass-flow instruments on the network. Reads are open; writes need `Authorization: Bearer <token>`. Every error is `{ code, message, details }`.',
      },
      tags: [
        { name: 'instruments', description: 'instruments and their parameters' },
        { name: 'bus', description: 'buses, discovery and recent transactions' },
        { name: 'health', description: 'liveness and readiness' },
        { name: 'programs', description: 'setpoint programs: hold, ramp and wait steps' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'the API token (http.token in the config, or FLOWBUS_API_TOKEN)' },
        },
      },
    },
    '/docs',
  );
  dashboardRoutes(root, loadDashboard(deps.dashboardDir), HOME_PAGE);

  await app.register(healthRoutes, { service, version, gateway: deps.gateway });
  await app.register(instrumentRoutes, { prefix: API_PREFIX, service, token: deps.token, refusals });
  await app.register(labRoutes, { prefix: API_PREFIX, service, token: deps.token, refusals });
  await app.register(systemRoutes, { prefix: API_PREFIX, service, token: deps.token, refusals, store: deps.store, gateway: deps.gateway, mqtt: deps.mqtt });
  await app.register(parameterRoutes, { prefix: API_PREFIX });
  await app.register(programRoutes, { prefix: API_PREFIX, programs: deps.programs, token: deps.token, refusals });
  await app.register(historyRoutes, { prefix: API_PREFIX, store: deps.store, service, gateway: deps.gateway });

  // One set of hub subscriptions for every event stream; the streams end before the server
  // closes, so that closing never waits on a client.
  const streams = new EventStreams(service.events, deps.events ?? {}, deps.logger ? fastifyLogger(deps.logger) : silentLogger);
  streams.start();
  attachEventStreams(root, streams);
  root.addHook('preClose', async () => streams.close());
  root.addHook('onClose', async () => streams.close());
  await app.register(eventRoutes, { prefix: API_PREFIX, streams });
  if (deps.metrics) metricsRoutes(root, deps.metrics);
  return root;
}
