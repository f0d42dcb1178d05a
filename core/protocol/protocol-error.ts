/** Why a message was refused; stable strings for tests, metrics and logs. */
export type ProtocolErrorCode =
  /** Larger than the receiver's `maxBytes`; refused before any decoding. */
  | 'oversized'
  /** Not a FedMKT envelope, or not msgpack at all. */
  | 'malformed'
  /** Cut short: the integrity trailer is missing or damaged. */
  | 'truncated'
  /** The checksum carried in the message (XXH64, docs/wire.md) does not match its bytes. */
  | 'corrupted'
  | 'unknown-version'
  | 'unknown-type'
  | 'unknown-sender'
  /** The sender's role may not send this type (clients upload, the server broadcasts). */
  | 'wrong-sender'
  | 'missing-field'
  | 'ill-typed'
  /** Array lengths that do not fit together (lengths, positions, top-K, sample count). */
  | 'shape'
  | 'non-finite'
  /** A token id, count or weight outside its allowed range. */
  | 'out-of-range'
  /** The sender's own message cannot be written in the requested encoding. */
  | 'unencodable';

/**
 * A message refused by the codec. `path` names the offending field from the envelope root,
 * e.g. `body.logits.topKLogits[1234]`; the message also says which message it was.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  constructor(
    readonly code: ProtocolErrorCode,
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}
