import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanRingbuf, copyRingbuf, parseRingbufInRing, parseRingbufRecords, RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT } from './ringbuf-records.js';
import { BatchBuilder } from './batch-builder.js';
import { BpfpipeError } from '../errors.js';

/** A ring written like kernel/bpf/ringbuf.c does (single mapping; the wrap is explicit). */
class FakeRingbuf {
  readonly data: Uint8Array;
  prod: number;

  constructor(readonly size: number, start: number) {
    this.data = new Uint8Array(size);
    this.prod = start;
  }

  private put(pos: number, bytes: number[]): void {
    bytes.forEach((b, i) => (this.data[(pos + i) % this.size] = b));
  }

  /** Reserve + (optionally) commit a record; returns its position. */
  write(payload: number[], state: 'commit' | 'busy' | 'discard' = 'commit'): number {
    const pos = this.prod;
    let len = payload.length;
    if (state === 'busy') len |= RINGBUF_BUSY_BIT;
    if (state === 'discard') len |= RINGBUF_DISCARD_BIT;
    this.put(pos, [len & 0xff, (len >>> 8) & 0xff, (len >>> 16) & 0xff, (len >>> 24) & 0xff, 0, 0, 0, 0]);
    this.put(pos + 8, payload);
    this.prod += (payload.length + 8 + 7) & ~7;
    return pos;
  }

  len(offset: number): number {
    const d = this.data;
    return (d[offset]! | (d[offset + 1]! << 8) | (d[offset + 2]! << 16) | (d[offset + 3]! << 24)) >>> 0;
  }
}

function read(r: FakeRingbuf, cons: number) {
  const scan = scanRingbuf(cons, r.prod, r.size - 1, (off) => r.len(off));
  const out: number[][] = [];
  parseRingbufRecords(copyRingbuf(r.data, r.size, cons, scan.end), (d) => out.push([...d]));
  return { scan, out };
}

test('records are read at every wrap offset, discarded ones skipped', () => {
  const size = 128;
  // (positions far past 2^31 and 2^32 too: the parser counts in ring offsets, and positions of a long-lived ring are that large)
  for (const base of [0, 2 ** 31 - 48, 2 ** 32 - 104, 2 ** 52 + 2 ** 32 - 8]) for (let at = 0; at < size * 2; at += 8) {
    const start = base + at;
    const r = new FakeRingbuf(size, start);
    const a = Array.from({ length: 13 }, (_, i) => i + 1);
    const b = Array.from({ length: 20 }, (_, i) => 200 - i);
    r.write(a);
    r.write([9, 9, 9], 'discard');
    r.write(b);
    const { scan, out } = read(r, start);
    assert.equal(scan.end, r.prod, `start ${start}`);
    assert.equal(scan.records, 2);
    assert.equal(scan.discarded, 1);
    assert.deepEqual(out, [a, b], `start ${start}`);
  }
});

test('the consumer stops at the first busy record, even when later ones are committed', () => {
  const r = new FakeRingbuf(256, 0);
  r.write([1]);
  const busyPos = r.write([2, 2], 'busy');
  r.write([3, 3, 3]);
  const { scan, out } = read(r, 0);
  assert.equal(scan.end, busyPos);
  assert.deepEqual(out, [[1]]);
});

test('the double mapping needs no reassembly', () => {
  const size = 64;
  const single = new FakeRingbuf(size, 48);
  single.write(Array.from({ length: 24 }, (_, i) => i));
  const doubled = new Uint8Array(size * 2);
  doubled.set(single.data, 0);
  doubled.set(single.data, size);
  const scan = scanRingbuf(48, single.prod, size - 1, (o) => single.len(o));
  assert.deepEqual([...copyRingbuf(doubled, size, 48, scan.end)], [...copyRingbuf(single.data, size, 48, scan.end)]);
});

