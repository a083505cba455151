/**
 * Perf ring arithmetic and record parsing (pure). The ring is the data area of a perf mmap
 * (a power-of-two number of bytes); head and tail are free-running byte counters. Readers copy
 * [tail, head) out in one block (reassembling the wrap), parse whole records from the copy and only
 * then move data_tail, so the kernel can never overwrite bytes that are still being read.
 */
import { spanToParse, shownPosition } from './ring-position.js';
import { BadInputError } from '../errors.js';
import type { BatchBuilder } from './batch-builder.js';
import type { LostSink } from './loss-report.js';

export const PERF_RECORD_LOST = 2;
export const PERF_RECORD_SAMPLE = 9;

/** Offsets in struct perf_event_mmap_page. */
export const MMAP_PAGE = { DATA_HEAD: 1024, DATA_TAIL: 1032, DATA_OFFSET: 1040, DATA_SIZE: 1048 } as const;

/** Copy the bytes [tail, head) of a ring into a new linear buffer (8-byte aligned, not zero-filled). */
export function linearize(ring: Uint8Array, tail: number, head: number): Uint8Array {
  const size = ring.byteLength;
  const len = head - tail;
  if (len < 0 || len > size) throw new BadInputError(`perf ring: head ${shownPosition(head)} and tail ${shownPosition(tail)} are ${len} bytes apart in a ring of ${size}`);
  const out = allocUnsafe(len);
  const start = tail & (size - 1);
  const first = Math.min(len, size - start);
  out.set(ring.subarray(start, start + first), 0);
  if (first < len) out.set(ring.subarray(0, len - first), first);
  return out;
}

export interface PerfRecordHandler {
  /** A sample: `data` is a view into `buf` (the caller owns the copy). */
  sample(ts: bigint | undefined, data: Uint8Array): void;
  lost(count: number): void;
  /** Any other record type (e.g. PERF_RECORD_THROTTLE): counted, not delivered. */
  other?(type: number): void;
}

/**
 * Parse the records in `buf` (which holds whole records, as copied from [tail, head)). `timestamps`
 * says whether samples carry PERF_SAMPLE_TIME. Returns the number of records.
 */
export function parsePerfRecords(buf: Uint8Array, timestamps: boolean, handler: PerfRecordHandler): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = buf.byteLength;
  let off = 0;
  let n = 0;
  while (off < end) {
    if (end - off < 8) throw corrupt(off, `${end - off} bytes left, less than a record header`);
    const type = view.getUint32(off, true);
    const size = view.getUint16(off + 6, true);
    if (size < 8 || off + size > end) throw corrupt(off, `record size ${size} does not fit (${end - off} bytes left)`);
    if (type === PERF_RECORD_SAMPLE) {
      let p = off + 8;
      let ts: bigint | undefined;
      if (timestamps) {
        if (p + 8 > off + size) throw corrupt(off, 'sample too short for its timestamp');
        ts = view.getBigUint64(p, true);
        p += 8;
      }
      if (p + 4 > off + size) throw corrupt(off, 'sample too short for its raw size');
      const raw = view.getUint32(p, true);
      p += 4;
      if (p + raw > off + size) throw corrupt(off, `raw size ${raw} exceeds the record (${size} bytes)`);
      handler.sample(ts, buf.subarray(p, p + raw));
    } else if (type === PERF_RECORD_LOST) {
      if (size < 24) throw corrupt(off, `lost record of ${size} bytes`);
      handler.lost(Number(view.getBigUint64(off + 16, true)));
    } else {
      handler.other?.(type);
    }
    off += size;
    n++;
  }
  return n;
}

function corrupt(off: number, what: string): BadInputError {
  return new BadInputError(`corrupt perf ring record at offset ${off} of the batch: ${what}`);
}

/** Size of a sample record the kernel writes for `size` bytes of raw data. */
export function perfSampleRecordSize(size: number, timestamps: boolean): number {
  return 8 + (timestamps ? 8 : 0) + Math.ceil((size + 4) / 8) * 8;
}

/** Largest raw sample a perf record can carry (its size field is 16 bits). */
export function maxPerfSample(timestamps: boolean): number {
  return 0xffff - 8 - (timestamps ? 8 : 0) - 4 - 7;
}

/** An uninitialized, 8-byte aligned byte array (the copy overwrites all of it). */
export function allocUnsafe(len: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(len);
  return new Uint8Array(b.buffer, b.byteOffset, len);
}

/**
 * The fast path: parse the records of `buf` (a linearized copy; 4-byte aligned) straight into the
 * columns of a batch. Loss records go to `lost.add`. Same checks as parsePerfRecords.
 */
