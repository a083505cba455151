/**
 * V8 compiles a reader's per-batch code (EventReader's drain, nextBatch, batches and what they inline)
 * after it has run about a thousand batches: at full rate, in the first seconds of traffic, where an
 * optimizing compile of 60–110 ms on a helper thread then competes with the reader for its CPU (under
 * idleOtherThreads(), a SCHED_IDLE helper can keep the CPU for a whole scheduler tick: bench/JOURNAL.md,
 * 4 December). primeReaders() runs that code first, once per process, before openEvents() opens any
 * ring, so the compiles are done while no ring exists yet.
 *
 * It runs readers of the same classes over synthetic rings (synthetic-rings.ts): first one of each kind
 * without the optional parts (opened, read a little, closed), then one with them of the kind being
 * opened, through each path a reader takes: wake-ups, waits ended by the poll timer, backlogs that stop
 * a drain at its limit, lost or discarded records and drop counters, a pause (perf: its switch to
 * per-sample wake-ups, and the burst that ends it), a consumer slower than the traffic. A path a reader
 * meets later for the first time would send it back to V8's interpreter (prime.ts). It needs no
 * privileges: epoll fds and timerfds. A process that opens readers of both kinds primes the second
 * kind when it first opens it (its first readers' code is compiled again then, for both kinds).
 */
import type { EventReader } from './reader.js';
import { touch } from './prime.js';
import { BURST, MIN_WINDOW_MS } from './wakeup-mode.js';
import { YIELD_MS } from './reader-pace.js';
import { SyntheticPerfRing, SyntheticRingbuf, SYNTHETIC_WATERMARK, SYNTHETIC_RECORD_MAX, type SyntheticRing } from './synthetic-rings.js';

type Kind = 'perf' | 'ringbuf';

/**
 * Batches the primed reader reads: V8 had compiled drain, nextBatch and batches after 1,000 to 2,000
 * of a perf reader's, and after up to 3,000 of a ring buffer reader's (it waits for each batch).
 */
const PRIME_BATCHES: Record<Kind, number> = { perf: 3000, ringbuf: 4500 };
/** Batches of the first readers: enough for V8 to give batches() its feedback (after some bytecode). */
const BARE_BATCHES = 64;
/**
 * Ring pages (a backlog's drains, up to half the ring, hold more samples than a batch's first columns:
 * they grow, as a real reader's of records smaller than 64 bytes do in its first backlog: synthetic-rings.ts).
 */
const PAGES = 64;
/** Batch numbers (modulo CYCLE) of the paths that are not a plain wake-up at the watermark. */
const CYCLE = 1000;
const BACKLOG = [0, 500];
const POLLED = new Set([1, 101, 201, 301, 401, 501, 601, 701, 801, 901]);
const PAUSE = 100;
const SLOW_FROM = 300;
const SLOW_BATCHES = 12;
/**
 * Slow batches that take longer than the pace's YIELD_MS. A ring buffer reader's slow batches alternate
 * between drains that stop at their limit and drains that do not (the ring is never quite full after a
 * half-ring lease), and it waits for data after the latter: 1 ms batches never reached the pace's turn,
 * and a real reader's first turn threw `batches` back to V8's interpreter (test/kernel/reader-compiled,
 * about 1 run in 25). Two, so that one follows a drain that stopped at its limit.
 */
const SLOW_LONG = 2;
const LOST_EVERY = 64;
/**
 * A pause long enough for the wake-up mode to switch to per-sample wake-ups (a whole window of its own
 * without samples: two windows, and a margin for the timers), and a burst that ends them.
 */
const PAUSE_MS = 3 * MIN_WINDOW_MS;
const BURST_BYTES = 2 * BURST * SYNTHETIC_RECORD_MAX;

const RINGS: Record<Kind, new (pages: number) => SyntheticRing> = { perf: SyntheticPerfRing, ringbuf: SyntheticRingbuf };
let bare: Promise<void> | undefined;
const done = new Map<Kind, Promise<void>>();

/** Run the per-batch code of readers of `kind` (see the header); resolves when done (never rejects). */
export function primeReaders(kind: Kind): Promise<void> {
  let p = done.get(kind);
  if (!p) done.set(kind, (p = run(kind).catch(() => undefined)));
  return p;
}

async function run(kind: Kind): Promise<void> {
  // The first readers have none of the optional parts, and are closed: V8 then knows the fields that
  // change when a reader closes, and the parts that are undefined in some readers, before it compiles
  // anything (a field seen with one value only is compiled in as that value, and code that assumed it is
  // thrown away when it changes). They read some batches first: the end of a loop has feedback too.
  await (bare ??= (async () => {
    for (const k of ['perf', 'ringbuf'] as const) await primeOne(k, false, BARE_BATCHES);
  })());
  await primeOne(kind, true, PRIME_BATCHES[kind]);
}

async function primeOne(kind: Kind, full: boolean, batches: number): Promise<void> {
  const ring = new RINGS[kind](PAGES);
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

/** The consumer: `batches` batches through batches(), the ring filled for each. */
async function consume(reader: EventReader, ring: SyntheticRing, batches: number): Promise<void> {
  const traffic = new Traffic(ring);
  let i = 0;
  traffic.after(i);
  for await (const batch of reader.batches()) {
    ring.woken();
    // (the samples' sizes, and their bytes now and then: reading the bytes copies them out of the ring)
    if (i % 8 === 0) touch(batch);
    else for (let j = 0; j < batch.length; j++) batch.size(j);
    if (++i >= batches) break;
    const k = i % CYCLE;
    // a consumer slower than the traffic, the ring kept full: the reader is behind, gives the event loop
    // its turns and lends the idled threads their CPU (reader-pace.ts); the first SLOW_LONG batches are
    // long enough for a turn even where the reader waits every other batch (SLOW_LONG)
    if (k >= SLOW_FROM && k < SLOW_FROM + SLOW_BATCHES) {
      await new Promise((r) => setTimeout(r, k < SLOW_FROM + SLOW_LONG ? YIELD_MS + 1 : 1));
      ring.fill(ring.size, false);
      continue;
    }
    traffic.after(i);
  }
}

/** What the ring gets after each batch: mostly a watermark's worth (and a wake-up) once the reader waits. */
class Traffic {
  /** In a pause: batches of what the ring still held bring no more. */
  private paused = false;

  constructor(private readonly ring: SyntheticRing) {}

  after(i: number): void {
    if (this.paused) return;
    const ring = this.ring;
    const k = i % CYCLE;
    // a pause: the poll timer's drains find nothing (perf: the wake-up mode goes per-sample); then a burst
    if (k === PAUSE) {
      this.paused = true;
      setTimeout(() => {
        this.paused = false;
        ring.fill(BURST_BYTES, false);
        ring.wake();
      }, PAUSE_MS);
      return;
    }
    // a backlog (more than the half ring a drain takes): the reader drains again without waiting
    if (BACKLOG.includes(k)) return (ring.fill((ring.size * 5) / 8, false), ring.wake());
    // a sample and no wake-up: the poll timer ends the wait
    if (POLLED.has(k)) return ring.fill(SYNTHETIC_RECORD_MAX, false);
    setImmediate(() => (ring.fill(SYNTHETIC_WATERMARK, i % LOST_EVERY === 0), ring.wake()));
  }
}
