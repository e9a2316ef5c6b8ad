/**
 * TypeBox schemas of everything the HTTP API takes and returns: the single source of request
 * validation, of the handlers' TypeScript types and of openapi/openapi.json (STYLE habit 11).
 * They mirror the views of src/gateway (InstrumentView, ValueView, ...); a handler that returns
 * a view which no longer fits its schema fails to compile.
 */
import Type, { type Static } from 'typebox';
import { HTTP_ERRORS } from './errors.js';
import { PATTERNS } from './patterns.js';

// ------------------------------------------------------------------ errors

/** The one error shape of the API, for every status (see errors.ts). */
export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'stable error code, e.g. PARAM_UNKNOWN, BUS_TIMEOUT, API_UNAUTHORIZED' }),
    message: Type.String({ description: 'a sentence for people' }),
    details: Type.Object({}, { additionalProperties: true, description: 'machine-readable facts about the error; keys depend on the code' }),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** What each error status means in this API; the OpenAPI description adds the codes HTTP_ERRORS gives that status. */
const ERROR_MEANINGS: Record<number, string> = {
  400: 'Bad request: malformed request, bad node syntax, invalid value, or a bad cursor, time or bucket in a log query',
  401: 'Missing or wrong bearer token',
  403: 'Writes are disabled: no token is configured',
  404: 'Unknown instrument, parameter or route; in bridge mode, a parameter not observed (within maxAge)',
  405: 'The route has no such method',
  409: 'Ambiguous node, or a parameter that cannot be written or read this way (in bridge mode, no writes)',
  413: 'The body is over the limit',
  414: 'A path segment is over the limit',
  415: 'Not sent with `content-type: application/json`',
  421: 'The Host header is not a name the gateway is served under',
  422: 'The instrument refused: ProPar status or error frame',
  500: 'Unexpected error',
  502: 'The instrument answered something the gateway could not use',
  503: 'Bus unavailable, node backed off, queue deadline passed, or aborted; a setpoint that cannot be checked; the transaction log database unreachable; or too many event streams open',
  504: 'The instrument did not answer in time',
};

function errorDescription(status: number): string {
  const codes = Object.entries(HTTP_ERRORS)
    .filter(([, m]) => m.status === status)
    .map(([code]) => code);
  const meaning = ERROR_MEANINGS[status] ?? `Error ${status}`;
  return codes.length > 0 ? `${meaning} (${codes.join(', ')})` : meaning;
}

/** Response schemas for the listed error statuses (500 is always added). */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorBody> {
  const out: Record<number, typeof ErrorBody> = {};
  for (const s of [...statuses, 500]) {
    out[s] = Type.Object(ErrorBody.properties, { additionalProperties: false, description: errorDescription(s) });
  }
  return out;
}

// ------------------------------------------------------------------ requests

/** POST /discover takes no options: no body, or `{}`. */
export const DiscoverBody = Type.Object({}, { additionalProperties: false, description: 'no options: send `{}` or no body, with `content-type: application/json`' });

