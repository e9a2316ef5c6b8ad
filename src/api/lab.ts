/** Fluids, counter and alarms of one instrument: `/api/v1/instruments/{node}/fluids`, `/fluid`, `/counter`, `/alarm-settings`, `/alarms/reset`. */
import { Type } from 'typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayService, LabService } from '../gateway/index.js';
import { GatewayError } from '../shared/index.js';
import { clientAddress, logWriteRefusals, requireToken } from './auth.js';
import type { RouteOptions } from './instruments.js';
import { DiscoverBody, errorResponses, MultiWriteBody, NodeParams, ValueViewSchema } from './schemas.js';

const TAG = ['lab'];

const FluidSetSchema = Type.Object({
  index: Type.Integer({ description: 'fluidsetIndex (DDE 24)' }),
  name: Type.String({ description: 'fluidName (DDE 25)' }),
  capacity: Type.Optional(Type.Number({ description: 'capacity (DDE 21), in unit' })),
  unit: Type.Optional(Type.String({ description: 'capacityUnit (DDE 129)' })),
  density: Type.Optional(Type.Number({ description: 'density (DDE 170), kg/m3, where the instrument has it' })),
});

const FluidListSchema = Type.Object({
  instrument: Type.String(),
  active: Type.Integer({ description: 'the fluid set selected before and after the listing' }),
  fluids: Type.Array(FluidSetSchema),
  restored: Type.Boolean({ description: 'the set selected before was selected again' }),
  time: Type.String({ format: 'date-time' }),
});

const FluidsQuery = Type.Object({
  force: Type.Optional(Type.Boolean({ description: 'list even with a setpoint other than 0 (needs the API token)' })),
});

const FluidBody = Type.Object(
  {
    fluid: Type.Union([Type.Integer({ minimum: 0, maximum: 255 }), Type.String({ minLength: 1, maxLength: 32 })], { description: 'fluid set number, or its name (case ignored)' }),
    force: Type.Optional(Type.Boolean({ description: 'by name without a list kept: list the fluid sets even with a setpoint other than 0' })),
  },
  { additionalProperties: false, examples: [{ fluid: 'N2' }, { fluid: 3 }] },
);

const FluidSwitchSchema = Type.Object({
  instrument: Type.String(),
  fluid: FluidSetSchema,
  identity: Type.Object({}, { additionalProperties: true, description: 'the identity read again after the switch' }),
});

const CounterSchema = Type.Object({
  instrument: Type.String(),
  value: Type.Number({ description: 'counterValue (DDE 122), in unit' }),
  limit: Type.Number({ description: 'counterLimit (DDE 124): the batch limit' }),
  mode: Type.Integer({ description: 'counterMode (DDE 130): 0 off, 1 up continuously, 2 up to the limit (batch)' }),
  modeLabel: Type.Optional(Type.String()),
  unit: Type.Optional(Type.String({ description: 'counterUnit (DDE 128)' })),
  batchReached: Type.Boolean({ description: 'the batch alarm (Alarm Info bit 0x10) is on' }),
  time: Type.String({ format: 'date-time' }),
});

const CounterBody = Type.Object(
  {
    limit: Type.Optional(Type.Number({ minimum: 0, description: 'batch limit, in the counter unit' })),
    mode: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 255 }), Type.String({ minLength: 1, maxLength: 64 })], { description: '0/off, 1 continuous, 2 batch (number or label)' })),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ limit: 500, mode: 2 }] },
);

const AlarmNames = Type.Array(Type.String(), { description: 'active alarms: error, warning, min, max, batch, response, master, hardware' });

const AlarmSettingsSchema = Type.Object({
  instrument: Type.String(),
  alarms: AlarmNames,
  settings: Type.Record(Type.String(), ValueViewSchema),
  unsupported: Type.Array(Type.Object({ key: Type.String(), code: Type.String(), message: Type.String() })),
});

const AlarmsSchema = Type.Object({ instrument: Type.String(), alarms: AlarmNames, value: Type.Integer({ description: 'Alarm Info (DDE 28) after the reset' }) });

/** Master mode only: bridge mode does not own the bus. */
function labOf(service: GatewayService): LabService {
  if (!service.lab) throw new GatewayError('BRIDGE_READ_ONLY', 'the gateway runs as a passive bridge: another master owns the bus, so it does not read or write instruments itself', {});
  return service.lab;
}

/** A body-less POST is the same as `{}`. */
async function emptyBody(request: FastifyRequest): Promise<void> {
  if (request.body === undefined || request.body === null) request.body = {};
}

