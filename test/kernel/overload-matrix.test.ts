/**
 * Accounting under overload: perf rings and ring buffers × 64/256/1024-byte events × small and large
 * rings × rates from idle to far over capacity, a reader iterating while the program emits: in every
 * run, samples received + samples reported lost == outputs the program attempted (its own counters),
 * and received == its successful outputs.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadObjectSync, openEvents, onlineCpus } from '../../src/index.js';
import { fdSnapshot, assertNoFdLeak } from '../support/leaks.js';
import { runOn, counter } from '../support/produce.js';

const fds = fdSnapshot();
after(() => assertNoFdLeak(fds, 'overload matrix'));

const cpu = onlineCpus().at(-1)!;
/** Events per 10 ms tick: idle, moderate, high, then as fast as the kernel goes (one burst). */
const RATES: [string, number, number][] = [
  ['idle (200/s)', 2, 20],
  ['moderate (100k/s)', 1000, 10],
  ['high (1M/s)', 10000, 10],
  ['unpaced burst', 40000, 1],
];

for (const kind of ['perf', 'ringbuf'] as const) {
  for (const size of [64, 256, 1024]) {
    for (const ring of ['small', 'large'] as const) {
      test(`${kind} ${size} B ${ring} ring: exact at every rate`, async () => {
        const rbBytes = ring === 'small' ? 16 * 1024 : 1024 * 1024;
        const obj = loadObjectSync('bpf/bench.bpf.o', {
          pinDir: `/sys/fs/bpf/bpfpipe-test-overload-${process.pid}`,
          globals: { event_size: size },
          maxEntries: { bench_rb: rbBytes },
        });
        try {
          const map = obj.map(kind === 'perf' ? 'bench_events' : 'bench_rb');
          const prog = obj.program(kind === 'perf' ? 'perf_bench' : 'rb_bench');
          for (const [name, perTick, ticks] of RATES) {
            const ok0 = counter(obj, 'bench_counts', 0);
            const failed0 = counter(obj, 'bench_counts', 1);
            await using reader = await openEvents(map, { pagesPerCpu: ring === 'small' ? 4 : 256 });
            let received = 0;
            let lost = 0;
            const loop = (async () => {
              for await (const b of reader.batches()) {
                received += b.length;
                lost += b.lostCount;
              }
            })();
            for (let t = 0; t < ticks; t++) {
              runOn(cpu, prog, perTick, undefined, perTick);
              await new Promise((r) => setTimeout(r, 10));
            }
            await reader.close(); // final drain and drop counters
            await loop;
            const ok = counter(obj, 'bench_counts', 0) - ok0;
            const failed = counter(obj, 'bench_counts', 1) - failed0;
            assert.equal(ok + failed, perTick * ticks, `${name}: attempts`);
            assert.equal(received, ok, `${name}: received == successful outputs`);
            assert.equal(lost, failed, `${name}: lost == failed outputs`);
          }
        } finally {
          obj.close();
        }
      });
    }
  }
}
