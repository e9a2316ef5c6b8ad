/**
 * Every error code of the gateway, in one place. A `GatewayError` takes only these, so a
 * misspelt code fails the type check. The prefix names the layer that raises it.
 *
 * Two lists:
 * - `API_ERROR_CODES`: what an HTTP request can be answered with. The API's `HTTP_ERRORS`
 *   must give each a status (`satisfies Record<ApiErrorCode, ErrorMapping>`), and the README's
 *   error table must list each with that status (test/shared/codes.test.ts).
 * - `INTERNAL_ERROR_CODES`: raised at start-up, by the CLI or the simulator, or by code that
 *   wraps something that is not a GatewayError (a bug). None is answered over HTTP by its own
 *   code: should one reach a request anyway, the API answers 500 API_INTERNAL and logs the original.
 */

/** The layer prefixes; each code starts with one and an underscore. */
export type ErrorLayer = 'API' | 'GATEWAY' | 'BRIDGE' | 'PARAM' | 'BUS' | 'TRANSPORT' | 'STORE' | 'CODEC' | 'CONFIG' | 'CLI' | 'SIM' | 'MQTT';

type LayerCode = `${ErrorLayer}_${string}`;

export const API_ERROR_CODES = [
  // api: the HTTP layer itself
  /** A request that fails validation (names the field), malformed JSON, a bad URL. */
  'API_BAD_REQUEST',
  /** A write without the bearer token, or with a wrong or malformed one. */
  'API_UNAUTHORIZED',
  /** A write while no API token is configured. */
  'API_WRITES_DISABLED',
  /** No such route (or no such file under /docs). */
  'API_NOT_FOUND',
  /** The route exists but not with this method. */
  'API_METHOD_NOT_ALLOWED',
  /** A body over the limit. */
  'API_BODY_TOO_LARGE',
  /** A path segment over the limit. */
  'API_URI_TOO_LONG',
  /** A POST/PUT/PATCH/DELETE without `content-type: application/json`. */
  'API_UNSUPPORTED_MEDIA_TYPE',
  /** The Host header is not a name the gateway is served under. */
  'API_BAD_HOST',
  /** /readyz while a bus is not open; a history query without a transaction log. */
  'API_NOT_READY',
  /** GET /events while the most event streams are open. */
  'API_TOO_MANY_STREAMS',
  /** Anything unexpected (not a GatewayError, or an internal code): the message is generic. */
  'API_INTERNAL',
  // gateway: instruments and modes
  /** An instrument reference that is not a node number or bus:node, or a node out of range. */
  'GATEWAY_BAD_NODE',
  /** No instrument at that node. */
  'GATEWAY_NODE_UNKNOWN',
  /** A bare node number that exists on several buses. */
  'GATEWAY_NODE_AMBIGUOUS',
  /** No such bus, or master mode without any bus. */
  'GATEWAY_NO_BUS',
  // gateway: setpoint programs
  /** A program of the wrong shape: a step, a duration, a ratio or a reference (names the field). */
  'GATEWAY_PROGRAM_INVALID',
  /** No program by that id. */
  'GATEWAY_PROGRAM_UNKNOWN',
  /** Pause, resume or abort of a program not in a state that allows it. */
  'GATEWAY_PROGRAM_STATE',
  /** An instrument already in another active program. */
  'GATEWAY_PROGRAM_BUSY',
  /** A program's instrument is offline (at start), or went offline (the reason of a failed program). */
  'GATEWAY_PROGRAM_OFFLINE',
  /** Listing fluid sets while the setpoint is not 0 (without force), or a write while they are being listed. */
  'GATEWAY_FLUID_BUSY',
  /** A fluid by a name or number the instrument does not have. */
  'GATEWAY_FLUID_UNKNOWN',
  /** An alarm-settings write naming a parameter that is not an alarm setting. */
  'GATEWAY_NOT_ALARM_SETTING',
  // bridge mode
  /** A parameter never seen on the wire. */
  'BRIDGE_NOT_OBSERVED',
  /** A parameter seen, but not within maxAge. */
  'BRIDGE_STALE',
  /** A write in bridge mode: the gateway does not own the bus. */
  'BRIDGE_READ_ONLY',
  /** Bridge mode with injection: paused because the master's own traffic suffered. */
  'BRIDGE_INJECT_PAUSED',
  /** Bridge mode with injection: too many nodes the master never addressed were identified by injection within a minute. */
  'BRIDGE_IDENTIFY_LIMIT',
  // params: names and values
  /** A read that names no parameter. */
  'PARAM_NONE',
  /** No parameter by that key, name or DDE number. */
  'PARAM_UNKNOWN',
  /** A value of the wrong type, out of range or too long. */
  'PARAM_INVALID_VALUE',
  /** A value the enumeration does not list. */
  'PARAM_BAD_ENUM',
  /** A write to a read-only parameter. */
  'PARAM_READ_ONLY',
  /** A write to a secured parameter without `secured: true`, or to Init Reset itself. */
  'PARAM_SECURED',
  /** A write to a factory (highly secured) parameter. */
  'PARAM_FACTORY',
  /** A read of a write-only parameter. */
  'PARAM_WRITE_ONLY',
  /** A setpoint that cannot be checked: the instrument's capacity is not known. */
  'PARAM_CAPACITY_UNKNOWN',
  /** A value given in a unit the parameter does not take (not % nor the instrument's capacity unit). */
  'PARAM_BAD_UNIT',
  /** A write of several parameters refused as a whole: `details.problems` lists each refusal. */
  'PARAM_WRITE_REFUSED',
  // bus: transactions (BusError, one per BusFailure kind, and reply checks)
  /** The instrument answered a non-zero ProPar status. */
  'BUS_STATUS',
  /** The instrument or the interface answered an error frame. */
  'BUS_ERROR_FRAME',
  /** The answer lacks a value asked for, or a value does not decode. */
  'BUS_BAD_REPLY',
  /** No reply within the reply timeout, after every retry. */
  'BUS_TIMEOUT',
  /** The port is not open, or a node is unknown because its bus is down. */
  'BUS_UNAVAILABLE',
  /** The node keeps failing and is backed off. */
  'BUS_NODE_BACKOFF',
  /** The transaction waited in the queue past its deadline. */
  'BUS_QUEUE_DEADLINE',
  /** Cancelled by its caller or by shutdown. */
  'BUS_ABORTED',
  // transport
  /** A write or an open while the link is down. */
  'TRANSPORT_UNAVAILABLE',
  /** The link refused the bytes. */
  'TRANSPORT_WRITE_FAILED',
  // store: the transaction log
  /** A cursor this API did not return. */
  'STORE_BAD_CURSOR',
  /** A time that does not parse or is outside what the log holds. */
  'STORE_BAD_TIME',
  /** A bucket width that does not parse or is outside 1ms..366d. */
  'STORE_BAD_BUCKET',
  /** The database cannot be reached or refuses the query. */
  'STORE_UNAVAILABLE',
  /** A query over its time limit. */
  'STORE_TIMEOUT',
  /** The database refuses the store's user and password. */
  'STORE_AUTH',
  /** The database server has no database by that name. */
  'STORE_NO_DATABASE',
] as const satisfies readonly LayerCode[];

