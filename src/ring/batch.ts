/**
 * EventBatch: the events of one drain, stored column-wise so that reading costs no per-event
 * allocation. Two kinds:
 * - leased: samples stay in the mapped ring; the kernel may not reuse that memory until the batch is
 *   released (the next batch is asked for, or release() is called). Accessors never return views into
 *   the ring: data(i) copies, event(i) decodes, copyTo() writes into the caller's buffer. Using a
 *   released batch throws.
 * - owned: samples live in blocks copied out of the ring; data(i) is a view into them.
 */
import { ClosedError } from '../errors.js';
import { joinU64 } from '../u64.js';
import type { Lost, RingEvent, Sample } from './types.js';
import type { StructDecoder } from './struct-decoder.js';

/** Largest block own() copies a run of samples into (below glibc's default mmap threshold, 128 KiB). */
const BLOCK = 96 * 1024;
/** @internal Samples copied out at a time when they are read in order (own()). */
export const CHUNK = 1024;
const EMPTY = new Uint8Array(0);
/** A dropped segment (streamed()): nothing to read. */
const GONE: Segment = { buf: EMPTY, view: undefined, cpu: -1, slot: undefined, inRing: false, ab: undefined, base: 0 };

export interface Segment {
  buf: Uint8Array;
  view: DataView | undefined;
  /** A Buffer over `buf`, made on first use (native hex). */
  node?: Buffer;
  cpu: number;
  slot: number | undefined;
  /** Bytes belong to the ring (leased) rather than to a copy. */
  inRing: boolean;
  /** buf.buffer and buf.byteOffset, read once (typed array accessors are not free): data(i) views. */
  ab: ArrayBufferLike | undefined;
  base: number;
}

export interface Columns {
  length: number;
  bytes: number;
  segs: Segment[];
  off: Int32Array;
  len: Int32Array;
  seg: Uint16Array;
  tsLo: Uint32Array | undefined;
  tsHi: Uint32Array | undefined;
  lost: Lost[];
}

export class EventBatch implements Iterable<RingEvent> {
  /** Number of samples (loss notices are in `lost`). */
  readonly length: number;
  /** Loss notices of this batch. */
  readonly lost: readonly Lost[];
  /** Bytes of sample data. */
  readonly bytes: number;
  private readonly segs: Segment[];
  // (the columns of a leased batch are the reader's scratch until it is released)
  private readonly off: Int32Array;
  private readonly len: Int32Array;
  private readonly seg: Uint16Array;
  private readonly tsLo: Uint32Array | undefined;
  private readonly tsHi: Uint32Array | undefined;
  private readonly decoder: StructDecoder | undefined;
  private readonly padded: boolean;
  private onRelease: (() => void) | undefined;
  private released = false;
  /** Hands the ring memory back (once; own() may do it before release()). */
  private handBack: (() => void) | undefined;
  /**
   * Hands back the ring memory of a ring segment up to `end` (an offset in that segment just past a
   * sample whose bytes, and every earlier sample's of that ring, are copied out): own() calls it after
   * each chunk, so the kernel can write there again while the rest of the batch is read.
   */
  private partBack: ((seg: number, end: number) => void) | undefined;
  /** Samples below this index are out of the ring (own()). */
  private owned = 0;
  /**
   * Read once, in order, by the reader's event iterator (the batch is never shown): each chunk's
   * copies are dropped from the batch when the next chunk is copied (see streamed()).
   */
  private once = false;
  /** The segments own() made for the last chunk: [from, to) in segs. */
  private chunkFrom = 0;
  private chunkTo = 0;

  /** @internal built by BatchBuilder */
  constructor(
    c: Columns,
    decoder: StructDecoder | undefined,
    padded: boolean,
    onRelease: (() => void) | undefined,
    handBack?: () => void,
    partBack?: (seg: number, end: number) => void,
  ) {
    this.length = c.length;
    this.bytes = c.bytes;
    this.segs = c.segs;
    this.off = c.off;
    this.len = c.len;
    this.seg = c.seg;
    this.tsLo = c.tsLo;
    this.tsHi = c.tsHi;
    this.lost = c.lost;
    this.decoder = decoder;
    this.padded = padded;
    this.onRelease = onRelease;
    this.handBack = handBack;
    this.partBack = partBack;
  }

