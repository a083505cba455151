import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

// In a child with V8's natives: parsePerfInRing optimised on rings of samples only, then given a ring
// with a PERF_RECORD_LOST. Unprimed, the optimised code has no feedback for the lost record's path and
// is thrown away (the control); primed, it stays optimised.
const child = `
const dir = ${JSON.stringify(new URL('.', import.meta.url).href)};
const { parsePerfInRing } = await import(dir + 'perf-records.ts');
const { PerfRingWriter } = await import(dir + 'perf-ring-writer.ts');
const { primeRingPaths } = await import(dir + 'prime.ts');
const { BatchBuilder } = await import(dir + 'batch-builder.ts');
const { LossReport, RingLosses } = await import(dir + 'loss-report.ts');
if (process.argv.includes('prime')) primeRingPaths();
const optimized = new Function('f', 'return (%GetOptimizationStatus(f) & 16) !== 0');
const prepare = new Function('f', '%PrepareFunctionForOptimization(f)');
const optimizeNext = new Function('f', '%OptimizeFunctionOnNextCall(f)');
const stats = { received: 0, lost: 0, bytes: 0, batches: 0, wakeups: 0 };
const b = new BatchBuilder(undefined, true);
const sink = new RingLosses(new LossReport(undefined, undefined), stats, b, () => undefined);
// records: 's' a sample, 'l' a lost record (PerfRingWriter.write)
const parse = (records) => {
  const w = new PerfRingWriter(4096, 0).write(records);
  parsePerfInRing(w.ring, new Uint32Array(w.ring.buffer), 0, w.head, false, b, b.segment(w.ring, 0, 0, true), 0, 0, sink);
  return b.take();
};
const samples = 's'.repeat(100);
prepare(parsePerfInRing);
for (let i = 0; i < 10; i++) parse(samples);
optimizeNext(parsePerfInRing);
parse(samples);
const before = optimized(parsePerfInRing);
const batch = parse('sls');
console.log(JSON.stringify({ before, after: optimized(parsePerfInRing), lost: batch.lostCount, statsLost: stats.lost }));
`;

function run(prime: boolean): { before: boolean; after: boolean; lost: number; statsLost: number } {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', child, ...(prime ? ['prime'] : [])], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as { before: boolean; after: boolean; lost: number; statsLost: number };
}

test('a first PERF_RECORD_LOST deoptimises the unprimed parser (control)', () => {
  const r = run(false);
  assert.equal(r.before, true);
  assert.equal(r.after, false);
  assert.equal(r.lost, 1);
});

test('primed, the parser stays optimised through its first PERF_RECORD_LOST, and counts it', () => {
  const r = run(true);
  assert.equal(r.before, true);
  assert.equal(r.after, true);
  assert.equal(r.lost, 1);
  assert.equal(r.statsLost, 1);
});
