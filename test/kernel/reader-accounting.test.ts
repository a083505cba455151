/**
 * Exact loss accounting of the event pipe against the real kernel: received + lost == emitted, for
 * perf rings and ring buffers, 64/256/1024-byte events, under and over capacity; the lazily written
 * PERF_RECORD_LOST; and a million ring buffer events delivered by wake-ups alone.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadObjectSync, openEvents, onlineCpus, type LoadedObject } from '../../src/index.js';
import { fdSnapshot, assertNoFdLeak } from '../support/leaks.js';
import { runOn, counter } from '../support/produce.js';

const fds = fdSnapshot();
after(() => assertNoFdLeak(fds, 'reader accounting tests'));

const OK = 0;
const FAILED = 1;
const cpu = onlineCpus().at(-1)!;

/** The bench object's event map and the program that fills it, perf or ring buffer. */
function endpoints(obj: LoadedObject, kind: 'perf' | 'ringbuf') {
  return { map: obj.map(kind === 'perf' ? 'bench_events' : 'bench_rb'), prog: obj.program(kind === 'perf' ? 'perf_bench' : 'rb_bench') };
}

/** Every output succeeded in the kernel, and each one arrived. */
function assertAllDelivered(obj: LoadedObject, received: number, lost: number, emitted: number): void {
  assert.equal(counter(obj, 'bench_counts', FAILED), 0, 'no output failed in the kernel');
  assert.equal(lost, 0);
  assert.equal(received, emitted);
}

function bench(extra: Parameters<typeof loadObjectSync>[1] = {}): LoadedObject {
  // No pinning: each test gets its own maps.
  return loadObjectSync('bpf/bench.bpf.o', { pinDir: `/sys/fs/bpf/bpfpipe-test-acct-${process.pid}`, ...extra });
}

for (const size of [64, 256, 1024]) {
  for (const kind of ['perf', 'ringbuf'] as const) {
    for (const load of ['under', 'over'] as const) {
      test(`${kind} ${size} B ${load} capacity: received + lost == emitted, lost == failed outputs`, async () => {
        const obj = bench({ globals: { event_size: size }, maxEntries: { bench_rb: 64 * 1024 } });
        try {
          const { map, prog } = endpoints(obj, kind);
          await using reader = await openEvents(map, { pagesPerCpu: 16 }); // 64 KiB per perf ring
          const n = load === 'under' ? Math.floor((48 * 1024) / (size + 16)) : 5000;
          runOn(cpu, prog, n);
          await reader.close(); // final drain + drop counters
          let received = 0;
          let lost = 0;
          for (let b = reader.read(); b.count > 0; b = reader.read()) {
            received += b.length;
            lost += b.lostCount;
            for (let i = 0; i < b.length; i++) assert.ok(b.size(i) >= size && b.size(i) < size + 8);
          }
          const ok = counter(obj, 'bench_counts', OK);
          const failed = counter(obj, 'bench_counts', FAILED);
          assert.equal(ok + failed, n);
          assert.equal(received, ok, 'every successful output is received');
          assert.equal(lost, failed, 'every failed output is reported lost');
          assert.equal(reader.stats.received, received);
          assert.equal(reader.stats.lost, lost);
          if (load === 'under') assert.equal(lost, 0);
          else assert.ok(lost > 0, 'a small ring must lose');
        } finally {
          obj.close();
        }
      });
    }
  }
}

for (const kind of ['perf', 'ringbuf'] as const) {
  test(`${kind}: events read one by one hand their ring space back as they are copied out, not when the batch ends`, async () => {
    // A 1 MiB ring (a leased batch takes at most half: 512 KiB, more than one chunk of samples);
    // 64 B events take 80 B (perf: header, size, padding) or 72 B (ring buffer). `first` leaves 20 KiB
    // free; `second` fits only once the first chunk's space (80 or 72 KiB) is back.
    const RING = 1024 * 1024;
    const obj = bench({ maxEntries: { bench_rb: RING } });
    try {
      const { map, prog } = endpoints(obj, kind);
      await using reader = await openEvents(map, { pagesPerCpu: RING / 4096, slots: kind === 'perf' ? [cpu] : undefined });
      const record = kind === 'perf' ? 80 : 72;
      const first = Math.floor((RING - 20 * 1024) / record);
      const second = 1000;
      runOn(cpu, prog, first);
      const it = reader[Symbol.asyncIterator]();
      // the first event: the batch of all `first` is drained, its first CHUNK samples copied out
      const e = await it.next();
      assert.ok(!e.done && e.value.lost === undefined);
      // `second` more fit only in the space of the copied samples: held until the batch ends, they would not
      runOn(cpu, prog, second);
      let received = 1;
      let lost = 0;
      while (received + lost < first + second) {
        const r = await it.next();
        assert.ok(!r.done);
        if (r.value.lost !== undefined) lost += r.value.lost;
        else received++;
      }
      await it.return!();
      assertAllDelivered(obj, received, lost, first + second);
      await reader.close();
    } finally {
      obj.close();
    }
  });
}

