/** Building EventBatches: the columns collected while rings are drained, and batches from event lists. */
import { EventBatch, type Columns, type Segment } from './batch.js';
import type { Lost, RingEvent } from './types.js';
import type { StructDecoder } from './struct-decoder.js';
import { splitHi, splitU64 } from '../u64.js';

/** A column of `cap` entries holding the first `n` of `a` (columns grow by doubling). */
function grown<T extends Int32Array | Uint32Array | Uint16Array>(a: T, cap: number, n: number): T {
  const b = new (a.constructor as new (length: number) => T)(cap);
  b.set(a.subarray(0, n) as never);
  return b;
}

/** The per-sample columns of a batch being built, or of the runtime's record ring. */
export interface SampleColumns {
  off: Int32Array;
  len: Int32Array;
  seg: Int32Array | Uint16Array;
  tsLo: Uint32Array;
  tsHi: Uint32Array;
}

/** Grow every column of `c` to `cap` entries, keeping the first `n`. */
export function growColumns(c: SampleColumns, cap: number, n: number): void {
  c.off = grown(c.off, cap, n);
  c.len = grown(c.len, cap, n);
  c.seg = grown(c.seg, cap, n);
  c.tsLo = grown(c.tsLo, cap, n);
  c.tsHi = grown(c.tsHi, cap, n);
}

/**
 * An empty array for objects, of V8's elements kind for objects from the start. An empty literal starts
 * as an array of small integers and changes kind at its first object; V8 then creates later arrays of
 * the same literal as arrays of objects, but a reader's first arrays come from a literal of their own
 * (a field's initializer), and code compiled for arrays of objects (by prime-reader.ts) threw itself away
 * at the first of them ("not a Smi").
 */
function objectList<T extends object>(): T[] {
  const a: T[] = [NO_OBJECT as T];
  a.length = 0;
  return a;
}
const NO_OBJECT = {};

/** The smallest record columnsFor() sizes for: a 64-byte event (perf: 80 bytes with its headers). */
const TYPICAL_RECORD = 64;
/** The columns' smallest first size (a reader of bpfpipe's own starts there: prime-reader.ts). */
export const MIN_COLUMNS = 1024;
const MAX_COLUMNS = 1 << 16;

/**
 * The column capacity for a reader whose largest ring has `ringBytes`: enough for a drain that stops at
 * its limit (half a ring) of 64-byte records, as a power of two between 1,024 and 65,536. Columns that
 * grow do so in the drain after a backlog, when the reader is already behind: in this VM a fresh 590 KiB
 * of columns (32 k entries) cost 3.5 ms of zero-filling and page faults there (bench/JOURNAL.md). Records
 * smaller than 64 bytes still grow them, once.
 */
export function columnsFor(ringBytes: number): number {
  let cap = MIN_COLUMNS;
  while (cap < MAX_COLUMNS && cap * TYPICAL_RECORD < ringBytes / 2) cap *= 2;
  return cap;
}

/** Collects the columns of a batch while rings are drained; its scratch columns are reused. */
export class BatchBuilder {
  n = 0;
  bytes = 0;
  off: Int32Array;
  len: Int32Array;
  seg: Uint16Array;
  tsLo: Uint32Array;
  tsHi: Uint32Array;
  segs: Segment[] = objectList();
  lost: Lost[] = objectList();
  withTs = false;
  /** A leased batch uses the scratch columns; no new drain until it is released. */
  private lease: EventBatch | undefined;

  /** `capacity`: the columns' first size (they double when a batch needs more; see columnsFor()). */
  constructor(private readonly decoder: StructDecoder | undefined, private readonly padded: boolean, capacity = MIN_COLUMNS) {
    this.off = new Int32Array(capacity);
    this.len = new Int32Array(capacity);
    this.seg = new Uint16Array(capacity);
    this.tsLo = new Uint32Array(capacity);
    this.tsHi = new Uint32Array(capacity);
    // A fresh array's pages are mapped at its first write: write them now, at open, rather than in the
    // first drain that reaches them (a backlog's). In this VM that is about 110 page faults and 1.3 ms
    // for 32 k entries.
    for (const c of [this.off, this.len, this.seg, this.tsLo, this.tsHi]) c.fill(0);
  }

  /** Release the outstanding leased batch, if any (its ring memory goes back to the kernel). */
  releaseLease(): void {
    const l = this.lease;
    this.lease = undefined;
    l?.release();
  }

