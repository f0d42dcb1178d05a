/**
 * The uploads a server has accepted in a round, by client: immutable like all machine context,
 * yet adding one copies a bucket of about n/32 entries, not all n. A population's round takes
 * a thousand uploads; copying the whole record for each one made collection quadratic.
 */
import { hashString } from './random.js';
import type { ActorId } from './protocol/messages.js';

const BUCKETS = 32;

export interface UploadBook<T> {
  readonly size: number;
  /** Entries by client, spread over buckets by a hash of the id. */
  readonly buckets: readonly Readonly<Record<ActorId, T>>[];
}

export function emptyBook<T>(): UploadBook<T> {
  return { size: 0, buckets: [] };
}

function bucketOf(id: ActorId): number {
  return hashString(id) % BUCKETS;
}

export function bookGet<T>(book: UploadBook<T>, id: ActorId): T | undefined {
  const bucket = book.buckets[bucketOf(id)];
  return bucket && Object.hasOwn(bucket, id) ? bucket[id] : undefined;
}

export function bookHas<T>(book: UploadBook<T>, id: ActorId): boolean {
  const bucket = book.buckets[bucketOf(id)];
  return bucket !== undefined && Object.hasOwn(bucket, id);
}

/** The book with `id`'s entry set to `value`. */
export function bookWith<T>(book: UploadBook<T>, id: ActorId, value: T): UploadBook<T> {
  const b = bucketOf(id);
  const buckets = book.buckets.length === BUCKETS ? book.buckets.slice() : Array.from({ length: BUCKETS }, (_, i) => book.buckets[i] ?? {});
  const had = Object.hasOwn(buckets[b]!, id);
  buckets[b] = { ...buckets[b], [id]: value };
  return { size: book.size + (had ? 0 : 1), buckets };
}

/** Whether `value` is a book (what persistence writes one file per entry of). */
export function isBook(value: unknown): value is UploadBook<unknown> {
  return (
    value !== null &&
    typeof value === 'object' &&
    Array.isArray((value as { buckets?: unknown }).buckets) &&
    typeof (value as { size?: unknown }).size === 'number'
  );
}

/** Every client with an entry (bucket order: callers that need an order impose their own). */
export function bookIds<T>(book: UploadBook<T>): ActorId[] {
  return book.buckets.flatMap((bucket) => Object.keys(bucket));
}
