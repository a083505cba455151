/**
 * bpf_ktime_get_ns for one run of the runtime: CLOCK_MONOTONIC read once per run (at its first use:
 * the event's time and the output's time agree), or the capture's time on replay. Kept as int32 halves
 * (the compiled code's registers) so that a run allocates no BigInt for its time: process.hrtime.bigint()
 * split into its halves by splitU64 (through a typed array, no BigInt arithmetic). That read is also
 * small enough (in bytecode) for V8 to inline it, with the clock, into a compiled program: 39–43 ns
 * against 51–54 for the earlier process.hrtime() [s, ns] arithmetic here.
 */
import { splitHi, splitU64 } from '../u64.js';

// (looked up once: `process` is a dictionary-mode object, every process.hrtime is a slow lookup)
const now = process.hrtime.bigint;

export class RunClock {
  /** The run's time, low and high halves (int32), after read(). */
  lo = 0;
  hi = 0;
  private ready = false;

  /** A new run: its time is `ts` (a capture's), else the clock at first use. */
  begin(ts: bigint | undefined): void {
    if (ts === undefined) {
      this.ready = false;
      return;
    }
    this.lo = splitU64(ts);
    this.hi = splitHi;
    this.ready = true;
  }

  /** Make lo/hi the run's time (the clock is read at the first call of a run only). */
  read(): void {
    if (this.ready) return;
    this.lo = splitU64(now());
    this.hi = splitHi;
    this.ready = true;
  }
}
