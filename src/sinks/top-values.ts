/**
 * Bounded sets of values: label values for Prometheus (the first N distinct values keep their own
 * label, later ones count as "other": a series once exported never disappears), and the heavy hitters
 * of a stream for the web view (space-saving: k counters, the smallest one is replaced).
 */

export const OTHER = 'other';

/** The first `max` distinct values are themselves; every later new value is "other". */
export class LabelLimiter {
  private readonly known = new Set<string>();

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 0) throw new RangeError('max must be a non-negative integer');
  }

  label(v: string): string {
    if (this.known.has(v)) return v;
    if (this.known.size < this.max) {
      this.known.add(v);
      return v;
    }
    return OTHER;
  }

  get size(): number {
    return this.known.size;
  }
}

export interface TopEntry {
  value: string;
  count: number;
  /** Upper bound of how much of `count` may belong to values it replaced (space-saving). */
  error: number;
}

/**
 * Space-saving heavy hitters (Metwally et al.): with k counters, any value seen more than total/k times
 * is in the table, and each count overestimates by at most its `error`.
 */
export class TopValues {
  private readonly counts = new Map<string, { count: number; error: number }>();
  total = 0;

  constructor(readonly k = 200) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError('k must be a positive integer');
  }

  add(value: string, n = 1): void {
    this.total += n;
    const e = this.counts.get(value);
    if (e) {
      e.count += n;
      return;
    }
    if (this.counts.size < this.k) {
      this.counts.set(value, { count: n, error: 0 });
      return;
    }
    let minKey: string | undefined;
    let min = Infinity;
    for (const [key, c] of this.counts) {
      if (c.count < min) {
        min = c.count;
        minKey = key;
      }
    }
    this.counts.delete(minKey!);
    this.counts.set(value, { count: min + n, error: min });
  }

  /** The `n` largest counts, largest first (ties: value order). */
  top(n = 10): TopEntry[] {
    return [...this.counts]
      .map(([value, c]) => ({ value, count: c.count, error: c.error }))
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
      .slice(0, n);
  }
}
