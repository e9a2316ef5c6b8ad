/** GET /metrics: the Prometheus text exposition, at the root where scrapers look for it. A read: no token. */
import type { FastifyInstance } from 'fastify';

/** What the API needs of the metrics (built in main.ts). */
export interface MetricsEndpoint {
  /** The registry's content type (the text format's version). */
  readonly contentType: string;
  /** One scrape. */
  text(): Promise<string>;
}

export function metricsRoutes(app: FastifyInstance, metrics: MetricsEndpoint): void {
  // Hidden from the OpenAPI document: it is not JSON (README "Metrics (Prometheus)").
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const text = await metrics.text();
    return reply.header('content-type', metrics.contentType).header('cache-control', 'no-store').send(text);
  });
}
