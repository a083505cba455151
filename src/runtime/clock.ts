/**
 * bpf_ktime_get_ns for one run of the runtime: CLOCK_MONOTONIC read once per run (at its first use:
 * the event's time and the output's time agree), or the capture's time on replay. Kept as int32 halves
 * (the compiled code's registers) so that a run allocates no BigInt for its time: `process.hrtime()`
 * relative to a base second, added to the base's halves. The base moves on every few seconds, so that
 * the offset from it stays below 2^32 ns and the sum is one add with a carry (no division).
 */
import { splitHi, splitU64 } from '../u64.js';

const TWO32 = 4294967296;
// (looked up once: `process` is a dictionary-mode object, every process.hrtime is a slow lookup)
const hrtime = process.hrtime;
/** Seconds from the base second after which it moves on: (3 s + 999,999,999 ns) < 2^32 ns. */
const REBASE_S = 3;

export class RunClock {
  /** The run's time, low and high halves (int32), after read(). */
  lo = 0;
  hi = 0;
  private ready = false;
  private s0 = 0;
  private bl = 0;
  private bh = 0;

  constructor() {
    this.rebase();
  }

  private rebase(): void {
    this.s0 = hrtime()[0];
    this.bl = splitU64(BigInt(this.s0) * 1_000_000_000n) >>> 0;
    this.bh = splitHi;
  }

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
    let h = hrtime();
    let ds = h[0] - this.s0;
    if (ds > REBASE_S || ds < 0) {
      this.rebase();
      h = hrtime();
      ds = h[0] - this.s0;
    }
    // bl and the offset are each below 2^32: their sum is below 2^33, its carry into the high half
    const l = this.bl + ds * 1e9 + h[1];
    if (l >= TWO32) {
      this.lo = (l - TWO32) | 0;
      this.hi = (this.bh + 1) | 0;
    } else {
      this.lo = l | 0;
      this.hi = this.bh;
    }
    this.ready = true;
  }
}
