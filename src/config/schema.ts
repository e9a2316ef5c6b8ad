/**
 * The config file as a TypeBox schema: the single source of its validation, its defaults,
 * its documentation and its TypeScript type (STYLE habit 11). Never write the type by hand.
 *
 * Every `description` is shown next to the error when a value is wrong, so keep them short
 * and about what the user should write. Ranges live here and nowhere else.
 */
import Type, { type Static } from 'typebox';

/**
 * Operating modes. `master` polls instruments itself. Adding a mode (`bridge`, a passive
 * decoder beside an existing master) is one more entry here.
 */
export const MODES = ['master', 'bridge'] as const;

export const PROTOCOLS = ['binary', 'ascii'] as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Store URL schemes we accept; the store layer parses the rest. */
export const STORE_SCHEMES = ['sqlite:', 'mysql://'] as const;

/** Bus address schemes; anything without a scheme is a serial device path. */
export const PORT_SCHEMES = ['serial:', 'tcp:', 'sim:'] as const;

/** The bus name used when the file has one bus and does not name it. */
export const DEFAULT_BUS_NAME = 'main';

/** Highest ordinary node address; 128 addresses the instrument at the end of a local RS232 line. */
export const MAX_NODE = 128;

const Node = Type.Integer({
  minimum: 1,
  maximum: MAX_NODE,
  description: 'node address 1..127, or 128 for the instrument on the local RS232 port',
});

export const BusSchema = Type.Object(
  {
    name: Type.String({
      pattern: '^[a-z0-9_-]+$',
      default: DEFAULT_BUS_NAME,
      description: "bus name of lowercase letters, digits, '_' or '-'; needed when there is more than one bus",
    }),
    port: Type.String({
      minLength: 1,
      description: 'where the bus is: /dev/ttyUSB0, serial:///dev/ttyUSB0?baud=38400, tcp://host:port or sim://?nodes=3,5,7',
    }),
    baud: Type.Integer({ minimum: 300, maximum: 4_000_000, default: 38_400, description: 'line speed in baud' }),
    protocol: Type.Enum(PROTOCOLS, { default: 'binary', description: 'ProPar framing on the line' }),
    replyTimeoutMs: Type.Integer({ minimum: 10, maximum: 10_000, default: 500, description: 'time allowed for a reply, ms' }),
    retries: Type.Integer({ minimum: 0, maximum: 10, default: 2, description: 'further attempts after a reply timeout' }),
    queueDeadlineMs: Type.Integer({
      minimum: 50,
      maximum: 600_000,
      default: 5000,
      description: 'longest a request may wait in the queue, ms',
    }),
    pipelineDepth: Type.Integer({
      minimum: 1,
      maximum: 2,
      default: 1,
      description: 'requests in flight at once; 2 needs protocol binary',
    }),
    maxRequestBytes: Type.Integer({ minimum: 8, maximum: 250, default: 64, description: 'largest chained request, bytes' }),
    maxAnswerBytes: Type.Integer({ minimum: 8, maximum: 250, default: 64, description: 'largest expected chained answer, bytes' }),
    discover: Type.Boolean({ default: true, description: 'walk the bus at start to find instruments' }),
    nodes: Type.Optional(
      Type.Array(Node, {
        uniqueItems: true,
        description: 'known node addresses, polled even when discover is false',
      }),
    ),
  },
  { additionalProperties: false, description: 'one RS232/RS485 line or TCP converter with instruments on it' },
);

const PollParameters = (options: { default?: string[] } = {}) =>
  Type.Array(Type.String({ minLength: 1, description: 'parameter name, see `flowbus params`' }), {
    ...options,
    description: 'parameters to read each round (names from `flowbus params`); [] disables polling',
  });

const PollInterval = (options: { default?: number } = {}) =>
  Type.Integer({ minimum: 50, maximum: 3_600_000, ...options, description: 'time between polls of one instrument, ms' });

export const DEFAULT_POLL_PARAMETERS = ['fMeasure', 'fSetpoint', 'measure', 'setpoint', 'valveOutput', 'alarmInfo'];

export const DEFAULT_POLL_INTERVAL_MS = 500;

export const PollSchema = Type.Object(
  {
    parameters: PollParameters({ default: DEFAULT_POLL_PARAMETERS }),
    intervalMs: PollInterval({ default: DEFAULT_POLL_INTERVAL_MS }),
  },
  { additionalProperties: false, default: {}, description: 'what every instrument is polled for' },
);