for (const kind of ['perf', 'ringbuf'] as const) {
  test(`${kind}: a backlog is read a part at a time (at most half the ring), each part's space back when it is released`, async () => {
    // 90 % of a 256 KiB ring written before reading; 30 % more (over the watermark: it wakes the
    // reader) while the second part is held: that fits only if the first part's space is back already.
    const RING = 256 * 1024;
    const obj = bench({ maxEntries: { bench_rb: RING } });
    try {
      const { map, prog } = endpoints(obj, kind);
      // (flushMs 1000: the parts after the first come without waiting for the timer)
      await using reader = await openEvents(map, { pagesPerCpu: RING / 4096, slots: kind === 'perf' ? [cpu] : undefined, flushMs: 1000 });
      const record = kind === 'perf' ? 80 : 72;
      const n = Math.floor((RING * 0.9) / record);
      const more = Math.floor((RING * 0.3) / record);
      runOn(cpu, prog, n);
      const started = Date.now();
      let received = 0;
      let lost = 0;
      let batches = 0;
      let extra = 0;
      for await (const b of reader.batches()) {
        batches++;
        assert.ok(b.bytes <= RING / 2, `batch ${batches}: ${b.bytes} bytes, over half the ring`);
        received += b.length;
        lost += b.lostCount;
        if (extra === 0 && (batches === 2 || received >= n)) runOn(cpu, prog, (extra = more));
        if (received + lost >= n + more) break;
      }
      assert.ok(Date.now() - started < 500, `read in ${Date.now() - started} ms: each part follows at once`);
      assert.ok(batches >= 3, `${batches} batches`);
      assertAllDelivered(obj, received, lost, n + more);
      await reader.close();
    } finally {
      obj.close();
    }
  });
}

test('the 192-byte lost sample: PERF_RECORD_LOST is written before the next sample that fits', async () => {
  // As in cilium/ebpf's reader tests: fill a one-page ring with 192-byte records (180 bytes of data),
  // lose one, then write a small sample: the kernel writes the LOST record first, then the sample.
  const obj = bench({ globals: { event_size: 180 } });
  try {
    await using reader = await openEvents(obj.map('bench_events'), { pagesPerCpu: 1, drops: false, wakeupEvents: 1 });
    const prog = obj.program('perf_bench');
    runOn(cpu, prog, 22); // 21 fit in 4096 bytes, the 22nd is lost
    obj.setGlobal('event_size', 16);
    const first = reader.read();
    assert.equal(first.length, 21);
    assert.equal(first.lostCount, 0, 'the kernel has not told yet');
    runOn(cpu, prog, 1);
    const second = reader.read();
    assert.equal(second.length, 1);
    assert.equal(second.size(0), 20); // 16 bytes + 4 of kernel padding
    assert.deepEqual(second.lost, [{ cpu, slot: cpu, lost: 1 }]);
    await reader.close();
  } finally {
    obj.close();
  }
});

test('one million ring buffer events arrive through wake-ups alone', async () => {
  const obj = bench();
  try {
    // flushMs of a minute: if a wake-up were missed, the loop would stall and the test time out.
    await using reader = await openEvents(obj.map('bench_rb'), { flushMs: 60_000 });
    const prog = obj.program('rb_bench');
    const total = 1_000_000;
    const chunk = 20_000; // 20k × 72 B fits the 4 MiB ring
    let received = 0;
    let emitted = 0;
    const it = reader.batches();
    while (emitted < total) {
      runOn(cpu, prog, chunk, undefined, chunk);
      emitted += chunk;
      while (received < emitted) {
        const r = await it.next();
        assert.ok(!r.done);
        received += r.value.length;
        assert.equal(r.value.lostCount, 0);
      }
    }
    await it.return(undefined);
    assert.equal(received, total);
    assert.ok(reader.stats.wakeups > 0 && reader.stats.wakeups <= total / chunk * 3, `wake-ups ${reader.stats.wakeups}`);
    assert.equal(counter(obj, 'bench_counts', FAILED), 0);
    await reader.close();
  } finally {
    obj.close();
  }
});
