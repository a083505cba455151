/**
 * Exact loss accounting per slot. Two sources report the same drops: PERF_RECORD_LOST records (the
 * kernel writes them lazily, at the next successful write) and the program's NAME_drops counter
 * (bpfpipe.h counts every failed output at once, for ring buffers too). Reported loss per slot is
 * the larger of the two, so nothing is counted twice and nothing waits for a later write. Pure.
 */
export class LostLedger {
  private readonly fromRecords = new Map<number, number>();
  private readonly fromCounter = new Map<number, number>();
  private readonly baseline = new Map<number, bigint>();
  private readonly reported = new Map<number, number>();

  /** Counter value when the reader attached (drops before that belong to nobody). */
  setBaseline(key: number, value: bigint): void {
    this.baseline.set(key, value);
  }

  /** A PERF_RECORD_LOST of `n` samples on `key`; returns how many more samples to report lost now. */
  recordLost(key: number, n: number): number {
    this.fromRecords.set(key, (this.fromRecords.get(key) ?? 0) + n);
    return this.settle(key);
  }

  /** The drops counter of `key` now reads `value`; returns how many more samples to report lost. */
  counter(key: number, value: bigint): number {
    const base = this.baseline.get(key);
    if (base === undefined) {
      this.baseline.set(key, value);
      return 0;
    }
    this.fromCounter.set(key, Number(value - base));
    return this.settle(key);
  }

  private settle(key: number): number {
    const total = Math.max(this.fromRecords.get(key) ?? 0, this.fromCounter.get(key) ?? 0);
    const before = this.reported.get(key) ?? 0;
    if (total <= before) return 0;
    this.reported.set(key, total);
    return total - before;
  }

  total(): number {
    let n = 0;
    for (const v of this.reported.values()) n += v;
    return n;
  }
}
