/**
 * EventReader: reads a set of rings (perf slots or one ring buffer) without ever blocking the event
 * loop: the event loop watches the rings' epoll fd, and timers bound the latency (poll-timer.ts).
 */
import { kernel, onlineCpus, type PollRegistration } from '../sys/index.js';
import { ClosedError, UsageError } from '../errors.js';
import type { PerfRing } from './perf-ring.js';
import type { RingbufRing } from './ringbuf-ring.js';
import type { Lost, RingEvent, ReaderStats } from './types.js';
import { LossReport, RingLosses } from './loss-report.js';
import { primeRingPaths } from './prime.js';
import { OrderedMerge } from './ordered-merge.js';
import { EventBatch } from './batch.js';
import { BatchBuilder, columnsFor } from './batch-builder.js';
import { takeBatch } from './reader-batch.js';
import { fixedParts, type ReaderParts } from './reader-parts.js';
import { PollTimer, type DrainCause } from './poll-timer.js';
import { ReaderPace } from './reader-pace.js';
import { WakeupMode } from './wakeup-mode.js';
import { eventIterator } from './event-iterator.js';
import { diag, type ReaderDrainMessage } from '../diagnostics.js';
import { newReaderStats } from './reader-stats.js';

const CPU_CHECK_MS = 1000;
/** Drop counters (bpfpipe.h) are read every flushMs but at most every 10 ms: a cold read costs 20–90 µs. */
const DROPS_MIN_MS = 10;
/** While the rings are behind (a drain stopped at its limit), the counters wait up to this many times their cadence. */
const DROPS_DEFER = 10;

export class EventReader implements AsyncIterable<RingEvent> {
  readonly stats: ReaderStats = newReaderStats();
  readonly kind: 'perf' | 'ringbuf';
  private readonly parts: ReaderParts;
  private readonly perfRings: PerfRing[];
  private readonly epfd: number;
  /** A timerfd in the rings' epoll set: precise 1 ms polls for traffic too slow for the watermark. */
  private poll: PollTimer | undefined;
  /** Perf rings with eager twins: per-sample wake-ups while a loop waits for slow traffic (wakeup-mode.ts). */
  private readonly mode: WakeupMode | undefined;
  private registration: PollRegistration | undefined;
  private readonly losses: LossReport;
  /** PERF_RECORD_LOSTs as the parsers find them. */
  private readonly ringLosses: RingLosses;
  private readonly merge: OrderedMerge | undefined;
  private readonly builder: BatchBuilder;
  /** Batches drained but not yet handed out (after close, or from read() callers mixing APIs). */
  private pending: EventBatch[] = [];
  private wakeup: (() => void) | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private waitStarted = 0;
  /** A wake-up or the timer said there is something to read (true at start). */
  private due = true;
  /** What made the next drain due: the start, a kernel wake-up or a timer. */
  private cause: DrainCause = 'start';
  private lastDropsPoll = -Infinity;
  /** performance.now() of the last drain (the drop-counter cadence and the poll timer share it). */
  private drainedAt = 0;
  private readonly dropsEveryMs: number;
  private lastCpuCheck = Date.now();
  private iterating = false;
  private readonly copyBatches: boolean; // streaming batches own copies of their bytes instead of leasing ring memory
  private closed = false;
  private released = false;
  private readonly onAbort = () => void this.close();
  /** Event loop turns and idled threads for a reader that cannot keep up (reader-pace.ts). */
  private readonly pace = new ReaderPace(this);

