/**
 * A reader that finds data waiting every time it looks (it cannot keep up, or its consumer is slow)
 * never waits, and its loop then runs on promise continuations alone: the event loop gets no turn, so
 * timers, I/O and a close() from a timer wait until the backlog is gone; and under idleOtherThreads()
 * the threads it idled get no CPU either, V8's optimizing compiler among them (sys/threads.ts). The
 * pace gives the event loop a turn every YIELD_MS of such draining and, after SATURATED_MS, lends the
 * CPU back to the idled threads until the reader waits again.
 */
import { lendIdledThreads } from '../sys/index.js';

/** Continuous draining after which the event loop gets a turn (one costs a few µs). */
const YIELD_MS = 5;
/** Continuous draining after which the reader counts as unable to keep up (at full rate it waits every 1-4 ms). */
const SATURATED_MS = 10;

const turn = (resolve: () => void): void => void setImmediate(resolve);

export class ReaderPace {
  /** performance.now() when the event loop last ran the reader, and when it last waited for data. */
  private loopAt = 0;
  private waitedAt = 0;
  private saturated = false;

  constructor(private readonly reader: object) {}

  /** The reader starts, or woke from a wait for data. */
  woke(): void {
    this.loopAt = this.waitedAt = performance.now();
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
    if (!this.saturated && now - this.waitedAt >= SATURATED_MS) {
      this.saturated = true;
      lendIdledThreads(this.reader, true);
    }
    if (now - this.loopAt < YIELD_MS) return undefined;
    this.loopAt = now;
    return new Promise(turn);
  }
}
