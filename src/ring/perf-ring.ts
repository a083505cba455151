/**
 * One perf BPF-output ring: perf_event_open(SW_BPF_OUTPUT) on a CPU, mmap(1 + 2^n pages), and
 * reading with acquire/release on data_head/data_tail. The fd goes into a perf event array slot.
 *
 * With a byte watermark, the ring can also have an eager twin: a second BPF-output event on the same
 * CPU that wakes the reader at every sample (wakeup_events = 1) and writes into this ring
 * (PERF_EVENT_IOC_SET_OUTPUT). The kernel applies a sample's wake-up rule by the event it is written
 * through, so which of the two fds fills the slot chooses per-sample wake-ups (slow traffic, lowest
 * latency) or watermark wake-ups (batches), with one ring, one order of records and nothing to drain
 * when the reader switches.
 */
import { kernel, pageSize, memoryMapping, type Mapping } from '../sys/index.js';
import { classify } from '../kernel/privileges.js';
import { SyscallError, Errno, UsageError, NotSupportedError } from '../errors.js';
import { encodeBpfOutputAttr, PERF_FLAG_FD_CLOEXEC, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_SET_OUTPUT } from './perf-attr.js';
import { linearize, parsePerfInto, parsePerfInRing, MMAP_PAGE } from './perf-records.js';
import type { LostSink } from './loss-report.js';
import { ConsumerCursor, MAX_RING_BYTES, fromKernel, toKernel, leaseLimit } from './ring-position.js';
import type { BatchBuilder } from './batch-builder.js';

const PROT_READ = 1;
const PROT_WRITE = 2;

export interface PerfRingOptions {
  cpu: number;
  slot: number;
  /** Data pages (a power of two). */
  pages: number;
  wakeupBytes?: number;
  wakeupEvents?: number;
  timestamps: boolean;
  /** Also open the eager twin (with wakeupBytes only; see above). */
  eager?: boolean;
}

export class PerfRing {
  readonly cpu: number;
  readonly slot: number;
  readonly fd: number;
  /** The eager twin's fd (samples through it wake the reader each), if it has one. */
  readonly eagerFd: number | undefined;
  readonly timestamps: boolean;
  /** Bytes in the data area. */
  readonly size: number;
  private readonly mapping: Mapping;
  private readonly meta: BigInt64Array;
  private readonly data: Uint8Array;
  private readonly words: Uint32Array;
  /** data_tail, and the lease of the batch that reads the ring in place. */
  readonly cursor: ConsumerCursor;
  private closed = false;
  private readonly synthetic: boolean;

  /**
   * Opens the event (`o`) and maps its ring; `synthetic` instead: a ring in that memory, whose wake-ups
   * come from that fd (owned by the caller, as its eagerFd: prime-reader.ts runs a reader over such a
   * ring, with objects of the same classes as every reader's).
   */
  constructor(o: PerfRingOptions, synthetic?: { memory: ArrayBuffer; fd: number; eagerFd: number | undefined }) {
    if (!Number.isInteger(o.pages) || o.pages < 1 || (o.pages & (o.pages - 1)) !== 0) {
      throw new UsageError(`pagesPerCpu must be a power of two (1, 2, 4, ...), got ${o.pages}`);
    }
    const page = pageSize();
    if (o.pages * page > MAX_RING_BYTES) {
      throw new UsageError(`a perf ring of ${o.pages} pages (${o.pages * page} bytes) is larger than the ${MAX_RING_BYTES / 2 ** 20} MiB a ring can have; use fewer pagesPerCpu`);
    }
    this.synthetic = synthetic !== undefined;
    if (synthetic) {
      this.fd = synthetic.fd;
      this.mapping = memoryMapping(synthetic.memory);
    } else {
      [this.fd, this.mapping] = openMapped(o, page);
    }
    const eager = o.eager && o.wakeupBytes !== undefined;
    this.eagerFd = synthetic ? synthetic.eagerFd : eager ? openEager(this.fd, o) : undefined;
    this.cpu = o.cpu;
    this.slot = o.slot;
    this.timestamps = o.timestamps;
    this.meta = new BigInt64Array(this.mapping.buffer, 0, page / 8);
    const metaView = new DataView(this.mapping.buffer, 0, page);
    const dataOffset = Number(metaView.getBigUint64(MMAP_PAGE.DATA_OFFSET, true)) || page;
    const dataSize = Number(metaView.getBigUint64(MMAP_PAGE.DATA_SIZE, true)) || o.pages * page;
    this.size = dataSize;
    this.data = new Uint8Array(this.mapping.buffer, dataOffset, dataSize);
    this.words = new Uint32Array(this.mapping.buffer, dataOffset, dataSize / 4);
    const meta = this.meta;
    const tail = fromKernel(Atomics.load(meta, MMAP_PAGE.DATA_TAIL / 8));
    this.cursor = new ConsumerCursor(tail, dataSize - 1, (p) => Atomics.store(meta, MMAP_PAGE.DATA_TAIL / 8, toKernel(p)), 'perf ring');
  }

