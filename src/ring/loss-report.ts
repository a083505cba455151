/**
 * A reader's losses as Lost notices, from both sources — PERF_RECORD_LOST records in the perf rings and
 * the program's NAME_drops counters (bpfpipe.h) — settled by a LostLedger so that each lost sample is
 * reported once.
 */
import { LostLedger } from './lost-ledger.js';
import type { DropsSource } from './reader-parts.js';
import type { Lost, ReaderStats } from './types.js';
import type { BatchBuilder } from './batch-builder.js';
import { diag } from '../diagnostics.js';

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

/** Where the perf parsers put each PERF_RECORD_LOST of the ring of `slot` on `cpu`. */
export interface LostSink {
  add(slot: number, cpu: number, count: number): void;
}

/**
 * A reader's PERF_RECORD_LOSTs: each one's notice, if new, counted and queued in the batch. An object of
 * one class for every reader rather than a closure per reader: V8's feedback at the parsers' call
 * (primed by prime.ts) then holds for all of them.
 */
export class RingLosses implements LostSink {
  constructor(
    private readonly report: LossReport,
    private readonly stats: ReaderStats,
    private readonly builder: BatchBuilder,
    private readonly publish: (l: Lost) => void,
  ) {}

  add(slot: number, cpu: number, count: number): void {
    const l = this.report.fromRecord(slot, cpu, count);
    if (l === undefined) return;
    this.stats.lost += l.lost;
    this.builder.lost.push(l);
    if (diag.readerLost.active) this.publish(l);
  }
}
