/**
 * What the live web view shows, aggregated from batches: totals and rates over time, a breakdown per
 * ring (CPU and channel), the latest events as JSON records, and the top values of one field. A
 * snapshot is taken once per tick (~250 ms) and sent to every browser as JSON.
 */
import type { EventBatch } from '../ring/batch.js';
import { sampleRecord, lostRecord, type EventRecord, type RecordOptions } from '../decode/json.js';
import { fieldGetter, type FieldGetter } from './fields.js';
import { TopValues, type TopEntry } from './top-values.js';

export interface WebStateOptions {
  ncpu: number;
  /** Field whose top values are shown. */
  field?: string;
  /** Latest events kept (default 50). */
  latest?: number;
  /** Points of history kept for a browser that connects later (default 480: 2 minutes at 250 ms). */
  history?: number;
  record?: RecordOptions;
}

export interface RingRow {
  cpu: number;
  channel: number;
  slot: number | null;
  received: number;
  lost: number;
}

/** One point of the chart: time (s since the epoch), events/s and lost/s over the last tick. */
export type Point = [t: number, rate: number, lostRate: number];

export interface Tick {
  type: 'tick';
  t: number;
  received: number;
  lost: number;
  rate: number;
  lostRate: number;
  rings: RingRow[];
  /** Events that arrived since the previous tick (at most `latest` of them), oldest first. */
  events: EventRecord[];
  top: { field: string; total: number; values: TopEntry[] } | undefined;
}

export interface Hello {
  type: 'hello';
  title: string;
  /** Slots per channel (channel = slot / ncpu). */
  ncpu: number;
  field: string | undefined;
  latest: number;
  history: Point[];
  /** The latest events so far, oldest first. */
  events: EventRecord[];
}

export class WebState {
  received = 0;
  lost = 0;
  private readonly rings = new Map<number, RingRow>();
  private readonly keep: number;
  private readonly historyMax: number;
  private latest: EventRecord[] = [];
  private fresh: EventRecord[] = [];
  private readonly history: Point[] = [];
  private last = { t: Date.now(), received: 0, lost: 0 };
  private readonly top: TopValues | undefined;
  private readonly get: FieldGetter | undefined;
  private readonly record: RecordOptions;

  constructor(private readonly o: WebStateOptions) {
    this.keep = o.latest ?? 50;
    this.historyMax = o.history ?? 480;
    this.record = { ...o.record, slot: true };
    if (o.field) {
      this.get = fieldGetter(o.field, { ncpu: o.ncpu, record: o.record });
      this.top = new TopValues(200);
    }
  }

  private ring(cpu: number, slot: number | undefined): RingRow {
    const key = slot ?? -1 - cpu;
    let r = this.rings.get(key);
    if (!r) this.rings.set(key, (r = { cpu, channel: slot === undefined ? 0 : Math.floor(slot / this.o.ncpu), slot: slot ?? null, received: 0, lost: 0 }));
    return r;
  }

  /** Count the batch (synchronously: it may be leased) and keep records of its last events. */
  write(batch: EventBatch, limit = batch.length): void {
    this.received += limit;
    let prevKey = NaN;
    let row: RingRow | undefined;
    for (let i = 0; i < limit; i++) {
      const slot = batch.slot(i);
      const cpu = batch.cpu(i);
      const key = slot ?? -1 - cpu;
      if (key !== prevKey) {
        row = this.ring(cpu, slot);
        prevKey = key;
      }
      row!.received++;
      if (this.get) this.top!.add(this.get(batch, i) ?? 'none');
    }
    for (const l of batch.lost) {
      this.lost += l.lost;
      this.ring(l.cpu, l.slot).lost += l.lost;
    }
    for (let i = Math.max(0, limit - this.keep); i < limit; i++) this.fresh.push(sampleRecord(batch, i, this.record));
    for (const l of batch.lost) this.fresh.push(lostRecord(l, this.record));
    if (this.fresh.length > 2 * this.keep) this.fresh = this.fresh.slice(-this.keep);
  }

  /** The snapshot of this tick (and the start of the next one). */
  tick(now = Date.now()): Tick {
    const dt = Math.max(1, now - this.last.t) / 1000;
    const rate = (this.received - this.last.received) / dt;
    const lostRate = (this.lost - this.last.lost) / dt;
    this.last = { t: now, received: this.received, lost: this.lost };
    const point: Point = [now / 1000, Math.round(rate), Math.round(lostRate)];
    this.history.push(point);
    if (this.history.length > this.historyMax) this.history.shift();
    const events = this.fresh.slice(-this.keep);
    this.fresh = [];
    this.latest = [...this.latest, ...events].slice(-this.keep);
    return {
      type: 'tick',
      t: point[0],
      received: this.received,
      lost: this.lost,
      rate: point[1],
      lostRate: point[2],
      rings: [...this.rings.values()].sort((a, b) => a.channel - b.channel || a.cpu - b.cpu),
      events,
      top: this.top ? { field: this.o.field!, total: this.top.total, values: this.top.top(10) } : undefined,
    };
  }

  hello(title: string): Hello {
    return { type: 'hello', title, ncpu: this.o.ncpu, field: this.o.field, latest: this.keep, history: [...this.history], events: [...this.latest] };
  }
}