export const NodeParams = Type.Object(
  {
    node: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'instrument: a node number (`3`), `128` for the instrument at the end of a local RS232 line, or `bus:node` (`main:3`); a channel of a multi-channel instrument as `bus:node/channel` (`main:3/2`, encoded `main:3%2F2` in a path)',
      examples: ['3'],
    }),
  });

  export const ParamParams = Type.Object({
    node: NodeParams.properties.node,
    param: Type.String({
      minLength: 1,
      maxLength: 80,
      description: 'parameter by key (`fSetpoint`), name (`Fsetpoint`) or DDE number (`206`)',
      examples: ['fSetpoint'],
    }),
  });

  const MaxAge = Type.Integer({
    minimum: 0,
    maximum: 86_400_000,
    description: 'serve a cached value if it is at most this many ms old; 0 or absent = read the instrument now',
  });

  export const ReadQuery = Type.Object({
    names: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2000,
        description: 'comma-separated parameters (keys, names or DDE numbers), read in one chained request; absent = the polled parameters',
        examples: ['fMeasure,fSetpoint,fluidName'],
      }),
    ),
    maxAge: Type.Optional(MaxAge),
  });

  export const ReadOneQuery = Type.Object({ maxAge: Type.Optional(MaxAge) });

  export const WriteBody = Type.Object(
    {
      value: Type.Union([Type.Number(), Type.String()], {
        description: 'a number; a string for text parameters; hex text for byte parameters; for enumerations also a label or alias (`"valve closed"`)',
        examples: [40, 'valve closed'],
      }),
      unit: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 32,
          description: "setpoint, fSetpoint (and measure): the value's unit, `%` of capacity or the instrument's capacity unit (e.g. `mg/min`); absent = the parameter's own scale",
          examples: ['%', 'mg/min'],
        }),
      ),
    },
    { additionalProperties: false },
  );

  /** Outcomes a logged transaction can have (LoggedTransaction.outcome). */
  export const TRANSACTION_OUTCOMES = [
    'ok',
    'status',
    'error-frame',
    'timeout',
    'bus-unavailable',
    'queue-deadline',
    'node-backoff',
    'aborted',
    'unanswered',
    'orphan',
    'undecodable',
  ] as const;

  const TimeParam = (description: string) =>
    Type.String({ minLength: 1, maxLength: 40, description: `${description}: ISO 8601 (2026-01-02T03:04:05Z) or ms since the epoch`, examples: ['2026-01-02T03:04:05Z'] });

  const Format = Type.Optional(Type.Enum(['json', 'csv'], { description: 'csv gives text/csv, like `Accept: text/csv`; default json' }));

  const GatewayParam = Type.Optional(
    Type.String({
      pattern: PATTERNS.gateway,
      description: "whose rows, in a database several gateways log into: a gateway's name, or `*` for all; default this gateway's own (and rows from before gateways were recorded)",
      examples: ['reactor-2', '*'],
    }),
  );

  export const TransactionsQuery = Type.Object({
    gateway: GatewayParam,
    node: Type.Optional(Type.String({ pattern: PATTERNS.node, description: 'only transactions with this node: `3`, or `bus:3` for node 3 of one bus (a channel, `bus:3/2`, means its node: transactions are per node)' })),
    param: Type.Optional(
      Type.String({ minLength: 1, maxLength: 80, description: 'only transactions that carry this parameter (key, name or DDE number); needs the store' }),
    ),
    outcome: Type.Optional(Type.Enum([...TRANSACTION_OUTCOMES], { description: `only transactions with this outcome: ${TRANSACTION_OUTCOMES.join(', ')}` })),
    since: Type.Optional(TimeParam('started at or after')),
    until: Type.Optional(TimeParam('started before')),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 1_000_000,
        description: 'at most this many, newest first. JSON: default 100, at most 1000 (400 API_BAD_REQUEST above). CSV from the store: default and at most 1,000,000 (the whole filter, streamed)',
      }),
    ),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'nextCursor of the previous page (store only); for CSV, where the export starts' })),
    format: Format,
  });

  const EventId = Type.String({ pattern: PATTERNS.eventId, description: 'resume after this event id (the `id:` of the last event received)' });

  export const EventsQuery = Type.Object({
    types: Type.Optional(Type.String({ maxLength: 200, description: 'comma list of event types to stream: values, instrument, bus, store, bridge, write (default all)', examples: ['values,bus'] })),
    instrument: Type.Optional(
      Type.String({ maxLength: 2000, description: 'comma list of instruments (`3` or `bus:3`): only events about them; bus, store and bridge events pass', examples: ['main:3'] }),
    ),
    lastEventId: Type.Optional(EventId),
  });

  export const EventsHeaders = Type.Object({ 'last-event-id': Type.Optional(EventId) });

  export const HistoryQuery = Type.Object({
    gateway: GatewayParam,
    since: Type.Optional(TimeParam('from (default: one hour before until)')),
    until: Type.Optional(TimeParam('to, exclusive (default: now)')),
    bucket: Type.Optional(
      // No pattern here: the store's own check (STORE_BAD_BUCKET) says what a width looks like.
      Type.String({ maxLength: 16, description: 'min, mean and max per bucket of this width (100ms, 1s, 1m, 1h, 1d); absent = raw values', examples: ['1m'] }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'at most this many points, oldest first (default 100,000)' })),
    format: Format,
  });

  // ------------------------------------------------------------------ views

  const IsoTime = (description: string) => Type.String({ format: 'date-time', description });

  export const ValueViewSchema = Type.Object(
    {
      dde: Type.Integer({ description: 'DDE parameter number' }),
      key: Type.String(),
      name: Type.String(),
      unit: Type.Optional(Type.String()),
      raw: Type.String({ description: 'wire bytes in hex (strings without length byte or terminator)' }),
      value: Type.Union([Type.Number(), Type.String()]),
      label: Type.Optional(Type.String({ description: 'enumeration label of the value' })),
      inUnit: Type.Optional(
        Type.Object(
          { value: Type.Number(), unit: Type.String() },
          { description: "measure, setpoint, fMeasure, fSetpoint: the value in the instrument's capacity unit (absent while the capacity is not known)" },
        ),
      ),
      percent: Type.Optional(Type.Number({ description: 'measure, setpoint, fMeasure, fSetpoint: percent of capacity (raw 32000 = 100 %)' })),
      alarms: Type.Optional(Type.Array(Type.String(), { description: 'alarmInfo: the active alarms by name (error, warning, min, max, batch, response, master, hardware)' })),
      time: Type.String({ format: 'date-time', description: 'when the value was read, written or observed' }),
      cached: Type.Boolean({ description: 'served from the cache, no bus transaction' }),
    },
    { description: 'a parameter value' },
  );

  const ErrorInline = Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Object({}, { additionalProperties: true }),
  });

  export const ParamErrorViewSchema = Type.Object(
    {
      dde: Type.Integer(),
      key: Type.String(),
      name: Type.String(),
      error: ErrorInline,
    },
    { description: 'a parameter that could not be read, inside an otherwise successful chained read' },
  );

  export const IdentitySchema = Type.Object(
    {
      idString: Type.Optional(Type.String({ description: 'identification string [1] without its first byte (a device type code): the 2-character version, then the serial number' })),
      identificationNumber: Type.Optional(Type.Integer({ description: 'device type code, byte 0 of the identification string [1] (as identification number [175]): 7 = DMFC, 8 = DMFM, 12 = DLFC, ...' })),
      deviceType: Type.Optional(Type.String({ description: 'device type [90]' })),
      model: Type.Optional(Type.String({ description: 'BHT model number [91]' })),
      serial: Type.Optional(Type.String({ description: 'serial number [92]' })),
      firmware: Type.Optional(Type.String({ description: 'firmware version [105]' })),
      userTag: Type.Optional(Type.String({ description: 'user tag [115]' })),
      fluidName: Type.Optional(Type.String({ description: 'fluid name [25]' })),
      capacity: Type.Optional(Type.Number({ description: 'capacity 100% [21], in capacityUnit' })),
      capacityUnit: Type.Optional(Type.String({ description: 'capacity unit [129]' })),
      channels: Type.Optional(Type.Integer({ description: 'number of channels [184]' })),
    },
    { description: 'who the instrument says it is; fields it did not answer are absent' },
  );

  export const InstrumentViewSchema = Type.Object({
    id: Type.String({ description: '`bus:node`, unique across buses; `bus:node/channel` for channel 2 and up of a multi-channel instrument' }),
    bus: Type.String(),
    node: Type.Integer(),
    channel: Type.Optional(Type.Integer({ minimum: 1, description: 'multi-channel instruments only: the channel (1 is the instrument itself, `bus:node`)' })),
    name: Type.Optional(Type.String()),
    online: Type.Boolean(),
    lastSeen: Type.Optional(IsoTime('last successful transaction')),
    lastError: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
    identity: IdentitySchema,
    values: Type.Record(Type.String(), ValueViewSchema, { description: 'latest value of every polled parameter, by key' }),
    polling: Type.Object({
      parameters: Type.Immutable(Type.Array(Type.String())),
      intervalMs: Type.Integer(),
    }),
    knownBy: Type.Optional(Type.Literal('injection', { description: 'bridge mode with injection: a node the master never addressed, identified by an injected identity read' })),
  },
  { description: 'an instrument: identity, online state, latest polled values' },
);

