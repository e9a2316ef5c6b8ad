/** Liveness and readiness, at the root (not under /api/v1) where orchestrators look for them. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { GatewayService } from '../gateway/index.js';
import { ApiError } from './errors.js';
import { Health, Ready, errorResponses } from './schemas.js';

export interface HealthOptions {
  readonly service: GatewayService;
  readonly version: string;
  /** This gateway's name (gateway.name), shown by /healthz. */
  readonly gateway?: string | undefined;
}

/** Why the service is not ready: every bus whose transport is not open. */
export function notReadyReasons(service: GatewayService): string[] {
  let reasons: string[];
  try {
    reasons = service
      .buses()
      .filter((b) => b.transport.state !== 'open')
      .map((b) => `bus ${b.name} (${b.address}) is ${b.transport.state}${b.transport.lastError ? `: ${b.transport.lastError}` : ''}`);
  } catch (err) {
    reasons = [`the bus state is unavailable: ${err instanceof Error ? err.message : String(err)}`];
  }
  return reasons.length > 0 ? reasons : ['the gateway reports not ready'];
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthOptions> = async (app, { service, version, gateway }) => {
  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'health',
        tags: ['health'],
        summary: 'The process is alive (always 200)',
        response: { 200: Health },
      },
    },
    async () => ({ status: 'ok' as const, version, ...(gateway === undefined ? {} : { gateway }), uptimeS: Math.round(process.uptime() * 1000) / 1000 }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'ready',
        tags: ['health'],
        summary: 'Ready when every bus is open; 503 API_NOT_READY with the reasons otherwise',
        response: { 200: Ready, ...errorResponses(503) },
      },
    },
    async () => {
      if (service.ready()) return { status: 'ready' as const, mode: service.mode };
      const reasons = notReadyReasons(service);
      throw new ApiError('API_NOT_READY', `not ready: ${reasons.join('; ')}`, { reasons });
    },
  );
};
