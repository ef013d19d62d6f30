import { EncodeOnce, msgpackCodec } from './codec.js';

/**
 * Encodings kept beside the values they encode, so that a large log entry
 * is encoded once in its life on a node, not once for the disk and again
 * for the wire (on a leader), nor decoded from the wire and encoded again
 * for the disk (on a follower).
 *
 * Only large values are kept: those {@link EncodeOnce} writes as msgpackr
 * records (see `RECORDS_MIN_OBJECTS`), such as a batch of a hundred task
 * changes. A small entry costs little to encode twice, and keeping its
 * bytes would double its memory for nothing; small entries keep travelling
 * inside their AppendEntries batch, where records pay off.
 *
 * The bytes are a standalone encoding under {@link msgpackCodec}: they
 * decode on their own, to a value equal to the one kept. The value must
 * not change once its encoding is kept (log entries never do).
 */
const kept = new WeakMap<object, Uint8Array>();

/**
 * `value`'s standalone encoding under {@link msgpackCodec}: the kept one if
 * there is one, else encoded now (and kept if large).
 * @throws TypeError for a value outside the wire domain (as the codec does).
 */
export function encodeKept(value: object): Uint8Array {
  const known = kept.get(value);
  if (known !== undefined) return known;
  const wrapped = new EncodeOnce(value);
  // A wrapper encoded alone is its value's plain bytes, or extension 0x47 holding records: either decodes on its own.
  const bytes = msgpackCodec.encode(wrapped);
  if (wrapped.asRecords) kept.set(value, bytes);
  return bytes;
}

/** The kept encoding of `value`, if it has one (it is large and was encoded or decoded here). */
export function keptEncoding(value: object): Uint8Array | undefined {
  return kept.get(value);
}

/**
 * Decodes bytes that {@link encodeKept} made elsewhere (a large log entry
 * sent on its own), keeping them as the result's encoding.
 * @throws whatever the codec throws on bytes that are not one msgpack value.
 */
export function decodeKept(bytes: Uint8Array): unknown {
  const value = msgpackCodec.decode(bytes);
  if (typeof value === 'object' && value !== null) kept.set(value, bytes);
  return value;
}
