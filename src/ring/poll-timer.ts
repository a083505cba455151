/**
 * How often a reader polls its rings: a timerfd in the rings' epoll set (hrtimer precision, unlike
 * libuv's millisecond timers). Traffic the kernel wakes the reader for (the perf watermark, ring
 * buffer wake-ups) needs no poll: the reader's libuv watchdog bounds its latency at flushMs. Traffic
 * too slow for the watermark, or ring buffer producers that send no wake-ups, are polled every
 * millisecond, backing off to flushMs after IDLE_MS without data; intervals below PRECISE_BELOW_MS are
 * kept by the timerfd even when they are flushMs itself.
 */
import { kernel } from '../sys/index.js';
import type { EventBatch } from './batch.js';

const MIN_INTERVAL_MS = 1;
/** How long slow traffic may pause before the poll backs off from 1 ms to flushMs. */
const IDLE_MS = 50;
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
  private lastData = 0;
  private closed = false;

  /** `slowBytes` (perf): a drain below it is traffic too slow for the watermark. */
  constructor(
    private readonly flushMs: number,
    private readonly kind: 'perf' | 'ringbuf',
    private readonly slowBytes: number | undefined,
  ) {
    this.fd = kernel().timerCreate();
    this.interval = flushMs;
  }

  /** A drain gave `batch`: traffic too slow for the kernel to wake the reader in time is polled every 1 ms. */
  drained(batch: EventBatch, cause: DrainCause): void {
    // ring buffers wake the reader adaptively: only producers that ask for no wake-ups need polling
    const slow = this.kind === 'perf' ? this.slowBytes !== undefined && batch.bytes < this.slowBytes : cause === 'timer';
    this.interval = slow ? MIN_INTERVAL_MS : this.flushMs;
    this.lastData = Date.now();
  }

  /** A tick of the timerfd: after IDLE_MS without data the poll backs off. */
  tick(): void {
    if (Date.now() - this.lastData > IDLE_MS) this.interval = Math.min(this.interval * 2, this.flushMs);
  }

  /** The reader waits: poll at the current interval, if the timerfd keeps it. */
  arm(): void {
    this.set(this.interval < this.flushMs || this.interval < PRECISE_BELOW_MS ? this.interval : 0);
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