export const InstrumentList = Type.Object(
  {
    instruments: Type.Immutable(Type.Array(InstrumentViewSchema)),
  },
  { description: 'the instruments' },
);

export const ReadResultSchema = Type.Object(
  {
    instrument: Type.String({ description: 'the instrument id, `bus:node`' }),
    values: Type.Immutable(Type.Array(Type.Union([ValueViewSchema, ParamErrorViewSchema]))),
  },
  { description: 'the values read; parameters that failed on their own carry `error`' },
);

export const WriteResultSchema = Type.Object(
  {
    instrument: Type.String(),
    param: Type.Object({ dde: Type.Integer(), key: Type.String(), name: Type.String() }),
    written: Type.Union([Type.Number(), Type.String()], { description: 'the value sent, after validation (enumeration labels turned into numbers)' }),
    status: Type.Object({ code: Type.Integer(), name: Type.String() }, { description: "the instrument's status reply" }),
    readBack: Type.Optional(ValueViewSchema),
    transactionId: Type.String(),
  },
  { description: 'the write was acknowledged' },
);

const WriteValue = Type.Union([Type.Number(), Type.String()]);

export const MultiWriteBody = Type.Record(
  Type.String({ minLength: 1, maxLength: 100 }),
  Type.Union([
    WriteValue,
    Type.Object(
      {
        value: WriteValue,
        unit: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: '`%` or the capacity unit (setpoint, fSetpoint)' })),
      },
      { additionalProperties: false },
    ),
  ]),
  {
    minProperties: 1,
    maxProperties: 32,
    description: 'parameters (key, name or DDE number) and their values: a value as for the single write, or `{ "value": 50, "unit": "%" }`',
    examples: [{ fSetpoint: 100, controlMode: 0 }, { setpoint: { value: 50, unit: '%' } }],
  },
);

