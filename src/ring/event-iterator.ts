/**
 * The per-event async iterator over a reader's batches (`for await (const ev of reader)`): each batch
 * streamed (its samples copied out a chunk at a time), its samples then its loss notices, one event per
 * next(). The batches() generator is the fast path; this is the convenient one.
 */
import type { EventBatch } from './batch.js';
import type { RingEvent } from './types.js';

/**
 * Events of the batches `nextBatch` gives, until it gives undefined; `end` runs once when the
 * iteration ends (the batches ran out, or return()).
 */
export function eventIterator(nextBatch: () => Promise<EventBatch | undefined>, end: () => void): AsyncIterator<RingEvent> {
  let batch: EventBatch | undefined;
  let i = 0;
  const done: IteratorReturnResult<undefined> = { value: undefined, done: true };
  const finish = (): IteratorReturnResult<undefined> => {
    end();
    return done;
  };
  const refill = async (): Promise<IteratorResult<RingEvent>> => {
    for (;;) {
      batch = (await nextBatch())?.streamed();
      i = 0;
      if (!batch) return finish();
      if (batch.count > 0) return take();
    }
  };
  // The fast path allocates no async frame: one already-resolved promise per event.
  const take = (): IteratorResult<RingEvent> => {
    const b = batch!;
    const value = i < b.length ? b.at(i) : b.lost[i - b.length]!;
    i++;
    return { value, done: false };
  };
  return {
    next: (): Promise<IteratorResult<RingEvent>> => (batch && i < batch.count ? Promise.resolve(take()) : refill()),
    return: async (): Promise<IteratorResult<RingEvent>> => finish(),
  };
}
