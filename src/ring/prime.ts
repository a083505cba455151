/**
 * V8 optimises a reader's hot code (the ring parsers, the batch's getters, the caller's loop around them)
 * for what it has run so far. An operation that has never run has no type feedback, and optimised code
 * that reaches one gives up there: the first PERF_RECORD_LOST, or the first loss notice in a batch, sent
 * a reader at full rate back to V8's interpreter, about ten times slower per event, until the code was
 * optimised again some 100 ms later; the ring overflowed meanwhile and a loss of 70 k samples became
 * one of 1.4 M (bench/README, 4 December). primeRingPaths() runs each such path, on small synthetic
 * rings, with objects of the classes the readers use, when the first reader of the process opens.
 */
import { BatchBuilder } from './batch-builder.js';
import { LossReport, RingLosses } from './loss-report.js';
import { parsePerfInRing } from './perf-records.js';
import { PerfRingWriter } from './perf-ring-writer.js';
import type { EventBatch } from './batch.js';
import { eventIterator } from './event-iterator.js';
import type { ReaderStats } from './types.js';

let primed = false;
const PRIME_ROUNDS = 16;

/** Read a batch the way consumers do: its sizes, its loss notices. */
function touch(batch: EventBatch): number {
  let n = batch.count + batch.lostCount;
  for (let i = 0; i < batch.length; i++) n += batch.size(i) + batch.data(i).byteLength;
  return n;
}

/** Run the readers' rare paths once per process (see the header). */
export function primeRingPaths(): void {
  if (primed) return;
  primed = true;
  const stats: ReaderStats = { received: 0, lost: 0, bytes: 0, batches: 0, wakeups: 0 };
  const b = new BatchBuilder(undefined, true);
  const sink = new RingLosses(new LossReport(undefined, undefined), stats, b, () => undefined);
  // V8 gives a function its feedback vector only after some calls (8 in Node 20): until then nothing is
  // recorded, so each path runs more often than that
  const batches: EventBatch[] = [];
  for (let round = 0; round < PRIME_ROUNDS; round++) batches.push(primeOnce(b, sink));
  // the per-event iterator (for await over a reader) over the same batches: microtasks only, done
  // before any I/O of the reader
  void primeIterator(batches).catch(() => undefined);
}

async function primeIterator(batches: EventBatch[]): Promise<void> {
  const it = eventIterator(() => Promise.resolve(batches.shift()), () => undefined);
  for (let r = await it.next(); !r.done; r = await it.next()) void (r.value.lost ?? r.value.data.byteLength);
}

/** One round of the paths; returns a batch with samples and both kinds of loss notice. */
function primeOnce(b: BatchBuilder, sink: RingLosses): EventBatch {
  // in place: a lost record between samples; then records straddling the ring's end (copied out and
  // parsed by parsePerfInto), a lost one among them
  for (const [tail, records] of [
    [0, 'slss'],
    [100, 'slsl'],
    [120, 'ssl'],
  ] as const) {
    const w = new PerfRingWriter(128, tail).write(records);
    parsePerfInRing(w.ring, new Uint32Array(w.ring.buffer), tail, w.head, false, b, b.segment(w.ring, 0, 0, true), 0, 0, sink);
    touch(b.takeLeased(() => undefined, () => undefined));
    b.releaseLease();
  }
  // a ring buffer reader's notice from the drop counters (no slot), beside a perf one
  const drops = new LossReport({ read: () => new Map([[0, 1n]]), close: () => undefined }, undefined);
  drops.poll(b.lost);
  sink.add(0, 0, 1);
  const batch = b.take();
  touch(batch);
  return batch;
}
