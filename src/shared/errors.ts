import type { ErrorCode } from './codes.js';

/**
 * One error registry for the whole gateway. Every error carries a stable `code` from the
 * list in codes.ts, whose prefix names the layer that raised it (CODEC_, PARAM_, SIM_,
 * TRANSPORT_, BUS_, STORE_, CONFIG_, API_, ...). Only the API layer maps codes to HTTP.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatewayError';
    this.code = code;
    this.details = details;
  }
}

/** Raised by the pure codec when asked to encode something the wire cannot carry, or to decode bytes that are not a message. */
export class CodecError extends GatewayError {
  constructor(code: Extract<ErrorCode, `CODEC_${string}`>, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'CodecError';
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}