  /** Whether samples are decoded with a struct (event(i) gives objects). */
  get decoded(): boolean {
    return this.decoder !== undefined;
  }

  /** True while the samples are read in place in the ring (release() hands the memory back). */
  get leased(): boolean {
    return this.onRelease !== undefined && this.handBack !== undefined;
  }

  /**
   * @internal For the reader's event iterator, which reads the batch once, in order, through at(i)
   * and never hands the batch itself out: a chunk's copies are dropped from the batch once the next
   * chunk is copied, so they live only as long as the samples made from them (and die young, instead
   * of being kept by the batch until it is done and then reclaimed only by full collections).
   * Samples before the current chunk can no longer be read from the batch.
   */
  streamed(): this {
    this.once = true;
    return this;
  }

  /** Hand leased ring memory back to the kernel. Further access throws. Idempotent; no-op when owned. */
  release(): void {
    if (this.released || !this.onRelease) return;
    this.released = true;
    const f = this.onRelease;
    this.onRelease = undefined;
    f();
  }

  private check(): void {
    if (this.released) throw new ClosedError('event batch (it was released when the next batch was read; copy what you keep)');
  }

  /** Samples plus loss notices. */
  get count(): number {
    return this.length + this.lost.length;
  }

  /** Total samples reported lost in this batch. */
  get lostCount(): number {
    let n = 0;
    for (const l of this.lost) n += l.lost;
    return n;
  }

  cpu(i: number): number {
    this.check();
    return this.segs[this.seg[i]!]!.cpu;
  }

  slot(i: number): number | undefined {
    this.check();
    return this.segs[this.seg[i]!]!.slot;
  }

  /** Size of sample i in bytes (perf: including the kernel's padding to 8 bytes). */
  size(i: number): number {
    this.check();
    return this.len[i]!;
  }

  /**
   * The bytes of sample i, safe to keep: a view into a block the batch owns (for a leased batch, the
   * samples are copied out of the ring when their bytes are first asked for: see own()).
   */
  data(i: number): Uint8Array {
    this.check();
    let s = this.segs[this.seg[i]!]!;
    if (s.inRing) {
      // read in order (the event iterator): the next chunk only; else everything left
      this.own(i === this.owned ? Math.min(this.length, i + CHUNK) : this.length);
      s = this.segs[this.seg[i]!]!;
    }
    if (s.ab === undefined) {
      s.ab = s.buf.buffer;
      s.base = s.buf.byteOffset;
    }
    // a view made directly (subarray() costs twice as much)
    return new Uint8Array(s.ab, s.base + this.off[i]!, this.len[i]!);
  }

