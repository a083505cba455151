import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from './fifo.js';

test('Fifo: first in, first out; unshift puts items back in order, with and without room before the head', () => {
  const q = new Fifo<number>();
  for (let i = 0; i < 10_000; i++) q.push(i);
  const out: number[] = [];
  for (let i = 0; i < 6000; i++) out.push(q.shift()!);
  assert.deepEqual(out.slice(0, 3), [0, 1, 2]);
  q.unshift([5997, 5998, 5999]); // room before the head (after compaction too)
  assert.equal(q.size, 4003);
  assert.equal(q.shift(), 5997);
  const r = new Fifo<number>();
  r.push(3);
  r.unshift([1, 2]); // no room: rebuilt
  assert.deepEqual([r.shift(), r.shift(), r.shift(), r.shift()], [1, 2, 3, undefined]);
  r.push(4);
  r.clear();
  assert.equal(r.size, 0);
  assert.equal(r.shift(), undefined);
});