/** A per-instrument poll override: each field falls back to the top-level `poll`. */
export const PollOverrideSchema = Type.Object(
  {
    parameters: Type.Optional(PollParameters()),
    intervalMs: Type.Optional(PollInterval()),
  },
  { additionalProperties: false, description: 'overrides the top-level poll for this instrument' },
);

export const InstrumentSchema = Type.Object(
  {
    node: Node,
    bus: Type.Optional(Type.String({ minLength: 1, description: 'name of the bus the instrument is on; optional with one bus' })),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: 'label shown in the API and dashboard' })),
    poll: Type.Optional(PollOverrideSchema),
  },
  { additionalProperties: false, description: 'settings for one instrument' },
);

export const HttpSchema = Type.Object(
  {
    host: Type.String({
      minLength: 1,
      default: '127.0.0.1',
      description: 'bind address; 127.0.0.1 keeps the API local, 0.0.0.0 opens it to the network',
    }),
    port: Type.Integer({ minimum: 0, maximum: 65_535, default: 8080, description: 'TCP port of the API, 0 = any free port' }),
    token: Type.Union([Type.String({ minLength: 8 }), Type.Null()], {
      default: null,
      description: "bearer token of at least 8 characters that writes need; null refuses all writes",
    }),
    allowedHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^[^\\s/]+$' }), {
      default: [],
      maxItems: 100,
      description:
        'names (without port) browsers and clients may reach the API under, checked against the Host header, besides 127.0.0.1, localhost, [::1] and http.host; ["*"] allows any',
    }),
  },
  { additionalProperties: false, default: {}, description: 'the HTTP API' },
);

const RetentionDays = (what: string) =>
  Type.Union([Type.Integer({ minimum: 1, maximum: 36_500 }), Type.Null()], {
    default: null,
    description: `delete ${what} older than this many days, in small batches; null keeps everything`,
  });

export const StoreSchema = Type.Object(
  {
    url: Type.String({
      pattern: '^(sqlite:|mysql://)',
      default: 'sqlite:./data/flowbus.db',
      description: 'sqlite:PATH or mysql://user:pass@host:3306/db',
    }),
    spoolDir: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'directory of the spool file that holds rows while the database is unreachable; default beside the store: PATH.spool for sqlite:PATH, ./data/mysql-HOST-PORT-DB.spool for MySQL',
      }),
    ),
    batchRows: Type.Integer({ minimum: 1, maximum: 100_000, default: 500, description: 'write a batch when this many transactions wait' }),
    batchMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 250, description: 'write a batch at least this often, ms' }),
    retention: Type.Object(
      {
        transactionsDays: RetentionDays('transactions'),
        parameterValuesDays: RetentionDays('parameter values'),
      },
      { additionalProperties: false, default: {}, description: 'how long rows are kept' },
    ),
  },
  { additionalProperties: false, default: {}, description: 'the transaction log' },
);

