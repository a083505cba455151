/**
 * Reading what programs in the userspace runtime output: the same shape as the kernel's EventReader
 * (batches(), async iteration, stats, close), over in-memory rings with the kernel's capacity and
 * loss rules: an output that does not fit fails in the program and is reported as lost.
 */
import { ClosedError, UsageError } from '../errors.js';
import type { EventBatch } from '../ring/batch.js';
import { BatchBuilder } from '../ring/batch-builder.js';
import type { StructDecoder } from '../ring/struct-decoder.js';
import type { Lost, ReaderStats, RingEvent } from '../ring/types.js';
import type { OutputRecord, RuntimeMap } from './maps.js';

/**
 * Records are copied once, into slabs (blocks of SLAB bytes, or one record's size if larger) that are
 * written front to back and never rewritten: a batch's sample data are views into them, safe to keep
 * (a kept view keeps its slab alive). Per record the ring keeps columns (offset, length, slab, time):
 * no object per event.
 */
const SLAB = 64 * 1024;
const INITIAL_COLUMNS = 256;

/** A record time's halves, through a scratch (no BigInt arithmetic). */
const TS64 = new BigUint64Array(1);
const TS32 = new Uint32Array(TS64.buffer);
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LE ? 0 : 1;
const HI = LE ? 1 : 0;

interface Ring {
  cpu: number;
  slot: number | undefined;
  used: number;
  lost: number;
  /** Records waiting: columns. */
  n: number;
  off: Int32Array;
  len: Int32Array;
  seg: Int32Array;
  /** Record times as u32 halves (no BigInt per record). */
  tsLo: Uint32Array;
  tsHi: Uint32Array;
  /** The slabs the waiting records are in (seg indexes this). */
  segs: Uint8Array[];
  /** The slab being filled, from `pos`; `cur`: its index in segs (-1: not in it yet). */
  slab: Uint8Array;
  pos: number;
  cur: number;
}

function newRing(cpu: number, slot: number | undefined): Ring {
  return {
    cpu, slot, used: 0, lost: 0, n: 0,
    off: new Int32Array(INITIAL_COLUMNS), len: new Int32Array(INITIAL_COLUMNS), seg: new Int32Array(INITIAL_COLUMNS), tsLo: new Uint32Array(INITIAL_COLUMNS), tsHi: new Uint32Array(INITIAL_COLUMNS),
    segs: [], slab: new Uint8Array(0), pos: 0, cur: -1,
  };
}

function grow(r: Ring): void {
  const cap = r.off.length * 2;
  const g = <T extends Int32Array | Uint32Array>(a: T, b: T): T => {
    b.set(a as never);
    return b;
  };
  r.off = g(r.off, new Int32Array(cap));
  r.len = g(r.len, new Int32Array(cap));
  r.seg = g(r.seg, new Int32Array(cap));
  r.tsLo = g(r.tsLo, new Uint32Array(cap));
  r.tsHi = g(r.tsHi, new Uint32Array(cap));
}

export class RuntimeReader implements AsyncIterable<RingEvent> {
  readonly stats: ReaderStats = { received: 0, lost: 0, bytes: 0, batches: 0, wakeups: 0 };
  /** Perf event array: the ring of each slot read (by slot); ring buffer: `rb`. */
  private readonly bySlot: (Ring | undefined)[] = [];
  private readonly rb: Ring | undefined;
  private readonly all: Ring[] = [];
  private waiter: (() => void) | undefined;
  private drainWaiters: (() => void)[] = [];
  private closed = false;
  private iterating = false;
  /** Whether this reads a perf event array (else a ring buffer). */
  readonly perf: boolean;

  /** @internal created by Runtime.openEvents */
  constructor(
    readonly map: RuntimeMap,
    slots: number[] | undefined,
    private readonly capacity: number,
    private readonly decoder: StructDecoder | undefined,
    private readonly onClose: (r: RuntimeReader) => void,
  ) {
    this.perf = slots !== undefined;
    if (slots) {
      for (const s of slots) {
        if (this.bySlot[s] !== undefined) continue;
        const r = newRing(s % map.ncpus, s);
        this.bySlot[s] = r;
        this.all.push(r);
      }
      this.rb = undefined;
    } else {
      this.rb = newRing(0, undefined);
      this.all.push(this.rb);
    }
  }

  hasSlot(slot: number): boolean {
    return !this.closed && this.bySlot[slot] !== undefined;
  }

  private ring(slot: number | undefined): Ring | undefined {
    if (this.closed) return undefined;
    return slot === undefined ? this.rb : this.bySlot[slot];
  }

  /** @internal room for `bytes` in the ring of `slot` */
  take(slot: number | undefined, bytes: number): boolean {
    return this.room(this.ring(slot), bytes) !== undefined;
  }

  /** @internal take() then write() (false: no room, nothing written) */
  output(slot: number | undefined, ts: bigint, head: Uint8Array, tail: Uint8Array | undefined, size: number, bytes: number): boolean {
    const r = this.room(this.ring(slot), bytes);
    if (!r) return false;
    this.writeRing(r, ts, head, tail, size);
    return true;
  }

  /** Count `bytes` as used in `r`; undefined (and one more lost) when they do not fit. */
  private room(r: Ring | undefined, bytes: number): Ring | undefined {
    if (!r) return undefined;
    if (r.used + bytes > this.capacity) {
      r.lost++;
      this.wake();
      return undefined;
    }
    r.used += bytes;
    return r;
  }

