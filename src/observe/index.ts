/** Public surface of the passive observation layer: capture format, timed deframing, pairing, naming, decoding. */
export { formatSocatRecord, formatSocatTime, parseSocatCapture } from './socat.js';
export type { Direction, SocatCapture, SocatProblem, SocatRecord } from './socat.js';
export { TimedDeframer } from './timed.js';
export type { ObservedDiscard, ObservedEvent, ObservedFrame } from './timed.js';
export { commandName, Pairer, resolveUnit } from './pairer.js';
export type { Outcome, PairerFrame, PairerOptions, Transaction, TransactionErrorFrame, TransactionStatus } from './pairer.js';
export { defaultResolver, describeParam, formatParam } from './describe.js';
export type { ObservedParam, ObservedValue, ParamInput, ParamResolver } from './describe.js';
export { CaptureDecoder, decodeCapture, OverlapTracker } from './decode.js';
export type { CaptureDecodeResult, CaptureSummary, DecoderOptions, DiscardSummary, LatencySummary, PerDirection } from './decode.js';
export { formatSummary, formatTransaction, isoMicros, transactionToJson } from './format.js';
export { readCaptureInput, type CaptureInput } from './cli.js';
