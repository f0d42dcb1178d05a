/**
 * The FedMKT wire protocol: what actors say to each other.
 *
 * Every message is an {@link Envelope} around one {@link MessageBody}. Logit payloads are
 * flat typed arrays over all public samples so that encoding is a memcpy, not a tree walk.
 * Token ids are always ids of the sender's tokenizer (never a model's compact vocabulary).
 */

export const PROTOCOL_VERSION = 3;

/** `server` or a client id from the scenario (`c1`, `c2`, ...). */
export type ActorId = string;

/**
 * One party's top-K view of the public set D_p (FedMKT steps 2 and 5).
 * Positions are concatenated over samples: sample i owns `lengths[i]` positions.
 * At position t the logits predict token t+1.
 */
export interface PublicLogits {
  /** Registry name of the tokenizer whose ids appear in `tokenIds` and `topKIds`. */
  tokenizer: string;
  /** K: entries kept per position. */
  topK: number;
  /** Non-pad token count of each public sample, in the sender's tokenisation. */
  lengths: Int32Array;
  /** Token ids of every sample, concatenated: sum(lengths) entries. */
  tokenIds: Int32Array;
  /** Top-K token ids per position, highest logit first: sum(lengths) * topK entries. */
  topKIds: Int32Array;
  /** The logits of `topKIds`, same layout. */
  topKLogits: Float32Array;
  /** Per sample: cross-entropy against the gold answer (answer-token CE sum / non-pad length). */
  ce: Float32Array;
}

interface RoundStartBody {
  type: 'round-start';
  /** Virtual or wall ms by which the server wants every upload of this round. */
  uploadDeadline: number;
  /** A population's round is announced to each selected client by name (listed clients: one broadcast). */
  to?: ActorId;
}

export interface SlmLogitsBody {
  type: 'slm-logits';
  logits: PublicLogits;
}

interface LlmLogitsBody {
  type: 'llm-logits';
  logits: PublicLogits;
}

/** LoRA adapter weights by parameter name, each with its shape; values flattened row-major. */
export type AdapterTensors = Record<string, { shape: number[]; values: Float32Array }>;

/** LoRA adapter weights of one client, for FedAvg in the homogeneous setting. */
interface AdapterBody {
  type: 'adapter';
  tensors: AdapterTensors;
  /** Weight of this adapter in the average (public-set size). */
  weight: number;
}

interface AdapterAverageBody {
  type: 'adapter-average';
  tensors: AdapterTensors;
  contributors: ActorId[];
}

interface FinishBody {
  type: 'finish';
  reason: 'completed' | 'aborted';
  detail?: string;
}

/**
 * A client's receipt of the finish announcement, sent for every copy it receives: the server
 * re-announces the finish to clients that have not acknowledged it, so that a lost `finish`
 * does not leave a client waiting for a round that never comes.
 */
interface FinishAckBody {
  type: 'finish-ack';
}

export type MessageBody = RoundStartBody | SlmLogitsBody | LlmLogitsBody | AdapterBody | AdapterAverageBody | FinishBody | FinishAckBody;

export type MessageType = MessageBody['type'];

export const MESSAGE_TYPES: readonly MessageType[] = ['round-start', 'slm-logits', 'llm-logits', 'adapter', 'adapter-average', 'finish', 'finish-ack'];

export interface Envelope<B extends MessageBody = MessageBody> {
  v: typeof PROTOCOL_VERSION;
  run: string;
  round: number;
  sender: ActorId;
  /** Unique per sender and run: `${sender}:${sequence}`; the dedup key. */
  id: string;
  body: B;
}