  /**
   * Copy the samples [owned, to) that are in the ring into owned blocks and point the columns at the
   * copies; once nothing of the batch is in the ring any more, hand the ring memory back at once: the
   * kernel can write into that space while the batch is still being read. A block holds a run of
   * consecutive samples of one ring, at most BLOCK bytes (one allocation per run instead of one per
   * sample): blocks of that size come from the allocator's free lists, where larger ones would be
   * fresh pages mapped for each batch (and unmapped at the next collection) — page faults that cost
   * more than the copy; and a batch that wraps around the end of the ring copies its two runs, not the
   * whole ring between them.
   *
   * Samples read in order are copied CHUNK at a time, and the event iterator's batches (streamed())
   * let go of a chunk's blocks when the next chunk is copied: a block then lives about as long as its
   * own samples are being read, and dies young. Kept for the whole batch (or copied all at once), a
   * large batch's blocks outlive the young generation's collections while its events are read, get
   * promoted, and their memory comes back only with full collections.
   */
  private own(to: number = this.length): void {
    const n = this.length;
    const segs = this.segs;
    const first = segs.length;
    const off = this.off;
    const len = this.len;
    const seg = this.seg;
    if (this.once) {
      // the previous chunk's samples are all read: the batch lets go of their copies
      for (let g = this.chunkFrom; g < this.chunkTo; g++) segs[g] = GONE;
      this.chunkFrom = first;
    }
    // per ring segment, its current block (an index into blocks, -1: none yet), and the end of its last
    // sample copied (-1: none)
    const cur = new Int32Array(first).fill(-1);
    const last = new Int32Array(first).fill(-1);
    const blocks: { g: number; start: number; end: number }[] = [];
    for (let i = this.owned; i < to; i++) {
      const g = seg[i]!;
      const s = segs[g]!;
      if (!s.inRing) continue;
      const o = off[i]!;
      const e = o + len[i]!;
      let k = cur[g]!;
      let b = k >= 0 ? blocks[k] : undefined;
      if (b === undefined || o < b.start || e - b.start > BLOCK) {
        k = blocks.push((b = { g, start: o, end: e })) - 1;
        if (first + k >= 0xffff) throw new RangeError('too many blocks in one batch');
        cur[g] = k;
      } else if (e > b.end) b.end = e;
      seg[i] = first + k;
      off[i] = o - b.start;
      last[g] = e;
    }
    for (const b of blocks) {
      const sg = segs[b.g]!;
      const size = b.end - b.start;
      const copy = new Uint8Array(Buffer.allocUnsafeSlow(size).buffer, 0, size);
      copy.set(sg.buf.subarray(b.start, b.end));
      segs.push({ buf: copy, view: undefined, cpu: sg.cpu, slot: sg.slot, inRing: false, ab: undefined, base: 0 });
    }
    this.chunkTo = segs.length;
    this.owned = to;
    if (to < n) {
      // every sample before `to` is out of the ring: the kernel may write over them already
      const part = this.partBack;
      if (part !== undefined) for (let g = 0; g < first; g++) if (last[g]! >= 0) part(g, last[g]!);
      return;
    }
    // the ring segments: nothing points at them any more
    for (let g = 0; g < first; g++) if (segs[g]!.inRing) segs[g] = { ...segs[g]!, buf: EMPTY, inRing: false, ab: undefined, node: undefined };
    const leased = this.handBack;
    if (leased !== undefined) {
      // owned from now on. The columns stay the reader's scratch: it fills them again only after
      // releasing this batch (as any batch, when the next one is read).
      this.handBack = undefined;
      this.partBack = undefined;
      leased();
    }
  }

  /**
   * The underlying block and offset of sample i, for writers that copy the bytes at once (the block
   * may be the ring itself: do not keep it).
   */
  raw(i: number): { buf: Uint8Array; offset: number; length: number } {
    this.check();
    return { buf: this.segs[this.seg[i]!]!.buf, offset: this.off[i]!, length: this.len[i]! };
  }

  /** The bytes of sample i as lowercase hex (native conversion, no intermediate copy). */
  hex(i: number, start = 0, end = this.len[i]!): string {
    this.check();
    const s = this.segs[this.seg[i]!]!;
    s.node ??= Buffer.from(s.buf.buffer, s.buf.byteOffset, s.buf.byteLength);
    const o = this.off[i]!;
    return s.node.toString('hex', o + start, o + Math.min(end, this.len[i]!));
  }

  /** Copy the bytes of sample i into `target` at `offset`; returns the number of bytes. */
  copyTo(i: number, target: Uint8Array, offset = 0, start = 0, end = this.len[i]!): number {
    this.check();
    const s = this.segs[this.seg[i]!]!;
    const o = this.off[i]!;
    const n = Math.max(0, Math.min(end, this.len[i]!) - start);
    target.set(s.buf.subarray(o + start, o + start + n), offset);
    return n;
  }

  /** Kernel timestamp (CLOCK_MONOTONIC ns) of sample i, when the ring records them. */
  ts(i: number): bigint | undefined {
    this.check();
    return this.tsOf(i);
  }

