/**
 * The batch of one drain: what the BatchBuilder holds after the rings were read into it, as the
 * reader hands it out — merged by time (ordered readers), leased (its samples stay in the rings until
 * it is released, in whole or part by part as own() copies them out) or copied.
 */
import type { EventBatch } from './batch.js';
import { batchOf, type BatchBuilder } from './batch-builder.js';
import type { OrderedMerge } from './ordered-merge.js';
import type { PerfRing } from './perf-ring.js';
import type { RingbufRing } from './ringbuf-ring.js';
import type { RingEvent } from './types.js';
import type { StructDecoder } from './struct-decoder.js';

/**
 * `read`: the rings this drain took samples from (their cursors hold the lease); `final`: the last
 * drain (the merge gives up what it holds back). Undefined when there is nothing to hand out.
 */
export function takeBatch(
  b: BatchBuilder,
  read: readonly (PerfRing | RingbufRing)[],
  lease: boolean,
  merge: OrderedMerge | undefined,
  final: boolean,
  decoder: StructDecoder | undefined,
  perf: boolean,
): EventBatch | undefined {
  if (merge) {
    if (!b.empty) merge.push(b.take().toArray());
    const out: RingEvent[] = [];
    merge.pop(out, final);
    return out.length > 0 ? batchOf(out, decoder, perf) : undefined;
  }
  if (!b.empty) {
    if (!lease || read.length === 0) return b.take();
    return b.takeLeased(
      () => releaseAll(read),
      (seg, end) => {
        for (const r of read) if (r.cursor.leasedSeg === seg) r.cursor.releaseTo(end);
      },
    );
  }
  // Only discarded records (or nothing): hand the ring space back at once.
  if (lease) releaseAll(read);
  return undefined;
}

/** Hand the ring space of a drain's rings back to the kernel. */
function releaseAll(read: readonly (PerfRing | RingbufRing)[]): void {
  for (const r of read) r.cursor.release();
}
