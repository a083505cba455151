/**
 * BPF ring buffer arithmetic and record parsing (pure). Layout (kernel/bpf/ringbuf.c): page 0 holds
 * consumer_pos (user-writable); page 1 holds producer_pos; data follows, mapped twice so a record
 * never wraps in a real mapping. Each record: u32 len with BUSY (bit 31) and DISCARD (bit 30) flags,
 * u32 page offset, then the data, padded to 8 bytes. The consumer stops at the first BUSY record.
 */
import { BadInputError } from '../errors.js';
import { spanToParse, shownPosition } from './ring-position.js';
import { allocUnsafe } from './perf-records.js';
import type { BatchBuilder } from './batch-builder.js';

export const RINGBUF_BUSY_BIT = 0x80000000;
export const RINGBUF_DISCARD_BIT = 0x40000000;
export const RINGBUF_HDR_SZ = 8;

/**
 * Whether a plain load is an acquire load on this CPU: on x86 (TSO) no load is reordered with a later
 * one, so a length word read plainly orders the record's data after it (libbpf's smp_load_acquire()
 * is a plain load there too); elsewhere (arm64) the word is read with Atomics.load. Optimized V8 code
 * calls a builtin for each Atomics.load, which it does not inline: 13 ns a record against 2.5 ns for a
 * plain load in a loop on this project's VM; the bench's ring buffer reader went from 20.3 to 15.7 ns
 * an event (bench/JOURNAL.md, 5 December).
 */
const PLAIN_ACQUIRE = process.arch === 'x64' || process.arch === 'ia32';

/** A record's length word (BUSY and DISCARD bits included), read with acquire ordering. */
export function loadLenWord(words: Int32Array, index: number): number {
  return (PLAIN_ACQUIRE ? words[index]! : Atomics.load(words, index)) >>> 0;
}

export function ringbufRecordSize(len: number): number {
  return (len + RINGBUF_HDR_SZ + 7) & ~7;
}

export interface RingbufScan {
  /** Consumer position after the last committed record found (or discarded). */
  end: number;
  /** Records found (committed, not discarded). */
  records: number;
  /** Records skipped as discarded. */
  discarded: number;
}

/**
 * Find the committed prefix of [cons, prod): walk the headers, reading each length word with
 * `loadLen` (an acquire load in the real reader), stopping at the first BUSY record.
 */
export function scanRingbuf(cons: number, prod: number, mask: number, loadLen: (offset: number) => number): RingbufScan {
  let pos = cons;
  let records = 0;
  let discarded = 0;
  const size = mask + 1;
  while (pos < prod) {
    const len = loadLen(pos & mask) >>> 0;
    if (len & RINGBUF_BUSY_BIT) break;
    const dataLen = len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
    const total = ringbufRecordSize(dataLen);
    if (total > size || pos + total > prod) {
      throw new BadInputError(`corrupt ring buffer record at position ${shownPosition(pos)}: length ${dataLen} does not fit (${prod - pos} bytes produced)`);
    }
    if (len & RINGBUF_DISCARD_BIT) discarded++;
    else records++;
    pos += total;
  }
  return { end: pos, records, discarded };
}

/**
 * Copy [cons, end) out of the data area. `data` is either the double mapping (2 × size bytes) or a
 * single copy of the ring (size bytes, then the wrap is reassembled).
 */
export function copyRingbuf(data: Uint8Array, size: number, cons: number, end: number): Uint8Array {
  const len = end - cons;
  const start = cons & (size - 1);
  const out = allocUnsafe(len);
  if (start + len <= data.byteLength) {
    out.set(data.subarray(start, start + len));
    return out;
  }
  const first = size - start;
  out.set(data.subarray(start, size), 0);
  out.set(data.subarray(0, len - first), first);
  return out;
}

