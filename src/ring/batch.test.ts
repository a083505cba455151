/** Leased batches: data() copies the samples out of the ring in runs and hands the ring back once they are all out. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BatchBuilder, columnsFor } from './batch-builder.js';
import { CHUNK } from './batch.js';
import { ClosedError } from '../errors.js';

/** A synthetic ring of `size` bytes holding `records` at the given offsets, each filled with its own byte pattern. */
function ringWith(size: number, records: { off: number; len: number }[]): Uint8Array {
  const ring = new Uint8Array(size);
  records.forEach((r, k) => {
    for (let j = 0; j < r.len; j++) ring[r.off + j] = (k * 31 + j) & 0xff;
  });
  return ring;
}

setFlagsFromString('--expose-gc');

/** A builder holding `records` of `ring` (one segment, CPU 0) as its samples. */
function builderOf(ring: Uint8Array, records: { off: number; len: number }[]): BatchBuilder {
  const b = new BatchBuilder(undefined, false);
  const g = b.segment(ring, 0, 0, true);
  b.reserve(records.length);
  for (const r of records) {
    const i = b.n++;
    b.off[i] = r.off;
    b.len[i] = r.len;
    b.seg[i] = g;
    b.bytes += r.len;
  }
  return b;
}

const pattern = (k: number, len: number) => Uint8Array.from({ length: len }, (_, j) => (k * 31 + j) & 0xff);

test('data() of a leased batch: runs of samples copied (a wrap around the ring end, runs over the block size), the ring handed back once, the copies independent of it', () => {
  const SIZE = 1 << 20;
  const records: { off: number; len: number }[] = [];
  // from near the end of the ring around to its start (a wrap), then 300 KiB of 4000-byte samples
  for (let off = SIZE - 3 * 4096; off < SIZE; off += 4096) records.push({ off: off + 8, len: 4000 });
  for (let off = 0; off < 300 * 1024; off += 4096) records.push({ off: off + 8, len: 4000 });
  const ring = ringWith(SIZE, records);
  // a second ring (another CPU) in the same batch, interleaved
  const ring2 = ringWith(4096, [{ off: 16, len: 100 }]);
  const b = new BatchBuilder(undefined, false);
  const g1 = b.segment(ring, 0, 0, true);
  const g2 = b.segment(ring2, 1, 1, true);
  b.reserve(records.length + 1);
  records.forEach((r, k) => {
    const i = b.n++;
    b.off[i] = r.off;
    b.len[i] = r.len;
    b.seg[i] = g1;
    b.bytes += r.len;
    if (k === 5) {
      const j = b.n++;
      b.off[j] = 16;
      b.len[j] = 100;
      b.seg[j] = g2;
      b.bytes += 100;
    }
  });
  let handedBack = 0;
  const batch = b.takeLeased(() => handedBack++);
  assert.equal(batch.leased, true);
  const first = batch.data(0);
  assert.equal(handedBack, 1, 'the ring memory goes back as soon as the samples are copied');
  ring.fill(0xee);
  ring2.fill(0xee);
  assert.deepEqual(first, pattern(0, 4000));
  let k = 0;
  for (let i = 0; i < batch.length; i++) {
    const d = batch.data(i);
    if (i === 6) {
      assert.deepEqual(d, pattern(0, 100), 'the other ring\'s sample');
      assert.equal(batch.at(i).cpu, 1);
      continue;
    }
    assert.deepEqual(d, pattern(k, 4000), `sample ${i}`);
    assert.equal(batch.at(i).cpu, 0);
    k++;
  }
  // one block per run of at most 96 KiB: no copy spans the 1 MiB between the wrapped runs
  const buffers = new Set<ArrayBufferLike>();
  for (let i = 0; i < batch.length; i++) buffers.add(batch.data(i).buffer);
  assert.ok(buffers.size >= 5 && buffers.size <= 7, `${buffers.size} blocks`);
  for (const ab of buffers) assert.ok(ab.byteLength <= 96 * 1024, `a block of ${ab.byteLength} bytes`);
  batch.release();
  assert.equal(handedBack, 1, 'handed back once');
});

