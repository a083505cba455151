/**
 * V8 optimises a reader's hot code (the ring parsers, the batch's getters, the caller's loop around them)
 * for what it has run so far. An operation that has never run has no type feedback, and optimised code
 * that reaches one gives up there: the first PERF_RECORD_LOST, or the first loss notice in a batch, sent
 * a reader at full rate back to V8's interpreter, about ten times slower per event, until the code was
 * optimised again some 100 ms later; the ring overflowed meanwhile and a loss of 70 k samples became
 * one of 1.4 M (bench/JOURNAL.md, 4 December). So did the first drain that stopped at its limit (half a
 * ring, a reader behind after a stall: the moment speed matters most), the first drain that found
 * nothing, and a reader's first pause in its traffic and burst after it (the wake-up mode's
 * switches). primeRingPaths() runs each such path, on small synthetic rings, with objects of the classes
 * the readers use and positions counted as theirs are (POSITION_BIAS), when the first reader of the
 * process opens.
 */
import { BatchBuilder } from './batch-builder.js';
import { LossReport, RingLosses } from './loss-report.js';
import { parsePerfInRing } from './perf-records.js';
import { parseRingbufInRing } from './ringbuf-records.js';
import { ringbufWords } from './ringbuf-ring-writer.js';
import { PerfRingWriter } from './perf-ring-writer.js';
import { ConsumerCursor, POSITION_BIAS } from './ring-position.js';
import { takeBatch } from './reader-batch.js';
import { WakeupMode, BURST, MIN_WINDOW_MS } from './wakeup-mode.js';
import type { PerfRing } from './perf-ring.js';
import type { EventBatch } from './batch.js';
import { eventIterator } from './event-iterator.js';
import type { ReaderStats } from './types.js';
import { newReaderStats } from './reader-stats.js';

let primed = false;
const PRIME_ROUNDS = 16;

/** Read a batch the way consumers do: its sizes, its loss notices. */
export function touch(batch: EventBatch): number {
  let n = batch.count + batch.lostCount;
  for (let i = 0; i < batch.length; i++) n += batch.size(i) + batch.data(i).byteLength;
  return n;
}

/** Run the readers' rare paths once per process (see the header). */
export function primeRingPaths(): void {
  if (primed) return;
  primed = true;
  const stats: ReaderStats = newReaderStats();
  const b = new BatchBuilder(undefined, true);
  const sink = new RingLosses(new LossReport(undefined, undefined), stats, b, () => undefined);
  // V8 gives a function its feedback vector only after some calls (8 in Node 20): until then nothing is
  // recorded, so each path runs more often than that
  const batches: EventBatch[] = [];
  for (let round = 0; round < PRIME_ROUNDS; round++) {
    batches.push(primeOnce(b, sink));
    primeWakeupMode();
  }
  // the per-event iterator (for await over a reader) over the same batches: microtasks only, done
  // before any I/O of the reader
  void primeIterator(batches).catch(() => undefined);
}

/**
 * A loop's wake-up mode through its switches (wakeup-mode.ts), on a clock of its own: fast traffic,
 * slow traffic (per-sample wake-ups), a burst that ends them at once, traffic that ends them by its rate.
 * A reader that starts under load meets the rest the first time its traffic pauses and comes back.
 */
function primeWakeupMode(): void {
  // (two callbacks of two sources: V8 then calls a reader's own one as any function, rather than
  // throwing the compiled code away because it is not the one it saw)
  for (const apply of [() => undefined, (eager: boolean) => void eager]) {
    const mode = new WakeupMode(MIN_WINDOW_MS, apply, 0, false);
    let now = 0;
    const drains: [samples: number, ms: number][] = [[1000, 2], [1000, 10], [1, 20], [1, 20], [BURST, 1], [1, 20], [1, 20], [BURST - 1, 5], [BURST - 1, 10]];
    for (const [samples, ms] of drains) mode.drained(samples, (now += ms));
    mode.stop(now);
  }
}

async function primeIterator(batches: EventBatch[]): Promise<void> {
  const it = eventIterator(() => Promise.resolve(batches.shift()), () => undefined);
  for (let r = await it.next(); !r.done; r = await it.next()) void (r.value.lost ?? r.value.data.byteLength);
}

/** One round of the paths; returns a batch with samples and both kinds of loss notice. */
function primeOnce(b: BatchBuilder, sink: RingLosses): EventBatch {
  // in place: a lost record between samples; then records straddling the ring's end (copied out and
  // parsed by parsePerfInto), a lost one among them; then a drain that stops at its limit
  for (const [tail, records, limit] of [
    [0, 'slss', Infinity],
    [100, 'slsl', Infinity],
    [120, 'ssl', Infinity],
    [40, 'ssss', 30],
  ] as const) {
    const w = new PerfRingWriter(128, POSITION_BIAS + tail).write(records);
    parsePerfInRing(w.ring, new Uint32Array(w.ring.buffer), POSITION_BIAS + tail, w.head, false, b, b.segment(w.ring, 0, 0, true), 0, 0, sink, limit);
    touch(b.takeLeased(() => undefined, () => undefined));
    b.releaseLease();
  }
  // a ring buffer in place: committed, discarded and busy records, all of them, then up to a limit
  const rb = ringbufWords('cdcb', RB_SIZE);
  for (const limit of [Infinity, 20]) {
    parseRingbufInRing(rb, RB_SIZE, POSITION_BIAS + RB_SIZE, POSITION_BIAS + 2 * RB_SIZE, b, b.segment(new Uint8Array(rb.buffer), 0, undefined, true), 0, limit);
    touch(b.takeLeased(() => undefined, () => undefined));
    b.releaseLease();
  }
  // drains that found nothing, or only discarded records, from rings of both kinds of array
  const cursor = new ConsumerCursor(POSITION_BIAS, RB_SIZE - 1, () => undefined, 'primed ring');
  for (const read of [[], [{ cursor } as unknown as PerfRing]]) takeBatch(b, read, true, undefined, false, undefined, true);
  // a ring buffer reader's notice from the drop counters (no slot), beside a perf one
  const drops = new LossReport({ read: () => new Map([[0, 1n]]), close: () => undefined }, undefined);
  drops.poll(b.lost);
  sink.add(0, 0, 1);
  const batch = b.take();
  touch(batch);
  return batch;
}

/** The ring buffer of the primed paths: records of 16 bytes. */
const RB_SIZE = 64;