  /** @internal give back room taken for a discarded reservation */
  giveBack(bytes: number): void {
    const r = this.ring(undefined);
    if (r) r.used -= bytes;
  }

  /** @internal a record that already has its room */
  add(rec: OutputRecord, bytes: number): void {
    void bytes; // counted when the room was taken
    this.write(rec.slot, rec.ts, rec.data, undefined, rec.data.length);
  }

  /**
   * @internal a record that already has its room, copied from `head`, `tail` (if any), then zeros up
   * to `size` bytes.
   */
  write(slot: number | undefined, ts: bigint, head: Uint8Array, tail: Uint8Array | undefined, size: number): void {
    const r = this.ring(slot);
    if (!r) return;
    this.writeRing(r, ts, head, tail, size);
  }

  private writeRing(r: Ring, ts: bigint, head: Uint8Array, tail: Uint8Array | undefined, size: number): void {
    let pos = r.pos;
    if (pos + size > r.slab.length) {
      r.slab = new Uint8Array(Math.max(SLAB, size));
      r.pos = pos = 0;
      r.cur = -1;
    }
    if (r.cur < 0) {
      r.cur = r.segs.length;
      r.segs.push(r.slab);
    }
    // the slab is fresh zeros past `pos`: the padding is already there
    r.slab.set(head, pos);
    if (tail !== undefined) r.slab.set(tail, pos + head.length);
    r.pos = pos + size;
    if (r.n === r.off.length) grow(r);
    const i = r.n++;
    r.off[i] = pos;
    r.len[i] = size;
    r.seg[i] = r.cur;
    TS64[0] = ts;
    r.tsLo[i] = TS32[LO]!;
    r.tsHi[i] = TS32[HI]!;
    this.wake();
  }

  /** Bytes waiting in the rings (replay waits while they are above half the capacity). */
  get queued(): number {
    let n = 0;
    for (const r of this.all) n = Math.max(n, r.used);
    return n;
  }

  get capacityBytes(): number {
    return this.capacity;
  }

  /** Resolves once the reader has taken what is queued now (or is closed). */
  drained(): Promise<void> {
    if (this.closed || this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /**
   * What the rings hold now, as one batch (undefined when nothing): perf samples in time order (stable:
   * a ring's own order for equal times), loss notices after them in ring order.
   */
  private takeAll(): EventBatch | undefined {
    const b = new BatchBuilder(this.decoder, this.perf);
    let n = 0;
    for (const r of this.all) n += r.n;
    b.reserve(n);
    let k = 0;
    let sorted = true;
    let prevHi = 0;
    let prevLo = 0;
    for (const r of this.all) {
      const base = b.segs.length;
      for (const buf of r.segs) b.segment(buf, r.cpu, r.slot, false);
      for (let i = 0; i < r.n; i++, k++) {
        const hi = r.tsHi[i]!;
        const lo = r.tsLo[i]!;
        if (hi < prevHi || (hi === prevHi && lo < prevLo)) sorted = false;
        prevHi = hi;
        prevLo = lo;
        b.off[k] = r.off[i]!;
        b.len[k] = r.len[i]!;
        b.seg[k] = base + r.seg[i]!;
        b.tsLo[k] = lo;
        b.tsHi[k] = hi;
        b.bytes += r.len[i]!;
      }
      r.n = 0;
      r.segs = [];
      r.cur = -1;
      r.used = 0;
      if (r.lost > 0) {
        const l: Lost = { cpu: r.cpu, lost: r.lost };
        if (r.slot !== undefined) l.slot = r.slot;
        b.lost.push(l);
        r.lost = 0;
      }
    }
    b.n = n;
    b.withTs = n > 0;
    if (this.perf && !sorted) sortByTime(b, n);
    for (const w of this.drainWaiters.splice(0)) w();
    return b.empty ? undefined : b.take();
  }

  /** Batches of events as they come (the same EventBatch as the kernel reader). */
  async *batches(): AsyncGenerator<EventBatch> {
    if (this.iterating) throw new UsageError('this reader is already being iterated; use one loop per reader');
    this.iterating = true;
    try {
      for (;;) {
        const b = this.takeAll();
        if (b !== undefined) {
          this.stats.received += b.length;
          this.stats.lost += b.lostCount;
          this.stats.bytes += b.bytes;
          this.stats.batches++;
          yield b;
          continue;
        }
        if (this.closed) return;
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    } finally {
      this.iterating = false;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RingEvent> {
    for await (const b of this.batches()) yield* b.toArray();
  }

  /** Stop: events already output are still delivered, then iteration ends. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose(this);
    // Records already output stay readable: close only stops new outputs.
    this.wake();
    for (const w of this.drainWaiters.splice(0)) w();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  assertOpen(): void {
    if (this.closed) throw new ClosedError('runtime event reader');
  }
}

/** Reorder the first `n` samples of `b` by time (stable), as the kernel reader's merge of the CPUs' rings. */
function sortByTime(b: BatchBuilder, n: number): void {
  const idx = Array.from({ length: n }, (_, i) => i);
  // the high halves compared first: times past 2^53 stay exact
  idx.sort((x, y) => b.tsHi[x]! - b.tsHi[y]! || b.tsLo[x]! - b.tsLo[y]!);
  const perm = <T extends Int32Array | Uint32Array | Uint16Array>(a: T) => {
    const c = a.slice(0, n);
    for (let i = 0; i < n; i++) a[i] = c[idx[i]!]!;
  };
  perm(b.off);
  perm(b.len);
  perm(b.seg);
  perm(b.tsLo);
  perm(b.tsHi);
}
