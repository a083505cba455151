import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsumerCursor, leaseLimit, positionAfter, POSITION_BIAS, MAX_RING_BYTES, fromKernel, toKernel, shownPosition } from './ring-position.js';

test('positionAfter: the position past a record, from an offset in the ring, across wraps and the double mapping', () => {
  const size = 4096;
  const mask = size - 1;
  // no wrap yet: offsets are positions
  assert.equal(positionAfter(0, 1000, 80, mask), 80);
  // rounded up to the next 8-byte record boundary (a ring buffer record of 68 bytes of data)
  assert.equal(positionAfter(0, 1000, 76, mask), 80);
  // many laps in: the position is the tail's lap (or the next one, past the end of the ring)
  const lap = 1_000_000 * size;
  assert.equal(positionAfter(lap + 4000, lap + 4200, 4088, mask), lap + 4088);
  assert.equal(positionAfter(lap + 4000, lap + 4200, 40, mask), lap + size + 40);
  // the doubly mapped ring buffer: a record that ends past the end of the first mapping
  assert.equal(positionAfter(lap + 4000, lap + 4200, size + 40, mask), lap + size + 40);
  // a whole ring of records: the end is the tail's own offset, one lap on
  assert.equal(positionAfter(lap + 8, lap + 8 + size, 8, mask), lap + 8 + size);
  // beyond what the batch took: not handed back
  assert.equal(positionAfter(lap + 4000, lap + 4050, 40, mask), undefined);
  // positions past 2^32 (and 2^53 is far): still exact
  const big = 2 ** 40 + 4096 * 3;
  assert.equal(positionAfter(big + 100, big + 500, 300, mask), big + 304);
});

test('ConsumerCursor: a lease blocks reading, hands back part by part then the rest, and publishes nothing once closed', () => {
  const published: number[] = [];
  const c = new ConsumerCursor(4096 * 3 + 100, 4095, (p) => published.push(p), 'test ring');
  c.checkFree();
  c.lease(2, 4096 * 3 + 900);
  assert.throws(() => c.checkFree(), /test ring read while a leased batch is outstanding/);
  c.releaseTo(500); // a record ending at offset 500 of the ring: position 3 laps + 504 (8-byte aligned)
  assert.deepEqual(published, [4096 * 3 + 504]);
  c.releaseTo(2000); // past what the batch took: ignored
  assert.equal(c.leasedSeg, 2);
  c.release();
  assert.deepEqual(published, [4096 * 3 + 504, 4096 * 3 + 900]);
  assert.equal(c.leasedSeg, -1);
  c.checkFree();
  c.release(); // nothing leased: nothing published
  c.moveTo(4096 * 4);
  c.close();
  c.moveTo(4096 * 5);
  assert.deepEqual(published, [4096 * 3 + 504, 4096 * 3 + 900, 4096 * 4]);
  assert.equal(c.pos, 4096 * 5);
});

test('positions counted from POSITION_BIAS: never small integers, the same offsets in every ring, and back to the kernel exactly', () => {
  for (const k of [0n, 4096n, 2n ** 31n - 8n, 2n ** 31n + 8n, 2n ** 40n + 24n]) {
    const p = fromKernel(k);
    assert.ok(p >= 2 ** 32, `${k}`);
    assert.equal(toKernel(p), k);
    assert.equal(shownPosition(p), Number(k));
    // offsets in the largest ring (and so in every smaller one): the kernel's
    assert.equal(p % MAX_RING_BYTES, Number(k % BigInt(MAX_RING_BYTES)));
    assert.equal(p & (MAX_RING_BYTES - 1), Number(k % BigInt(MAX_RING_BYTES)));
  }
  assert.equal(POSITION_BIAS % MAX_RING_BYTES, 0);
});

test('leaseLimit: half the ring, or the free space when that is less, but at least a chunk of samples (80 KiB)', () => {
  const size = 4 * 1024 * 1024;
  assert.equal(leaseLimit(size, 0), size / 2);
  assert.equal(leaseLimit(size, size / 4), size / 2); // an ordinary batch: whole
  assert.equal(leaseLimit(size, size / 2), size / 2);
  assert.equal(leaseLimit(size, size - 300_000), 300_000); // nearly full: the free space
  assert.equal(leaseLimit(size, size - 100), 80 * 1024);
  assert.equal(leaseLimit(size, size), 80 * 1024); // full
  assert.equal(leaseLimit(64 * 1024, 64 * 1024), 32 * 1024); // (never more than half the ring)
});
