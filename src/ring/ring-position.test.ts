import { test } from 'node:test';
import assert from 'node:assert/strict';
import { positionAfter } from './ring-position.js';

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
