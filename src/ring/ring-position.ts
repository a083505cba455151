/**
 * A ring's consumer position (perf data_tail, ring buffer consumer_pos) and the lease a batch holds on
 * the records past it: records are read in place until the batch is released, or handed back chunk by
 * chunk as the batch copies them out (releaseTo).
 */
import { BadInputError } from '../errors.js';
import { CHUNK } from './batch.js';

/**
 * The largest ring (data bytes) the readers take, 2 GiB per ring (a perf ring per CPU, a ring
 * buffer): the in-place parsers count in 32-bit offsets into the ring and bytes since the consumer's
 * position, and wrap offsets with `& (size - 1)`.
 */
export const MAX_RING_BYTES = 2 ** 31;

/**
 * The readers count ring positions (perf data_head/data_tail, ring buffer producer/consumer positions)
 * from 2^32 instead of 0. V8 compiles a reader's arithmetic for the kinds of numbers it has seen: for
 * positions that start at 0, small integers, and once a ring has passed 2 GiB (3 s of a perf ring at
 * full rate) they no longer are, the compiled code is thrown away and the reader runs in V8's
 * interpreter, several times slower, while the ring fills (bench/JOURNAL.md, 4 December: 793 k of 40 M
 * events lost at the crossing). Counted from 2^32, positions are floating point from the first batch.
 * A multiple of every ring size: offsets in the ring, and distances, are the same either way.
 */
export const POSITION_BIAS = 2 ** 32;

/** A position the kernel wrote (data_head, producer_pos, ...) as the readers count it. */
export function fromKernel(p: bigint): number {
  return Number(p) + POSITION_BIAS;
}

/** A reader's position as the kernel counts it (data_tail, consumer_pos). */
export function toKernel(p: number): bigint {
  return BigInt(p - POSITION_BIAS);
}

/** A position for messages: as the kernel counts it. */
export function shownPosition(p: number): number {
  return p >= POSITION_BIAS ? p - POSITION_BIAS : p;
}

/**
 * The bytes an in-place parse of [from, to) in a ring of `size` bytes may take: all of them, or about
 * `limit` (the parse stops at the end of the record that reaches it), as a uint32. Throws when the
 * ring is too large for the parsers or the positions are more than a ring apart (or backwards).
 * `what` names the ring and its positions in the error.
 */
export function spanToParse(what: string, size: number, from: number, to: number, limit: number): number {
  if (size > MAX_RING_BYTES) throw new BadInputError(`${what} of ${size} bytes: the parser takes rings of up to ${MAX_RING_BYTES} bytes`);
  if (to - from > size || to < from) throw new BadInputError(`${what}: positions ${shownPosition(from)} and ${shownPosition(to)} are ${to - from} bytes apart in a ring of ${size}`);
  const avail = (to - from) >>> 0; // (at most the size: exact as a uint32)
  return limit < avail ? Math.ceil(limit) >>> 0 : avail;
}

/**
 * The smallest bite: a chunk of the event iterator's copies (batch.ts: CHUNK samples of 64 bytes, as
 * 80-byte perf records). The iterator hands a chunk's space back as soon as it copies it out, at its
 * first event: a smaller bite would hand back less.
 */
const MIN_BITE = CHUNK * 80;

/**
 * How many bytes a leased drain takes from a ring of `size` bytes that holds `pending`: half the ring
 * at most, and no more than the ring has free (but at least MIN_BITE). A leased batch's bytes go back
 * to the kernel only when the batch is released, after its consumer has gone through it; a ring that
 * was nearly full (its reader held up, say for milliseconds by the host) stays that full until then,
 * and its producer fails. Bites no larger than the free space give space back before the producer can
 * fill what is left, the reader being several times faster than the producer, and they double as the
 * space comes back. An ordinary batch (a ring less than half full) is still taken whole.
 */
export function leaseLimit(size: number, pending: number): number {
  return Math.min(size / 2, Math.max(MIN_BITE, size - pending));
}

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

export class ConsumerCursor {
  /** The segment of the outstanding leased batch that is this ring (releaseTo() offsets are in it). */
  leasedSeg = -1;
  /** While a batch is leased: the position past its records. */
  private leasedTo: number | undefined;
  private closed = false;

  /**
   * `pos`: where the consumer is; `publish` tells the kernel a new position (the store with release
   * semantics into the ring's mapping); `what` names the ring in errors.
   */
  constructor(
    public pos: number,
    private readonly mask: number,
    private readonly publish: (pos: number) => void,
    private readonly what: string,
  ) {}

  /** Throws while a leased batch is outstanding (the ring may not be read again until it is released). */
  checkFree(): void {
    if (this.leasedTo !== undefined) throw new Error(`${this.what} read while a leased batch is outstanding`);
  }

  /** A batch (segment `seg`) reads the records up to position `to` in place. */
  lease(seg: number, to: number): void {
    this.leasedSeg = seg;
    this.leasedTo = to;
  }

  /** Consume up to `pos` now (the records are copied out). */
  moveTo(pos: number): void {
    this.pos = pos;
    if (!this.closed) this.publish(pos);
  }

  /** Give the leased batch's records back to the kernel. */
  release(): void {
    const to = this.leasedTo;
    this.leasedTo = undefined;
    this.leasedSeg = -1;
    if (to !== undefined) this.moveTo(to);
  }

  /**
   * Give back the leased records up to the one whose data ends at offset `end` (it and the records
   * before it are copied out); release() gives back the rest.
   */
  releaseTo(end: number): void {
    if (this.leasedTo === undefined) return;
    const p = positionAfter(this.pos, this.leasedTo, end, this.mask);
    if (p !== undefined) this.moveTo(p);
  }

  /** The mapping is going away: nothing is published any more. */
  close(): void {
    this.closed = true;
    this.leasedTo = undefined;
  }
}
