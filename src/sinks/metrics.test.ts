import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { registerEventMetrics } from './metrics.js';
import { registerNatsMetrics } from './nats-metrics.js';
import { batchOf } from '../ring/batch-builder.js';
import type { StructDecoder } from '../ring/struct-decoder.js';
import type { RingEvent } from '../ring/types.js';

const decoder: StructDecoder = { size: 4, decode: (v, o) => ({ port: v.getUint16(o, true), kind: v.getUint8(o + 2) }) };
const ev = (cpu: number, slot: number | undefined, port: number, size = 8): RingEvent => {
  const data = new Uint8Array(size);
  new DataView(data.buffer).setUint16(0, port, true);
  return { cpu, slot, data };
};

async function values(r: Registry, name: string): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const m = (await r.getMetricsAsJSON()).find((x) => x.name === name) as { values: { labels: Record<string, string | number>; value: number }[] } | undefined;
  return m?.values ?? [];
}

test('event metrics: received and lost per CPU and channel (slot / ncpu), batches, bytes', async () => {
  const r = new Registry();
  const m = registerEventMetrics(r, { ncpu: 4 });
  // Slots 1 (channel 0, cpu 1), 5 (channel 1, cpu 1), 6 (channel 1, cpu 2).
  m.write(batchOf([ev(1, 1, 1), ev(1, 1, 2), ev(1, 5, 3), ev(2, 6, 4), { cpu: 2, slot: 6, lost: 7 }], decoder, true));
  m.write(batchOf([ev(1, 1, 1, 16)], decoder, true));
  const received = await values(r, 'bpfpipe_events_received_total');
  assert.deepEqual(received.map((v) => [v.labels.cpu, v.labels.channel, v.value]).sort(), [['1', '0', 3], ['1', '1', 1], ['2', '1', 1]]);
  const lost = await values(r, 'bpfpipe_events_lost_total');
  assert.deepEqual(lost.map((v) => [v.labels.cpu, v.labels.channel, v.value]).sort(), [['1', '0', 0], ['1', '1', 0], ['2', '1', 7]]);
  assert.equal((await values(r, 'bpfpipe_batches_total'))[0]!.value, 2);
  assert.equal((await values(r, 'bpfpipe_event_bytes_total'))[0]!.value, 4 * 8 + 16);
});

test('event metrics: a limit counts only the first samples (as the CLI does with --count); loss notices always', async () => {
  const r = new Registry();
  const m = registerEventMetrics(r, { ncpu: 2 });
  m.write(batchOf([ev(0, 0, 1), ev(0, 0, 2), ev(0, 0, 3), { cpu: 0, slot: 0, lost: 2 }], decoder, true), 2);
  assert.equal((await values(r, 'bpfpipe_events_received_total'))[0]!.value, 2);
  assert.equal((await values(r, 'bpfpipe_events_lost_total'))[0]!.value, 2);
});

test('--count-by: values of a decoded field, at most maxValues of them, then "other"; unknown fields warn once', async () => {
  const r = new Registry();
  const warnings: string[] = [];
  const m = registerEventMetrics(r, { ncpu: 2, countBy: ['port', 'nope', 'cpu'], maxValues: 2, onWarning: (w) => warnings.push(w) });
  m.write(batchOf([ev(0, 0, 80), ev(0, 0, 443), ev(1, 1, 80), ev(1, 1, 22), ev(1, 1, 53)], decoder, true));
  m.write(batchOf([ev(0, 0, 443), ev(0, 0, 8080)], decoder, true));
  const by = await values(r, 'bpfpipe_events_by_field_total');
  const get = (field: string) => Object.fromEntries(by.filter((v) => v.labels.field === field).map((v) => [v.labels.value, v.value]));
  assert.deepEqual(get('port'), { '80': 2, '443': 2, other: 3 });
  assert.deepEqual(get('nope'), { none: 7 });
  assert.deepEqual(get('cpu'), { '0': 4, '1': 3 });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /--count-by nope: the events have no such field \(fields: cpu, slot, channel, port, kind\)/);
});

test('ring fill: the bytes a drain found in each ring over the ring size; rings absent from a drain were empty', async () => {
  const r = new Registry();
  const m = registerEventMetrics(r, { ncpu: 2, ringBytes: 4096 });
  m.write(batchOf([ev(0, 0, 1, 20), ev(0, 0, 1, 20), ev(1, 1, 1, 52)], decoder, true));
  m.write(batchOf([ev(1, 1, 1, 52)], decoder, true));
  const fill = Object.fromEntries((await values(r, 'bpfpipe_ring_fill_ratio')).map((v) => [v.labels.cpu, v.value]));
  assert.deepEqual(fill, { '0': 0, '1': 64 / 4096 });
  const max = Object.fromEntries((await values(r, 'bpfpipe_ring_fill_max_ratio')).map((v) => [v.labels.cpu, v.value]));
  assert.deepEqual(max, { '0': 64 / 4096, '1': 64 / 4096 });
});

test('sink errors and NATS counts are read at every scrape', async () => {
  const r = new Registry();
  const m = registerEventMetrics(r, { ncpu: 1 });
  const stats = { submitted: 10, published: 7, duplicates: 1, retries: 2, dropped: 3, errors: 1, buffered: 0, inflight: 0, connected: true, reconnects: 1 };
  m.trackSink('nats', () => ({ errors: stats.errors }));
  registerNatsMetrics(r, () => stats);
  assert.equal((await values(r, 'bpfpipe_sink_errors_total'))[0]!.value, 1);
  assert.equal((await values(r, 'bpfpipe_nats_published_total'))[0]!.value, 7);
  stats.published = 9;
  stats.errors = 2;
  stats.connected = false;
  assert.equal((await values(r, 'bpfpipe_nats_published_total'))[0]!.value, 9);
  assert.equal((await values(r, 'bpfpipe_sink_errors_total'))[0]!.value, 2);
  assert.equal((await values(r, 'bpfpipe_nats_connected'))[0]!.value, 0);
});
