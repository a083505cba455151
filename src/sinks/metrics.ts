/**
 * Prometheus metrics of an event stream (prom-client): events received and lost per CPU and channel,
 * batches, bytes, ring fill at each drain, sink errors, and counters by event field with a bounded
 * number of label values. `registerEventMetrics(registry)` adds them to any registry; the returned
 * EventMetrics is a batch consumer (give it every batch the stream reads).
 *
 *   const registry = new Registry();
 *   const metrics = registerEventMetrics(registry, { countBy: ['dport'] });
 *   for await (const batch of events.batches()) metrics.write(batch);
 */
import type { Counter, Gauge, Registry } from 'prom-client';
import { promClient } from './lazy.js';
import type { EventBatch } from '../ring/batch.js';
import type { RecordOptions } from '../decode/json.js';
import { possibleCpus } from '../sys/index.js';
import { fieldGetter, eventFields, type FieldGetter } from './fields.js';
import { LabelLimiter } from './top-values.js';

export interface EventMetricsOptions {
  /** Metric name prefix (default "bpfpipe_"). */
  prefix?: string;
  /** Slots per channel of a perf event array (default: the possible CPUs). */
  ncpu?: number;
  /** Event fields to count events by (`--count-by`): one `<prefix>events_by_field_total{field,value}` series per value. */
  countBy?: readonly string[];
  /** Distinct values per --count-by field before the rest counts as "other" (default 20). */
  maxValues?: number;
  /** Data bytes of one ring (perf: pages × page size; ring buffer: its size): enables ring fill gauges. */
  ringBytes?: number;
  /** Whether perf samples carry a kernel timestamp (8 more bytes per record in the ring). */
  timestamps?: boolean;
  /** How records are built for `packet.*` fields. */
  record?: RecordOptions;
  /** Called once per --count-by field that the events do not have. */
  onWarning?: (message: string) => void;
}

/** Counts of a sink, read at every scrape (errors become `<prefix>sink_errors_total{sink}`). */
export interface SinkCounts {
  errors: number;
}

interface RingLabels {
  cpu: string;
  channel: string;
}

export class EventMetrics {
  readonly received: Counter<'cpu' | 'channel'>;
  readonly lost: Counter<'cpu' | 'channel'>;
  readonly batches: Counter;
  readonly bytes: Counter;
  readonly ringFill: Gauge<'cpu' | 'channel'> | undefined;
  readonly ringFillMax: Gauge<'cpu' | 'channel'> | undefined;
  readonly byField: Counter<'field' | 'value'> | undefined;
  readonly sinkErrors: Counter<'sink'>;
  private readonly ncpu: number;
  private readonly labels = new Map<number, RingLabels>();
  private readonly fillSeen = new Set<number>();
  private readonly fillMax = new Map<number, number>();
  private readonly counters: { field: string; get: FieldGetter; limiter: LabelLimiter; checked: boolean }[] = [];
  private readonly sinks = new Map<string, { read: () => SinkCounts; reported: number }>();

  constructor(registry: Registry, private readonly o: EventMetricsOptions = {}) {
    const { Counter, Gauge } = promClient();
    const p = o.prefix ?? 'bpfpipe_';
    this.ncpu = o.ncpu ?? possibleCpus().length;
    const registers = [registry];
    this.received = new Counter({ name: `${p}events_received_total`, help: 'Events (samples) read from the rings', labelNames: ['cpu', 'channel'] as const, registers });
    this.lost = new Counter({ name: `${p}events_lost_total`, help: 'Events the kernel or the program reported lost (ring full)', labelNames: ['cpu', 'channel'] as const, registers });
    this.batches = new Counter({ name: `${p}batches_total`, help: 'Drains that found events', registers });
    this.bytes = new Counter({ name: `${p}event_bytes_total`, help: 'Bytes of event data read', registers });
    if (o.ringBytes) {
      this.ringFill = new Gauge({ name: `${p}ring_fill_ratio`, help: 'Fill of each ring when it was last drained (0..1)', labelNames: ['cpu', 'channel'] as const, registers });
      this.ringFillMax = new Gauge({ name: `${p}ring_fill_max_ratio`, help: 'Highest fill of each ring at a drain since start (0..1)', labelNames: ['cpu', 'channel'] as const, registers });
    }
    const sinks = this.sinks;
    this.sinkErrors = new Counter({
      name: `${p}sink_errors_total`,
      help: 'Errors of the sinks (NATS publishes that failed for good, web view sends)',
      labelNames: ['sink'] as const,
      registers,
      collect() {
        for (const [sink, s] of sinks) {
          const now = s.read().errors;
          if (now > s.reported) this.inc({ sink }, now - s.reported);
          s.reported = now;
        }
      },
    });
    const maxValues = o.maxValues ?? 20;
    if (o.countBy?.length) {
      this.byField = new Counter({ name: `${p}events_by_field_total`, help: `Events by the value of an event field (at most ${maxValues} values per field, then "other")`, labelNames: ['field', 'value'] as const, registers });
      for (const field of o.countBy) this.counters.push({ field, get: fieldGetter(field, { ncpu: this.ncpu, record: o.record }), limiter: new LabelLimiter(maxValues), checked: false });
    }
  }

