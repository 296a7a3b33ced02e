// ut_metadata (BEP 9), serving side only: a magnet-link client asks for the info dictionary in 16 KiB
// pieces. Written here rather than taken from the `ut_metadata` package, whose parser finds the end of
// the dictionary by searching for "ee" and does not check the piece number it is asked for.
import bencode from 'bencode';

export const METADATA_PIECE_LENGTH = 16 * 1024;

const MSG_REQUEST = 0;
const MSG_DATA = 1;
const MSG_REJECT = 2;

export class MalformedMessageError extends Error {}

/**
 * The reply to one ut_metadata message from a peer: the extended payload to send back (data or reject),
 * or null when nothing is owed (data or reject messages, unknown types: BEP 9 says ignore them).
 * Throws MalformedMessageError when the payload is not a bencoded dictionary with an integer msg_type.
 */
export function metadataReply(info: Uint8Array, payload: Uint8Array): Buffer | null {
  let message: unknown;
  try {
    message = bencode.decode(payload);
  } catch (err) {
    throw new MalformedMessageError(`ut_metadata message is not bencoded: ${(err as Error).message}`);
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message) || ArrayBuffer.isView(message)) {
    throw new MalformedMessageError('ut_metadata message is not a dictionary');
  }
  const { msg_type: type, piece } = message as Record<string, unknown>;
  if (!Number.isInteger(type)) throw new MalformedMessageError('ut_metadata message has no integer msg_type');
  if (type !== MSG_REQUEST) return null;
  if (!Number.isInteger(piece)) throw new MalformedMessageError('ut_metadata request has no integer piece');
  const index = piece as number;
  const count = Math.ceil(info.length / METADATA_PIECE_LENGTH);
  if (index < 0 || index >= count) {
    return Buffer.from(`d8:msg_typei${MSG_REJECT}e5:piecei${index}ee`, 'latin1');
  }
  const start = index * METADATA_PIECE_LENGTH;
  const data = info.subarray(start, Math.min(start + METADATA_PIECE_LENGTH, info.length));
  const head = Buffer.from(`d8:msg_typei${MSG_DATA}e5:piecei${index}e10:total_sizei${info.length}ee`, 'latin1');
  return Buffer.concat([head, data]);
}
