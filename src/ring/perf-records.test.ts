import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearize, parsePerfInRing, parsePerfRecords, perfSampleRecordSize } from './perf-records.js';
import { BatchBuilder } from './batch-builder.js';
import { PerfRingWriter } from './perf-ring-writer.js';
import { BpfpipeError } from '../errors.js';

function collect(buf: Uint8Array, ts: boolean) {
  const out: ({ ts: bigint | undefined; data: number[] } | { lost: number })[] = [];
  parsePerfRecords(buf, ts, {
    sample: (t, d) => out.push({ ts: t, data: [...d] }),
    lost: (n) => out.push({ lost: n }),
  });
  return out;
}

test('records straddling the end of the ring are reassembled at every wrap offset', () => {
  const size = 256;
  const payload = Array.from({ length: 61 }, (_, i) => (i * 7 + 3) & 0xff);
  for (const ts of [false, true]) {
    for (let start = 0; start < size * 2; start += 8) {
      const r = new PerfRingWriter(size, start);
      r.sample(payload, ts ? 123456789n : undefined);
      r.lost(5);
      r.sample(payload.slice(0, 3), ts ? 42n : undefined);
      const got = collect(linearize(r.ring, start, r.head), ts);
      const pad = (n: number) => [...payload.slice(0, n), ...new Array(Math.ceil((n + 4) / 8) * 8 - 4 - n).fill(0)];
      assert.deepEqual(got, [
        { ts: ts ? 123456789n : undefined, data: pad(61) },
        { lost: 5 },
        { ts: ts ? 42n : undefined, data: pad(3) },
      ], `start ${start} ts ${ts}`);
    }
  }
});

test('sample record size matches the kernel rounding', () => {
  assert.equal(perfSampleRecordSize(64, false), 8 + 72); // 4 + 64 = 68 -> 72
  assert.equal(perfSampleRecordSize(60, false), 8 + 64);
  assert.equal(perfSampleRecordSize(64, true), 8 + 8 + 72);
  const r = new PerfRingWriter(1024, 0);
  r.sample(new Array(64).fill(1));
  assert.equal(r.head, perfSampleRecordSize(64, false));
});

test('a full ring (head - tail == size) is read whole', () => {
  const size = 128;
  const r = new PerfRingWriter(size, 40);
  // 4 records of 32 bytes (8 header + 4 size + 20 payload) fill 128 bytes exactly.
  for (let i = 0; i < 4; i++) r.sample(new Array(20).fill(i));
  assert.equal(r.head - 40, size);
  const got = collect(linearize(r.ring, 40, r.head), false);
  assert.equal(got.length, 4);
  assert.deepEqual((got[3] as { data: number[] }).data, new Array(20).fill(3));
});

test('corrupt records end in a typed error, never a loop', () => {
  const zero = new Uint8Array(64); // size 0 records
  assert.throws(() => parsePerfRecords(zero, false, { sample() {}, lost() {} }), (e) => e instanceof BpfpipeError && e.code === 'EBPF_BAD_INPUT');
  const r = new PerfRingWriter(64, 0);
  r.sample([1, 2, 3, 4]);
  const cut = linearize(r.ring, 0, r.head).subarray(0, 12);
  assert.throws(() => parsePerfRecords(cut, false, { sample() {}, lost() {} }), BpfpipeError);
  assert.throws(() => linearize(new Uint8Array(64), 0, 65), BpfpipeError);
  // in place: a head more than a ring ahead of the tail (it would read the same records twice), or behind it
  const full = new PerfRingWriter(64, 2 ** 32);
  for (let k = 0; k < 4; k++) full.sample([k, k, k, k]); // 4 records of 16 bytes: the whole ring
  const u32 = new Uint32Array(full.ring.buffer);
  const parse = (tail: number, head: number) => parsePerfInRing(full.ring, u32, tail, head, false, new BatchBuilder(undefined, true), 0, 0, 0, { add: () => {} });
  assert.equal(parse(2 ** 32, 2 ** 32 + 64), 2 ** 32 + 64);
  assert.throws(() => parse(2 ** 32, 2 ** 32 + 128), (e) => e instanceof BpfpipeError && e.code === 'EBPF_BAD_INPUT');
  assert.throws(() => parse(2 ** 32 + 16, 2 ** 32), (e) => e instanceof BpfpipeError && e.code === 'EBPF_BAD_INPUT');
});

