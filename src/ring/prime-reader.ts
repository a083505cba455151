/**
 * V8 compiles a reader's per-batch code (EventReader's drain, nextBatch, batches and what they inline)
 * after it has run about a thousand batches: at full rate, in the first seconds of traffic, where an
 * optimizing compile of 60–90 ms on a helper thread then competes with the reader for its CPU (under
 * idleOtherThreads(), a SCHED_IDLE helper can keep the CPU for a whole scheduler tick: bench/README,
 * 4 December). primeReaders() runs that code first, once per process, before openEvents() opens any
 * ring, so the compiles are done while no ring exists yet.
 *
 * It runs readers of the same classes over a synthetic perf ring in plain memory, filled from
 * JavaScript as the kernel fills a ring, whose wake-ups come from a timerfd armed as the kernel's
 * watermark would wake the reader: first one without the optional parts (opened, read a little, closed),
 * then one with them, through each path a reader takes: wake-ups, waits ended by the poll timer,
 * backlogs that stop a drain at its limit, lost records and drop counters, a pause with its switch to
 * per-sample wake-ups and the burst that ends it, a consumer slower than the traffic. A path a reader
 * meets later for the first time would send it back to V8's interpreter (prime.ts). It needs no
 * privileges: an epoll fd and two timerfds.
 */
import { kernel, pageSize } from '../sys/index.js';
import { EventReader } from './reader.js';
import { PerfRing } from './perf-ring.js';
import { PerfRingWriter } from './perf-ring-writer.js';
import { MMAP_PAGE } from './perf-records.js';
import { POSITION_BIAS, fromKernel, toKernel } from './ring-position.js';
import { touch } from './prime.js';
import { BURST, MIN_WINDOW_MS } from './wakeup-mode.js';
import type { ReaderParts } from './reader-parts.js';

/** Batches the primed reader reads: V8 had compiled drain, nextBatch and batches after 1,000 to 2,000. */
export const PRIME_BATCHES = 3000;
/** Batches of the first reader: enough for V8 to give batches() its feedback (after some bytecode). */
const BARE_BATCHES = 64;
/**
 * Ring pages (a backlog's drain, half the ring, holds more samples than a batch's first columns: they
 * grow, as a real reader's do in its first large batch), and the watermark (bytes) that wakes a reader.
 */
const PAGES = 64;
const WATERMARK = 1024;
/** Batch numbers (modulo CYCLE) of the paths that are not a plain wake-up at the watermark. */
const CYCLE = 1000;
const BACKLOG = [0, 500];
const POLLED = new Set([1, 101, 201, 301, 401, 501, 601, 701, 801, 901]);
const PAUSE = 100;
const SLOW_FROM = 300;
const SLOW_BATCHES = 12;
const LOST_EVERY = 64;
/**
 * A pause long enough for the wake-up mode to switch to per-sample wake-ups (a whole window of its own
 * without samples: two windows, and a margin for the timers), and a burst that ends them.
 */
const PAUSE_MS = 3 * MIN_WINDOW_MS;
const BURST_BYTES = 2 * BURST * 80;

let done: Promise<void> | undefined;

/** Run the readers' per-batch code (see the header); resolves when done (never rejects). */
export function primeReaders(): Promise<void> {
  return (done ??= run().catch(() => undefined));
}

async function run(): Promise<void> {
  // The first reader has none of the optional parts, and is closed: V8 then knows the fields that change
  // when a reader closes, and the parts that are undefined in some readers, before it compiles anything
  // (a field seen with one value only is compiled in as that value, and code that assumed it is thrown
  // away when it changes). It reads some batches first: the end of a loop over a reader has feedback too.
  for (const [full, batches] of [[false, BARE_BATCHES], [true, PRIME_BATCHES]] as const) {
    const ring = new SyntheticRing();
    try {
      const reader = ring.reader(full);
      try {
        await consume(reader, ring, batches);
      } finally {
        await reader.close();
      }
    } finally {
      ring.close();
    }
  }
}

/** A perf ring in plain memory, written as the kernel writes one, and its wake-up fd. */
class SyntheticRing {
  private readonly size = PAGES * pageSize();
  private readonly memory = new ArrayBuffer(pageSize() + this.size);
  private readonly data = new Uint8Array(this.memory, pageSize(), this.size);
  private readonly meta = new BigInt64Array(this.memory, 0, pageSize() / 8);
  /** A timerfd armed once per wake-up. */
  private readonly fd = kernel().timerCreate();
  private head = POSITION_BIAS;

