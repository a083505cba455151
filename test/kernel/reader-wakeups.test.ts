/**
 * Adaptive wake-ups of perf readers against the real kernel: slow traffic wakes the reader at every
 * sample (the eager twin of each ring fills the slot), fast traffic wakes it per watermark, and the
 * switches between the two lose, duplicate and reorder nothing. Another thread produces (a worker
 * test-running the pinned perf_bench program, which numbers its events) while the reader waits.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { loadObjectSync, openEvents, onlineCpus, type EventsOptions } from '../../src/index.js';
import { fdSnapshot, assertNoFdLeak, uniquePinDir, removeTree } from '../support/leaks.js';

const fds = fdSnapshot();
const pinDir = uniquePinDir('wakeups');
after(async () => {
  removeTree(pinDir);
  await assertNoFdLeak(fds, 'reader wake-up tests');
});

interface Phase {
  /** Test-run the program `repeat` times every `everyUs` µs for `ms` ms. */
  ms: number;
  everyUs: number;
  repeat: number;
}
interface PhaseResult {
  runs: number;
  received: number;
  wakeups: number;
}

const SLOW: Phase = { ms: 500, everyUs: 4000, repeat: 1 }; // ~250 samples/s
const FAST: Phase = { ms: 300, everyUs: 200, repeat: 200 }; // ~1 M samples/s

/**
 * Read perf_bench's events with `o` while a worker on the last CPU produces the phases one after the
 * other: per phase, the program's runs and the reader's samples and kernel wake-ups. Asserts that the
 * events arrived exactly once, in order (their sequence numbers), and nothing was lost.
 */
async function readPhases(o: EventsOptions, phases: Phase[]): Promise<PhaseResult[]> {
  const obj = loadObjectSync('bpf/bench.bpf.o', { pinDir, programs: ['perf_bench'] });
  const pin = `${pinDir}/perf_bench_producer`;
  try {
    obj.setGlobal('event_size', 64);
    obj.program('perf_bench').pin(pin);
    const reader = await openEvents(obj.map('bench_events'), o);
    let next: bigint | undefined;
    let received = 0;
    const loop = (async () => {
      for await (const b of reader.batches()) {
        assert.equal(b.lostCount, 0, 'nothing lost');
        for (let i = 0; i < b.length; i++) {
          const d = b.data(i);
          const seq = new DataView(d.buffer, d.byteOffset, d.byteLength).getBigUint64(0, true);
          if (next !== undefined) assert.equal(seq, next, 'each event once, in order');
          next = seq + 1n;
        }
        received += b.length;
      }
    })();
    const out: PhaseResult[] = [];
    try {
      for (const p of phases) {
        const w0 = reader.stats.wakeups;
        const r0 = received;
        const worker = new Worker(new URL('./helpers/worker-boot.mjs', import.meta.url), {
          workerData: { file: new URL('./helpers/worker-producer.ts', import.meta.url).href, pin, cpu: onlineCpus().at(-1), ...p },
        });
        const done = await new Promise<{ runs?: number; error?: string }>((resolve) => worker.once('message', resolve));
        await worker.terminate();
        assert.equal(done.error, undefined);
        // what the last poll or the watchdog still has to deliver (flushMs: 10)
        await new Promise((r) => setTimeout(r, 50));
        out.push({ runs: done.runs!, received: received - r0, wakeups: reader.stats.wakeups - w0 });
      }
    } finally {
      await reader.close();
      await loop;
    }
    for (const [i, r] of out.entries()) assert.equal(r.received, r.runs, `phase ${i}: every event of the phase arrived in it`);
    assert.equal(reader.stats.lost, 0);
    return out;
  } finally {
    obj.close();
    fs.rmSync(pin, { force: true });
  }
}

test('slow perf traffic wakes the reader at each sample; fast traffic per watermark; and back, losing nothing', async () => {
  const [slow, fast, slowAgain] = await readPhases({}, [SLOW, FAST, SLOW]);
  const msg = JSON.stringify({ slow, fast, slowAgain });
  // per-sample wake-ups (a sample arriving while the reader still works on the last one shares its wake-up)
  assert.ok(slow!.wakeups >= 0.7 * slow!.received, `slow: a wake-up per sample ${msg}`);
  // the watermark (a quarter of the 4 MiB ring, ~47 k samples) and the drains in between
  assert.ok(fast!.wakeups <= fast!.received / 100, `fast: wake-ups per watermark, not per sample ${msg}`);
  assert.ok(slowAgain!.wakeups >= 0.7 * slowAgain!.received, `slow again: a wake-up per sample ${msg}`);
});

test('adaptiveWakeups: false keeps the watermark fds in the slots: slow traffic is polled, not woken for', async () => {
  const [slow] = await readPhases({ adaptiveWakeups: false }, [SLOW]);
  assert.ok(slow!.received > 50, JSON.stringify(slow));
  // the watermark is never reached: no kernel wake-ups at all (timer polls are not wake-ups)
  assert.ok(slow!.wakeups <= 1, JSON.stringify(slow));
});

test('per-sample wake-ups only while a loop waits: an open reader nobody iterates costs the producer no interrupt per sample', async () => {
  const obj = loadObjectSync('bpf/bench.bpf.o', { pinDir, programs: ['perf_bench'] });
  try {
    obj.setGlobal('event_size', 64);
    const prog = obj.program('perf_bench');
    const data = new Uint8Array(64);
    const reader = await openEvents(obj.map('bench_events'));
    // the kernel's own time per run of the program (its outputs included), without the syscall
    const perRun = () => prog.testRun({ data, repeat: 2000 }).durationNs;
    perRun();
    const idle = perRun();
    let received = 0;
    const loop = (async () => {
      for await (const b of reader.batches()) received += b.length;
    })();
    // the loop waits, no traffic: after a 10 ms window the eager fds are in the slots
    await new Promise((r) => setTimeout(r, 100));
    const waiting = perRun(); // (synchronous: the loop cannot drain meanwhile, the mode stays)
    await reader.close();
    await loop;
    assert.equal(received, 6000);
    assert.ok(waiting > 2 * idle, `a run costs ${idle} ns with no loop, ${waiting} ns with a loop waiting (a wake-up per sample)`);
  } finally {
    obj.close();
  }
});
