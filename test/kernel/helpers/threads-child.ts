/**
 * Child of threads.test.ts: idleOtherThreads() in a process of its own (the test runner's threads
 * keep their policy). Prints one JSON line.
 *   node --import tsx test/kernel/helpers/threads-child.ts reader PIN_DIR      (with a reader open)
 *   node --import tsx test/kernel/helpers/threads-child.ts plain              (no reader; any user)
 *   node --import tsx test/kernel/helpers/threads-child.ts saturated PIN_DIR [realtime]  (a reader that cannot keep up)
 *   node --import tsx test/kernel/helpers/threads-child.ts realtime  (idleOtherThreads({ realtime: true }))
 *   node --import tsx test/kernel/helpers/threads-child.ts busy PIN_DIR [realtime]  (a waiting reader, a busy JS thread)
 * reader, plain: the policies of its threads after the call and after restore(), and what restore() threw.
 * saturated: a producer thread outputs for 400 ms into small rings whose consumer takes 2 ms per batch;
 * the idled threads' policies at each batch from 100 ms after the first one to the producer's end and
 * 200 ms after it, and when a 20 ms timer set at the first batch fired.
 */
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { idleOtherThreads, loadObjectSync, onlineCpus, openEvents, setAffinity } from '../../../src/index.js';
import { processThreads, threadPolicy } from '../../../src/sys/index.js';
import { pollerThreads } from '../../../src/sys/poller.js';

const [mode, pinDir, realtime] = process.argv.slice(2);
const policies = (tids?: number[]) => {
  const live = processThreads();
  return Object.fromEntries((tids ?? live).filter((t) => live.includes(t)).map((t) => [t, threadPolicy(t)]));
};

if (mode === 'saturated') {
  const obj = loadObjectSync('bpf/bench.bpf.o', { pinDir: pinDir! });
  const pin = `${pinDir}/perf_bench_producer${realtime ? '_rt' : ''}`;
  obj.program('perf_bench').pin(pin);
  const reader = await openEvents(obj.map('bench_events'), { pagesPerCpu: 8 });
  // the JS thread on another CPU than the producer's (a SCHED_FIFO one would starve it)
  setAffinity([onlineCpus()[0]!]);
  const idled = await idleOtherThreads({ realtime: realtime === 'realtime' });
  // (with realtime, the JS thread's policy too)
  const tids = [...idled.threads.map((t) => t.tid), ...(idled.realtime ? [idled.realtime.tid] : [])];
  const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
    workerData: { file: new URL('./worker-producer.ts', import.meta.url).href, pin, cpu: onlineCpus().at(-1), ms: 400, everyUs: 50, repeat: 200 },
  });
  // times from the first batch (the worker takes a while to start)
  let start = -1;
  const out: Record<string, unknown> = { idled: idled.threads, realtime: idled.realtime, initially: policies(tids) };
  worker.once('message', (m: { runs?: number; error?: string }) => {
    out.producer = m;
    out.producedMs = performance.now() - start;
    // the reader catches up, then waits for data: its helpers idle again
    setTimeout(() => {
      out.after = policies(tids);
      void reader.close();
    }, 200);
  });
  let batches = 0;
  for await (const b of reader.batches()) {
    batches++;
    if (start < 0) {
      start = performance.now();
      setTimeout(() => (out.timerMs = performance.now() - start), 20);
    }
    const until = performance.now() + 2;
    while (performance.now() < until); // a slow consumer: every batch finds the next one waiting
    // the policies at each batch from 100 ms into the burst to its end (the reader may catch up for a moment)
    const t = performance.now() - start;
    if (out.producer === undefined && t >= 100) {
      ((out.during ??= []) as unknown[]).push(policies(tids));
      out.timerMsAtDuring ??= out.timerMs ?? null;
      out.duringMs ??= t;
    }
    void b;
  }
  out.batches = batches;
  await worker.terminate();
  idled.restore();
  obj.close();
  rmSync(pin);
  console.log(JSON.stringify(out));
} else if (mode === 'busy') {
  // a reader waiting for data (none comes) while the JS thread is busy with other work for 200 ms
  const obj = loadObjectSync('bpf/tc_events.bpf.o', { pinDir: pinDir! });
  const reader = await openEvents(obj.map('events'));
  const idled = await idleOtherThreads({ realtime: realtime === 'realtime' });
  const tids = [...idled.threads.map((t) => t.tid), ...(idled.realtime ? [idled.realtime.tid] : [])];
  const loop = (async () => {
    for await (const b of reader.batches()) void b;
  })();
  await new Promise((r) => setTimeout(r, 50));
  const out: Record<string, unknown> = { idled: idled.threads, realtime: idled.realtime, before: policies(tids), during: [] };
  const start = performance.now();
  await new Promise<void>((done) => {
    const spin = () => {
      const until = performance.now() + 1;
      while (performance.now() < until);
      const t = performance.now() - start;
      if (t >= 50) (out.during as unknown[]).push(policies(tids));
      if (t < 200) setImmediate(spin);
      else done();
    };
    setImmediate(spin);
  });
  await new Promise((r) => setTimeout(r, 100));
  out.after = policies(tids);
  await reader.close();
  await loop;
  out.closed = policies(tids);
  idled.restore();
  obj.close();
  console.log(JSON.stringify(out));
} else if (mode === 'realtime') {
  // the JS thread under SCHED_FIFO: its policy, a thread it starts afterwards, the others; then restore()
  const out: Record<string, unknown> = { main: process.pid };
  try {
    const idled = await idleOtherThreads({ realtime: true });
    out.idled = idled.threads;
    out.realtime = idled.realtime;
    const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
    await new Promise((r) => worker.once('online', r));
    out.during = policies();
    idled.restore();
    out.after = policies();
    await worker.terminate();
  } catch (e) {
    out.error = { code: (e as { code?: string }).code, message: (e as Error).message };
    out.after = policies();
  }
  console.log(JSON.stringify(out));
} else {
  const obj = mode === 'reader' ? loadObjectSync('bpf/tc_events.bpf.o', { pinDir: pinDir! }) : undefined;
  const reader = obj ? await openEvents(obj.map('events')) : undefined;
  const idled = await idleOtherThreads();
  const out: Record<string, unknown> = { main: process.pid, pollers: await pollerThreads(), idled: idled.threads, during: policies() };
  try {
    idled.restore();
  } catch (e) {
    out.restoreError = { code: (e as { code?: string }).code, message: (e as Error).message };
  }
  out.after = policies();
  await reader?.close();
  obj?.close();
  console.log(JSON.stringify(out));
}