test('a length that does not fit is a typed error', () => {
  const r = new FakeRingbuf(64, 0);
  r.write([1, 2, 3]);
  r.data[0] = 0xff; // len 255 > ring
  assert.throws(() => scanRingbuf(0, r.prod, 63, (o) => r.len(o)), (e) => e instanceof BpfpipeError && e.code === 'EBPF_BAD_INPUT');
  // in place: the same length, and positions that are more than a ring apart (or backwards)
  const doubled = new Uint8Array(128);
  doubled.set(r.data, 0);
  doubled.set(r.data, 64);
  const words = new Int32Array(doubled.buffer);
  const bad = (e: unknown) => e instanceof BpfpipeError && e.code === 'EBPF_BAD_INPUT';
  assert.throws(() => parseRingbufInRing(words, 64, 0, r.prod, new BatchBuilder(undefined, false), 0, 0), bad);
  const ok = new FakeRingbuf(64, 0);
  for (let k = 0; k < 4; k++) ok.write([k, k, k]); // 4 records of 16 bytes: the whole ring (a producer two rings ahead would read them twice)
  const okWords = new Int32Array(new Uint8Array([...ok.data, ...ok.data]).buffer);
  assert.equal(parseRingbufInRing(okWords, 64, 2 ** 32, 2 ** 32 + 64, new BatchBuilder(undefined, false), 0, 0), 2 ** 32 + 64);
  assert.throws(() => parseRingbufInRing(okWords, 64, 2 ** 32, 2 ** 32 + 128, new BatchBuilder(undefined, false), 0, 0), bad);
  assert.throws(() => parseRingbufInRing(okWords, 64, 16, 8, new BatchBuilder(undefined, false), 0, 0), bad);
});

test('in place (double mapping), a limit stops at the end of the record that reaches it; reading on from there gets the rest', () => {
  const size = 128;
  // (positions far past 2^31 and 2^32 too: the parser counts in ring offsets, and positions of a long-lived ring are that large)
  for (const base of [0, 2 ** 31 - 48, 2 ** 32 - 104, 2 ** 52 + 2 ** 32 - 8]) for (let at = 0; at < size * 2; at += 8) {
    const start = base + at;
    const r = new FakeRingbuf(size, start);
    const payloads = [Array.from({ length: 13 }, (_, i) => i + 1), [7, 7, 7], Array.from({ length: 20 }, (_, i) => 200 - i), [5]];
    r.write(payloads[0]!);
    r.write([9, 9], 'discard');
    r.write(payloads[1]!);
    r.write(payloads[2]!);
    r.write(payloads[3]!);
    const doubled = new Uint8Array(size * 2);
    doubled.set(r.data, 0);
    doubled.set(r.data, size);
    const words = new Int32Array(doubled.buffer);
    const b = new BatchBuilder(undefined, false);
    b.segment(new Uint8Array(size * 2), 1, undefined, false); // (the ring's segment is not segment 0)
    const seg = b.segment(doubled, 0, undefined, true);
    // records of 24, 16 (discarded), 16, 32 and 16 bytes: a limit of 30 stops after the discarded one
    const end = parseRingbufInRing(words, size, start, r.prod, b, seg, 0, 30);
    assert.equal(end, start + 40, `start ${start}`);
    assert.equal(b.n, 1);
    assert.equal(parseRingbufInRing(words, size, end, r.prod, b, seg, 0, 30), start + 40 + 48, `start ${start}: two more`);
    assert.equal(parseRingbufInRing(words, size, start + 88, r.prod, b, seg, 0, 30), r.prod);
    const batch = b.take();
    assert.deepEqual([...Array(batch.length).keys()].map((i) => [...batch.data(i)]), payloads, `start ${start}`);
  }
});

test('in place, the columns grow as they fill: more records than they hold, and records of no data (8 bytes each)', () => {
  const size = 64 * 1024;
  for (const payload of [[], [1, 2, 3, 4, 5]]) {
    const start = 2 ** 32 + size - 16;
    const r = new FakeRingbuf(size, start);
    const count = payload.length === 0 ? 8000 : 3500; // 64,000 and 56,000 bytes
    for (let k = 0; k < count; k++) r.write(payload);
    const doubled = new Uint8Array(size * 2);
    doubled.set(r.data, 0);
    doubled.set(r.data, size);
    const b = new BatchBuilder(undefined, false); // (1,024 entries)
    const seg = b.segment(doubled, 0, undefined, true);
    assert.equal(parseRingbufInRing(new Int32Array(doubled.buffer), size, start, r.prod, b, seg, 0), r.prod);
    assert.equal(b.n, count);
    const batch = b.take();
    for (let k = 0; k < count; k++) assert.deepEqual([...batch.data(k)], payload, `record ${k}`);
  }
});
