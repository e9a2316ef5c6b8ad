/**
 * `GET /openapi.json` and Swagger UI under `/docs`, built only when first asked for.
 *
 * @fastify/swagger and its UI (with @fastify/static) cost the gateway their modules' memory and
 * load time at every start, for pages a user opens now and then. Here the app only notes each
 * route as it is added (the options objects Fastify holds anyway); the first request for the
 * document or the UI loads both plugins into a small Fastify instance of their own, adds the
 * noted routes to it with the same schemas (never compiled, never run), and from then on
 * answers /openapi.json from it and passes /docs requests to it (`inject`). The document is
 * the one @fastify/swagger makes of the app's own routes: openapi/openapi.json, compared by a
 * test, comes from here too.
 */
import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';

/** Headers of the docs instance's answer that are about its own connection, not the content. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'content-length']);

/**
 * Registers the note-taking hook and the /openapi.json and /docs routes on `root`. Call before
 * the routes are registered: a route added earlier is not in the document.
 */
export function lazyDocsRoutes(root: FastifyInstance, openapi: NonNullable<FastifyDynamicSwaggerOptions['openapi']>, routePrefix: string): void {
  const noted: RouteOptions[] = [];
  root.addHook('onRoute', (route) => {
    // HEAD routes Fastify adds for each GET are not documented; hidden ones (these, the dashboard's) need not be copied.
    if (route.method === 'HEAD' || (route.schema as { hide?: boolean } | undefined)?.hide) return;
    noted.push(route);
  });

  let built: Promise<FastifyInstance> | undefined;
  const docs = () => (built ??= build(noted, openapi, routePrefix).catch((err: unknown) => {
    built = undefined;
    throw err;
  }));

  root.get('/openapi.json', { schema: { hide: true } }, async () => (await docs()).swagger());
  const forward = async (request: FastifyRequest, reply: FastifyReply) => {
    const res = await (await docs()).inject({ method: request.method as 'GET' | 'HEAD', url: request.url, headers: request.headers });
    // A file that is not there (or a path out of the UI's files) is the app's own 404.
    if (res.statusCode === 403 || res.statusCode === 404) return reply.callNotFound();
    for (const [name, value] of Object.entries(res.headers)) if (value !== undefined && !HOP_HEADERS.has(name)) void reply.header(name, value);
    return reply.code(res.statusCode).send(res.rawPayload);
  };
  root.get(routePrefix, { schema: { hide: true } }, forward);
  root.get(`${routePrefix}/*`, { schema: { hide: true } }, forward);
}

async function build(noted: readonly RouteOptions[], openapi: NonNullable<FastifyDynamicSwaggerOptions['openapi']>, routePrefix: string): Promise<FastifyInstance> {
  const [{ default: swagger }, { default: swaggerUi }] = await Promise.all([import('@fastify/swagger'), import('@fastify/swagger-ui')]);
  const app = Fastify({ logger: false });
  // The schemas are only read for the document: nothing here validates or serialises with them.
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  await app.register(swagger, { openapi });
  await app.register(swaggerUi, { routePrefix });
  const handler = () => undefined;
  for (const r of noted) {
    app.route({
      method: r.method,
      url: r.url,
      handler,
      ...(r.schema ? { schema: r.schema } : {}),
      ...(r.config ? { config: r.config } : {}),
      ...(r.constraints ? { constraints: r.constraints } : {}),
    });
  }
  await app.ready();
  return app;
}