export function parsePerfInto(
  buf: Uint8Array,
  timestamps: boolean,
  b: BatchBuilder,
  segment: number,
  cpu: number,
  slot: number,
  lost: LostSink,
): void {
  if ((buf.byteOffset & 3) !== 0) {
    // Unaligned (never for our own copies): take the general path.
    parsePerfRecords(buf, timestamps, {
      sample: (ts, data) => {
        b.reserve(1);
        const i = b.n++;
        b.off[i] = data.byteOffset - buf.byteOffset;
        b.len[i] = data.byteLength;
        b.seg[i] = segment;
        if (ts !== undefined) {
          b.tsLo[i] = Number(ts & 0xffffffffn);
          b.tsHi[i] = Number(ts >> 32n);
          b.withTs = true;
        }
        b.bytes += data.byteLength;
      },
      lost: (n) => lost.add(slot, cpu, n),
    });
    return;
  }
  const end = buf.byteLength;
  const u32 = new Uint32Array(buf.buffer, buf.byteOffset, end >>> 2);
  b.reserve((end >>> 4) + 1);
  const off = b.off;
  const len = b.len;
  const tsLo = b.tsLo;
  const tsHi = b.tsHi;
  let n = b.n;
  const first = n;
  let bytes = 0;
  let o = 0;
  if (timestamps) b.withTs = true;
  while (o < end) {
    if (end - o < 8) throw new BadInputError(`corrupt perf ring record at offset ${o} of the batch: ${end - o} bytes left, less than a record header`);
    const w = o >>> 2;
    const type = u32[w]!;
    const size = u32[w + 1]! >>> 16;
    if (size < 8 || o + size > end || (size & 3) !== 0) {
      throw new BadInputError(`corrupt perf ring record at offset ${o} of the batch: record size ${size} does not fit (${end - o} bytes left)`);
    }
    if (type === PERF_RECORD_SAMPLE) {
      let p = w + 2;
      if (timestamps) {
        tsLo[n] = u32[p]!;
        tsHi[n] = u32[p + 1]!;
        p += 2;
      }
      const raw = u32[p]!;
      const start = (p + 1) << 2;
      if (start > o + size || raw > o + size - start) {
        throw new BadInputError(`corrupt perf ring record at offset ${o} of the batch: raw size ${raw} exceeds the record (${size} bytes)`);
      }
      off[n] = start;
      len[n] = raw;
      n++;
      bytes += raw;
    } else if (type === PERF_RECORD_LOST) {
      if (size < 24) throw new BadInputError(`corrupt perf ring record at offset ${o} of the batch: lost record of ${size} bytes`);
      lost.add(slot, cpu, u32[w + 4]! + u32[w + 5]! * 4294967296);
    }
    o += size;
  }
  b.seg.fill(segment, first, n); // (one fill, not a store per record)
  b.n = n;
  b.bytes += bytes;
}

/**
 * Parse the records of [tail, head) in place in the ring (`u32` views the data area, which is page
 * aligned). Contiguous samples point into the ring segment `ringSeg`; a record that straddles the end
 * of the ring is copied out and reassembled into its own segment. Stops at `head`, or once `limit`
 * bytes are taken (at a record's end). Returns the position after the last record taken; the caller
 * moves data_tail there only when the batch is released.
 */
export function parsePerfInRing(
  ring: Uint8Array,
  u32: Uint32Array,
  tail: number,
  head: number,
  timestamps: boolean,
  b: BatchBuilder,
  ringSeg: number,
  cpu: number,
  slot: number,
  lost: LostSink,
  limit = Infinity,
): number {
  const size = ring.byteLength;
  const mask = size - 1;
  const want = spanToParse('perf ring (tail, head)', size, tail, head, limit);
  let off = b.off;
  let len = b.len;
  let tsLo = b.tsLo;
  let tsHi = b.tsHi;
  let n = b.n;
  // samples [from, n) are in the ring segment: its index goes into the seg column in one fill
  let from = n;
  let bytes = 0;
  if (timestamps) b.withTs = true;
  // The loop counts in 32-bit offsets: bytes taken since `tail` and the offset in the ring (positions
  // grow past 2^31 within seconds at full rate, and arithmetic on them is then floating point: 2x slower).
  const avail = (head - tail) >>> 0;
  let taken = 0;
  let o = tail % size | 0;
  while (taken < want) {
    const w = o >>> 2;
    const type = u32[w]!;
    const recSize = u32[w + 1]! >>> 16;
    if (recSize < 8 || (recSize & 7) !== 0 || recSize > avail - taken) {
      throw new BadInputError(`corrupt perf ring record at position ${shownPosition(tail + taken)}: record size ${recSize} does not fit (${avail - taken} bytes left)`);
    }
    if (o + recSize > size) {
      // Straddles the end of the ring: reassemble this one record.
      b.seg.fill(ringSeg, from, n);
      b.n = n;
      b.bytes += bytes;
      bytes = 0;
      // (offsets, not positions: floating-point arithmetic in this loop made V8 box numbers per record)
      const copy = linearize(ring, o, o + recSize);
      parsePerfInto(copy, timestamps, b, b.segment(copy, cpu, slot, false), cpu, slot, lost);
      n = from = b.n;
      ({ off, len, tsLo, tsHi } = b);
    } else if (type === PERF_RECORD_SAMPLE) {
      if (n === off.length) {
        b.grow(n, want - taken);
        ({ off, len, tsLo, tsHi } = b);
      }
      let q = w + 2;
      if (timestamps) {
        tsLo[n] = u32[q]!;
        tsHi[n] = u32[q + 1]!;
        q += 2;
      }
      const raw = u32[q]!;
      const start = (q + 1) << 2;
      if (raw > o + recSize - start) {
        throw new BadInputError(`corrupt perf ring record at position ${shownPosition(tail + taken)}: raw size ${raw} exceeds the record (${recSize} bytes)`);
      }
      off[n] = start;
      len[n] = raw;
      n++;
      bytes += raw;
    } else if (type === PERF_RECORD_LOST) {
      if (recSize < 24) throw new BadInputError(`corrupt perf ring record at position ${shownPosition(tail + taken)}: lost record of ${recSize} bytes`);
      lost.add(slot, cpu, u32[w + 4]! + u32[w + 5]! * 4294967296);
    }
    taken += recSize;
    o = (o + recSize) & mask;
  }
  b.seg.fill(ringSeg, from, n);
  b.n = n;
  b.bytes += bytes;
  return tail + taken;
}