  /** Report a sink's error count at every scrape. */
  trackSink(name: string, read: () => SinkCounts): void {
    this.sinks.set(name, { read, reported: 0 });
    this.sinkErrors.inc({ sink: name }, 0);
  }

  private ringLabels(cpu: number, slot: number | undefined): RingLabels {
    const key = slot ?? -1 - cpu;
    let l = this.labels.get(key);
    if (!l) {
      this.labels.set(key, (l = { cpu: String(cpu), channel: String(slot === undefined ? 0 : Math.floor(slot / this.ncpu)) }));
      // Both series of a ring exist from its first event on (a lost counter at 0 is worth seeing).
      this.received.inc(l, 0);
      this.lost.inc(l, 0);
    }
    return l;
  }

  /** Count the batch's first `limit` samples and all of its loss notices. */
  write(batch: EventBatch, limit = batch.length): void {
    this.batches.inc();
    const perRing = new Map<number, { cpu: number; slot: number | undefined; n: number; bytes: number }>();
    let bytes = 0;
    for (let i = 0; i < limit; i++) {
      const slot = batch.slot(i);
      const cpu = batch.cpu(i);
      const key = slot ?? -1 - cpu;
      let r = perRing.get(key);
      if (!r) perRing.set(key, (r = { cpu, slot, n: 0, bytes: 0 }));
      const size = batch.size(i);
      r.n++;
      // What the record took in the ring: perf header + size word (+ time), ring buffer header + 8-byte alignment.
      r.bytes += slot !== undefined ? 12 + size + (this.o.timestamps ? 8 : 0) : 8 + Math.ceil(size / 8) * 8;
      bytes += size;
    }
    for (const r of perRing.values()) this.received.inc(this.ringLabels(r.cpu, r.slot), r.n);
    if (bytes) this.bytes.inc(bytes);
    for (const l of batch.lost) this.lost.inc(this.ringLabels(l.cpu, l.slot), l.lost);
    if (this.ringFill && this.o.ringBytes) {
      for (const [key, r] of perRing) {
        const fill = Math.min(1, r.bytes / this.o.ringBytes);
        const labels = this.ringLabels(r.cpu, r.slot);
        this.ringFill.set(labels, fill);
        this.fillSeen.add(key);
        if (fill > (this.fillMax.get(key) ?? -1)) {
          this.fillMax.set(key, fill);
          this.ringFillMax!.set(labels, fill);
        }
      }
      // Rings that had nothing in this drain were empty.
      for (const key of this.fillSeen) if (!perRing.has(key)) this.ringFill.set(this.labels.get(key)!, 0);
    }
    for (const c of this.counters) this.countBy(c, batch, limit);
  }

  private countBy(c: (typeof this.counters)[number], batch: EventBatch, limit: number): void {
    if (!c.checked && limit > 0) {
      c.checked = true;
      if (c.get(batch, 0) === undefined) {
        const fields = eventFields(batch);
        this.o.onWarning?.(`--count-by ${c.field}: the events have no such field${fields ? ` (fields: ${['cpu', 'slot', 'channel', ...fields].join(', ')})` : ' (they are not decoded: give the struct)'}; counted as "none"`);
      }
    }
    const local = new Map<string, number>();
    for (let i = 0; i < limit; i++) {
      const v = c.limiter.label(c.get(batch, i) ?? 'none');
      local.set(v, (local.get(v) ?? 0) + 1);
    }
    for (const [value, n] of local) this.byField!.inc({ field: c.field, value }, n);
  }
}

/** Add the event metrics to `registry`; feed the returned consumer every batch. */
export function registerEventMetrics(registry: Registry, opts: EventMetricsOptions = {}): EventMetrics {
  return new EventMetrics(registry, opts);
}