test('data() read in order copies a large leased batch a chunk at a time; the ring goes back with the last chunk; out of order, everything left at once', () => {
  const n = 2 * CHUNK + 100;
  const SIZE = 1 << 20;
  const records = Array.from({ length: n }, (_, k) => ({ off: k * 72 + 8, len: 64 }));
  for (const outOfOrder of [false, true]) {
    const ring = ringWith(SIZE, records);
    let handedBack = 0;
    const batch = builderOf(ring, records).takeLeased(() => handedBack++);
    const views: Uint8Array[] = [];
    views.push(batch.data(0));
    assert.equal(handedBack, 0, 'one chunk copied: the rest is still read in the ring');
    assert.equal(batch.leased, true);
    if (outOfOrder) {
      views.push(batch.data(n - 1));
      assert.equal(handedBack, 1, 'a sample out of order: everything left copied, the ring back');
      for (let i = 1; i < n - 1; i++) views.splice(i, 0, batch.data(i));
    } else {
      for (let i = 1; i < n; i++) {
        views.push(batch.data(i));
        if (i < 2 * CHUNK) assert.equal(handedBack, 0, `sample ${i}: the ring is still leased`);
        else assert.equal(handedBack, 1, `sample ${i}: the last chunk is out, the ring is back`);
      }
    }
    ring.fill(0xee);
    views.forEach((v, k) => assert.deepEqual(v, pattern(k, 64), `sample ${k}`));
    // the blocks hold one chunk's samples each
    assert.ok(new Set(views.map((v) => v.buffer)).size >= (outOfOrder ? 2 : 3));
    batch.release();
    assert.equal(handedBack, 1, 'handed back once');
  }
});

test('read in order, a leased batch hands each ring back up to its last copied sample after every chunk: the kernel may overwrite that space at once', () => {
  // two rings whose samples interleave (two CPUs), 2.5 chunks in all
  const n = 2 * CHUNK + CHUNK / 2;
  const SIZE = 1 << 20;
  const perRing = [Math.ceil(n / 2), Math.floor(n / 2)];
  const recs = perRing.map((m) => Array.from({ length: m }, (_, k) => ({ off: k * 72 + 8, len: 64 })));
  const rings = recs.map((r) => ringWith(SIZE, r));
  const b = new BatchBuilder(undefined, false);
  const segs = rings.map((r, cpu) => b.segment(r, cpu, cpu, true));
  b.reserve(n);
  const order: [number, number][] = []; // sample i: [ring, k-th of that ring]
  for (let i = 0; i < n; i++) {
    const g = i % 2;
    const k = (i - g) / 2;
    const j = b.n++;
    b.off[j] = recs[g]![k]!.off;
    b.len[j] = 64;
    b.seg[j] = segs[g]!;
    b.bytes += 64;
    order.push([g, k]);
  }
  const parts: [number, number, number][] = []; // [at sample, segment, end]
  let reading = 0;
  let handedBack = 0;
  const batch = b.takeLeased(
    () => handedBack++,
    (seg, end) => {
      parts.push([reading, seg, end]);
      // what the kernel could do now: write over that ring up to `end`
      rings[seg]!.fill(0xee, 0, end);
    },
  );
  for (let i = 0; i < n; i++) {
    reading = i;
    const [, k] = order[i]!;
    assert.deepEqual(batch.data(i), pattern(k, 64), `sample ${i}`);
  }
  // after the first two chunks, both rings up to the end of their last sample copied; the last chunk
  // hands the whole batch back instead
  const endOf = (i: number) => {
    const [g, k] = order[i]!;
    return [g, recs[g]![k]!.off + 64] as const;
  };
  const expected: [number, number, number][] = [];
  for (const c of [0, CHUNK]) {
    const lastTwo = [c + CHUNK - 2, c + CHUNK - 1].map(endOf).sort((x, y) => x[0] - y[0]);
    for (const [g, end] of lastTwo) expected.push([c, segs[g]!, end]);
  }
  assert.deepEqual(parts, expected);
  assert.equal(handedBack, 1);
  batch.release();
  assert.equal(handedBack, 1);
});

