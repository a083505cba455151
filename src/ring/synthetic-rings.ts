/**
 * Rings in plain memory that JavaScript fills as the kernel fills real ones, with readers of the same
 * classes as every reader's over them (prime-reader.ts runs them). A ring's wake-ups come from a
 * timerfd armed once per wake-up, as the kernel wakes a reader: in the rings' epoll set, it polls
 * readable until the reader has drained.
 */
import { kernel, pageSize } from '../sys/index.js';
import { EventReader } from './reader.js';
import { PerfRing } from './perf-ring.js';
import { RingbufRing } from './ringbuf-ring.js';
import { PerfRingWriter } from './perf-ring-writer.js';
import { MMAP_PAGE } from './perf-records.js';
import { RINGBUF_DISCARD_BIT, RINGBUF_HDR_SZ } from './ringbuf-records.js';
import { POSITION_BIAS, fromKernel, toKernel } from './ring-position.js';
import { MIN_COLUMNS } from './batch-builder.js';
import type { ReaderParts } from './reader-parts.js';

/** A perf ring's watermark (bytes) in the full reader, and the poll interval of both readers. */
export const SYNTHETIC_WATERMARK = 1024;
const FLUSH_MS = 1;
/** The largest record a fill writes (a perf sample). */
export const SYNTHETIC_RECORD_MAX = 80;
/** A sample's bytes: 64 (an 80-byte perf record, a 72-byte ring buffer record). */
const SAMPLE_BYTES = 64;

export abstract class SyntheticRing {
  /** Data bytes. */
  readonly size: number;
  /** A timerfd armed once per wake-up. */
  protected readonly fd = kernel().timerCreate();
  /** The producer's position (data_head, producer_pos), as the readers count it. */
  protected head = POSITION_BIAS;
  /** Closed: a fill or a wake-up that a timer still brings does nothing. */
  protected closed = false;

  constructor(pages: number) {
    this.size = pages * pageSize();
  }

  /** A reader over this ring; `full`: with every optional part its kind of reader can have. */
  abstract reader(full: boolean): EventReader;

  /** About `bytes` of samples, and a lost (perf) or a discarded (ring buffer) record if `lost`: as much as the free space takes. */
  fill(bytes: number, lost: boolean): void {
    if (this.closed) return;
    const target = Math.min(this.head + bytes, this.consumed() + this.size - 2 * SYNTHETIC_RECORD_MAX);
    while (this.head < target) this.sample();
    if (lost) this.lost();
    this.publish();
  }

  /** The kernel's wake-up (the fd polls readable), and its end (the reader drained). */
  wake(): void {
    if (!this.closed) kernel().timerSet(this.fd, 1, true);
  }

  woken(): void {
    if (!this.closed) kernel().timerSet(this.fd, 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    kernel().close(this.fd);
  }

  protected abstract consumed(): number;
  protected abstract sample(): void;
  protected abstract lost(): void;
  protected abstract publish(): void;

  /** Parts of a reader over this ring (the optional ones with `full`), as openEvents assembles them. */
  protected parts(full: boolean, kind: 'perf' | 'ringbuf', perfRings: PerfRing[], ringbuf: RingbufRing | undefined): ReaderParts {
    let dropped = 0n;
    const out = new Map<number, bigint>();
    const perfFull = full && kind === 'perf';
    return {
      kind,
      perfRings,
      ringbuf,
      openCpu: kind === 'perf' ? () => undefined : undefined,
      drops: full ? { read: () => out.set(0, (dropped += 1n)), close: () => undefined } : undefined,
      decoder: undefined,
      flushMs: FLUSH_MS,
      ordered: undefined,
      release: () => undefined,
      signal: undefined,
      watermarkBytes: perfFull ? SYNTHETIC_WATERMARK : undefined,
      setEager: perfFull ? (eager) => void eager : undefined,
      quiet: true,
      // (the smallest columns: a backlog's drain grows them, as it does a real reader's of small records)
      columns: MIN_COLUMNS,
    };
  }
}

/** A perf ring: its meta page, then the data. */
export class SyntheticPerfRing extends SyntheticRing {
  private readonly memory: ArrayBuffer;
  /** A second ring, never written, of the first reader, and its fd. */
  private readonly twin: ArrayBuffer;
  private readonly twinFd = kernel().timerCreate();
  private readonly data: Uint8Array;
  private readonly meta: BigInt64Array;

