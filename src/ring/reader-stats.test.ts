import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runV8Child } from './test-support/v8-child.js';

// In a child with V8's natives: a drain's counting, optimised while the counts are small, then counting
// past 2^31 (2 GiB of bytes). Over newReaderStats() it stays optimised; over a plain literal of the same
// counters it is thrown away (the control).
const child = `
const { newReaderStats } = await import(${JSON.stringify(new URL('./reader-stats.ts', import.meta.url).href)});
const plain = process.argv.at(-1) === 'plain';
const stats = plain ? { received: 0, lost: 0, bytes: 0, batches: 0, wakeups: 0 } : newReaderStats();
function count(s, events, bytes) {
  s.received += events;
  s.bytes += bytes;
  s.batches++;
}
%PrepareFunctionForOptimization(count);
for (let i = 0; i < 100; i++) count(stats, 10, 1000);
%OptimizeFunctionOnNextCall(count);
count(stats, 10, 1000);
const before = (%GetOptimizationStatus(count) & 16) !== 0;
count(stats, 10, 2 ** 31);
console.log(JSON.stringify({ before, after: (%GetOptimizationStatus(count) & 16) !== 0, stats }));
`;

function run(kind: 'stats' | 'plain'): { before: boolean; after: boolean; stats: Record<string, number> } {
  return runV8Child(child, [kind]);
}

test('newReaderStats: zero counters, and counting past 2^31 keeps the counting code optimised; a plain literal does not (control)', () => {
  const r = run('stats');
  assert.deepEqual([r.before, r.after], [true, true]);
  assert.deepEqual(r.stats, { received: 1020, lost: 0, bytes: 101000 + 2 ** 31, batches: 102, wakeups: 0 });
  const p = run('plain');
  assert.deepEqual([p.before, p.after], [true, false]);
  assert.deepEqual(p.stats, r.stats);
});
