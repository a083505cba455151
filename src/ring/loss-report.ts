/**
 * A reader's losses as Lost notices, from both sources — PERF_RECORD_LOST records in the perf rings and
 * the program's NAME_drops counters (bpfpipe.h) — settled by a LostLedger so that each lost sample is
 * reported once.
 */
import { LostLedger } from './lost-ledger.js';
import type { DropsSource } from './reader-parts.js';
import type { Lost } from './types.js';

export class LossReport {
  private readonly ledger = new LostLedger();

  /**
   * `drops`: the counters; `cpuOf`: the CPU of a perf slot (its notices say which CPU lost), undefined
   * for ring buffers.
   */
  constructor(
    private readonly drops: DropsSource | undefined,
    private readonly cpuOf: ((slot: number) => number) | undefined,
  ) {}

  /**
   * Read the counters as they are when reading starts (call it right before the rings are enabled):
   * drops before that belong to nobody, e.g. outputs while the slots were being set up.
   */
  baseline(): void {
    if (this.drops) for (const [key, v] of this.drops.read()) this.ledger.setBaseline(key, v);
  }

  /** A PERF_RECORD_LOST of `count` samples in the ring of `slot` on `cpu`: the notice, if any is new. */
  fromRecord(slot: number, cpu: number, count: number): Lost | undefined {
    const more = this.ledger.recordLost(slot, count);
    return more > 0 ? { cpu, slot, lost: more } : undefined;
  }

  /** Read the drop counters: notices of what is newly lost go to `out`; returns how many samples. */
  poll(out: Lost[]): number {
    if (!this.drops) return 0;
    let n = 0;
    for (const [key, value] of this.drops.read()) {
      const more = this.ledger.counter(key, value);
      if (more <= 0) continue;
      n += more;
      out.push(this.cpuOf ? { cpu: this.cpuOf(key), slot: key, lost: more } : { cpu: 0, lost: more });
    }
    return n;
  }
}