  /** A reader over this ring; `full`: with wake-up modes, a watermark and drop counters. */
  reader(full: boolean): EventReader {
    const ring = new PerfRing({ cpu: 0, slot: 0, pages: PAGES, timestamps: false, wakeupBytes: WATERMARK }, { memory: this.memory, fd: this.fd });
    let dropped = 0n;
    const out = new Map<number, bigint>();
    const parts: ReaderParts = {
      kind: 'perf',
      perfRings: [ring],
      ringbuf: undefined,
      openCpu: () => undefined,
      drops: full ? { read: () => out.set(0, (dropped += 1n)), close: () => undefined } : undefined,
      decoder: undefined,
      flushMs: 1,
      ordered: undefined,
      release: () => undefined,
      signal: undefined,
      watermarkBytes: full ? WATERMARK : undefined,
      setEager: full ? (eager) => void eager : undefined,
      quiet: true,
    };
    return new EventReader(parts);
  }

  /** About `bytes` of 64-byte samples, and a lost record if `lost`: as much as the free space takes. */
  fill(bytes: number, lost: boolean): void {
    const tail = fromKernel(Atomics.load(this.meta, MMAP_PAGE.DATA_TAIL / 8));
    const target = Math.min(this.head + bytes, tail + this.size - SAMPLE.length - LOST.length);
    while (this.head < target) this.put(SAMPLE);
    if (lost) this.put(LOST);
    Atomics.store(this.meta, MMAP_PAGE.DATA_HEAD / 8, toKernel(this.head));
  }

  /** The kernel's wake-up (the fd polls readable), and its end (the reader drained). */
  wake(): void {
    kernel().timerSet(this.fd, 1, true);
  }

  woken(): void {
    kernel().timerSet(this.fd, 0);
  }

  close(): void {
    kernel().close(this.fd);
  }

  /** A record at the head, wrapping at the ring's end. */
  private put(record: Uint8Array): void {
    const at = this.head % this.size;
    const first = Math.min(record.length, this.size - at);
    this.data.set(record.subarray(0, first), at);
    this.data.set(record.subarray(first), 0);
    this.head += record.length;
  }
}

/** The bytes of one record as PerfRingWriter lays it out: a 64-byte sample (80 bytes), a lost record. */
function record(size: number, write: (w: PerfRingWriter) => void): Uint8Array {
  const w = new PerfRingWriter(size, 0);
  write(w);
  return w.ring;
}
const SAMPLE = record(80, (w) => w.sample(Array.from({ length: 64 }, (_, i) => i)));
const LOST = record(24, (w) => w.lost(1));

/** The consumer: `batches` batches through batches(), the ring filled for each. */
async function consume(reader: EventReader, ring: SyntheticRing, batches: number): Promise<void> {
  let i = 0;
  traffic(ring, i);
  for await (const batch of reader.batches()) {
    ring.woken();
    // (the samples' sizes, and their bytes now and then: reading the bytes copies them out of the ring)
    if (i % 8 === 0) touch(batch);
    else for (let j = 0; j < batch.length; j++) batch.size(j);
    if (++i >= batches) break;
    const k = i % CYCLE;
    // a consumer slower than the traffic: the reader never waits, gives the event loop its turns and
    // lends the idled threads their CPU (reader-pace.ts)
    if (k >= SLOW_FROM && k < SLOW_FROM + SLOW_BATCHES) {
      await new Promise((r) => setTimeout(r, 1));
      ring.fill(WATERMARK, false);
      continue;
    }
    traffic(ring, i);
  }
}

/** What the ring gets after batch `i`: mostly a watermark's worth once the reader waits for it. */
function traffic(ring: SyntheticRing, i: number): void {
  const k = i % CYCLE;
  // a pause: the poll timer's drains find nothing and the wake-up mode goes per-sample; then a burst
  if (k === PAUSE) return void setTimeout(() => (ring.fill(BURST_BYTES, false), ring.wake()), PAUSE_MS);
  // a backlog (more than the half ring a drain takes): the reader drains again without waiting
  if (BACKLOG.includes(k)) return (ring.fill((PAGES * pageSize() * 5) / 8, false), ring.wake());
  // a sample and no wake-up: the poll timer ends the wait
  if (POLLED.has(k)) return ring.fill(80, false);
  setImmediate(() => (ring.fill(WATERMARK, i % LOST_EVERY === 0), ring.wake()));
}