/** Walk the records of a copied block; `onRecord` gets views into `buf`. */
export function parseRingbufRecords(buf: Uint8Array, onRecord: (data: Uint8Array) => void): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  let n = 0;
  while (off < buf.byteLength) {
    if (buf.byteLength - off < RINGBUF_HDR_SZ) throw new BadInputError(`corrupt ring buffer block: ${buf.byteLength - off} trailing bytes`);
    const len = view.getUint32(off, true);
    const dataLen = len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
    const total = ringbufRecordSize(dataLen);
    if (off + total > buf.byteLength) throw new BadInputError(`corrupt ring buffer record at offset ${off}: length ${dataLen} past the block`);
    if ((len & RINGBUF_DISCARD_BIT) === 0) {
      onRecord(buf.subarray(off + RINGBUF_HDR_SZ, off + RINGBUF_HDR_SZ + dataLen));
      n++;
    }
    off += total;
  }
  return n;
}

/** The fast path: records of a copied block straight into the columns of a batch. */
export function parseRingbufInto(buf: Uint8Array, b: BatchBuilder, segment: number): number {
  const end = buf.byteLength;
  if ((buf.byteOffset & 3) !== 0) {
    return parseRingbufRecords(buf, (d) => {
      b.reserve(1);
      const i = b.n++;
      b.off[i] = d.byteOffset - buf.byteOffset;
      b.len[i] = d.byteLength;
      b.seg[i] = segment;
      b.bytes += d.byteLength;
    });
  }
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, end >>> 2);
  b.reserve((end >>> 3) + 1);
  let n = b.n;
  const first = n;
  let o = 0;
  while (o < end) {
    if (end - o < RINGBUF_HDR_SZ) throw new BadInputError(`corrupt ring buffer block: ${end - o} trailing bytes`);
    const hdr = u32[o >>> 2]!;
    const dataLen = hdr & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
    const total = ringbufRecordSize(dataLen);
    if (o + total > end) throw new BadInputError(`corrupt ring buffer record at offset ${o}: length ${dataLen} past the block`);
    if ((hdr & RINGBUF_DISCARD_BIT) === 0) {
      b.off[n] = o + RINGBUF_HDR_SZ;
      b.len[n] = dataLen;
      b.bytes += dataLen;
      n++;
    }
    o += total;
  }
  b.seg.fill(segment, first, n); // (one fill, not a store per record)
  b.n = n;
  return n - first;
}

/**
 * The fast path, in one pass over the mapped ring (double-mapped: records never wrap): walk the
 * records from `cons`, reading each length word with an acquire load (loadLenWord), stopping at the
 * first BUSY record, at `prod`, or once `limit` bytes are taken (at a record's end); committed records go into
 * the batch as views into `data` (segment `seg`). Returns the consumer position after the last record
 * taken.
 */
export function parseRingbufInRing(
  words: Int32Array,
  size: number,
  cons: number,
  prod: number,
  b: BatchBuilder,
  seg: number,
  base: number,
  limit = Infinity,
): number {
  const mask = size - 1;
  const want = spanToParse('ring buffer (consumer, producer)', size, cons, prod, limit);
  let off = b.off;
  let len = b.len;
  let n = b.n;
  const first = n;
  let bytes = 0;
  // 32-bit offsets (bytes taken since `cons`, the offset in the ring): positions pass 2^31 within
  // seconds at full rate, and arithmetic on them is then floating point
  const avail = (prod - cons) >>> 0;
  let taken = 0;
  let o = cons % size | 0;
  while (taken < want) {
    const hdr = loadLenWord(words, o >>> 2);
    if (hdr & RINGBUF_BUSY_BIT) break;
    const dataLen = hdr & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
    const total = (dataLen + RINGBUF_HDR_SZ + 7) & ~7;
    if (total > avail - taken) {
      throw new BadInputError(`corrupt ring buffer record at position ${shownPosition(cons + taken)}: length ${dataLen} does not fit (${avail - taken} bytes produced)`);
    }
    if ((hdr & RINGBUF_DISCARD_BIT) === 0) {
      if (n === off.length) {
        b.grow(n, want - taken);
        off = b.off;
        len = b.len;
      }
      off[n] = o + RINGBUF_HDR_SZ - base;
      len[n] = dataLen;
      n++;
      bytes += dataLen;
    }
    taken += total;
    o = (o + total) & mask;
  }
  b.seg.fill(seg, first, n); // (one fill, not a store per record)
  b.n = n;
  b.bytes += bytes;
  return cons + taken;
}