  constructor(given: ReaderParts) {
    const parts = (this.parts = fixedParts(given));
    this.kind = parts.kind;
    this.dropsEveryMs = Math.max(parts.flushMs, DROPS_MIN_MS);
    this.perfRings = [...parts.perfRings];
    this.merge = parts.ordered ? new OrderedMerge(parts.ordered.windowMs) : undefined;
    const columns = parts.columns ?? columnsFor(Math.max(parts.ringbuf?.size ?? 0, ...parts.perfRings.map((r) => r.size)));
    this.builder = new BatchBuilder(parts.decoder, parts.kind === 'perf', columns);
    this.copyBatches = parts.copyBatches ?? false;
    this.losses = new LossReport(parts.drops, parts.kind === 'perf' ? (slot) => this.perfRings.find((r) => r.slot === slot)?.cpu ?? 0 : undefined);
    this.ringLosses = new RingLosses(this.losses, this.stats, this.builder, (l) => this.publishLost(l, 'ring'));
    // (the slots start with the watermark fds: per-sample wake-ups only while a loop waits)
    const setEager = parts.setEager;
    this.mode = setEager ? new WakeupMode(parts.flushMs, (eager) => setEager(eager, this.perfRings), performance.now(), false) : undefined;
    primeRingPaths();
    const k = kernel();
    this.epfd = k.epollCreate();
    try {
      const poll = (this.poll = new PollTimer(parts.flushMs, parts.kind, parts.watermarkBytes));
      k.epollAdd(this.epfd, poll.fd, 0);
      for (const r of this.perfRings) k.epollAdd(this.epfd, r.fd, r.slot);
      // A ring buffer fd polls readable whenever data waits: level-triggered, a busy ring would wake the
      // poller at every re-arm (two context switches per small batch). Edge-triggered, it wakes us at
      // the kernel's wake-ups; producers that ask for none are drained by the timer (1 ms while busy).
      if (parts.ringbuf) k.epollAdd(this.epfd, parts.ringbuf.fd, 0, true);
      this.registration = k.watch(this.epfd, () => {
        const timer = poll.fired();
        if (timer) this.checkCpus();
        else this.stats.wakeups++;
        this.due = true;
        this.cause = timer ? 'timer' : 'kernel';
        this.resolveWait();
      });
      // (the rings are enabled and in their slots already: outputs that failed before are not ours)
      this.losses.baseline();
    } catch (err) {
      this.releaseAll();
      throw err;
    }
    if (diag.readerOpen.active && !parts.quiet) diag.readerOpen.publish({ reader: this, kind: this.kind, where: 'kernel', slots: this.slots });
    if (parts.signal) {
      if (parts.signal.aborted) this.closeSync();
      else parts.signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** CPUs (perf) whose rings are open. */
  get cpus(): number[] {
    return this.perfRings.map((r) => r.cpu);
  }

  /** Perf event array slots this reader fills. */
  get slots(): number[] {
    return this.perfRings.map((r) => r.slot);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- draining ----

  /** Everything available now, without waiting (maybe empty), in a batch that owns copies of its bytes. */
  read(): EventBatch {
    this.builder.releaseLease();
    return this.pending.shift() ?? this.drain(false, false, 'read') ?? new BatchBuilder(this.parts.decoder, this.kind === 'perf').take();
  }

  /**
   * Drain every ring into one batch. Leased: samples stay in the rings until the batch is released
   * (the previous lease is released first); otherwise they are copied out.
   */
  private drain(final: boolean, lease: boolean, cause: ReaderDrainMessage['cause']): EventBatch | undefined {
    if (this.released) return undefined;
    this.builder.releaseLease();
    lease = lease && !this.merge;
    const b = this.builder;
    const read: (PerfRing | RingbufRing)[] = [];
    // A leased batch holds its rings' space until released: at most half a ring at a time (a default
    // watermark's wake-up is one batch), and no more than the ring has free (leaseLimit), so a backlog's
    // space comes back a part at a time; a ring that had more (`behind`) is drained again at once
    // (due). (Without a branch of its own: code V8 has never run in an optimised drain sends the reader
    // back to the interpreter, here at the first backlog.)
    const took = (ring: PerfRing | RingbufRing, n: number) => {
      if (n > 0) read.push(ring);
      this.due = this.due || ring.behind;
    };
    for (const ring of this.perfRings) took(ring, ring.readInto(b, this.ringLosses, lease));
    const rb = this.parts.ringbuf;
    if (rb) took(rb, rb.readInto(b, lease));
    const now = (this.drainedAt = performance.now());
    // (not while a ring is behind, for up to DROPS_DEFER of the cadence: a cold read of the counters
    // would hold the ring's first bite, and so its space, that much longer)
    const since = now - this.lastDropsPoll;
    if (this.parts.drops && (final || (since >= this.dropsEveryMs && (!this.due || since >= DROPS_DEFER * this.dropsEveryMs)))) {
      this.lastDropsPoll = now;
      const from = b.lost.length;
      this.stats.lost += this.losses.poll(b.lost);
      if (diag.readerLost.active) for (let j = from; j < b.lost.length; j++) this.publishLost(b.lost[j]!, 'counter');
    }
    const batch = takeBatch(b, read, lease, this.merge, final, this.parts.decoder, this.kind === 'perf');
    if (!batch) return undefined;
    this.stats.received += batch.length;
    this.stats.bytes += batch.bytes;
    this.stats.batches++;
    if (diag.readerDrain.active && !this.parts.quiet) {
      diag.readerDrain.publish({ reader: this, kind: this.kind, where: 'kernel', events: batch.length, bytes: batch.bytes, lost: batch.lostCount, cause });
    }
    return batch;
  }

  private publishLost(l: Lost, source: 'ring' | 'counter'): void {
    if (!this.parts.quiet) diag.readerLost.publish({ reader: this, kind: this.kind, where: 'kernel', cpu: l.cpu, slot: l.slot, lost: l.lost, source });
  }

  private checkCpus(): void {
    const open = this.parts.openCpu;
    if (!open || this.released || Date.now() - this.lastCpuCheck < CPU_CHECK_MS) return;
    this.lastCpuCheck = Date.now();
    const have = new Set(this.perfRings.map((r) => r.cpu));
    for (const cpu of onlineCpus()) {
      if (have.has(cpu)) continue;
      const ring = open(cpu);
      if (!ring) continue;
      kernel().epollAdd(this.epfd, ring.fd, ring.slot);
      this.perfRings.push(ring);
    }
  }

  // ---- waiting ----

  /**
   * Wait for a kernel wake-up or a timer. While the kernel wakes us by watermark, one persistent
   * watchdog (every flushMs) bounds the latency, so a wait costs no timer set-up. Traffic too slow for
   * the watermark is polled by the PollTimer's timerfd in the rings' epoll set (poll-timer.ts).
   */
  private waitForData(): Promise<void> {
    this.pace.waiting();
    return new Promise((resolve) => {
      this.wakeup = resolve;
      this.waitStarted = Date.now();
      this.registration?.arm();
      // The watchdog bounds the latency and keeps the process alive while we wait.
      this.watchdog ??= setInterval(this.onWatchdog, this.parts.flushMs);
      this.poll?.arm(this.mode?.eager);
    });
  }

  private readonly onWatchdog = (): void => {
    this.pace.tick();
    if (!this.wakeup || Date.now() - this.waitStarted < this.parts.flushMs / 2) return;
    this.timerFired();
  };

  private timerFired(): void {
    this.due = true;
    this.cause = 'timer';
    this.checkCpus();
    this.resolveWait();
  }

  private resolveWait(): void {
    const w = this.wakeup;
    if (!w) return;
    this.wakeup = undefined;
    this.pace.woke();
    w();
  }

  private stopTimers(): void {
    if (this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
    this.poll?.stop();
  }

  /**
   * A perf ring holds a watermark's worth: its wake-up may be gone (perf_poll hands one out once, and
   * libuv polls our epoll fd twice when it starts watching it: a wake-up from before is lost). With
   * per-sample wake-ups, any sample: one written through the watermark fd just before the switch
   * woke nobody.
   */
  private pastWatermark(): boolean {
    const w = this.mode?.eager ? 1 : this.parts.watermarkBytes;
    if (w === undefined) return false;
    for (const r of this.perfRings) if (r.pending() >= w) return true;
    return false;
  }

  /**
   * The next non-empty batch; undefined once closed and empty. Rings are drained when the kernel
   * wakes us (watermark) or the flush timer fires, not each time a batch is asked for: asking again
   * right away waits for the next wake-up, so batches stay large and the cost per event small.
   */
  async nextBatch(): Promise<EventBatch | undefined> {
    for (;;) {
      const queued = this.pending.shift();
      if (queued) return queued;
      if (this.released) return undefined;
      if (!this.due) {
        this.builder.releaseLease();
        if (!this.pastWatermark()) {
          await this.waitForData();
          continue;
        }
        this.cause = 'kernel';
      }
      const turn = this.pace.draining();
      if (turn) {
        // the last batch's ring space goes back before the event loop runs anything else
        this.builder.releaseLease();
        await turn;
      }
      this.due = false;
      const cause = this.cause;
      const batch = this.drain(false, !this.copyBatches, cause);
      // (the rate decides between per-sample and watermark wake-ups; then the poll timer decides from
      // the batch whether the traffic is too slow for the watermark)
      this.mode?.drained(batch?.length ?? 0, this.drainedAt);
      if (batch) {
        this.poll?.drained(batch, cause, this.drainedAt);
        return batch;
      }
    }
  }

  /** Batches as they are drained: the fast path (no per-event promise or object). */
  async *batches(): AsyncGenerator<EventBatch> {
    this.beginIteration();
    try {
      for (;;) {
        const batch = await this.nextBatch();
        if (!batch) return;
        yield batch;
      }
    } finally {
      this.endIteration();
    }
  }

  /** Event by event (one promise per event): the convenient path; batches() is the fast one. */
  [Symbol.asyncIterator](): AsyncIterator<RingEvent> {
    this.beginIteration();
    return eventIterator(() => this.nextBatch(), () => this.endIteration());
  }

  private beginIteration(): void {
    if (this.iterating) throw new UsageError('this reader is already being iterated; use one loop per reader');
    if (this.released && this.pending.length === 0) throw new ClosedError('event reader');
    this.iterating = true;
    this.pace.woke();
  }

  private endIteration(): void {
    // nobody waits for wake-ups now: per-sample ones would only cost the producers
    if (!this.released) this.mode?.stop(performance.now());
    this.pace.stop();
    this.builder.releaseLease();
    this.stopTimers();
    this.iterating = false;
  }

  // ---- closing ----

  /**
   * Stop reading: drain what the rings still hold (loops that are still iterating get it), take a
   * final count of the drop counters, and release rings, slots, claims and fds. Idempotent.
   */
  async close(): Promise<void> {
    this.closeSync();
    await kernel().quiesce();
  }

  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    this.parts.signal?.removeEventListener('abort', this.onAbort);
    try {
      this.builder.releaseLease();
      const last = this.drain(true, false, 'close');
      if (last) this.pending.push(last);
    } finally {
      this.releaseAll();
      this.due = true;
      this.resolveWait();
      this.stopTimers();
      if (diag.readerClose.active && !this.parts.quiet) diag.readerClose.publish({ reader: this, kind: this.kind, where: 'kernel', stats: { ...this.stats } });
    }
  }

  private releaseAll(): void {
    if (this.released) return;
    this.released = true;
    this.pace.stop();
    this.builder.releaseLease();
    this.registration?.close();
    this.registration = undefined;
    for (const r of this.perfRings) {
      try {
        r.disable();
      } catch {
        /* the fd may be gone already */
      }
    }
    try {
      this.parts.release();
    } finally {
      for (const r of this.perfRings) r.close();
      this.parts.ringbuf?.close();
      this.parts.drops?.close();
      this.poll?.close();
      kernel().close(this.epfd);
    }
  }

  [Symbol.dispose](): void {
    this.closeSync();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
