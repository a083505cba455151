/**
 * V8 optimises a reader's hot code (the ring parsers, the batch's getters, the caller's loop around them)
 * for what it has run so far. An operation that has never run has no type feedback, and optimised code
 * that reaches one gives up there: the first PERF_RECORD_LOST, or the first loss notice in a batch, sent
 * a reader at full rate back to V8's interpreter, about ten times slower per event, until the code was
 * optimised again some 100 ms later; the ring overflowed meanwhile and a loss of 70 k samples became
 * one of 1.4 M (bench/README, 4 December). primeRingPaths() runs each such path once, on small synthetic
 * rings, with objects of the classes the readers use, when the first reader of the process opens.
 */
import { BatchBuilder } from './batch-builder.js';
import { LossReport, RingLosses } from './loss-report.js';
import { parsePerfInRing, PERF_RECORD_LOST, PERF_RECORD_SAMPLE } from './perf-records.js';
import type { EventBatch } from './batch.js';
import { eventIterator } from './event-iterator.js';
import type { ReaderStats } from './types.js';

let primed = false;
const PRIME_ROUNDS = 16;

/** A perf ring of `size` bytes holding, from position `tail`, samples (4 raw bytes) and lost records. */
export function syntheticPerfRing(size: number, tail: number, types: number[]): { ring: Uint8Array; head: number } {
  const ring = new Uint8Array(size);
  const put32 = (pos: number, v: number) => {
    for (let i = 0; i < 4; i++) ring[(pos + i) % size] = (v >>> (8 * i)) & 0xff;
  };
  let pos = tail;
  for (const type of types) {
    const recSize = type === PERF_RECORD_SAMPLE ? 16 : 24;
    put32(pos, type);
    put32(pos + 4, recSize << 16); // misc 0, size
    if (type === PERF_RECORD_SAMPLE) put32(pos + 8, 4); // raw size, then 4 bytes of data
    else put32(pos + 16, 1); // id (8 bytes), then lost: 1
    pos += recSize;
  }
  return { ring, head: pos };
}

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
  const sink = new RingLosses(new LossReport(undefined, (slot) => slot), stats, b, () => undefined);
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
  let n = 0;
  for (let r = await it.next(); !r.done; r = await it.next()) n += r.value.lost ?? r.value.data.byteLength;
  return void n;
}

/** One round of the paths; returns a batch with samples and both kinds of loss notice. */
function primeOnce(b: BatchBuilder, sink: RingLosses): EventBatch {
  const S = PERF_RECORD_SAMPLE;
  const L = PERF_RECORD_LOST;
  // in place: a lost record between samples; then records straddling the ring's end (copied out and
  // parsed by parsePerfInto), a lost one among them
  for (const [tail, types] of [
    [0, [S, L, S, S]],
    [100, [S, L, S, L]],
    [120, [S, S, L]],
  ] as [number, number[]][]) {
    const { ring, head } = syntheticPerfRing(128, tail, types);
    const u32 = new Uint32Array(ring.buffer);
    sink.slot = sink.cpu = 0;
    parsePerfInRing(ring, u32, tail, head, false, b, b.segment(ring, 0, 0, true), 0, 0, sink);
    touch(b.takeLeased(() => undefined, () => undefined));
    b.releaseLease();
  }
  // a ring buffer reader's notice from the drop counters (no slot), beside a perf one
  const drops = new LossReport({ read: () => new Map([[0, 1n]]), close: () => undefined }, undefined);
  drops.poll(b.lost);
  sink.add(1);
  const batch = b.take();
  touch(batch);
  return batch;
}
