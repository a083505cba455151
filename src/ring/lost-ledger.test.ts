import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LostLedger } from './lost-ledger.js';

test('counter first, lost record later: counted once', () => {
  const l = new LostLedger();
  l.setBaseline(0, 100n);
  assert.equal(l.counter(0, 105n), 5);
  assert.equal(l.recordLost(0, 5), 0);
  assert.equal(l.total(), 5);
});

test('lost record first, counter later: counted once, the counter adds what the record missed', () => {
  const l = new LostLedger();
  l.setBaseline(1, 0n);
  assert.equal(l.recordLost(1, 3), 3);
  assert.equal(l.counter(1, 7n), 4); // 4 more failures the kernel had not reported yet
  assert.equal(l.recordLost(1, 4), 0);
  assert.equal(l.total(), 7);
});

test('without a counter, lost records alone count; slots are independent', () => {
  const l = new LostLedger();
  assert.equal(l.recordLost(0, 2), 2);
  assert.equal(l.recordLost(1, 9), 9);
  assert.equal(l.recordLost(0, 1), 1);
  assert.equal(l.total(), 12);
});

test('a counter seen first without a baseline becomes the baseline', () => {
  const l = new LostLedger();
  assert.equal(l.counter(0, 50n), 0);
  assert.equal(l.counter(0, 51n), 1);
});
