/**
 * Merging per-CPU streams by timestamp within a bounded window (pure). Samples are held until they
 * are older than the window (by their own CLOCK_MONOTONIC timestamps) and released in ts order;
 * loss notices and samples without a timestamp pass through at once.
 */
import type { RingEvent, Sample } from './types.js';

export class OrderedMerge {
  private heap: Sample[] = [];
  private readonly windowNs: bigint;
  /** Timestamp of the last released sample: later arrivals older than this are released as they come. */
  private watermark = 0n;

  constructor(windowMs: number, private readonly now: () => bigint = () => process.hrtime.bigint()) {
    this.windowNs = BigInt(Math.round(windowMs * 1e6));
  }

  get size(): number {
    return this.heap.length;
  }

  push(events: RingEvent[]): void {
    for (const e of events) {
      if (e.lost !== undefined || e.ts === undefined) this.passThrough.push(e);
      else this.insert(e);
    }
  }

  private passThrough: RingEvent[] = [];

  /** Move what is ready (everything when `all`) to `out`, in timestamp order. */
  pop(out: RingEvent[], all: boolean): void {
    for (const e of this.passThrough) out.push(e);
    this.passThrough = [];
    const limit = all ? undefined : this.now() - this.windowNs;
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (limit !== undefined && top.ts! > limit) break;
      out.push(this.removeTop());
      if (top.ts! > this.watermark) this.watermark = top.ts!;
    }
  }

  private insert(s: Sample): void {
    const h = this.heap;
    h.push(s);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.ts! <= s.ts!) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = s;
  }

  private removeTop(): Sample {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mv = last.ts!;
        if (l < h.length && h[l]!.ts! < mv) {
          m = l;
          mv = h[l]!.ts!;
        }
        if (r < h.length && h[r]!.ts! < mv) m = r;
        if (m === i) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}
