/** Setpoint programs: `/api/v1/programs/...`. Starting and changing one needs the token, as writes do. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Programs } from '../gateway/index.js';
import { GatewayError, type RefusalLimiter } from '../shared/index.js';
import { clientAddress, logWriteRefusals, requireToken } from './auth.js';
import { ProgramBody, ProgramList, ProgramParams, ProgramViewSchema, errorResponses } from './schemas.js';

export interface ProgramRouteOptions {
  /** Absent in bridge mode: nothing is written there. */
  readonly programs: Programs | undefined;
  readonly token: string | null | undefined;
  readonly refusals: RefusalLimiter;
}

const TAG = ['programs'];

function need(programs: Programs | undefined): Programs {
  if (!programs) throw new GatewayError('BRIDGE_READ_ONLY', 'the gateway runs as a passive bridge: it runs no programs', {});
  return programs;
}

export const programRoutes: FastifyPluginAsyncTypebox<ProgramRouteOptions> = async (app, { programs, token, refusals }) => {
  const guarded = { onRequest: [requireToken(token, refusals)], onError: logWriteRefusals(refusals) };

  app.post(
    '/programs',
    {
      ...guarded,
      schema: {
        operationId: 'startProgram',
        tags: TAG,
        summary: 'Start a setpoint program (needs the API token)',
        description:
          'Checks the whole program before anything is written: its shape (at most 1000 steps, durations up to 7 days), every instrument known and online with its capacity read, every setpoint (a follower\'s too) within 0..102.4 % of its capacity, no instrument in another active program. Then starts it: 201 with the program. Abort, a failed step or an instrument going offline puts every instrument of it into its safe state.',
        security: [{ bearer: [] }],
        body: ProgramBody,
        response: { 201: ProgramViewSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const view = await need(programs).start(request.body, clientAddress(request));
      return reply.code(201).send(view);
    },
  );

  app.get(
    '/programs',
    { schema: { operationId: 'listPrograms', tags: TAG, summary: 'Every program of this run and the last ones ended', response: { 200: ProgramList, ...errorResponses() } } },
    async () => ({ programs: programs?.list() ?? [] }),
  );

  app.get(
    '/programs/:id',
    {
      schema: {
        operationId: 'getProgram',
        tags: TAG,
        summary: 'One program: its state, the step, the time left, each instrument\'s target',
        params: ProgramParams,
        response: { 200: ProgramViewSchema, ...errorResponses(404) },
      },
    },
    async (request) => need(programs).get(request.params.id),
  );

  for (const action of ['pause', 'resume', 'abort'] as const) {
    app.post(
      `/programs/:id/${action}`,
      {
        ...guarded,
        schema: {
          operationId: `${action}Program`,
          tags: TAG,
          summary:
            action === 'abort'
              ? 'Abort a program: every instrument to its safe state; answers once the safe writes are answered (needs the API token)'
              : action === 'pause'
                ? 'Pause a program: the instruments keep their setpoints, the step\'s clock stops (needs the API token)'
                : 'Resume a paused or held program (needs the API token)',
          security: [{ bearer: [] }],
          params: ProgramParams,
          response: { 200: ProgramViewSchema, ...errorResponses(401, 403, 404, 409) },
        },
      },
      async (request) => {
        const p = need(programs);
        const source = clientAddress(request);
        const { id } = request.params;
        return action === 'abort' ? p.abort(id, source) : action === 'pause' ? p.pause(id, source) : p.resume(id, source);
      },
    );
  }
};