export const MultiWriteResultSchema = Type.Object(
  {
    instrument: Type.String(),
    parameters: Type.Record(
      Type.String(),
      Type.Object({
        param: Type.Object({ dde: Type.Integer(), key: Type.String(), name: Type.String() }),
        written: WriteValue,
        status: Type.Object({ code: Type.Integer(), name: Type.String() }),
        readBack: Type.Optional(ValueViewSchema),
        transactionId: Type.String({ description: 'the chained write that carried it' }),
      }),
      { description: 'by parameter key' },
    ),
    transactionIds: Type.Immutable(Type.Array(Type.String(), { description: 'one per chained write; several when the values did not fit in one request of maxRequestBytes' })),
  },
  { description: 'every value was written and read back' },
);

export const SnapshotSchema = Type.Object(
  {
    instrument: Type.String(),
    identity: IdentitySchema,
    time: IsoTime('when the reading ended'),
    parameters: Type.Record(
      Type.String(),
      Type.Object({ dde: Type.Integer(), value: WriteValue, raw: Type.String({ description: 'wire bytes in hex' }), unit: Type.Optional(Type.String()) }),
      { description: 'every parameter that answered, by key' },
    ),
    unsupported: Type.Immutable(Type.Array(Type.String(), { description: 'parameters the instrument refused to read (it has no such parameter)' })),
    failed: Type.Optional(Type.Immutable(Type.Array(Type.Object({ key: Type.String(), code: Type.String(), message: Type.String() }), { description: 'reads that failed otherwise (timeout, bad answer)' }))),
  },
  { description: 'every readable parameter of the instrument' },
);

const DirectionCountersSchema = Type.Object(
  {
    bytes: Type.Integer({ description: 'bytes read from the source side' }),
    forwarded: Type.Integer({ description: 'bytes the destination side has taken' }),
    droppedNoPeer: Type.Integer({ description: 'bytes dropped because the destination side was down' }),
    droppedOverflow: Type.Integer({ description: 'bytes dropped because the destination side did not keep up' }),
    droppedWriteFailed: Type.Integer({ description: 'bytes whose write to the destination failed' }),
    heldBack: Type.Integer({ description: 'times reading from the source side was held back until the destination took its bytes (nothing is lost)' }),
    bursts: Type.Integer(),
    frames: Type.Integer(),
    discards: Type.Integer(),
    discardedBytes: Type.Integer(),
    discardReasons: Type.Record(Type.String(), Type.Integer()),
  },
  { additionalProperties: true, description: 'counters of one direction' },
);

