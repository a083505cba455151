/**
 * The in-memory ring behind a perf event array slot or a ring buffer of the userspace runtime: helpers
 * write records into it (with the kernel's capacity rule: an output that does not fit fails and is
 * counted lost), a RuntimeReader takes them out as batches.
 *
 * Records are copied once, into slabs (blocks of SLAB bytes, or one record's size if larger; not
 * zeroed: every byte of a record is written, its padding too) that are written front to back; ring
 * buffer reservations are not copied at all: they are placed in the slab (zeroed) and written there by
 * the program, as the kernel's are in its ring (place/commit/cancel). A drain
 * hands the slabs to a leased batch, as the kernel reader leases its ring: the batch reads them in place
 * and copies out what it gives away (EventBatch.data), and when it is released the slabs come back
 * here to be written again (recycle) — the same memory run after run, instead of fresh pages for every
 * 256 KiB of records. Per record the ring keeps columns (offset, length, slab, time as u32 halves): no
 * object per record.
 */
import { growColumns, type BatchBuilder } from '../ring/batch-builder.js';
import { allocUnsafe } from '../ring/perf-records.js';
import type { Lost } from '../ring/types.js';
import type { RunClock } from './clock.js';
import { setBytes } from './set-bytes.js';

const SLAB = 256 * 1024;
const INITIAL_COLUMNS = 256;
const NO_SLAB: Uint8Array = new Uint8Array(0);
const NO_VIEW = new DataView(NO_SLAB.buffer);
/** Bytes of a slab zeroed at a time ahead of the records placed in it (one fill call per this many). */
const ZERO_AHEAD = 16 * 1024;
/** Slabs kept for reuse (4 MiB): enough for a reader that keeps up; a burst beyond is allocated. */
const SPARE_SLABS = 16;

/** Whether the records drained so far are in time order, and the last time seen (drainInto keeps it). */
export interface DrainOrder {
  sorted: boolean;
  hi: number;
  lo: number;
}

export class RecordRing {
  /** Bytes the waiting records (and open reservations) take, against `capacity`. */
  used = 0;
  /** Outputs that did not fit since the last drain. */
  lost = 0;
  /** Records waiting: columns (@internal: growColumns grows them). */
  n = 0;
  off = new Int32Array(INITIAL_COLUMNS);
  len = new Int32Array(INITIAL_COLUMNS);
  seg = new Int32Array(INITIAL_COLUMNS);
  tsLo = new Uint32Array(INITIAL_COLUMNS);
  tsHi = new Uint32Array(INITIAL_COLUMNS);
  /** The slabs the waiting records are in (seg indexes this). */
  private segs: Uint8Array[] = [];
  /** Slabs drained into the batch that reads them now (recycle() takes them back). */
  private leased: Uint8Array[] = [];
  /** Slabs given back by released batches, to be written again. */
  private readonly spare: Uint8Array[] = [];
  /** The slab being filled, from `pos`; `cur`: its index in segs (-1: not in it yet); `view` over it. */
  slab: Uint8Array = NO_SLAB;
  view: DataView = NO_VIEW;
  private pos = 0;
  private cur = -1;
  /** The slab's bytes from `pos` up to here are zero (records placed in it start zeroed). */
  private zeroTo = 0;
  /** Records placed (place()) and neither committed nor cancelled yet. */
  open = 0;
  /** Called by a drain while records are placed and open (their owner takes them back: abandoned). */
  onAbandon: (() => void) | undefined = undefined;
  /** Called when a record or a loss arrives: set by a reader while it waits for them. */
  onData: (() => void) | undefined = undefined;

  constructor(
    readonly cpu: number,
    readonly slot: number | undefined,
    public capacity: number,
  ) {}

  /** Take `bytes` of the ring for a record; false (and one more lost) when they do not fit. */
  room(bytes: number): boolean {
    if (this.used + bytes > this.capacity) {
      this.lost++;
      this.onData?.();
      return false;
    }
    this.used += bytes;
    return true;
  }

  /** A record that has its room: `head`, then `tail` (if any), then zeros up to `size` bytes, at the run's time. */
  write(clock: RunClock, head: Uint8Array, tail: Uint8Array | undefined, size: number): void {
    const pos = this.room8(this.pos, size);
    const slab = this.slab;
    setBytes(slab, head, pos);
    let at = pos + head.length;
    if (tail !== undefined) {
      setBytes(slab, tail, at);
      at += tail.length;
    }
    // the padding, zeroed (a few bytes)
    const end = pos + size;
    while (at < end) slab[at++] = 0;
    this.pos = end;
    this.append(clock, this.cur, pos, size);
  }

