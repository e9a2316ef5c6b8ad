import { AsciiDeframer, encodeAsciiFrame } from './ascii-frame.js';
import { BinaryDeframer, encodeBinaryFrame } from './binary-frame.js';
import type { Deframer, Frame } from './frame.js';
import { packetToFrame, type Packet } from './message.js';

/** The two framings ProPar runs over a serial line. */
export type Protocol = 'binary' | 'ascii';

export function createDeframer(protocol: Protocol): Deframer {
  return protocol === 'ascii' ? new AsciiDeframer() : new BinaryDeframer();
}

export function encodeFrame(frame: Frame, protocol: Protocol): Uint8Array {
  return protocol === 'ascii' ? encodeAsciiFrame(frame) : encodeBinaryFrame(frame);
}

/** Encodes a packet to wire bytes in the given framing. ASCII drops the SEQ. */
export function encodePacket(packet: Packet, protocol: Protocol): Uint8Array {
  return encodeFrame(packetToFrame(packet), protocol);
}
