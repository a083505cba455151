/**
 * How often a reader polls its rings: a timerfd in the rings' epoll set (hrtimer precision, unlike
 * libuv's millisecond timers). Traffic the kernel wakes the reader for (the perf watermark, ring
 * buffer wake-ups) needs no poll: the reader's libuv watchdog bounds its latency at flushMs. Traffic
 * too slow to fill the perf watermark within flushMs, or ring buffer producers that send no wake-ups,
 * are polled every tenth of flushMs (at least every MIN_INTERVAL_MS: every millisecond at the default
 * 10 ms), backing off to flushMs after IDLE_POLLS such polls without data; intervals below
 * PRECISE_BELOW_MS are kept by the timerfd even when they are flushMs itself. Each poll is a wake-up
 * (tens to hundreds of µs of CPU on a VM): a larger flushMs buys less CPU for slow traffic as well.
 */
import { kernel } from '../sys/index.js';
import type { EventBatch } from './batch.js';

const MIN_INTERVAL_MS = 1;
/** Slow traffic is polled this many times per flushMs. */
const POLLS_PER_FLUSH = 10;
/** How many fast polls' time slow traffic may pause before the poll backs off to flushMs. */
const IDLE_POLLS = 50;
/** Intervals below this are kept by the timerfd even when they are flushMs. */
const PRECISE_BELOW_MS = 5;

/** What made a drain due: the start, a kernel wake-up or a timer. */
export type DrainCause = 'start' | 'kernel' | 'timer';

export class PollTimer {
  /** The timerfd (in the rings' epoll set). */
  readonly fd: number;
  private us = 0;
  /** Wake-up mode (flushMs) until a timer finds data the kernel did not wake the reader for. */
  private interval: number;
  /** The interval slow traffic is polled at. */
  private readonly fast: number;
  /** performance.now() of the last drain that gave data. */
  private lastDrain = 0;
  private closed = false;

  /** `watermarkBytes` (perf): traffic that would not fill it within flushMs is polled. */
  constructor(
    private readonly flushMs: number,
    private readonly kind: 'perf' | 'ringbuf',
    private readonly watermarkBytes: number | undefined,
  ) {
    this.fd = kernel().timerCreate();
    this.interval = flushMs;
    this.fast = Math.max(MIN_INTERVAL_MS, flushMs / POLLS_PER_FLUSH);
  }

  /**
   * A drain gave `batch`: traffic too slow for the kernel to wake the reader in time is polled every
   * `fast` ms. Perf: the rate since the last drain says how long the watermark takes to fill; only if that
   * is longer than flushMs is the traffic slow (a poll's own small batches do not count as slow: at
   * millions of events/s, fast polls would cost several times the drains that wake-ups do). `now`:
   * performance.now() of that drain.
   */
  drained(batch: EventBatch, cause: DrainCause, now: number): void {
    const ms = Math.max(now - this.lastDrain, MIN_INTERVAL_MS);
    this.lastDrain = now;
    // ring buffers wake the reader adaptively: only producers that ask for no wake-ups need polling
    const w = this.watermarkBytes;
    const slow = this.kind === 'perf' ? w !== undefined && batch.bytes * (this.flushMs / ms) < w : cause === 'timer';
    this.interval = slow ? this.fast : this.flushMs;
  }

  /**
   * Whether the timerfd fired since the last call (the rings' epoll fd became readable). Disarmed, it
   * has no ticks (timerfd_settime clears them): no read syscall. A tick after IDLE_POLLS fast polls'
   * time without data backs the poll off.
   */
  fired(): boolean {
    if (this.us === 0 || kernel().timerRead(this.fd) === 0) return false;
    if (performance.now() - this.lastDrain > IDLE_POLLS * this.fast) this.interval = Math.min(this.interval * 2, this.flushMs);
    return true;
  }

  /**
   * The reader waits: poll at the current interval, if the timerfd keeps it. `eager`: the kernel wakes
   * the reader at every sample (wakeup-mode.ts), so slow traffic needs no polls either.
   */
  arm(eager = false): void {
    const ms = eager ? this.flushMs : this.interval;
    this.set(ms < this.flushMs || ms < PRECISE_BELOW_MS ? ms : 0);
  }

  /** Nobody waits: no polls. */
  stop(): void {
    this.set(0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    kernel().close(this.fd);
  }

  private set(ms: number): void {
    const us = Math.round(ms * 1000);
    if (us === this.us || this.closed) return;
    this.us = us;
    kernel().timerSet(this.fd, us);
  }
}