  /**
   * `size` bytes of the slab at `pos` or later (a new slab when they do not fit), the slab in segs:
   * returns where. (`pos`: the current position, or it rounded up.)
   */
  private room8(pos: number, size: number): number {
    if (pos + size > this.slab.length) {
      const slab = size <= SLAB && this.spare.length > 0 ? this.spare.pop()! : allocUnsafe(Math.max(SLAB, size));
      this.slab = slab;
      this.view = new DataView(slab.buffer, slab.byteOffset, slab.byteLength);
      this.zeroTo = 0;
      this.cur = -1;
      pos = 0;
    }
    if (this.cur < 0) {
      this.cur = this.segs.length;
      this.segs.push(this.slab);
    }
    return pos;
  }

  /** A record in segs[seg] at `pos`, `size` bytes, joins the waiting ones (its time: the run's). */
  private append(clock: RunClock, seg: number, pos: number, size: number): void {
    if (this.n === this.off.length) growColumns(this, this.n * 2, this.n);
    const i = this.n++;
    this.off[i] = pos;
    this.len[i] = size;
    this.seg[i] = seg;
    clock.read();
    this.tsLo[i] = clock.lo;
    this.tsHi[i] = clock.hi;
    this.onData?.();
  }

  /**
   * `size` zeroed bytes of the current slab (`this.slab`, `this.view`) for a record written in place
   * (a ring buffer reservation, which has its room: room()): returns their offset (8-aligned, as the
   * kernel's records are). commit() or cancel() ends it.
   */
  place(size: number): number {
    const pos = this.room8((this.pos + 7) & ~7, size);
    const end = pos + size;
    if (end > this.zeroTo) {
      const to = Math.min(this.slab.length, Math.max(end, pos + ZERO_AHEAD));
      this.slab.fill(0, pos, to);
      this.zeroTo = to;
    }
    this.pos = end;
    this.open++;
    return pos;
  }

  /** The record placed at `pos` of `slab` is complete: it joins the waiting records. */
  commit(clock: RunClock, slab: Uint8Array, pos: number, size: number): void {
    this.open--;
    // (a drain abandons the placed records first: the slab of an open one is still in segs)
    const seg = slab === this.slab && this.cur >= 0 ? this.cur : this.segs.lastIndexOf(slab);
    if (seg >= 0) this.append(clock, seg, pos, size);
  }

  /** The record placed for `bytes` of room will not come (a discarded reservation). */
  cancel(bytes: number): void {
    this.open--;
    this.used -= bytes;
  }

  /** The batch of the last drain is released: its slabs are written again by later records. */
  recycle(): void {
    for (const s of this.leased) if (s.length === SLAB && this.spare.length < SPARE_SLABS) this.spare.push(s);
    this.leased = [];
  }

  /**
   * Move the waiting records into `b` from sample index `k` (b has room: reserved by the caller), and a
   * loss notice into b.lost; the ring is empty afterwards. The records stay in their slabs, segments of
   * `b` as the kernel ring's are (in place: the batch must be leased, and released — recycle() — before
   * the next drain); the next record starts a slab of its own. Returns the next sample index.
   */
  drainInto(b: BatchBuilder, k: number, order: DrainOrder): number {
    // records still being written in the slabs that go to the batch: their owner gives them up
    if (this.open > 0) this.onAbandon?.();
    const base = b.segs.length;
    for (const buf of this.segs) b.segment(buf, this.cpu, this.slot, true);
    this.leased = this.segs;
    for (let i = 0; i < this.n; i++, k++) {
      const hi = this.tsHi[i]!;
      const lo = this.tsLo[i]!;
      if (hi < order.hi || (hi === order.hi && lo < order.lo)) order.sorted = false;
      order.hi = hi;
      order.lo = lo;
      b.off[k] = this.off[i]!;
      b.len[k] = this.len[i]!;
      b.seg[k] = base + this.seg[i]!;
      b.tsLo[k] = lo;
      b.tsHi[k] = hi;
      b.bytes += this.len[i]!;
    }
    this.n = 0;
    this.segs = [];
    this.cur = -1;
    this.slab = NO_SLAB;
    this.view = NO_VIEW;
    this.zeroTo = 0;
    this.pos = 0;
    this.used = 0;
    if (this.lost > 0) {
      const l: Lost = { cpu: this.cpu, lost: this.lost };
      if (this.slot !== undefined) l.slot = this.slot;
      b.lost.push(l);
      this.lost = 0;
    }
    return k;
  }
}