export const labRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { service, token, refusals }) => {
  const checkToken = requireToken(token, refusals);
  const writes = { onRequest: [checkToken], onError: logWriteRefusals(refusals) };

  app.get(
    '/instruments/:node/fluids',
    {
      // force=true may change the flow: only with the token.
      preHandler: async (request: FastifyRequest<{ Querystring: { force?: boolean } }>, reply: FastifyReply) => {
        if (request.query.force) await checkToken(request, reply);
      },
      schema: {
        operationId: 'listFluids',
        tags: TAG,
        summary: "List the instrument's fluid sets: name, capacity, unit, density",
        description:
          'An instrument tells the name, capacity and unit of the selected fluid set only, so this selects each set in turn (fluidsetIndex 0, 1, ... until the instrument refuses one), reads it, and selects the one it found again, also after a failure; the identity is then read again. Refused with 409 GATEWAY_FLUID_BUSY while the setpoint is not 0, unless `force=true` (which needs the token); writes to the instrument meanwhile get 409 GATEWAY_FLUID_BUSY.',
        params: NodeParams,
        querystring: FluidsQuery,
        response: { 200: FluidListSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => labOf(service).fluids(request.params.node, { ...(request.query.force ? { force: true } : {}), source: clientAddress(request) }),
  );

  app.put(
    '/instruments/:node/fluid',
    {
      ...writes,
      schema: {
        operationId: 'selectFluid',
        tags: TAG,
        summary: 'Select another fluid set by number or name (needs the API token)',
        description:
          'Writes fluidsetIndex through the validated write path; the fluid name, capacity and unit are read again (confirmed) before the answer, and every view uses them. A name is looked up in the last listing (GET .../fluids), or a listing is made first (409 GATEWAY_FLUID_BUSY with a setpoint other than 0 unless `force`). 404 GATEWAY_FLUID_UNKNOWN names the sets there are.',
        security: [{ bearer: [] }],
        params: NodeParams,
        body: FluidBody,
        response: { 200: FluidSwitchSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => labOf(service).setFluid(request.params.node, request.body.fluid, { ...(request.body.force ? { force: true } : {}), source: clientAddress(request) }),
  );

  app.get(
    '/instruments/:node/counter',
    {
      schema: {
        operationId: 'readCounter',
        tags: TAG,
        summary: 'The counter (totaliser): value, limit, mode, unit, batch reached',
        params: NodeParams,
        response: { 200: CounterSchema, ...errorResponses(400, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => labOf(service).counter(request.params.node),
  );

  app.put(
    '/instruments/:node/counter',
    {
      ...writes,
      schema: {
        operationId: 'setCounter',
        tags: TAG,
        summary: 'Set the counter limit and/or mode (needs the API token)',
        description: 'Written together as counterLimit and counterMode (validated first), then the counter is read again. Mode 2 counts up to the limit; reaching it raises the batch alarm, a `counter` event of kind `batch-end`.',
        security: [{ bearer: [] }],
        params: NodeParams,
        body: CounterBody,
        response: { 200: CounterSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => labOf(service).setCounter(request.params.node, request.body, { source: clientAddress(request) }),
  );

  app.post(
    '/instruments/:node/counter/reset',
    {
      ...writes,
      preValidation: emptyBody,
      schema: {
        operationId: 'resetCounter',
        tags: TAG,
        summary: 'Reset the counter to 0 (needs the API token)',
        description: 'Writes reset (DDE 114) = 1 (counter reset, mode kept), then reads the counter. The instrument takes it only where resetCounterEnable allows FLOW-BUS resets.',
        security: [{ bearer: [] }],
        params: NodeParams,
        body: DiscoverBody,
        response: { 200: CounterSchema, ...errorResponses(400, 401, 403, 404, 409, 415, 422, 502, 503, 504) },
      },
    },
    async (request) => labOf(service).resetCounter(request.params.node, { source: clientAddress(request) }),
  );

  app.get(
    '/instruments/:node/alarm-settings',
    {
      schema: {
        operationId: 'readAlarmSettings',
        tags: TAG,
        summary: 'The alarm settings by name, and the alarms active now',
        description: 'alarmMode, alarmLimitMaximum, alarmLimitMinimum (raw, 32000 = 100 %), alarmDelay, alarmSetpointMode, alarmNewSetpoint (the setpoint taken on alarm), alarmOutputMode, resetAlarmEnable, read in one chained request with alarmInfo.',
        params: NodeParams,
        response: { 200: AlarmSettingsSchema, ...errorResponses(400, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => labOf(service).alarmSettings(request.params.node),
  );

  app.put(
    '/instruments/:node/alarm-settings',
    {
      ...writes,
      schema: {
        operationId: 'writeAlarmSettings',
        tags: TAG,
        summary: 'Write alarm settings by name (needs the API token)',
        description: 'As the multi-parameter write, limited to the alarm settings (400 GATEWAY_NOT_ALARM_SETTING for anything else); limits are raw (32000 = 100 %). Answers the settings read again.',
        security: [{ bearer: [] }],
        params: NodeParams,
        body: MultiWriteBody,
        response: { 200: AlarmSettingsSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504) },
      },
    },
    async (request) => labOf(service).setAlarmSettings(request.params.node, request.body, { source: clientAddress(request) }),
  );

  app.post(
    '/instruments/:node/alarms/reset',
    {
      ...writes,
      preValidation: emptyBody,
      schema: {
        operationId: 'resetAlarms',
        tags: TAG,
        summary: 'Reset the alarms (needs the API token)',
        description: 'Writes reset (DDE 114) = 2 (reset alarm), then reads alarmInfo. An alarm whose cause is still there comes back; the instrument takes the reset only where resetAlarmEnable allows FLOW-BUS resets.',
        security: [{ bearer: [] }],
        params: NodeParams,
        body: DiscoverBody,
        response: { 200: AlarmsSchema, ...errorResponses(400, 401, 403, 404, 409, 415, 422, 502, 503, 504) },
      },
    },
    async (request) => labOf(service).resetAlarms(request.params.node, { source: clientAddress(request) }),
  );
};