test('streamed (the event iterator): the batch lets go of each chunk\'s copies once the next chunk is read; samples handed out keep theirs', async () => {
  const n = 3 * CHUNK;
  const records = Array.from({ length: n }, (_, k) => ({ off: k * 72 + 8, len: 64 }));
  const held: Uint8Array[] = [];
  /** Read the first chunk, keep its first sample, and a weak reference to that chunk's copy. */
  const firstChunk = (streamed: boolean) => {
    const leased = builderOf(ringWith(1 << 20, records), records).takeLeased(() => {});
    const batch = streamed ? leased.streamed() : leased;
    const copies = new WeakRef(batch.at(0).data.buffer);
    for (let i = 1; i < CHUNK; i++) batch.at(i);
    held.push(batch.at(CHUNK - 1).data);
    return { batch, copies };
  };
  const gc = runInNewContext('gc') as () => void;
  for (const streamed of [true, false]) {
    held.length = 0;
    const { batch, copies } = firstChunk(streamed);
    // into the second chunk: the first chunk's samples are all read
    assert.deepEqual(batch.at(CHUNK).data, pattern(CHUNK, 64));
    await new Promise((r) => setImmediate(r)); // (a WeakRef target stays alive until the job ends)
    held.length = 0;
    gc();
    assert.equal(copies.deref() === undefined, streamed, streamed ? 'nothing keeps the first chunk\'s copy' : 'a batch read at random keeps every copy');
    // a sample kept from the chunk before keeps its bytes
    const kept = firstChunk(streamed);
    kept.batch.at(CHUNK);
    await new Promise((r) => setImmediate(r));
    gc();
    assert.deepEqual(held[0], pattern(CHUNK - 1, 64));
    for (let i = CHUNK + 1; i < n; i++) assert.deepEqual(batch.at(i).data, pattern(i, 64), `sample ${i}`);
    batch.release();
  }
});

test('a released leased batch throws on every per-sample accessor (its columns are the reader\'s scratch again), also after its samples were copied out', () => {
  const records = Array.from({ length: 4 }, (_, k) => ({ off: k * 72 + 8, len: 64 }));
  for (const copiedOut of [false, true]) {
    const batch = builderOf(ringWith(4096, records), records).takeLeased(() => {});
    if (copiedOut) for (let i = 0; i < batch.length; i++) batch.data(i);
    assert.equal(batch.size(1), 64);
    batch.release();
    const calls: [string, () => unknown][] = [
      ['size', () => batch.size(1)], ['cpu', () => batch.cpu(1)], ['slot', () => batch.slot(1)], ['ts', () => batch.ts(1)],
      ['tsNumber', () => batch.tsNumber(1)], ['data', () => batch.data(1)], ['at', () => batch.at(1)], ['raw', () => batch.raw(1)],
      ['hex', () => batch.hex(1)], ['copyTo', () => batch.copyTo(1, new Uint8Array(64))], ['packetLength', () => batch.packetLength(1)],
    ];
    for (const [name, call] of calls) assert.throws(call, (e) => e instanceof ClosedError, `${name}${copiedOut ? ' (copied out)' : ''}`);
    assert.equal(batch.length, 4);
    assert.equal(batch.bytes, 256);
  }
});

test('a reader\'s columns hold a drain of half its largest ring of 64-byte records from the start: a backlog does not grow them', () => {
  assert.equal(columnsFor(4096), 1024);
  assert.equal(columnsFor(64 * 4096), 2048);
  assert.equal(columnsFor(512 * 4096), 16384);
  assert.equal(columnsFor(1024 * 4096), 32768);
  assert.equal(columnsFor(1 << 30), 65536);
  // The bench's backlog drain: half a 4 MiB ring of 80-byte records (64-byte events with their headers).
  const b = new BatchBuilder(undefined, true, columnsFor(4 << 20));
  const off = b.off;
  b.reserve(Math.ceil((2 << 20) / 80));
  assert.equal(b.off, off, 'the columns were not reallocated');
  // A ring of smaller records still grows them, as before.
  b.reserve(40000);
  assert.notEqual(b.off, off);
  assert.equal(b.off.length, 65536);
});