/** Bridge mode: what the passive bridge reports besides the bus counters. */
export const BridgeDetailsSchema = Type.Object(
  {
    sides: Type.Record(
      Type.String(),
      Type.Object({
        address: Type.String(),
        state: Type.String(),
        since: IsoTime('when the side entered this state'),
        lastError: Type.Optional(Type.String()),
        reconnects: Type.Integer(),
      }),
      { description: 'the instrument side and the master side' },
    ),
    directions: Type.Object(
      { '>': DirectionCountersSchema, '<': DirectionCountersSchema },
      { description: '">": master to instrument; "<": instrument to master' },
    ),
    forwardLatency: Type.Object(
      {
        count: Type.Integer(),
        meanUs: Type.Union([Type.Number(), Type.Null()]),
        p50Us: Type.Union([Type.Number(), Type.Null()]),
        p99Us: Type.Union([Type.Number(), Type.Null()]),
        maxUs: Type.Union([Type.Number(), Type.Null()]),
        buckets: Type.Immutable(Type.Array(Type.Object({ leUs: Type.Number(), count: Type.Integer() }))),
      },
      { description: 'time a chunk spends inside the gateway between the two ports, microseconds (log2 histogram)' },
    ),
    forwarding: Type.Union([Type.Literal('threads'), Type.Literal('loop')], {
      description: "how bytes are forwarded now: 'threads', in two threads that block in read() as socat does (both sides serial ports, no injection); 'loop', on the event loop",
    }),
    masterSilent: Type.Boolean({ description: 'the master, which used to poll, has been silent longer than masterSilenceMs' }),
    lastMasterByte: Type.Optional(IsoTime('last byte from the master')),
    outstandingRequests: Type.Integer(),
    decodeBacklogBytes: Type.Integer(),
    capture: Type.Optional(
      Type.Object({ path: Type.String(), records: Type.Integer(), dropped: Type.Integer(), error: Type.Optional(Type.String()) }),
    ),
    events: Type.Immutable(
      Type.Array(
        Type.Object({ time: IsoTime('when it happened'), side: Type.String(), kind: Type.String(), reason: Type.String() }),
        { description: 'link events, newest last: ports down and reopened, master silent and resumed, capture or decoder failures, injection paused and resumed, forwarding threads failed' },
      ),
    ),
    inject: Type.Optional(
      Type.Object(
        {
          state: Type.String({ description: 'active, or paused (the master\'s own traffic suffered)' }),
          pausedUntil: Type.Optional(IsoTime('when injection resumes')),
          lastBackoff: Type.Optional(Type.String({ description: 'why injection last paused' })),
          queued: Type.Integer({ description: 'injected requests waiting for a gap' }),
          inFlight: Type.Boolean(),
          sent: Type.Integer(),
          answered: Type.Integer(),
          timedOut: Type.Integer(),
          noGap: Type.Integer({ description: 'injected requests given up because no gap came within injectWaitMs' }),
          lateReplies: Type.Integer({ description: 'replies to injected requests after they were given up, kept from the master' }),
          collisions: Type.Integer({ description: 'master requests with the SEQ and NODE of an injected request in flight (or whose late reply may still come)' }),
          remaps: Type.Integer({ description: 'of those, master requests forwarded with their SEQ rewritten to a free one, and their replies rewritten back' }),
          masterTimeouts: Type.Integer({ description: 'master requests without a reply within replyTimeoutMs' }),
          backoffs: Type.Integer(),
          requestBytes: Type.Integer({ description: 'bytes of injected requests written to the instrument side' }),
        },
        { additionalProperties: true, description: 'with bridge.inject on: the API\'s requests in the gaps of the master\'s traffic' },
      ),
    ),
  },
  { description: 'bridge mode only' },
);