  constructor(pages: number) {
    super(pages);
    this.memory = new ArrayBuffer(pageSize() + this.size);
    this.twin = new ArrayBuffer(pageSize() + this.size);
    this.data = new Uint8Array(this.memory, pageSize(), this.size);
    this.meta = new BigInt64Array(this.memory, 0, pageSize() / 8);
  }

  reader(full: boolean): EventReader {
    const pages = this.size / pageSize();
    const o = { cpu: 0, slot: 0, pages, timestamps: false, wakeupBytes: SYNTHETIC_WATERMARK };
    // (the rings of the first reader, with an eager twin's fd and without, as real rings have: V8 then
    // knows both kinds of value of the field before it compiles code that reads rings)
    const rings = [new PerfRing(o, { memory: this.memory, fd: this.fd, eagerFd: this.fd })];
    if (!full) rings.push(new PerfRing({ ...o, slot: 1 }, { memory: this.twin, fd: this.twinFd, eagerFd: undefined }));
    return new EventReader(this.parts(full, 'perf', rings, undefined));
  }

  override close(): void {
    if (!this.closed) kernel().close(this.twinFd);
    super.close();
  }

  protected consumed(): number {
    return fromKernel(Atomics.load(this.meta, MMAP_PAGE.DATA_TAIL / 8));
  }

  protected sample(): void {
    this.put(PERF_SAMPLE);
  }

  protected lost(): void {
    this.put(PERF_LOST);
  }

  protected publish(): void {
    Atomics.store(this.meta, MMAP_PAGE.DATA_HEAD / 8, toKernel(this.head));
  }

  /** A record at the head, wrapping at the ring's end. */
  private put(record: Uint8Array): void {
    const at = this.head % this.size;
    const first = Math.min(record.length, this.size - at);
    this.data.set(record.subarray(0, first), at);
    this.data.set(record.subarray(first), 0);
    this.head += record.length;
  }
}

/** The bytes of one perf record as PerfRingWriter lays it out: a sample, a lost record. */
function perfRecord(size: number, write: (w: PerfRingWriter) => void): Uint8Array {
  const w = new PerfRingWriter(size, 0);
  write(w);
  return w.ring;
}
const PERF_SAMPLE = perfRecord(SYNTHETIC_RECORD_MAX, (w) => w.sample(Array.from({ length: SAMPLE_BYTES }, (_, i) => i)));
const PERF_LOST = perfRecord(24, (w) => w.lost(1));

/** A ring buffer: the consumer page; the producer page, then the data twice (as the kernel maps it). */
export class SyntheticRingbuf extends SyntheticRing {
  private readonly consumer = new ArrayBuffer(pageSize());
  private readonly producer: ArrayBuffer;
  private readonly words: Int32Array;
  private readonly consumerPos = new BigInt64Array(this.consumer, 0, 1);
  private readonly producerPos: BigInt64Array;

  constructor(pages: number) {
    super(pages);
    this.producer = new ArrayBuffer(pageSize() + 2 * this.size);
    this.words = new Int32Array(this.producer, pageSize(), (2 * this.size) / 4);
    this.producerPos = new BigInt64Array(this.producer, 0, 1);
  }

  reader(full: boolean): EventReader {
    const ring = new RingbufRing(this.fd, this.size, { consumer: this.consumer, producer: this.producer });
    return new EventReader(this.parts(full, 'ringbuf', [], ring));
  }

  protected consumed(): number {
    return fromKernel(Atomics.load(this.consumerPos, 0));
  }

  protected sample(): void {
    this.put(0);
  }

  protected lost(): void {
    this.put(RINGBUF_DISCARD_BIT);
  }

  protected publish(): void {
    Atomics.store(this.producerPos, 0, toKernel(this.head));
  }

  /** A record's header (its length and `flags`) at the head, in both mappings of the data; its data is not looked at. */
  private put(flags: number): void {
    const at = (this.head % this.size) >> 2;
    this.words[at] = this.words[at + this.size / 4] = (SAMPLE_BYTES | flags) | 0;
    this.head += (SAMPLE_BYTES + RINGBUF_HDR_SZ + 7) & ~7;
  }
}
