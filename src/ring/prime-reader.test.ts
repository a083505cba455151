import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { runV8Child } from './test-support/v8-child.js';

const fdCount = () => fs.readdirSync('/proc/self/fd').length;

test('primeReaders runs once per process and kind, needs no privileges and leaves no fd behind', async () => {
  const { primeReaders } = await import('./prime-reader.js');
  const before = fdCount();
  for (const kind of ['perf', 'ringbuf'] as const) {
    const first = primeReaders(kind);
    assert.equal(primeReaders(kind), first, 'one prime per process and kind');
    await first;
    assert.equal(fdCount(), before);
  }
});

// In a child with V8's natives: after primeReaders(kind), V8 has compiled the reader's per-batch code (on
// its helper threads: the child waits for them, at most 10 s). Without it, none of it is (after 0.5 s).
test('primeReaders has V8 compile drain, nextBatch and batches', () => {
  const child = `
const dir = ${JSON.stringify(new URL('.', import.meta.url).href)};
const { primeReaders } = await import(dir + 'prime-reader.ts');
const { EventReader } = await import(dir + 'reader.ts');
const optimized = (f) => (%GetOptimizationStatus(f) & 16) !== 0;
const hot = ['drain', 'nextBatch', 'batches'].map((n) => EventReader.prototype[n]);
const kind = process.argv.at(-1);
const prime = kind !== 'none';
if (prime) await primeReaders(kind);
for (let t = 0; t < (prime ? 1000 : 50) && !hot.every(optimized); t++) await new Promise((r) => setTimeout(r, 10));
console.log(JSON.stringify(hot.map(optimized)));
`;
  assert.deepEqual(runV8Child<boolean[]>(child, ['perf']), [true, true, true]);
  assert.deepEqual(runV8Child<boolean[]>(child, ['ringbuf']), [true, true, true]);
  assert.deepEqual(runV8Child<boolean[]>(child, ['none']), [false, false, false]);
});