  /** ts(i) for callers that have checked already (at()). */
  private tsOf(i: number): bigint | undefined {
    if (!this.tsLo || !this.tsHi) return undefined;
    // one BigInt through a scratch (BigInt(number) costs four times as much)
    return joinU64(this.tsLo[i]!, this.tsHi[i]!);
  }

  /** Timestamp as a number of ns (exact below 2^53 ns, about 104 days of uptime). */
  tsNumber(i: number): number | undefined {
    this.check();
    if (!this.tsLo || !this.tsHi) return undefined;
    return this.tsHi[i]! * 4294967296 + this.tsLo[i]!;
  }

  private dataView(s: Segment): DataView {
    s.view ??= new DataView(s.buf.buffer, s.buf.byteOffset, s.buf.byteLength);
    return s.view;
  }

  /** The decoded struct of sample i (when the reader has a decoder and the sample is large enough). */
  event(i: number): Record<string, unknown> | undefined {
    const d = this.decoder;
    if (!d || this.len[i]! < d.size) return undefined;
    this.check();
    const s = this.segs[this.seg[i]!]!;
    return d.decode(this.dataView(s), this.off[i]!, s.buf.length);
  }

  /**
   * Number of packet bytes after the struct. Perf samples end with up to 7 bytes of kernel padding
   * that look like data: when the struct has a length field (see StructDecoder.lengthField) whose
   * value is a possible length, that value is used; otherwise the padding stays in.
   */
  packetLength(i: number): number {
    this.check();
    const d = this.decoder;
    if (!d) return 0;
    const n = this.len[i]!;
    if (n <= this.bare()) return 0;
    return this.lengthOf(n, this.padded && d.lengthField ? this.event(i) : undefined);
  }

  private bare(): number {
    const d = this.decoder!;
    return this.padded ? Math.ceil((d.size + 4) / 8) * 8 - 4 : d.size;
  }

  /** Packet bytes of a sample of `n` bytes whose decoded struct is `ev`. */
  private lengthOf(n: number, ev: Record<string, unknown> | undefined): number {
    const d = this.decoder!;
    if (n <= this.bare()) return 0;
    const max = n - d.size;
    if (!this.padded || !d.lengthField || !ev) return max;
    const v = ev[d.lengthField];
    const hint = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
    return hint !== undefined && hint >= max - 7 && hint <= max ? hint : max;
  }

  /** Bytes after the struct (the packet bytes the program appended), when there are any. */
  packet(i: number): Uint8Array | undefined {
    const n = this.packetLength(i);
    if (n === 0) return undefined;
    return this.data(i).subarray(this.decoder!.size, this.decoder!.size + n);
  }

  /** Sample i as an object (its bytes are always safe to keep). */
  at(i: number): Sample {
    const data = this.data(i);
    const s = this.segs[this.seg[i]!]!;
    const d = this.decoder;
    const n = this.len[i]!; // (data.length: byteLength is a slow accessor in this V8)
    // (data(i) checked that the batch is not released)
    if (d === undefined || n < d.size) return { cpu: s.cpu, slot: s.slot, ts: this.tsOf(i), data };
    const event = d.decode(this.dataView(s), this.off[i]!, s.buf.length);
    const p = this.lengthOf(n, event);
    // (each shape made whole by one literal: properties added later would go to a separate store)
    return p > 0
      ? { cpu: s.cpu, slot: s.slot, ts: this.tsOf(i), data, event, packet: data.subarray(d.size, d.size + p) }
      : { cpu: s.cpu, slot: s.slot, ts: this.tsOf(i), data, event };
  }

  /** All events as objects: samples in ring order, then the loss notices. */
  toArray(): RingEvent[] {
    const out: RingEvent[] = new Array(this.count);
    for (let i = 0; i < this.length; i++) out[i] = this.at(i);
    for (let j = 0; j < this.lost.length; j++) out[this.length + j] = this.lost[j]!;
    return out;
  }

  *[Symbol.iterator](): Iterator<RingEvent> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
    yield* this.lost;
  }
}
