/** Framing bytes of binary ("enhanced") ProPar. PROTOCOL.md section 2. */
export const DLE = 0x10;
export const STX = 0x02;
export const ETX = 0x03;

/** Node 128 reaches the locally connected instrument whatever its bus address ("always response"). */
export const LOCAL_NODE = 0x80;

/** The LEN byte is one byte: DATA holds at most 255 bytes on the wire. */
export const MAX_DATA_LENGTH = 255;

/** The RS232 HOST interface's documented DATA limit (real traffic reaches 73). */
export const HOST_DATA_LIMIT = 64;

/** DATA[0]: the command byte. PROTOCOL.md section 4. */
export const Command = {
  /** Status message: `00 STATUS INDEX`. */
  Status: 0x00,
  /** Send parameter values to a destination and ask for a status reply. */
  SendWithStatus: 0x01,
  /** Send parameter values without a status reply; also the answer to a request. */
  Send: 0x02,
  /** Send parameter values with the source address (broadcast), no reply. */
  Broadcast: 0x03,
  /** Request (read) parameters. */
  Request: 0x04,
} as const;
export type Command = (typeof Command)[keyof typeof Command];

/**
 * The two type bits of a parameter byte (0x60 mask). The wire cannot tell a
 * float from an unsigned long: both are 0x40 (PROTOCOL.md section 5.1).
 */
export const WireType = {
  /** 1 byte: unsigned char. */
  Byte: 0x00,
  /** 2 bytes big-endian integer. */
  Int16: 0x20,
  /** 4 bytes big-endian: IEEE-754 float or unsigned long. */
  Int32: 0x40,
  /** Length byte then bytes: string or byte array. */
  String: 0x60,
} as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

export const WIRE_TYPE_MASK = 0x60;
export const INDEX_MASK = 0x1f;
export const CHAIN_BIT = 0x80;
export const PROCESS_MASK = 0x7f;

/** Size in bytes of a fixed-size wire type; `undefined` for strings. */
export function wireTypeSize(type: WireType): number | undefined {
  switch (type) {
    case WireType.Byte:
      return 1;
    case WireType.Int16:
      return 2;
    case WireType.Int32:
      return 4;
    default:
      return undefined;
  }
}

export function wireTypeName(type: WireType): string {
  switch (type) {
    case WireType.Byte:
      return 'byte';
    case WireType.Int16:
      return 'int16';
    case WireType.Int32:
      return 'int32/float';
    default:
      return 'string';
  }
}

/**
 * How a value is interpreted above the wire. Several value types share a wire type:
 * - `u8`     unsigned 8-bit (wire 0x00)
 * - `u16`    unsigned 16-bit (wire 0x20)
 * - `bht16`  Bronkhorst signed 16-bit: two's complement, range -23593..41942 (wire 0x20)
 * - `i16`    ordinary signed 16-bit (wire 0x20)
 * - `u32`    unsigned 32-bit (wire 0x40)
 * - `float`  IEEE-754 single (wire 0x40)
 * - `string` text, latin1 bytes (wire 0x60)
 * - `bytes`  byte string (wire 0x60)
 */
export type ValueType = 'u8' | 'u16' | 'bht16' | 'i16' | 'u32' | 'float' | 'string' | 'bytes';

export const VALUE_TYPES: readonly ValueType[] = ['u8', 'u16', 'bht16', 'i16', 'u32', 'float', 'string', 'bytes'];

export function wireTypeOf(type: ValueType): WireType {
  switch (type) {
    case 'u8':
      return WireType.Byte;
    case 'u16':
    case 'bht16':
    case 'i16':
      return WireType.Int16;
    case 'u32':
    case 'float':
      return WireType.Int32;
    case 'string':
    case 'bytes':
      return WireType.String;
  }
}

/** The range of the Bronkhorst signed 16-bit integer. */
export const BHT16_MIN = -23593;
export const BHT16_MAX = 41942;