export const BusViewSchema = Type.Object(
  {
    name: Type.String(),
    address: Type.String(),
    transport: Type.Object({
      state: Type.String(),
      since: IsoTime('when the transport entered this state'),
      lastError: Type.Optional(Type.String()),
      reconnects: Type.Integer(),
      retryAt: Type.Optional(IsoTime('next reconnect attempt')),
    }),
    queue: Type.Object({ waiting: Type.Integer(), inFlight: Type.Integer() }),
    transactions: Type.Record(Type.String(), Type.Integer(), { description: 'transactions by outcome' }),
    retries: Type.Integer(),
    lateReplies: Type.Integer(),
    unsolicited: Type.Integer(),
    discards: Type.Integer(),
    latency: Type.Object({
      count: Type.Integer(),
      meanMs: Type.Union([Type.Number(), Type.Null()]),
      p99Ms: Type.Union([Type.Number(), Type.Null()]),
    }),
    wireUtilisation: Type.Number({ description: 'fraction of the line time in use, 0..1' }),
    nodesBackedOff: Type.Immutable(Type.Array(Type.Integer())),
    protocol: Type.String(),
    pipelineDepth: Type.Integer(),
    bridge: Type.Optional(BridgeDetailsSchema),
  });

  export const StoreStatusSchema = Type.Object(
    {
      state: Type.Enum(['healthy', 'spooling', 'recovering', 'closed'], { description: 'healthy: writing directly; spooling: the database is away, rows go to the spool; recovering: writing the spool' }),
      gateway: Type.String({ description: 'the gateway name recorded with every transaction written (gateway.name)' }),
      dialect: Type.Enum(['mysql', 'sqlite']),
      url: Type.String({ description: 'store URL without the password' }),
      rowsWaiting: Type.Integer({ description: 'transactions not yet in the database (memory + spool)' }),
      inMemory: Type.Integer(),
      spooledBatches: Type.Integer({ description: 'batches waiting in the spool file' }),
      spoolFile: Type.String(),
      written: Type.Integer({ description: 'transactions committed since start' }),
      spooled: Type.Integer({ description: 'transactions that went through the spool since start' }),
      badSpoolLines: Type.Integer({ description: 'spool lines that did not parse and were skipped' }),
      lastError: Type.Optional(Type.String()),
      lastErrorAt: Type.Optional(IsoTime('when lastError happened')),
      retention: Type.Object({ transactionsDeleted: Type.Integer(), parameterValuesDeleted: Type.Integer() }),
      unconverted: Type.Optional(Type.Integer({ description: 'transactions in the tables of a version before the compact log, counted at start, not yet converted: run flowbus db convert' })),
    },
    { description: 'the transaction log' },
  );

  export const MqttStatusSchema = Type.Object(
    {
      url: Type.String({ description: 'the broker, without a password' }),
      clientId: Type.String(),
      state: Type.Enum(['connecting', 'connected', 'reconnecting', 'closed']),
      since: IsoTime('when the state last changed'),
      lastError: Type.Optional(Type.String()),
      queued: Type.Integer({ description: 'messages waiting for the broker, at most one per topic' }),
      inFlight: Type.Integer({ description: 'messages handed to the client, not yet confirmed' }),
      published: Type.Integer({ description: 'messages published since start' }),
      dropped: Type.Integer({ description: 'messages replaced by a newer one of their topic before they went out, or pushed out by mqtt.maxQueued' }),
      reconnects: Type.Integer(),
      commands: Type.Object({ accepted: Type.Integer(), refused: Type.Integer() }, { description: 'parameter writes asked for over MQTT' }),
    },
    { description: 'the MQTT link (present when mqtt.url is set)' },
  );

  export const BusList = Type.Object({
    gateway: Type.Optional(Type.String({ description: "this gateway's name (gateway.name)" })),
    mode: Type.Enum(['master', 'bridge']),
    buses: Type.Immutable(Type.Array(BusViewSchema)),
    store: Type.Optional(StoreStatusSchema),
    mqtt: Type.Optional(MqttStatusSchema),
  },
  { description: 'the mode and every bus' },
);

export const ObservedParamSchema = Type.Object(
  {
    process: Type.Integer(),
    fbnr: Type.Integer(),
    wireType: Type.Integer(),
    processIndex: Type.Optional(Type.Integer()),
    index: Type.Optional(Type.Integer()),
    stringLength: Type.Optional(Type.Integer()),
    indexOnly: Type.Optional(Type.Boolean()),
    dde: Type.Optional(Type.Integer()),
    key: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    valueType: Type.Optional(Type.String()),
    unit: Type.Optional(Type.String()),
    value: Type.Optional(Type.Union([Type.Number(), Type.String()])),
    label: Type.Optional(Type.String()),
    raw: Type.Optional(Type.String()),
  },
  { description: 'one parameter of a transaction, named through the parameter database when its address is known' },
);