test('unknown record types are skipped and reported', () => {
  const buf = new Uint8Array(16);
  const v = new DataView(buf.buffer);
  v.setUint32(0, 5, true); // PERF_RECORD_THROTTLE
  v.setUint16(6, 16, true);
  const others: number[] = [];
  parsePerfRecords(buf, false, { sample() {}, lost() {}, other: (t) => others.push(t) });
  assert.deepEqual(others, [5]);
});

// (positions far past 2^31 and 2^32 too: the parser counts in ring offsets, and positions of a long-lived ring are that large)
const BASES = [0, 2 ** 31 - 96, 2 ** 32 - 200, 2 ** 52 + 2 ** 32 - 8];

test('in place, a limit stops at the end of the record that reaches it (a straddling one too), and reading on from there gets the rest', () => {
  const size = 256;
  for (const base of BASES) for (let at = 0; at < size; at += 8) {
    const start = base + at;
    const r = new PerfRingWriter(size, start);
    // 6 samples of 40 bytes (record 56) and a loss notice: 360 bytes, over a ring of 256 in two reads
    const payloads = Array.from({ length: 6 }, (_, k) => new Array(40).fill(k + 1));
    r.sample(payloads[0]!);
    r.sample(payloads[1]!);
    r.lost(3);
    r.sample(payloads[2]!);
    const mid = r.head;
    const u32 = new Uint32Array(r.ring.buffer);
    const lost: number[] = [];
    const b = new BatchBuilder(undefined, true);
    b.segment(new Uint8Array(size), 1, 1, false); // (the ring's segment is not segment 0)
    const seg = b.segment(r.ring, 0, 0, true);
    const end = parsePerfInRing(r.ring, u32, start, mid, false, b, seg, 0, 0, { add: (_slot: number, _cpu: number, n: number) => void lost.push(n) }, 60);
    assert.equal(end, start + 56 + 56, `start ${start}: stops after the record that reaches 60 bytes`);
    assert.equal(b.n, 2);
    const rest = parsePerfInRing(r.ring, u32, end, mid, false, b, seg, 0, 0, { add: (_slot: number, _cpu: number, n: number) => void lost.push(n) }, 60);
    assert.equal(rest, mid, `start ${start}: the loss notice and the third sample`);
    assert.deepEqual(lost, [3]);
    const batch = b.take();
    assert.deepEqual([...Array(batch.length).keys()].map((i) => [...batch.data(i).subarray(0, 40)]), payloads.slice(0, 3));
  }
});

test('in place, the columns grow as they fill: more samples than they hold, with timestamps, across the wrap, all of them in order', () => {
  const size = 128 * 1024;
  const start = 2 ** 32 + size - 40; // (the first record straddles the end of the ring)
  const r = new PerfRingWriter(size, start);
  const count = 3000; // 24-byte records (4 bytes of data and a timestamp): 72 k bytes
  for (let k = 0; k < count; k++) r.sample([k & 0xff, k >> 8, 7, 7], BigInt(k));
  const u32 = new Uint32Array(r.ring.buffer);
  const b = new BatchBuilder(undefined, true); // (1,024 entries)
  const seg = b.segment(r.ring, 0, 0, true);
  assert.equal(parsePerfInRing(r.ring, u32, start, r.head, true, b, seg, 0, 0, { add: () => assert.fail('no loss') }), r.head);
  assert.equal(b.n, count);
  const batch = b.take();
  for (let k = 0; k < count; k++) {
    assert.equal(batch.ts(k), BigInt(k));
    assert.deepEqual([...batch.data(k)], [k & 0xff, k >> 8, 7, 7], `sample ${k}`);
  }
});