export const BridgeSchema = Type.Object(
  {
    instrumentPort: Type.String({ minLength: 1, description: 'the instrument side: a serial path, serial://... or tcp://host:port' }),
    masterPort: Type.String({
      minLength: 1,
      description: 'the master side (Bright display adapter, PLC, vendor software): a serial path, serial://... or tcp://host:port',
    }),
    name: Type.String({ pattern: '^[a-z0-9_-]+$', default: 'bridge', description: 'bus name used in the log and the API' }),
    baud: Type.Integer({ minimum: 300, maximum: 4_000_000, default: 38_400, description: 'line speed of both ports in baud' }),
    protocol: Type.Enum(PROTOCOLS, { default: 'binary', description: 'ProPar framing on the line' }),
    burstGapMs: Type.Integer({ minimum: 1, maximum: 1000, default: 2, description: 'silence that ends a burst of bytes (one capture record), ms' }),
    replyTimeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 1000, description: 'a request without a reply after this long is logged as unanswered, ms' }),
    masterSilenceMs: Type.Integer({
      minimum: 100,
      maximum: 3_600_000,
      default: 10_000,
      description: 'report when the master, which used to poll, has been silent this long, ms',
    }),
    capture: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'write every burst to this file in socat -x -v format (readable by flowbus decode and flowbus replay); null writes none',
    }),
    maxUnwrittenBytes: Type.Integer({
      minimum: 1024,
      maximum: 16 * 1024 * 1024,
      default: 64 * 1024,
      description: 'bytes handed to one side and not yet taken by it, beyond which further bytes to it are dropped (counted), bytes',
    }),
    maxDecodeBacklogBytes: Type.Integer({
      minimum: 4096,
      maximum: 64 * 1024 * 1024,
      default: 1024 * 1024,
      description: 'bytes per direction waiting to be decoded beyond which bytes are forwarded but not decoded (counted), bytes',
    }),
    maxBurstBytes: Type.Integer({ minimum: 64, maximum: 65_536, default: 4096, description: 'longest burst; a longer run without silence is cut here, bytes' }),
    maxEvents: Type.Integer({ minimum: 1, maximum: 10_000, default: 200, description: 'link events kept for GET /bus' }),
    recentTransactions: Type.Integer({ minimum: 0, maximum: 100_000, default: 1000, description: 'transactions kept in memory for GET /transactions by a gateway embedded without a transaction log (0: none); `flowbus serve` always has its log and keeps none' }),
    reconnectInitialMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 250, description: 'first wait before reopening a lost side, ms; doubles per failed attempt' }),
    reconnectMaxMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000, description: 'longest wait between attempts to reopen a lost side, ms' }),
    captureFlushMs: Type.Integer({ minimum: 10, maximum: 10_000, default: 250, description: 'how often the capture file is written, ms' }),
    captureMaxPendingBytes: Type.Integer({
      minimum: 64 * 1024,
      maximum: 256 * 1024 * 1024,
      default: 8 * 1024 * 1024,
      description: 'capture text waiting for the disk beyond which records are dropped (counted), bytes',
    }),
    forwardThreads: Type.Boolean({
      default: true,
      description: 'with both sides serial ports and inject off, forward in two threads of their own that block in read(), as socat does, rather than on the event loop',
    }),
    inject: Type.Boolean({
      default: false,
      description: 'true sends the API\'s reads and writes to the instrument in the gaps of the master\'s traffic (binary only: ASCII has no SEQ to tell the replies apart)',
    }),
    injectIdleMs: Type.Integer({ minimum: 1, maximum: 1000, default: 20, description: 'an injected request goes out only after the line was this quiet and no master request is outstanding, ms' }),
    injectTimeoutMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 500, description: 'an injected request without a reply after this long is given up (BUS_TIMEOUT), ms' }),
    injectWaitMs: Type.Integer({ minimum: 10, maximum: 60_000, default: 2000, description: 'longest an injected request waits for a gap in the master\'s traffic, ms' }),
    injectMaxMasterLatencyMs: Type.Integer({
      minimum: 1,
      maximum: 60_000,
      default: 200,
      description: 'a master transaction slower than this, or a master timeout, while injecting pauses injection, ms',
    }),
    injectBackoffMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 5000, description: 'how long injection pauses after the master\'s traffic suffered, ms' }),
  },
  { additionalProperties: false, description: 'passive bridge: forward every byte between the two ports, decode and log the traffic' },
);

/** Characters of a gateway name: letters, digits, '.', '_' and '-', 1..64 (a host name fits). */
export const GATEWAY_NAME_PATTERN = '^[A-Za-z0-9._-]{1,64}$';

export const GatewaySchema = Type.Object(
  {
    name: Type.Union([Type.String({ pattern: GATEWAY_NAME_PATTERN }), Type.Null()], {
      default: null,
      description: "this gateway's name in a shared database: 1..64 letters, digits, '.', '_' or '-'; null = the host name",
    }),
  },
  { additionalProperties: false, default: {}, description: 'this gateway among others that log into one database' },
);

/** MQTT: what may not appear in a topic level the gateway builds (wildcards, separators, NUL). */
const TOPIC_LEVELS = '^[^#+\\u0000]+$';

export const MQTT_PUBLISH = ['poll', 'change'] as const;