  enable(): void {
    for (const fd of this.fds()) kernel().ioctl(fd, PERF_EVENT_IOC_ENABLE, 0, 'ioctl(PERF_EVENT_IOC_ENABLE)');
  }

  disable(): void {
    for (const fd of this.fds()) kernel().ioctl(fd, PERF_EVENT_IOC_DISABLE, 0, 'ioctl(PERF_EVENT_IOC_DISABLE)');
  }

  private fds(): number[] {
    if (this.synthetic) return [];
    return this.eagerFd === undefined ? [this.fd] : [this.fd, this.eagerFd];
  }

  /** data_head, an acquire load (positions are counted from POSITION_BIAS: ring-position.ts). */
  private head(): number {
    return fromKernel(Atomics.load(this.meta, MMAP_PAGE.DATA_HEAD / 8));
  }

  /** Bytes written by the kernel and not read yet. */
  pending(): number {
    if (this.closed) return 0;
    return this.head() - this.cursor.pos;
  }

  /** Whether the last leased read stopped at its limit (leaseLimit): more waits, to be read once it is released. */
  behind = false;

  /**
   * Parse what the kernel has written into `b`. With `lease`, samples stay in the ring and the
   * caller must call cursor.release() before reading again (at most leaseLimit() bytes are taken:
   * `behind` tells whether more waits); without, they are copied out and data_tail moves at once.
   * Returns the number of bytes taken.
   */
  readInto(b: BatchBuilder, lost: LostSink, lease: boolean): number {
    this.behind = false;
    if (this.closed) return 0;
    const c = this.cursor;
    c.checkFree();
    const tail = c.pos;
    const head = this.head();
    const n = head - tail;
    if (n <= 0) return 0;
    if (lease) {
      const limit = leaseLimit(this.size, n);
      const seg = b.segment(this.data, this.cpu, this.slot, true);
      const end = parsePerfInRing(this.data, this.words, tail, head, this.timestamps, b, seg, this.cpu, this.slot, lost, limit);
      c.lease(seg, end);
      this.behind = end - tail >= limit;
      return end - tail;
    }
    const copy = linearize(this.data, tail, head);
    c.moveTo(head);
    parsePerfInto(copy, this.timestamps, b, b.segment(copy, this.cpu, this.slot, false), this.cpu, this.slot, lost);
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cursor.close();
    if (this.synthetic) return;
    const k = kernel();
    k.munmap(this.mapping);
    if (this.eagerFd !== undefined) k.close(this.eagerFd);
    k.close(this.fd);
  }
}

/** perf_event_open(SW_BPF_OUTPUT) on the CPU, and the ring's mapping. */
function openMapped(o: PerfRingOptions, page: number): [number, Mapping] {
  const k = kernel();
  const attr = encodeBpfOutputAttr({ wakeupBytes: o.wakeupBytes, wakeupEvents: o.wakeupEvents, timestamps: o.timestamps, disabled: true });
  let fd: number;
  try {
    fd = k.perfEventOpen(attr, -1, o.cpu, -1, PERF_FLAG_FD_CLOEXEC);
  } catch (err) {
    if (err instanceof SyscallError && err.errno === Errno.ENODEV) {
      throw new NotSupportedError(`CPU ${o.cpu} is not online; rings can only be opened on online CPUs`, { errno: err.errno, cause: err });
    }
    throw classify(err, 'perf', `opening the perf ring of CPU ${o.cpu}`);
  }
  try {
    return [fd, k.mmap(fd, (1 + o.pages) * page, PROT_READ | PROT_WRITE, 0)];
  } catch (err) {
    k.close(fd);
    throw classify(err, 'mmap', `mapping ${o.pages} pages for the perf ring of CPU ${o.cpu}`);
  }
}

/**
 * The eager twin of the ring `fd` (opened disabled, its samples redirected into the ring), or
 * undefined where the kernel refuses it: the ring then works as before, polled when traffic is slow.
 */
function openEager(fd: number, o: PerfRingOptions): number | undefined {
  const k = kernel();
  let eager: number;
  try {
    eager = k.perfEventOpen(encodeBpfOutputAttr({ wakeupEvents: 1, timestamps: o.timestamps, disabled: true }), -1, o.cpu, -1, PERF_FLAG_FD_CLOEXEC);
  } catch {
    return undefined;
  }
  try {
    k.ioctl(eager, PERF_EVENT_IOC_SET_OUTPUT, fd, 'ioctl(PERF_EVENT_IOC_SET_OUTPUT)');
    return eager;
  } catch {
    k.close(eager);
    return undefined;
  }
}