const NullableInt = (description: string) => Type.Union([Type.Integer(), Type.Null()], { description });

export const TransactionViewSchema = Type.Object(
  {
    id: Type.String(),
    bus: Type.String(),
    mode: Type.Enum(['master', 'bridge']),
    node: NullableInt('destination node'),
    seq: Type.Integer(),
    command: NullableInt('command byte of the request'),
    commandName: Type.String(),
    purpose: Type.String({ description: "why it was sent: 'poll', 'read', 'write', 'scan', 'observed', ..." }),
    outcome: Type.String(),
    status: NullableInt('ProPar status of a status reply (0 = acknowledged)'),
    errorCode: NullableInt('error-frame code'),
    request: Type.Union([Type.String(), Type.Null()], { description: 'request frame bytes, lower-case hex separated by spaces' }),
    reply: Type.Union([Type.String(), Type.Null()], { description: 'reply frame bytes, lower-case hex separated by spaces' }),
    time: IsoTime('when the transaction started'),
    startedAt: Type.Number({ description: 'ms since the epoch, microsecond resolution' }),
    endedAt: Type.Number({ description: 'ms since the epoch, microsecond resolution' }),
    latencyMs: Type.Union([Type.Number(), Type.Null()]),
    attempts: Type.Integer(),
    params: Type.Immutable(Type.Array(ObservedParamSchema)),
    error: Type.Union([Type.String(), Type.Null()], { description: 'a sentence for failures' }),
    gateway: Type.Union([Type.String(), Type.Null()], { description: 'the gateway that logged it; null for rows written before gateways were recorded' }),
  });
  export type TransactionView = Static<typeof TransactionViewSchema>;

  export const TransactionList = Type.Object({
    transactions: Type.Array(TransactionViewSchema, { description: 'newest first' }),
    nextCursor: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'pass as cursor for the next (older) page; null on the last page' })),
  },
  { description: 'recent transactions' },
);

export const HistoryResultSchema = Type.Object(
  {
    instrument: Type.String({ description: '`node` or `bus:node` as asked' }),
    param: Type.Object({ dde: Type.Integer(), key: Type.String(), name: Type.String(), unit: Type.Optional(Type.String()) }),
    bucket: Type.Union([Type.String(), Type.Null()], { description: 'the bucket width asked for, or null for raw values' }),
    since: IsoTime('from'),
    until: IsoTime('to (exclusive)'),
    points: Type.Array(
      Type.Union([
        Type.Object({ time: IsoTime('when the value was read, written or observed (µs)'), value: Type.Union([Type.Number(), Type.String()]) }),
        Type.Object({ time: IsoTime('start of the bucket'), count: Type.Integer(), min: Type.Number(), mean: Type.Number(), max: Type.Number() }),
      ]),
      { description: 'oldest first: raw values, or one point per bucket that has values' },
    ),
  },
  { description: 'values of one parameter over time' },
);

export const Health = Type.Object(
  {
    status: Type.Literal('ok'),
    version: Type.String(),
    gateway: Type.Optional(Type.String({ description: "this gateway's name (gateway.name)" })),
    uptimeS: Type.Number({ description: 'seconds since the process started' }),
  },
  { description: 'the process is alive' },
);

export const Ready = Type.Object(
  {
    status: Type.Literal('ready'),
    mode: Type.Enum(['master', 'bridge']),
  },
  { description: 'every bus is open' },
);

// ------------------------------------------------------------------ the parameter database

export const EnumEntrySchema = Type.Object(
  {
    value: Type.Number(),
    label: Type.String(),
    mask: Type.Optional(Type.Number({ description: 'bit fields: the bits this entry describes' })),
  },
  { additionalProperties: false },
);

