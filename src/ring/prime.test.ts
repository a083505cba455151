import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runV8Child } from './test-support/v8-child.js';

// In a child with V8's natives: a parser optimised by V8 on the steady traffic of a reader keeping up
// (samples only, drains well under their limit), then given what a reader meets on its first loss or
// backlog. Unprimed, the optimised code has no feedback for that path and is thrown away (the control);
// primed, it stays optimised. Positions are counted as the readers count them (POSITION_BIAS).
const child = `
const dir = ${JSON.stringify(new URL('.', import.meta.url).href)};
const { parsePerfInRing } = await import(dir + 'perf-records.ts');
const { parseRingbufInRing } = await import(dir + 'ringbuf-records.ts');
const { ringbufWords } = await import(dir + 'ringbuf-ring-writer.ts');
const { PerfRingWriter } = await import(dir + 'perf-ring-writer.ts');
const { primeRingPaths } = await import(dir + 'prime.ts');
const { POSITION_BIAS } = await import(dir + 'ring-position.ts');
const { BatchBuilder } = await import(dir + 'batch-builder.ts');
const { LossReport, RingLosses } = await import(dir + 'loss-report.ts');
const { WakeupMode } = await import(dir + 'wakeup-mode.ts');
const [scenario, prime] = process.argv.slice(-2);
if (prime === 'prime') primeRingPaths();
const optimized = (f) => (%GetOptimizationStatus(f) & 16) !== 0;
const stats = { received: 0, lost: 0, bytes: 0, batches: 0, wakeups: 0 };
const b = new BatchBuilder(undefined, true);
const sink = new RingLosses(new LossReport(undefined, undefined), stats, b, () => undefined);
// a perf ring of records by letter ('s' a sample, 'l' a lost record: PerfRingWriter.write)
// (from: the kernel's position of the first record)
const perf = (records, limit, from = 0, bias = POSITION_BIAS) => {
  const w = new PerfRingWriter(4096, bias + from).write(records);
  parsePerfInRing(w.ring, new Uint32Array(w.ring.buffer), bias + from, w.head, false, b, b.segment(w.ring, 0, 0, true), 0, 0, sink, limit);
  return b.take();
};
// a doubly mapped ring buffer of 4 KiB, its records by letter ('c' committed, 'd' discarded, 'b' busy)
const ringbuf = (records, limit) => {
  const words = ringbufWords(records, 4096);
  parseRingbufInRing(words, 4096, POSITION_BIAS, POSITION_BIAS + records.length * 16, b, b.segment(new Uint8Array(words.buffer), 0, undefined, true), 0, limit);
  return b.take();
};
// a reader's wake-up mode (its own callback, which puts the fds into the slots), on a clock of its own
let switches = 0;
let now = 0;
const mode = new WakeupMode(10, () => switches++, 0, false);
const scenarios = {
  // traffic at full rate, then a pause (per-sample wake-ups) and a burst (back to the watermark):
  // 'length' is the number of switches
  'wakeup mode': [WakeupMode.prototype.drained, () => mode.drained(20000, (now += 2)), () => {
    for (let i = 0; i < 3; i++) mode.drained(1, (now += 20));
    mode.drained(20000, (now += 1));
    return { length: switches, lostCount: mode.eager ? 1 : 0 };
  }],
  // the first PERF_RECORD_LOST
  lost: [parsePerfInRing, () => perf('s'.repeat(100), 1 << 20), () => perf('sls', 1 << 20)],
  // the first drain of a perf ring that stops at its limit (a reader behind)
  'perf limit': [parsePerfInRing, () => perf('s'.repeat(100), 1 << 20), () => perf('s'.repeat(100), 100)],
  // the ring's positions pass 2^31 (2 GiB read): as the readers count them, and as the kernel does (control)
  crossing: [parsePerfInRing, () => perf('s'.repeat(100), 1 << 20, 4096), () => perf('s'.repeat(100), 1 << 20, 2 ** 31 + 4096)],
  'crossing, unbiased': [parsePerfInRing, () => perf('s'.repeat(100), 1 << 20, 4096, 0), () => perf('s'.repeat(100), 1 << 20, 2 ** 31 + 4096, 0)],
  // the first ring buffer drain that stops at its limit
  'ringbuf limit': [parseRingbufInRing, () => ringbuf('c'.repeat(100), 1 << 20), () => ringbuf('c'.repeat(100), 100)],
  // the first discarded record, then the first busy one
  'ringbuf discard': [parseRingbufInRing, () => ringbuf('c'.repeat(100), 1 << 20), () => ringbuf('cdcb', 1 << 20)],
};
if (scenario === 'allocation') {
  // records parsed in place at full size, counting the collections: nothing may be allocated per record
  let gcs = 0;
  const { PerformanceObserver } = await import('node:perf_hooks');
  new PerformanceObserver((l) => (gcs += l.getEntries().length)).observe({ entryTypes: ['gc'] });
  const w = new PerfRingWriter(1 << 16, POSITION_BIAS).write('s'.repeat(4000));
  const u32 = new Uint32Array(w.ring.buffer);
  for (let i = 0; i < 2000; i++) {
    parsePerfInRing(w.ring, u32, POSITION_BIAS, w.head, false, b, b.segment(w.ring, 0, 0, true), 0, 0, sink, 1 << 20);
    b.takeLeased(() => undefined);
    b.releaseLease();
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  console.log(JSON.stringify({ gcs, records: 2000 * 4000 }));
  process.exit(0);
}
const [f, steady, rare] = scenarios[scenario];
if (scenario === 'wakeup mode') {
  // (a small function: V8 compiles it into its callers rather than on its own, unless asked)
  %PrepareFunctionForOptimization(f);
  for (let i = 0; i < 200; i++) steady();
  %OptimizeFunctionOnNextCall(f);
  steady();
}
// (V8 optimises in the background: run until it has, for up to 10 s on a busy machine)
for (const until = Date.now() + 10000; !optimized(f) && Date.now() < until; ) steady();
const before = optimized(f);
const batch = rare();
console.log(JSON.stringify({ before, after: optimized(f), length: batch.length, lost: batch.lostCount, statsLost: stats.lost }));
`;

