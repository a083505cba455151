/**
 * Where a record ends, as a ring position: a leased batch copies its samples out in order and hands
 * back the ring up to the last one copied (perf data_tail, ring buffer consumer_pos), before the rest
 * of the batch is read.
 */

/**
 * The position just past the record whose data ends at ring offset `end` (records are 8-byte
 * aligned: `end` is rounded up), counted from position `from` in a ring of `mask + 1` bytes (a power
 * of two); undefined when that is not in (from, to]. Positions are byte counts since the ring was
 * created (exact as numbers up to 2^53); offsets are positions modulo the size, or (a doubly mapped
 * ring buffer) up to twice it.
 */
export function positionAfter(from: number, to: number, end: number, mask: number): number | undefined {
  // (ToInt32 of the difference is exact modulo 2^32, and the size divides 2^32)
  const d = (((end + 7) & ~7) - from) & mask || mask + 1;
  const p = from + d;
  return p <= to ? p : undefined;
}
