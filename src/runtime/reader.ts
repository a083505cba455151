/**
 * Reading what programs in the userspace runtime output: the same shape as the kernel's EventReader
 * (batches(), async iteration, stats, close), over in-memory rings with the kernel's capacity and
 * loss rules: an output that does not fit fails in the program and is reported as lost.
 */
import { ClosedError, UsageError } from '../errors.js';
import { batchOf, type EventBatch } from '../ring/batch.js';
import type { StructDecoder } from '../ring/struct-decoder.js';
import type { Lost, ReaderStats, RingEvent, Sample } from '../ring/types.js';
import type { OutputRecord, RuntimeMap } from './maps.js';

interface Ring {
  cpu: number;
  slot: number | undefined;
  used: number;
  events: RingEvent[];
  lost: number;
}

export class RuntimeReader implements AsyncIterable<RingEvent> {
  readonly stats: ReaderStats = { received: 0, lost: 0, bytes: 0, batches: 0, wakeups: 0 };
  private readonly rings = new Map<number, Ring>();
  private waiter: (() => void) | undefined;
  private drainWaiters: (() => void)[] = [];
  private closed = false;
  private iterating = false;

  /** @internal created by Runtime.openEvents */
  constructor(
    readonly map: RuntimeMap,
    slots: number[] | undefined,
    private readonly capacity: number,
    private readonly decoder: StructDecoder | undefined,
    private readonly onClose: (r: RuntimeReader) => void,
  ) {
    if (slots) for (const s of slots) this.rings.set(s, { cpu: s % map.ncpus, slot: s, used: 0, events: [], lost: 0 });
    else this.rings.set(-1, { cpu: 0, slot: undefined, used: 0, events: [], lost: 0 });
  }

  get perf(): boolean {
    return !this.rings.has(-1);
  }

  hasSlot(slot: number): boolean {
    return !this.closed && this.rings.has(slot);
  }

  private ring(slot: number | undefined): Ring | undefined {
    return this.closed ? undefined : this.rings.get(slot ?? -1);
  }

  /** @internal room for `bytes` in the ring of `slot` */
  take(slot: number | undefined, bytes: number): boolean {
    const r = this.ring(slot);
    if (!r) return false;
    if (r.used + bytes > this.capacity) {
      r.lost++;
      this.wake();
      return false;
    }
    r.used += bytes;
    return true;
  }

  /** @internal give back room taken for a discarded reservation */
  giveBack(bytes: number): void {
    const r = this.ring(undefined);
    if (r) r.used -= bytes;
  }

  /** @internal a record that already has its room */
  add(rec: OutputRecord, bytes: number): void {
    const r = this.ring(rec.slot);
    if (!r) return;
    const e: Sample = { cpu: rec.cpu, data: rec.data, ts: rec.ts };
    if (rec.slot !== undefined) e.slot = rec.slot;
    r.events.push(e);
    void bytes; // counted when the room was taken
    this.wake();
  }

  /** Bytes waiting in the rings (replay waits while they are above half the capacity). */
  get queued(): number {
    let n = 0;
    for (const r of this.rings.values()) n = Math.max(n, r.used);
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

  private takeAll(): RingEvent[] {
    const out: RingEvent[] = [];
    for (const r of this.rings.values()) {
      for (const e of r.events) out.push(e);
      r.events = [];
      r.used = 0;
      if (r.lost > 0) {
        const l: Lost = { cpu: r.cpu, lost: r.lost };
        if (r.slot !== undefined) l.slot = r.slot;
        out.push(l);
        r.lost = 0;
      }
    }
    if (this.perf) out.sort((a, b) => Number((a.lost === undefined ? a.ts ?? 0n : 0n) - (b.lost === undefined ? b.ts ?? 0n : 0n)));
    for (const w of this.drainWaiters.splice(0)) w();
    return out;
  }

  /** Batches of events as they come (the same EventBatch as the kernel reader). */
  async *batches(): AsyncGenerator<EventBatch> {
    if (this.iterating) throw new UsageError('this reader is already being iterated; use one loop per reader');
    this.iterating = true;
    try {
      for (;;) {
        const events = this.takeAll();
        if (events.length > 0) {
          const b = batchOf(events.map(strip), this.decoder, this.perf);
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

function strip(e: RingEvent): RingEvent {
  if (e.lost !== undefined) return e;
  const { cpu, slot, ts, data } = e;
  const s: Sample = { cpu, data };
  if (slot !== undefined) s.slot = slot;
  if (ts !== undefined) s.ts = ts;
  return s;
}