export const ParamDefSchema = Type.Object(
  {
    dde: Type.Integer(),
    key: Type.String(),
    name: Type.String(),
    process: Type.Integer(),
    fbnr: Type.Integer(),
    valueType: Type.String(),
    unit: Type.Optional(Type.String({ description: "'capacity' = the instrument's capacity unit, 'raw' = 0..32000 for 0..100 %" })),
    read: Type.Boolean(),
    write: Type.Boolean(),
    secured: Type.Boolean({ description: 'writable only after Init Reset, which the gateway does itself' }),
    highlySecured: Type.Boolean({ description: 'factory parameter: never written through the API' }),
    min: Type.Union([Type.Number(), Type.Null()]),
    max: Type.Union([Type.Number(), Type.Null()]),
    maxLength: Type.Optional(Type.Integer({ description: 'strings: the longest text written' })),
    enumeration: Type.Optional(Type.Array(EnumEntrySchema)),
    enumerationOpen: Type.Optional(Type.Boolean({ description: 'the list is known to be incomplete: any value in range is written' })),
    bits: Type.Optional(Type.Boolean({ description: 'the enumeration describes bits of the value' })),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const ParamListQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 64, description: 'search text (DDE number, key, name, words of the description or an enumeration label); without it, every parameter by DDE number' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'most parameters returned (default: all, or 25 with q)' })),
  },
  { additionalProperties: false },
);

export const ParamListSchema = Type.Object(
  {
    source: Type.String({ description: 'where the parameter facts come from' }),
    count: Type.Integer(),
    parameters: Type.Array(ParamDefSchema),
  },
  { additionalProperties: false },
);

// ------------------------------------------------------------------ setpoint programs

export const ProgramBody = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'a name for logs and lists' })),
    instruments: Type.Array(Type.Unknown(), {
      description: 'each `"bus:node"` or `{ "ref": "main:3", "safe": "setpoint-zero" | "valve-closed", "follow": { "of": "main:5", "ratio": 0.1 } }`',
    }),
    steps: Type.Array(Type.Unknown(), {
      description:
        '`{ "type": "hold", "seconds": 10, "values": { "main:3": 50 } }`, `{ "type": "ramp", "seconds": 60, "values": { "main:3": 100 } }` or `{ "type": "wait", "tolerance": 1, "seconds": 5, "timeout": 60 }`; values in the capacity unit',
    }),
    onRestart: Type.Optional(Type.String({ description: 'after a gateway restart: resume, hold or safe (default from the config)' })),
    ramp: Type.Optional(Type.String({ description: 'auto (the instrument\'s setpoint slope where it gives the ramp, else stepped writes), stepped or slope' })),
    rate: Type.Optional(Type.Number({ description: 'writes per second of a stepped ramp (default 10)' })),
  },
  { additionalProperties: true, description: 'a setpoint program; checked in full (shape, ranges, capacity, instruments online) before anything is written' },
);

export const ProgramParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'the program id' }) });

const Reason = Type.Object({ code: Type.String(), message: Type.String() });

export const ProgramViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    state: Type.String({ description: 'running, paused, held (after a restart with onRestart: hold), completed, failed or aborted' }),
    createdAt: Type.String(),
    endedAt: Type.Optional(Type.String()),
    onRestart: Type.String(),
    steps: Type.Integer(),
    step: Type.Union([
      Type.Object({
        index: Type.Integer(),
        type: Type.String(),
        elapsedMs: Type.Number(),
        timeLeftMs: Type.Union([Type.Number(), Type.Null()], { description: 'of a wait step: until its timeout' }),
        ramp: Type.Optional(Type.String({ description: 'how a ramp is made: stepped (writes by the gateway) or slope (the instrument\'s own)' })),
      }),
      Type.Null(),
    ]),
    instruments: Type.Array(
      Type.Object({
        id: Type.String(),
        target: Type.Union([Type.Number(), Type.Null()], { description: 'the setpoint it is at now, in the capacity unit' }),
        unit: Type.Union([Type.String(), Type.Null()]),
        safe: Type.String(),
        follow: Type.Optional(Type.Object({ of: Type.String(), ratio: Type.Number() })),
      }),
    ),
    reason: Type.Optional(Reason),
    safe: Type.Optional(
      Type.Object({ applied: Type.Boolean(), errors: Type.Array(Type.Object({ instrument: Type.String(), code: Type.String(), message: Type.String() })) }, { description: 'the safe state, once the program failed or was aborted' }),
    ),
  },
  { description: 'a setpoint program and where it is' },
);

export const ProgramList = Type.Object({ programs: Type.Array(ProgramViewSchema) });
export type ProgramBodyT = Static<typeof ProgramBody>;
