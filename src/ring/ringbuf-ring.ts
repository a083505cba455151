/**
 * The consumer side of a BPF_MAP_TYPE_RINGBUF map: consumer page mapped read-write, producer page
 * plus the doubly mapped data read-only; acquire loads of producer_pos and record headers, release
 * store of consumer_pos after the committed records have been copied out.
 */
import { kernel, pageSize, memoryMapping, type Mapping } from '../sys/index.js';
import { classify } from '../kernel/privileges.js';
import { scanRingbuf, copyRingbuf, parseRingbufInto, parseRingbufInRing, loadLenWord } from './ringbuf-records.js';
import { ConsumerCursor, MAX_RING_BYTES, fromKernel, toKernel, leaseLimit } from './ring-position.js';
import { NotSupportedError } from '../errors.js';
import type { BatchBuilder } from './batch-builder.js';

const PROT_READ = 1;
const PROT_WRITE = 2;

export class RingbufRing {
  /** The map fd (pollable: readable when records are committed). */
  readonly fd: number;
  readonly size: number;
  private readonly consumerMap: Mapping;
  private readonly producerMap: Mapping;
  private readonly consumerPos: BigInt64Array;
  private readonly producerPos: BigInt64Array;
  private readonly data: Uint8Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  /** consumer_pos, and the lease of the batch that reads the ring in place. */
  readonly cursor: ConsumerCursor;
  private closed = false;
  private readonly synthetic: boolean;

  /**
   * `fd` is a ring buffer map fd owned by the caller (kept open for as long as this ring). `synthetic`
   * instead of the map's pages: a ring in that memory (its consumer page; its producer page and the
   * data, twice), whose wake-ups come from `fd` (prime-reader.ts).
   */
  constructor(fd: number, size: number, synthetic?: { consumer: ArrayBuffer; producer: ArrayBuffer }) {
    if (size > MAX_RING_BYTES) {
      throw new NotSupportedError(`a ring buffer of ${size} bytes is larger than the ${MAX_RING_BYTES / 2 ** 20} MiB bpfpipe reads; give the map a smaller max_entries`);
    }
    const page = pageSize();
    this.fd = fd;
    this.size = size;
    this.mask = size - 1;
    this.synthetic = synthetic !== undefined;
    if (synthetic) {
      this.consumerMap = memoryMapping(synthetic.consumer);
      this.producerMap = memoryMapping(synthetic.producer);
    } else {
      [this.consumerMap, this.producerMap] = mapRingbuf(fd, size, page);
    }
    this.consumerPos = new BigInt64Array(this.consumerMap.buffer, 0, 1);
    this.producerPos = new BigInt64Array(this.producerMap.buffer, 0, 1);
    this.data = new Uint8Array(this.producerMap.buffer, page, 2 * size);
    this.words = new Int32Array(this.producerMap.buffer, page, (2 * size) / 4);
    const consumerPos = this.consumerPos;
    this.cursor = new ConsumerCursor(fromKernel(Atomics.load(consumerPos, 0)), this.mask, (p) => Atomics.store(consumerPos, 0, toKernel(p)), 'ring buffer');
  }

  /** producer_pos, an acquire load (positions are counted from POSITION_BIAS: ring-position.ts). */
  private prod(): number {
    return fromKernel(Atomics.load(this.producerPos, 0));
  }

  pending(): number {
    if (this.closed) return 0;
    return this.prod() - this.cursor.pos;
  }

  /** Whether the last leased read stopped at its limit (leaseLimit): more waits, to be read once it is released. */
  behind = false;

  /**
   * Committed records into `b` (cpu 0). With `lease`, records stay in the (double-mapped, so always
   * contiguous) ring until cursor.release() and the bytes taken are returned (at most leaseLimit():
   * `behind` tells whether more waits); without, they are copied, consumer_pos moves at once and the
   * number of records is returned.
   */
  readInto(b: BatchBuilder, lease: boolean): number {
    this.behind = false;
    if (this.closed) return 0;
    const c = this.cursor;
    c.checkFree();
    const cons = c.pos;
    const prod = this.prod();
    if (prod === cons) return 0;
    if (lease) {
      const limit = leaseLimit(this.size, prod - cons);
      const seg = b.segment(this.data, 0, undefined, true);
      const end = parseRingbufInRing(this.words, this.size, cons, prod, b, seg, 0, limit);
      if (end === cons) return 0;
      c.lease(seg, end);
      this.behind = end - cons >= limit;
      return end - cons; // bytes taken (discarded records included)
    }
    const words = this.words;
    const scan = scanRingbuf(cons, prod, this.mask, (off) => loadLenWord(words, off >> 2));
    if (scan.end === cons) return 0;
    const copy = copyRingbuf(this.data, this.size, cons, scan.end);
    c.moveTo(scan.end);
    return parseRingbufInto(copy, b, b.segment(copy, 0, undefined, false));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cursor.close();
    if (this.synthetic) return;
    const k = kernel();
    k.munmap(this.producerMap);
    k.munmap(this.consumerMap);
  }
}

/** The consumer page (read-write), and the producer page with the data mapped twice (read-only). */
function mapRingbuf(fd: number, size: number, page: number): [Mapping, Mapping] {
  const k = kernel();
  let consumer: Mapping;
  try {
    consumer = k.mmap(fd, page, PROT_READ | PROT_WRITE, 0);
  } catch (err) {
    throw classify(err, 'mmap', 'mapping the ring buffer consumer page');
  }
  try {
    return [consumer, k.mmap(fd, page + 2 * size, PROT_READ, page)];
  } catch (err) {
    k.munmap(consumer);
    throw classify(err, 'mmap', `mapping the ${size}-byte ring buffer`);
  }
}