export const INTERNAL_ERROR_CODES = [
  // api
  /** The HTTP port cannot be listened on (in use, no permission). Start-up. */
  'API_LISTEN_FAILED',
  // gateway
  /** A write failed with something that is not a GatewayError (a bug). */
  'GATEWAY_INTERNAL',
  /** A program's reason: a wait step's value did not settle within its timeout. */
  'GATEWAY_PROGRAM_WAIT_TIMEOUT',
  /** A program's reason: aborted by a client. */
  'GATEWAY_PROGRAM_ABORTED',
  /** A program's reason: ended in the safe state at a restart (onRestart: safe, or its instruments did not come back). */
  'GATEWAY_PROGRAM_RESTARTED',
  /** A master or bridge option outside its range (the config file's checks come first). Start-up. */
  'GATEWAY_BAD_OPTION',
  /** A bridge option outside its range (the config file's checks come first). Start-up. */
  'BRIDGE_BAD_OPTION',
  // params
  /** parameters.json breaks its own rules. Load time. */
  'PARAM_DB_INVALID',
  // bus
  /** A bus option outside its range. Start-up. */
  'BUS_BAD_OPTION',
  /** A read failed with something that is not a GatewayError (a bug). */
  'BUS_FAILED',
  // transport
  /** A bus address that names no transport. Start-up. */
  'TRANSPORT_BAD_ADDRESS',
  /** A serial port or TCP link that cannot be opened; the transport retries. */
  'TRANSPORT_OPEN_FAILED',
  // codec: encoding what the wire cannot carry, decoding what is not a message
  /** A frame or message field out of range. */
  'CODEC_BAD_FIELD',
  /** DATA too long or empty. */
  'CODEC_BAD_LENGTH',
  /** A value that does not fit its wire type. */
  'CODEC_BAD_VALUE',
  /** DATA that is not a well-formed message. */
  'CODEC_MALFORMED_MESSAGE',
  // store
  /** A store URL that does not parse. Start-up. */
  'STORE_BAD_URL',
  /** A migration failed, or one was asked to go down. Start-up. */
  'STORE_MIGRATION',
  /** A CLI read of an SQLite log that does not exist. */
  'STORE_NOT_FOUND',
  /** The spool directory is held by another live gateway. Start-up. */
  'STORE_SPOOL_LOCKED',
  /** `flowbus db convert`: the converted rows differ from the old ones (nothing is dropped). */
  'STORE_CONVERT_MISMATCH',
  /** `flowbus db convert --drop-old`: old rows arrived after the conversion; run it again. */
  'STORE_CONVERT_INCOMPLETE',
  // config
  /** The config file breaks the schema. */
  'CONFIG_INVALID',
  /** The config file does not exist. */
  'CONFIG_NOT_FOUND',
  /** The config file is not valid YAML. */
  'CONFIG_SYNTAX',
  /** The config file cannot be read. */
  'CONFIG_UNREADABLE',
  // cli
  /** A command-line option with a bad value. */
  'CLI_BAD_OPTION',
  /** A node argument outside 0..255. */
  'CLI_BAD_NODE',
  /** `scan` found nothing. */
  'CLI_NO_INSTRUMENTS',
  /** `flowbus restore`: the file is not a backup. */
  'CLI_BAD_BACKUP',
  /** `flowbus restore`: the backup is of another instrument (device type, model or serial); --force restores it anyway. */
  'CLI_BACKUP_MISMATCH',
  /** `flowbus restore` without --yes and no terminal to ask on. */
  'CLI_NOT_CONFIRMED',
  // sim: the simulator
  /** A simulator option with a bad value. */
  'SIM_BAD_OPTION',
  /** The simulator cannot listen on its TCP port. */
  'SIM_LISTEN_FAILED',
  /** The folder of the pty link is missing or cannot be checked. */
  'SIM_PTY_PATH',
  /** The pty link path exists and is not an earlier simulator's link. */
  'SIM_PTY_PATH_EXISTS',
  /** socat cannot be started. */
  'SIM_SOCAT_MISSING',
  /** A behaviour names a parameter the database does not have. */
  'SIM_UNKNOWN_PARAM',
  // mqtt: answered on BASE/INSTRUMENT/set/result, never over HTTP
  /** The broker cannot be reached or refuses the connection; retried with backoff. */
  'MQTT_CONNECT_FAILED',
  /** A command while mqtt.writes is false. */
  'MQTT_WRITES_DISABLED',
  /** A command that is not a JSON object of parameter names and values. */
  'MQTT_BAD_COMMAND',
  /** A command larger than the limit. */
  'MQTT_COMMAND_TOO_LARGE',
  /** A command topic that names no instrument. */
  'MQTT_UNKNOWN_INSTRUMENT',
  /** Too many commands waiting for one instrument. */
  'MQTT_BUSY',
] as const satisfies readonly LayerCode[];

/** A code the API answers with its own status. */
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];
/** A code that never becomes an HTTP answer of its own. */
export type InternalErrorCode = (typeof INTERNAL_ERROR_CODES)[number];
/** Every code a GatewayError can carry. */
export type ErrorCode = ApiErrorCode | InternalErrorCode;

// A code in both lists fails here.
const noCodeInBoth: [Extract<ApiErrorCode, InternalErrorCode>] extends [never] ? true : never = true;
void noCodeInBoth;

export const ERROR_CODES: readonly ErrorCode[] = [...API_ERROR_CODES, ...INTERNAL_ERROR_CODES];

const API_CODES: ReadonlySet<string> = new Set(API_ERROR_CODES);

export function isApiErrorCode(code: string): code is ApiErrorCode {
  return API_CODES.has(code);
}
