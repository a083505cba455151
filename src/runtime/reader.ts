/**
 * Reading what programs in the userspace runtime output: the same shape as the kernel's EventReader
 * (batches(), async iteration, stats, close), over in-memory rings (RecordRing) with the kernel's
 * capacity and loss rules: an output that does not fit fails in the program and is reported as lost.
 * A perf event array slot has a ring only while a reader has it open (else outputs fail with ENOENT,
 * as in the kernel); a ring buffer's ring belongs to the map (records wait there for a reader).
 */
import { ClosedError, UsageError } from '../errors.js';
import type { EventBatch } from '../ring/batch.js';
import { BatchBuilder } from '../ring/batch-builder.js';
import type { StructDecoder } from '../ring/struct-decoder.js';
import type { ReaderStats, RingEvent } from '../ring/types.js';
import { PerfEventArrayMap, RingbufMap, type RuntimeMap } from './maps.js';
import { RecordRing, type DrainOrder } from './record-ring.js';
import { diag } from '../diagnostics.js';
import { newReaderStats } from '../ring/reader-stats.js';

export class RuntimeReader implements AsyncIterable<RingEvent> {
  readonly stats: ReaderStats = newReaderStats();
  /** Perf event array: the ring of each slot read (by slot); ring buffer: `rb`. */
  private readonly bySlot: (RecordRing | undefined)[] = [];
  private readonly rb: RecordRing | undefined;
  private readonly all: RecordRing[] = [];
  private waiter: (() => void) | undefined;
  private drainWaiters: (() => void)[] = [];
  private closed = false;
  private closePublished = false;
  private iterating = false;
  /** Whether this reads a perf event array (else a ring buffer). */
  readonly perf: boolean;
  private readonly wakeFn = () => this.wake();
  /** The last batch taken: it reads the rings' slabs in place until released (takeAll, close). */
  private lease: EventBatch | undefined;

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
      if (!(map instanceof PerfEventArrayMap)) throw new UsageError(`map '${map.name}' is not a perf event array`);
      for (const s of slots) {
        if (this.bySlot[s] !== undefined) continue;
        const r = new RecordRing(s % map.ncpus, s, capacity);
        this.bySlot[s] = r;
        this.all.push(r);
        map.rings[s] = r;
      }
      this.rb = undefined;
    } else {
      if (!(map instanceof RingbufMap)) throw new UsageError(`map '${map.name}' is not a ring buffer`);
      // the records the ring buffer holds already are this reader's too
      const r = map.ring;
      r.capacity = capacity;
      this.rb = r;
      this.all.push(r);
    }
    if (diag.readerOpen.active) diag.readerOpen.publish({ reader: this, kind: this.kind, where: 'runtime', slots: slots ?? [] });
  }

  get kind(): 'perf' | 'ringbuf' {
    return this.perf ? 'perf' : 'ringbuf';
  }

  hasSlot(slot: number): boolean {
    return !this.closed && this.bySlot[slot] !== undefined;
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
    for (const r of this.all) r.onData = undefined;
    w?.();
  }

  /** Wait for a record, a loss or close: the rings call wake() only while this waits. */
  private wait(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiter = resolve;
      for (const r of this.all) r.onData = this.wakeFn;
    });
  }

  /** Release the last batch taken: its slabs go back to their rings. */
  private releaseLease(): void {
    const l = this.lease;
    this.lease = undefined;
    l?.release();
  }

  /**
   * What the rings hold now, as one batch (undefined when nothing): perf samples in time order (stable:
   * a ring's own order for equal times), loss notices after them in ring order. The batch is leased, as
   * the kernel reader's are: it reads the rings' slabs in place until the next batch is taken (or it is
   * released, or has copied its samples out), then the slabs are written again.
   */
  private takeAll(): EventBatch | undefined {
    this.releaseLease();
    const b = new BatchBuilder(this.decoder, this.perf);
    let n = 0;
    for (const r of this.all) n += r.n;
    b.reserve(n);
    const order: DrainOrder = { sorted: true, hi: 0, lo: 0 };
    let k = 0;
    for (const r of this.all) k = r.drainInto(b, k, order);
    b.n = n;
    b.withTs = n > 0;
    if (this.perf && !order.sorted) sortByTime(b, n);
    for (const w of this.drainWaiters.splice(0)) w();
    const recycle = () => {
      for (const r of this.all) r.recycle();
    };
    if (b.empty) {
      recycle();
      return undefined;
    }
    return (this.lease = b.takeLeased(recycle));
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
          if (diag.readerLost.active) {
            for (const l of b.lost) diag.readerLost.publish({ reader: this, kind: this.kind, where: 'runtime', cpu: l.cpu, slot: l.slot, lost: l.lost, source: 'ring' });
          }
          if (diag.readerDrain.active) {
            diag.readerDrain.publish({ reader: this, kind: this.kind, where: 'runtime', events: b.length, bytes: b.bytes, lost: b.lostCount, cause: 'data' });
          }
          yield b;
          continue;
        }
        if (this.closed) {
          this.closeDelivered();
          return;
        }
        await this.wait();
      }
    } finally {
      this.releaseLease();
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
    // New outputs no longer reach this reader: its perf slots close (ENOENT), the ring buffer gets a
    // fresh ring for later readers; what is in this reader's rings now is still delivered.
    const m = this.map;
    if (m instanceof PerfEventArrayMap) for (const r of this.all) if (m.rings[r.slot!] === r) m.rings[r.slot!] = undefined;
    if (m instanceof RingbufMap && m.ring === this.rb) m.ring = new RecordRing(0, undefined, m.spec.maxEntries);
    this.onClose(this);
    // Records already output stay readable: close only stops new outputs.
    this.wake();
    for (const w of this.drainWaiters.splice(0)) w();
    if (!this.iterating && this.all.every((r) => r.n === 0 && r.lost === 0)) this.closeDelivered();
  }

  /** Closed, and what the rings held at close is delivered: the final counts (once). */
  private closeDelivered(): void {
    if (this.closePublished) return;
    this.closePublished = true;
    if (diag.readerClose.active) diag.readerClose.publish({ reader: this, kind: this.kind, where: 'runtime', stats: { ...this.stats } });
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
