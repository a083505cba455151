/**
 * A reader's per-batch code is compiled by V8 before its first real batch (openEvents primes it on a
 * synthetic ring: prime-reader.ts), and real traffic does not throw that code away: in a child with
 * V8's natives and its optimizer's trace, a perf or ring buffer reader reads real events of bench.bpf.o
 * (wake-ups, a pause (perf: with per-sample wake-ups), a burst), and V8 neither deoptimizes nor
 * compiles any of the reader's functions meanwhile. (Before the primed reader's objects matched a real reader's, this
 * saw 'wrong map' in drain at the first drop-counter poll, 'not a Smi' at the first segment, and
 * insufficient feedback in the columns' growth, the empty drain and the wake-up mode's burst.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fdSnapshot, assertNoFdLeak, uniquePinDir, removeTree } from '../support/leaks.js';

const fds = fdSnapshot();
const pinDir = uniquePinDir('compiled');
after(async () => {
  removeTree(pinDir);
  await assertNoFdLeak(fds, 'reader compile tests');
});

/** The reader's own functions (EventReader, PerfRing, the parsers, the batch, the wake-up mode). */
const READER_CODE = ['drain', 'nextBatch', 'batches', 'waitForData', 'pastWatermark', 'readInto', 'parsePerfInRing', 'parseRingbufInRing', 'takeBatch', 'takeLeased', 'segment', 'reserve', 'drained', 'arm', 'draining'];

// (the built library, as users run it: tsx's output of the same source gives V8 other hidden classes)
const child = `
const { loadObjectSync, openEvents, EventReader } = await import(${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)});
const [pinDir, kind] = process.argv.slice(-2);
const optimized = (f) => (%GetOptimizationStatus(f) & 16) !== 0;
const hot = ['drain', 'nextBatch', 'batches'].map((n) => EventReader.prototype[n]);
const name = kind === 'perf' ? 'perf_bench' : 'rb_bench';
const obj = loadObjectSync('bpf/bench.bpf.o', { pinDir, programs: [name] });
obj.setGlobal('event_size', 64);
const prog = obj.program(name);
const reader = await openEvents(obj.map(kind === 'perf' ? 'bench_events' : 'bench_rb'));
// the optimizing compiles run on V8's helper threads: wait for them (at most 10 s)
for (let t = 0; t < 1000 && !hot.every(optimized); t++) await new Promise((r) => setTimeout(r, 10));
const before = hot.map(optimized);
const data = new Uint8Array(64);
let received = 0;
const loop = (async () => {
  for await (const b of reader.batches()) for (let i = 0; i < b.length; i++) received += b.size(i) > 0 ? 1 : 0;
})();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
console.log('-- real --');
// watermark wake-ups (20 k events of 80 bytes a run: a 1 MiB watermark and more), then a pause (the reader
// goes to per-sample wake-ups), a few samples, and a burst again
for (let round = 0; round < 2; round++) {
  for (let i = 0; i < 40; i++) {
    prog.testRun({ data, repeat: 20000 });
    await sleep(1);
  }
  await sleep(60);
  for (let i = 0; i < 5; i++) {
    prog.testRun({ data, repeat: 1 });
    await sleep(5);
  }
}
await sleep(50);
console.log('-- end --');
const after = hot.map(optimized);
await reader.close();
await loop;
obj.close();
console.log(JSON.stringify({ before, after, received, lost: reader.stats.lost }));
`;

for (const kind of ['perf', 'ringbuf']) test(`a ${kind} reader reads real events in code V8 compiled before them, and keeps it`, () => {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--trace-opt', '--trace-deopt-verbose', '--input-type=module', '-e', child, pinDir, kind], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  const lines = out.trim().split('\n');
  const r = JSON.parse(lines.findLast((l) => l.startsWith('{"before"'))!) as { before: boolean[]; after: boolean[]; received: number; lost: number };
  const ours = (l: string) => READER_CODE.some((f) => l.includes(`<JSFunction ${f} `));
  // the reader's code V8 threw away in `part` of the trace, each with the line after it (where in the source)
  const deoptsIn = (part: string[]) => part.flatMap((l, i) => (l.startsWith('[bailout') && ours(l) ? [`${l} ${part[i + 1]?.trim()}`] : []));
  const real = lines.indexOf('-- real --');
  assert.deepEqual(r.before, [true, true, true], `drain, nextBatch and batches compiled before the first real batch ${JSON.stringify({ ...r, deopts: deoptsIn(lines.slice(0, real)) })}`);
  assert.ok(r.received + r.lost >= 2 * 40 * 20000, JSON.stringify(r));
  const window = lines.slice(real, lines.indexOf('-- end --'));
  assert.ok(window.length > 0);
  const deopts = deoptsIn(window);
  const compiles = window.filter((l) => l.startsWith('[completed optimizing') && ours(l));
  assert.deepEqual(deopts, [], 'no reader code thrown away by real traffic');
  assert.deepEqual(compiles, [], 'no reader code compiled under real traffic');
  assert.deepEqual(r.after, [true, true, true]);
});
