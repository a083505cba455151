/**
 * The bpfpipe side of the benchmarks: a reader process on a pinned map, started by bench/run.ts.
 * Prints "ready", reads until SIGUSR1, then prints one JSON line with its counts and own CPU time.
 *   node bench/bin/bpfpipe-reader.mjs MODE MAP_PIN [PAGES] [BTF_OBJ]   (compiled from this file by buildBaselines)
 * MODE: batches (the fast path), decoded (for await over decoded objects), latency (batches + ts).
 * BENCH_FLUSH_MS sets flushMs (the timer that drains the rings), BENCH_WAKEUP wakeupBytes, BENCH_WAKEUP_EVENTS
 * wakeupEvents (1: a wake-up per sample, as libbpf's default reader), BENCH_ADAPTIVE=0 adaptiveWakeups: false; BENCH_IDLE_OTHERS=1 calls
 * idleOtherThreads(), =realtime idleOtherThreads({ realtime: true }), =nice puts the other threads at
 * nice 19 instead.
 */
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { openPinnedMap, openEvents, ObjectSpec, idleOtherThreads } from '../../dist/index.js'; // the built library (buildBaselines)

// BENCH_V8_FLAGS: V8 flags set at run time, before the reader opens (e.g. --single-threaded-gc)
if (process.env.BENCH_V8_FLAGS) v8.setFlagsFromString(process.env.BENCH_V8_FLAGS);
/** The largest of `xs` (a spread of a large array would overflow the stack: the adaptive ring buffer row has ~10^6 batches). */
const max = (xs: number[]): number => xs.reduce((m, x) => (x > m ? x : m), -Infinity);
const [mode = 'batches', pin = '', pages = '1024', btfObj] = process.argv.slice(2);
const map = await openPinnedMap(pin);
const spec = btfObj ? ObjectSpec.parse(fs.readFileSync(btfObj)) : undefined;
const reader = await openEvents(map, {
  // 'default': the library's default ring size
  ...(pages === 'default' ? {} : { pagesPerCpu: Number(pages) }),
  // BENCH_FLUSH_MS: the consume interval when the producer asks for no wake-ups (as libbpf's 1 ms poll).
  ...(process.env.BENCH_FLUSH_MS ? { flushMs: Number(process.env.BENCH_FLUSH_MS) } : {}),
  // BENCH_WAKEUP: wakeupBytes (e.g. '50%'), to tell the cost per drain from the cost per event
  ...(process.env.BENCH_WAKEUP ? { wakeupBytes: process.env.BENCH_WAKEUP as `${number}%` } : {}),
  ...(process.env.BENCH_WAKEUP_EVENTS ? { wakeupEvents: Number(process.env.BENCH_WAKEUP_EVENTS) } : {}),
  // BENCH_ADAPTIVE=0: no per-sample wake-ups for slow perf traffic (polled every millisecond instead)
  ...(process.env.BENCH_ADAPTIVE === '0' ? { adaptiveWakeups: false } : {}),
  ...(mode === 'decoded' ? { struct: true as const, btf: spec } : {}),
  // BENCH_PRIME=0: no priming of the reader's code before the rings open (to compare)
  ...(process.env.BENCH_PRIME === '0' ? { prime: false } : {}),
});
map.close();
// BENCH_MARKS=1: a line on stdout where the measured window starts and ends (to place V8's traces,
// e.g. BENCH_NODE_ARGS=--trace-opt with BENCH_TEE=1, in it)
const mark = (what: string) => void (process.env.BENCH_MARKS && console.log(`-- ${what} --`));
process.on('SIGUSR1', () => {
  mark('closing');
  void reader.close();
});
let received = 0;
let lost = 0;
let bytes = 0;
/** The bytes of the batches() loop (a double: see there). */
const total = new Float64Array(1);
/** Batches (drains) while measuring. */
let batchCount = 0;
const lat: number[] = [];
let cpu0 = process.cpuUsage();
let ru0 = process.resourceUsage();
// CPU time (ns, /proc/self/task/*/schedstat) of the JS thread and of the process's other threads (V8's
// helpers), and of each of those by thread id
const threadNs = (): { main: number; others: number; byTid: Record<string, number> } => {
  let main = 0;
  let others = 0;
  const byTid: Record<string, number> = {};
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const ns = Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      if (Number(tid) === process.pid) main += ns;
      else {
        others += ns;
        byTid[tid] = ns;
      }
    } catch {
      /* the thread ended */
    }
  }
  return { main, others, byTid };
};
let threads0 = threadNs();
// read and write syscalls of the process (/proc/self/io): a foreground task loop of V8's shows as writes
const ioCalls = (): { syscr: number; syscw: number } => {
  const t = fs.readFileSync('/proc/self/io', 'utf8');
  return { syscr: Number(/syscr: (\d+)/.exec(t)![1]), syscw: Number(/syscw: (\d+)/.exec(t)![1]) };
};
let io0 = ioCalls();
// BENCH_GAPS=1: record the time between batches, their bytes and losses (where does a loss come from?),
// with each batch's CLOCK_MONOTONIC time in ms (monoMs: lines up with `perf record -k CLOCK_MONOTONIC`).
const gaps: [number, number, number, number, number][] | undefined = process.env.BENCH_GAPS ? [] : undefined;
// ... and the garbage collections (start ms, duration ms, kind) and event-loop stalls, to line up with them
const gcs: [number, number, number][] = [];
if (gaps) new PerformanceObserver((l) => { for (const e of l.getEntries()) gcs.push([e.startTime, e.duration, ((e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0)]); }).observe({ entryTypes: ['gc'] });
// ... and in decoded mode each loss notice's time (performance.now), to line up with the collections
const lossTimes: { ms: number; lost: number }[] = [];
let t0 = process.hrtime.bigint();
let measuredFrom = performance.now();
// SIGUSR2 ends the warm-up: count from here.
let measuring = false;
process.on('SIGUSR2', () => {
  mark('measuring');
  measuring = true;
  received = lost = bytes = batchCount = total[0] = 0;
  lat.length = 0;
  if (gaps) gaps.length = gcs.length = 0;
  cpu0 = process.cpuUsage();
  ru0 = process.resourceUsage();
  threads0 = threadNs();
  io0 = ioCalls();
  t0 = process.hrtime.bigint();
  measuredFrom = performance.now();
  lossTimes.length = 0;
});
// Soak runs: report memory and fds every SOAK_REPORT_MS on stderr.
const every = Number(process.env.SOAK_REPORT_MS ?? 0);
const fdCount = () => (fs.readdirSync('/proc/self/fd').length);
if (every > 0) {
  setInterval(() => {
    process.stderr.write(JSON.stringify({ t: Date.now(), received, lost, rssMiB: Math.round(process.memoryUsage().rss / 1048576), heapMiB: Math.round(process.memoryUsage().heapUsed / 1048576), fds: fdCount() }) + '\n');
  }, every).unref();
}
// BENCH_IDLE_OTHERS=1: the process's other threads (V8's helpers) under SCHED_IDLE (idleOtherThreads);
// 'nice': at nice 19 instead (to compare; bench/JOURNAL.md).
if (process.env.BENCH_IDLE_OTHERS === '1') await idleOtherThreads();
if (process.env.BENCH_IDLE_OTHERS === 'realtime') await idleOtherThreads({ realtime: true });
if (process.env.BENCH_IDLE_OTHERS === 'nice') {
  const os = await import('node:os');
  for (const t of fs.readdirSync('/proc/self/task').map(Number)) if (t !== process.pid) os.setPriority(t, 19);
}
// BENCH_HEAP=1: what the reader allocates (V8's sampling heap profiler, collected objects included),
// per batch and by function, from here to the end (the warm-up included)
const heapSession = process.env.BENCH_HEAP ? new (await import('node:inspector/promises')).Session() : undefined;
if (heapSession) {
  heapSession.connect();
  await heapSession.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
let heapBatches = 0;
console.log('ready');

if (mode === 'decoded') {
  let check = 0n;
  for await (const e of reader) {
    if (e.lost !== undefined) {
      lost += e.lost;
      if (gaps) lossTimes.push({ ms: performance.now(), lost: e.lost });
    } else {
      received++;
      check += e.event!.seq as bigint;
    }
  }
  bytes = Number(check & 1n);
} else {
  let last = performance.now();
  const stallMs = Number(process.env.BENCH_STALL ?? 0);
  let stalled = false;
  for await (const b of reader.batches()) {
    if (gaps) {
      const now = performance.now();
      gaps.push([now - last, b.bytes, b.lostCount, now, Number(process.hrtime.bigint()) / 1e6]);
      last = now;
    }
    // BENCH_STALL=MS: the consumer stalls this long once, 400 ms into the measured window (a reader
    // behind: its backlog paths, e.g. with BENCH_NODE_ARGS=--trace-deopt)
    if (stallMs > 0 && !stalled && measuring && performance.now() - measuredFrom > 400) {
      stalled = true;
      for (const until = performance.now() + stallMs; performance.now() < until; );
    }
    received += b.length;
    batchCount++;
    heapBatches++;
    lost += b.lostCount;
    // (each event's size, as a consumer touches each event; summed per batch, then into a double:
    // a small-integer sum past 2^31, 2 GiB into a long run, would send this loop back to V8's interpreter)
    let sum = 0;
    for (let i = 0; i < b.length; i++) sum += b.size(i);
    total[0] += sum;
    if (mode === 'latency' && b.length > 0) {
      const now = Number(process.hrtime.bigint());
      for (let i = 0; i < b.length; i++) {
        const d = b.data(i);
        lat.push((now - Number(new DataView(d.buffer, d.byteOffset).getBigUint64(8, true))) / 1000);
      }
    }
  }
  bytes = total[0]!;
}
const c = process.cpuUsage(cpu0);
/** Bytes allocated per batch, in all and by the functions that allocated most (top 12). */
async function heapReport(): Promise<{ bytesPerBatch: number; top: [string, number][] } | undefined> {
  if (!heapSession) return undefined;
  const { profile } = await heapSession.post('HeapProfiler.stopSampling');
  const by = new Map<string, number>();
  const walk = (n: typeof profile.head): void => {
    const f = n.callFrame;
    const k = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    if (n.selfSize) by.set(k, (by.get(k) ?? 0) + n.selfSize);
    for (const ch of n.children) walk(ch);
  };
  walk(profile.head);
  const per = (x: number) => Math.round(x / Math.max(1, heapBatches));
  return {
    bytesPerBatch: per([...by.values()].reduce((a, b) => a + b, 0)),
    top: [...by].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => [k, per(v)]),
  };
}
const heap = await heapReport();
const threads1 = threadNs();
const io1 = ioCalls();
const ru = process.resourceUsage();
lat.sort((a, b) => a - b);
const pct = (p: number) => (lat.length ? Number(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!.toFixed(1)) : 0);
console.log(JSON.stringify({
  received, lost, bytes,
  seconds: Number(process.hrtime.bigint() - t0) / 1e9,
  cpuSeconds: (c.user + c.system) / 1e6,
  latencyUs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), p999: pct(0.999), max: pct(1) },
  slow: lat.length ? lat.filter((x) => x > 2000).length : 0,
  wakeups: reader.stats.wakeups,
  batches: batchCount,
  // where the CPU went (kernel time includes page faults and wake-ups) and the page faults while measuring
  sysSeconds: c.system / 1e6,
  // of which the JS thread and the other threads, in seconds
  threadSeconds: {
    main: (threads1.main - threads0.main) / 1e9,
    others: (threads1.others - threads0.others) / 1e9,
    byTid: Object.fromEntries(Object.entries(threads1.byTid).map(([k, v]) => [k, +((v - (threads0.byTid[k] ?? 0)) / 1e9).toFixed(4)]).filter(([, v]) => (v as number) > 0)),
  },
  faults: { major: ru.majorPageFault - ru0.majorPageFault, minor: ru.minorPageFault - ru0.minorPageFault },
  syscalls: { read: io1.syscr - io0.syscr, write: io1.syscw - io0.syscw },
  switches: { voluntary: ru.voluntaryContextSwitches - ru0.voluntaryContextSwitches, involuntary: ru.involuntaryContextSwitches - ru0.involuntaryContextSwitches },
  // the measured window: ms since the process started (performance.now(), as V8's --logfile), and
  // CLOCK_MONOTONIC seconds (as `perf record -k CLOCK_MONOTONIC`)
  windowMs: [+measuredFrom.toFixed(1), +performance.now().toFixed(1)],
  windowMono: [Number(t0) / 1e9, Number(process.hrtime.bigint()) / 1e9],
  ...(gaps ? {
    gaps: {
      // (decoded mode) loss notices: ms since measuring began, and the collections that ended in the 50 ms before
      losses: lossTimes.slice(0, 20).map(({ ms, lost }) => ({
        ms: +(ms - measuredFrom).toFixed(2), lost,
        gc: gcs.filter(([t, d]) => t + d >= ms - 50 && t <= ms).map(([t, d, k]) => [+(ms - t).toFixed(2), +d.toFixed(2), k]),
      })),
      batches: gaps.length,
      // the first batches of the measured window (after the idle since the warm-up): [gap ms, bytes, lost]
      head: gaps.slice(0, 8).map((g) => [+g[0].toFixed(2), g[1], g[2]]),
      maxMs: max(gaps.map((g) => g[0])),
      p50Ms: [...gaps].sort((a, b) => a[0] - b[0])[Math.floor(gaps.length * 0.5)]?.[0],
      p90Ms: [...gaps].sort((a, b) => a[0] - b[0])[Math.floor(gaps.length * 0.9)]?.[0],
      p99Ms: [...gaps].sort((a, b) => a[0] - b[0])[Math.floor(gaps.length * 0.99)]?.[0],
      p50Bytes: [...gaps].sort((a, b) => a[1] - b[1])[Math.floor(gaps.length * 0.5)]?.[1],
      withLoss: gaps
        .flatMap((g, i) => (g[2] > 0 ? [[g, i] as const] : []))
        .slice(0, 40) // the first 40
        .map(([g, i]) => ({
          i, ms: +g[0].toFixed(2), bytes: g[1], lost: g[2], monoMs: +g[4].toFixed(3), prevMs: +(gaps[i - 1]?.[0] ?? 0).toFixed(2), prevBytes: gaps[i - 1]?.[1],
          // the drop counters are read every 10 ms or so: the longest gap, and the most bytes, of the 12 ms before
          maxGap12Ms: +max(gaps.filter((h) => h[3] <= g[3] && h[3] >= g[3] - 12).map((h) => h[0])).toFixed(2),
          maxBytes12: max(gaps.filter((h) => h[3] <= g[3] && h[3] >= g[3] - 12).map((h) => h[1])),
          // collections that overlap this gap or the one before it: [ms before the batch, duration ms, kind]
          gc: gcs.filter(([t, d]) => t + d >= g[3] - g[0] - (gaps[i - 1]?.[0] ?? 0) && t <= g[3]).map(([t, d, k]) => [+(g[3] - t).toFixed(2), +d.toFixed(2), k]),
        })),
    },
    // the collections while measuring: count, total and longest pause, and how many were full ones
    gc: {
      count: gcs.length,
      ms: +gcs.reduce((a, g) => a + g[1], 0).toFixed(1),
      maxMs: +Math.max(0, ...gcs.map((g) => g[1])).toFixed(2),
      major: gcs.filter((g) => g[2] === constants.NODE_PERFORMANCE_GC_MAJOR).length,
    },
  } : {}),
  ...(heap ? { heap } : {}),
}));
