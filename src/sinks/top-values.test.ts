import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LabelLimiter, TopValues, OTHER } from './top-values.js';

test('LabelLimiter: the first N distinct values keep their label, later new ones are "other"', () => {
  const l = new LabelLimiter(2);
  assert.deepEqual(['a', 'b', 'a', 'c', 'b', 'd'].map((v) => l.label(v)), ['a', 'b', 'a', OTHER, 'b', OTHER]);
  assert.equal(l.size, 2);
  assert.equal(new LabelLimiter(0).label('x'), OTHER);
  assert.throws(() => new LabelLimiter(-1), RangeError);
});

test('TopValues: exact while there are at most k values; ordered by count then value', () => {
  const t = new TopValues(10);
  for (const [v, n] of [['x', 3], ['y', 5], ['z', 3], ['w', 1]] as const) t.add(v, n);
  assert.deepEqual(t.top(3), [
    { value: 'y', count: 5, error: 0 },
    { value: 'x', count: 3, error: 0 },
    { value: 'z', count: 3, error: 0 },
  ]);
  assert.equal(t.total, 12);
});

test('TopValues: with more values than counters, every value above total/k is kept and counts bound the truth', () => {
  const k = 20;
  const t = new TopValues(k);
  const truth = new Map<string, number>();
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 20_000; i++) {
    // 3 heavy hitters and a long tail of 2000 values.
    const r = rnd();
    const v = r < 0.2 ? 'heavy-a' : r < 0.35 ? 'heavy-b' : r < 0.45 ? 'heavy-c' : `tail-${Math.floor(rnd() * 2000)}`;
    truth.set(v, (truth.get(v) ?? 0) + 1);
    t.add(v);
  }
  const top = t.top(3);
  assert.deepEqual(top.map((e) => e.value), ['heavy-a', 'heavy-b', 'heavy-c']);
  for (const e of t.top(k)) {
    const real = truth.get(e.value)!;
    assert.ok(e.count >= real && e.count - e.error <= real, `${e.value}: ${e.count} (err ${e.error}) vs ${real}`);
  }
  for (const [v, n] of truth) if (n > t.total / k) assert.ok(t.top(k).some((e) => e.value === v), `${v} (${n}) kept`);
});