interface Outcome {
  before: boolean;
  after: boolean;
  length: number;
  lost: number;
  statsLost: number;
}

/**
 * (--no-lazy-feedback-allocation: V8 otherwise gives a function its feedback only after some calls, and
 * a parser optimised before its small helpers have any does not inline them, nor deopt in them.)
 */
function run(scenario: string, prime: boolean): Outcome {
  return runV8Child<Outcome>(child, [scenario, prime ? 'prime' : 'none'], ['--no-lazy-feedback-allocation']);
}

test('positions counted from POSITION_BIAS: the parser stays optimised when the ring passes 2 GiB; counted from 0 it does not (control)', () => {
  const biased = run('crossing', false);
  assert.deepEqual([biased.before, biased.after, biased.length], [true, true, 100]);
  const unbiased = run('crossing, unbiased', false);
  assert.deepEqual([unbiased.before, unbiased.after, unbiased.length], [true, false, 100]);
});

test('primed, the perf parser allocates nothing per record (8 M records in place: a box per record would be 128 MB)', () => {
  // (a young generation of 1 MB: 128 MB of boxes would be over a hundred collections, the batches'
  // own objects a few)
  const r = runV8Child<{ gcs: number; records: number }>(child, ['allocation', 'prime'], ['--min-semi-space-size=1', '--max-semi-space-size=1']);
  assert.equal(r.records, 8_000_000);
  assert.ok(r.gcs <= 20, `${r.gcs} collections`);
});

for (const [scenario, what, counts] of [
  ['lost', 'its first PERF_RECORD_LOST', { length: 2, lost: 1 }],
  ['perf limit', 'its first drain that stops at the limit', { length: 7, lost: 0 }],
  ['ringbuf limit', 'its first drain that stops at the limit', { length: 7, lost: 0 }],
  ['ringbuf discard', 'its first discarded and busy records', { length: 2, lost: 0 }],
  ['wakeup mode', 'a pause in the traffic and a burst', { length: 2, lost: 0 }],
] as const) {
  const parser = scenario.startsWith('ringbuf') ? 'the ring buffer parser' : scenario === 'wakeup mode' ? 'the wake-up mode' : 'the perf parser';
  test(`${scenario}: unprimed, ${parser} is deoptimised by ${what} (control)`, () => {
    const r = run(scenario, false);
    assert.equal(r.before, true);
    assert.equal(r.after, false);
    assert.equal(r.length, counts.length);
    assert.equal(r.lost, counts.lost);
  });

  test(`${scenario}: primed, ${parser} stays optimised through ${what}, and reads it right`, () => {
    const r = run(scenario, true);
    assert.equal(r.before, true);
    assert.equal(r.after, true);
    assert.equal(r.length, counts.length);
    assert.equal(r.lost, counts.lost);
    if (scenario === 'lost') assert.equal(r.statsLost, 1);
  });
}
