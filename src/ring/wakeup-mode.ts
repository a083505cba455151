/**
 * Per-sample or watermark wake-ups for perf rings that have an eager twin (perf-ring.ts). Slow
 * traffic is best read as each sample comes: the kernel wakes the reader per sample (latency: one
 * wake-up, tens of µs) for fewer wake-ups than polling the rings every millisecond would cost. Fast
 * traffic is read in batches: the watermark wakes the reader once per quarter ring and the poll timer
 * drains what is below it. The mode follows the sample rate, measured over windows of the reader's
 * flushMs but at least MIN_WINDOW_MS, with hysteresis; a single drain of BURST samples or more
 * ends per-sample wake-ups at once (each one costs the producing CPU an interrupt, about 5 µs on the
 * bench's VM). Only drains of a waiting loop (batches(), for await) count; without one the watermark
 * fds stay in the slots.
 */

/** Per-sample wake-ups below this many samples per millisecond (1 k/s) ... */
export const EAGER_BELOW_PER_MS = 1;
/** ... and until the rate is above this (2 k/s). */
export const BATCH_ABOVE_PER_MS = 2;
/** A drain with this many samples ends per-sample wake-ups at once. */
export const BURST = 64;
/** The shortest window the rate is measured over (at 1 k/s, about 10 samples). */
export const MIN_WINDOW_MS = 10;

export class WakeupMode {
  private count = 0;
  private from: number;
  private readonly windowMs: number;

  /** `apply(eager)`: put the rings' eager (true) or watermark (false) fds into their slots. */
  constructor(
    flushMs: number,
    private readonly apply: (eager: boolean) => void,
    now: number,
    public eager: boolean,
  ) {
    this.windowMs = Math.max(flushMs, MIN_WINDOW_MS);
    this.from = now;
  }

  /** A drain at `now` (performance.now()) gave `samples`. */
  drained(samples: number, now: number): void {
    this.count += samples;
    if (this.eager && samples >= BURST) return this.set(false, now);
    const ms = now - this.from;
    if (ms < this.windowMs) return;
    const rate = this.count / ms;
    this.set(this.eager ? rate <= BATCH_ABOVE_PER_MS : rate < EAGER_BELOW_PER_MS, now);
  }

  /** No loop waits any more: back to watermark wake-ups (a new loop measures again). */
  stop(now: number): void {
    this.set(false, now);
  }

  private set(eager: boolean, now: number): void {
    this.count = 0;
    this.from = now;
    if (eager === this.eager) return;
    this.eager = eager;
    this.apply(eager);
  }
}