  /** Start a segment (a block copied out of a ring, or the ring itself); returns its index. */
  segment(buf: Uint8Array, cpu: number, slot: number | undefined, inRing: boolean): number {
    if (this.segs.length >= 0xffff) throw new RangeError('too many segments in one batch');
    this.segs.push({ buf, view: undefined, cpu, slot, inRing, ab: undefined, base: 0 });
    return this.segs.length - 1;
  }

  /**
   * The columns are full at `n` samples in an in-place parse with `left` bytes still to take: grow them
   * by those bytes as 64-byte records (they double again if the records are smaller). The parsers grow
   * them as they fill, not before by what the records could at most be: for a backlog of 4 MiB that
   * bound is 512 k entries, whose 5 MB of fresh pages the backlog's first drain faulted in (1-2 ms in
   * this VM, the ring full meanwhile). The caller reads the columns again.
   */
  grow(n: number, left: number): void {
    this.n = n;
    this.reserve(Math.floor(left / TYPICAL_RECORD) + 1);
  }

  /** Make room for `more` samples. */
  reserve(more: number): void {
    const need = this.n + more;
    if (need <= this.off.length) return;
    let cap = this.off.length;
    while (cap < need) cap *= 2;
    growColumns(this, cap, this.n);
  }

  get empty(): boolean {
    return this.n === 0 && this.lost.length === 0;
  }

  private columns(copy: boolean): Columns {
    const n = this.n;
    const c: Columns = {
      length: n,
      bytes: this.bytes,
      segs: this.segs,
      off: copy ? this.off.slice(0, n) : this.off,
      len: copy ? this.len.slice(0, n) : this.len,
      seg: copy ? this.seg.slice(0, n) : this.seg,
      tsLo: this.withTs ? (copy ? this.tsLo.slice(0, n) : this.tsLo) : undefined,
      tsHi: this.withTs ? (copy ? this.tsHi.slice(0, n) : this.tsHi) : undefined,
      lost: this.lost,
    };
    this.n = 0;
    this.bytes = 0;
    this.segs = objectList();
    this.lost = objectList();
    this.withTs = false;
    return c;
  }

  /** A batch that owns its columns and bytes (no segment may be in the ring). */
  take(): EventBatch {
    return new EventBatch(this.columns(true), this.decoder, this.padded, undefined);
  }

  /**
   * A leased batch over the scratch columns; `onRelease` hands the ring memory back, `onPart` (if
   * given) the memory of one ring segment up to an offset, as the batch copies its samples out.
   */
  takeLeased(onRelease: () => void, onPart?: (seg: number, end: number) => void): EventBatch {
    // the ring memory goes back once: when the batch is released, or before, once it owns copies
    let back = false;
    const handBack = () => {
      if (back) return;
      back = true;
      onRelease();
    };
    const batch = new EventBatch(
      this.columns(false),
      this.decoder,
      this.padded,
      () => {
        if (this.lease === batch) this.lease = undefined;
        handBack();
      },
      handBack,
      onPart,
    );
    this.lease = batch;
    return batch;
  }
}

/** A batch holding given events (used after reordering); samples keep their bytes where they are. */
export function batchOf(events: readonly RingEvent[], decoder: StructDecoder | undefined, padded: boolean): EventBatch {
  const b = new BatchBuilder(decoder, padded);
  const segIndex = new Map<ArrayBufferLike, Map<string, number>>();
  for (const e of events) {
    if (e.lost !== undefined) {
      b.lost.push(e);
      continue;
    }
    const d = e.data;
    let byKey = segIndex.get(d.buffer);
    if (!byKey) segIndex.set(d.buffer, (byKey = new Map()));
    const key = `${e.cpu}/${e.slot}`;
    let seg = byKey.get(key);
    if (seg === undefined) byKey.set(key, (seg = b.segment(new Uint8Array(d.buffer, 0, d.buffer.byteLength), e.cpu, e.slot, false)));
    b.reserve(1);
    const i = b.n++;
    b.off[i] = d.byteOffset;
    b.len[i] = d.byteLength;
    b.seg[i] = seg;
    if (e.ts !== undefined) {
      b.tsLo[i] = splitU64(e.ts);
      b.tsHi[i] = splitHi;
      b.withTs = true;
    }
    b.bytes += d.byteLength;
  }
  return b.take();
}
