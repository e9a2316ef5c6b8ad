/** Inputs up to this many bytes are converted by table. */
const SHORT = 16;
const BYTE_HEX: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/**
 * `10 02 01 80` style: lower-case, space separated, as socat and PROTOCOL.md print bytes. Node's
 * native encoder does the digits: the transaction log calls this twice per logged transaction.
 */
export function toHex(bytes: Uint8Array, sep = ' '): string {
  // A parameter's value (1 to 8 bytes, several per transaction) by table: cheaper than a Buffer and a native call.
  if (bytes.length <= SHORT && sep === '') {
    let out = '';
    for (let i = 0; i < bytes.length; i++) out += BYTE_HEX[bytes[i] as number] as string;
    return out;
  }
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return sep === '' || hex.length <= 2 ? hex : (hex.match(/../g) as string[]).join(sep);
}

/** Parses hex with any white space between byte pairs ("10 02 01", "100201"). Throws on odd length or a non-hex digit. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0) throw new Error(`odd number of hex digits (${clean.length})`);
  if (!/^[0-9a-fA-F]*$/.test(clean)) throw new Error(`not a hex string: ${JSON.stringify(text.slice(0, 40))}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