export const MqttSchema = Type.Object(
  {
    url: Type.Union([Type.String({ pattern: '^(mqtts?|wss?|tcp|ssl)://' }), Type.Null()], {
      default: null,
      description: 'the broker: mqtt://host:1883, mqtts://host:8883, ws://host/mqtt; null turns MQTT off',
    }),
    baseTopic: Type.String({ minLength: 1, maxLength: 100, pattern: TOPIC_LEVELS, default: 'flowbus', description: 'first level of every topic the gateway publishes (no + or #)' }),
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'MQTT client id, unique on the broker; default flowbus-HOSTNAME-PID' })),
    username: Type.Optional(Type.String({ minLength: 1, description: 'user name at the broker; the password comes only from FLOWBUS_MQTT_PASSWORD' })),
    qos: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)], { default: 0, description: 'QoS of what the gateway publishes and subscribes: 0, 1 or 2' }),
    retain: Type.Boolean({ default: false, description: 'retain the state messages (availability and discovery are always retained)' }),
    publish: Type.Enum(MQTT_PUBLISH, { default: 'poll', description: 'poll: a state message per poll; change: only when a value moved beyond the deadband' }),
    deadband: Type.Number({ minimum: 0, default: 0, description: 'with publish change: smallest change of a number that counts, in its own unit' }),
    writes: Type.Boolean({ default: false, description: 'accept commands on BASE/INSTRUMENT/set (through the same checks as the API)' }),
    maxQueued: Type.Integer({ minimum: 10, maximum: 1_000_000, default: 10_000, description: 'topics waiting for the broker beyond which the oldest are dropped (counted)' }),
    homeAssistant: Type.Object(
      {
        enabled: Type.Boolean({ default: false, description: 'publish Home Assistant discovery configs' }),
        prefix: Type.String({ minLength: 1, maxLength: 100, pattern: TOPIC_LEVELS, default: 'homeassistant', description: "Home Assistant's discovery prefix" }),
        dashboardUrl: Type.Optional(
          Type.String({ pattern: '^https?://', description: 'the dashboard as Home Assistant users reach it; default http://HTTP_HOST:HTTP_PORT/' }),
        ),
      },
      { additionalProperties: false, default: {}, description: 'Home Assistant MQTT discovery' },
    ),
  },
  { additionalProperties: false, description: 'publish state to an MQTT broker, with Home Assistant discovery' },
);

export const LogSchema = Type.Object(
  { level: Type.Enum(LOG_LEVELS, { default: 'info', description: 'log verbosity' }) },
  { additionalProperties: false, default: {}, description: 'logging' },
);

export const MetricsSchema = Type.Object(
  { enabled: Type.Boolean({ default: true, description: 'serve Prometheus metrics on GET /metrics' }) },
  { additionalProperties: false, default: {}, description: 'Prometheus metrics' },
);

export const ProgramsSchema = Type.Object(
  {
    onRestart: Type.Enum(['resume', 'hold', 'safe'] as const, {
      default: 'safe',
      description: 'what a restart does with a program that was running, unless the program says: resume it, hold it (resume or abort by hand), or put its instruments into the safe state',
    }),
    rate: Type.Number({ exclusiveMinimum: 0, maximum: 20, default: 10, description: 'writes per second of a ramp the gateway steps' }),
    file: Type.Optional(Type.String({ minLength: 1, description: "the programs' state file (default: programs.json beside the store's spool directory)" })),
    restoreWaitMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 30_000, description: "after a restart, how long a program waits for its instruments before it goes to the safe state, ms" }),
  },
  { additionalProperties: false, default: {}, description: 'setpoint programs' },
);

export const ConfigSchema = Type.Object(
  {
    mode: Type.Enum(MODES, { default: 'master', description: 'operating mode' }),
    gateway: GatewaySchema,
    buses: Type.Array(BusSchema, { default: [], description: 'the buses to open in master mode, at least one' }),
    bridge: Type.Optional(BridgeSchema),
    poll: PollSchema,
    instruments: Type.Array(InstrumentSchema, { default: [], description: 'per-instrument settings' }),
    http: HttpSchema,
    secured: Type.Boolean({
      default: false,
      description: 'true allows writes to secured parameters (wrapped in Init Reset 64..82)',
    }),
    store: StoreSchema,
    log: LogSchema,
    metrics: MetricsSchema,
    mqtt: Type.Optional(MqttSchema),
    programs: ProgramsSchema,
  },
  { additionalProperties: false, description: 'flowbus gateway configuration' },
);

/** The validated configuration with every default filled in. */
export type Config = Static<typeof ConfigSchema>;
export type BusConfig = Config['buses'][number];
export type InstrumentConfig = Config['instruments'][number];
export type PollConfig = Config['poll'];
export type Mode = Config['mode'];
export type BridgeConfig = Static<typeof BridgeSchema>;
export type StoreConfig = Config['store'];
export type GatewayConfig = Config['gateway'];
export type LogLevel = Config['log']['level'];
export type MqttConfig = Static<typeof MqttSchema>;
