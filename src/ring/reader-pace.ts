/**
 * A reader that finds data waiting every time it looks (it cannot keep up, or its consumer is slow)
 * never waits, and its loop then runs on promise continuations alone: the event loop gets no turn, so
 * timers, I/O and a close() from a timer wait until the backlog is gone; and under idleOtherThreads()
 * the threads it idled get no CPU either, V8's optimizing compiler among them (sys/threads.ts). The
 * pace gives the event loop a turn every YIELD_MS of such draining and, once SATURATED_DRAINS drains and
 * SATURATED_MS have passed without a wait, lends the CPU back to the idled threads until the reader waits
 * again. (Not after a stall alone: the few drains that catch up with a full ring need the CPU to
 * themselves, and lent helpers took it: on bench/'s ring buffer row, lent after any 10 ms without a wait,
 * 7 of 18 runs lost against 1 of 18.) It lends them too while the event loop is busy all the time though
 * the reader waits (BUSY_SHARE).
 */
import { lendIdledThreads } from '../sys/index.js';

/** Continuous draining after which the event loop gets a turn (one costs a few µs). */
export const YIELD_MS = 5;
/** Drains without a wait, and their time, after which the reader counts as unable to keep up. */
const SATURATED_DRAINS = 8;
const SATURATED_MS = 10;

const turn = (resolve: () => void): void => void setImmediate(resolve);
/**
 * An event loop busy this share of BUSY_WINDOW_MS while the reader waits: the JS thread is busy with
 * other work, or spins waiting for an idled helper (V8's sweeper posting itself task after task until a
 * concurrent sweep ends), and the idled threads are lent their policy too.
 */
const BUSY_SHARE = 0.95;
const BUSY_WINDOW_MS = 10;

export class ReaderPace {
  /** performance.now() when the event loop last ran the reader, and when it last waited for data. */
  private loopAt = 0;
  private waitedAt = 0;
  /** Drains since the last wait. */
  private drains = 0;
  private saturated = false;
  /** The event loop's utilization at the start of the window, and whether the loop is busy. */
  private elu = performance.eventLoopUtilization();
  private busy = false;
  /** The key the busy loop's lending goes by (the reader's is the saturated one). */
  private readonly busyKey = {};

  constructor(private readonly reader: object) {}

  /** The reader's watchdog fired (every flushMs while it iterates): is the event loop busy all the time? */
  tick(): void {
    const now = performance.eventLoopUtilization();
    const d = performance.eventLoopUtilization(now, this.elu);
    if (d.idle + d.active < BUSY_WINDOW_MS) return;
    this.elu = now;
    const busy = d.utilization >= BUSY_SHARE;
    if (busy !== this.busy) lendIdledThreads(this.busyKey, (this.busy = busy));
  }

  /** The reader stops iterating, or closes. */
  stop(): void {
    this.waiting();
    if (this.busy) lendIdledThreads(this.busyKey, (this.busy = false));
  }

  /** The reader starts, or woke from a wait for data. */
  woke(): void {
    this.loopAt = this.waitedAt = performance.now();
    this.drains = 0;
  }

  /** The reader is about to wait for data: it keeps up. */
  waiting(): void {
    if (!this.saturated) return;
    this.saturated = false;
    lendIdledThreads(this.reader, false);
  }

  /** Before a drain without a wait: a promise to await first when the event loop is due a turn. */
  draining(): Promise<void> | undefined {
    const now = performance.now();
    if (!this.saturated && ++this.drains >= SATURATED_DRAINS && now - this.waitedAt >= SATURATED_MS) {
      this.saturated = true;
      lendIdledThreads(this.reader, true);
    }
    if (now - this.loopAt < YIELD_MS) return undefined;
    this.loopAt = now;
    return new Promise(turn);
  }
}
