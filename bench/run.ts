/**
 * The benchmarks: for each row, the C baseline (libbpf) and bpfpipe read the same BPF_PROG_TEST_RUN
 * producer (pinned to CPU 1; readers on CPU 0), alternately, `--repeat` times; prints one JSON line per
 * run and a summary line per row with the medians and the bpfpipe/libbpf ratios (of the medians, and `paired`: the
 * median of the rounds' own ratios).
 *   npm run bench [-- --rows perf,perf-stall,ringbuf,ringbuf-stall,decoded,latency,cli --repeat 3 --events 10000000]
 *   (ringbuf-poll: only the ring buffer's no-wake-up rows; ringbuf-stall: the paced one with the reader's
 *   CPU taken away now and then, --stops 6,6.5: for how many ms; perf-stall: the same for the perf
 *   target's ring, paced at 6 M/s, --perf-stops 7,8)
 *   --pages 64,1024 --sizes 64,256,1024: which perf rows (ring pages per CPU, event bytes)
 *   --decoded-pages 1024,4096,8192: the ring pages per CPU of the decoded rows
 */
import * as path from 'node:path';
import { ROOT, BIN, PIN, BPFPIPE_READER_CMD, buildBaselines, loadBench, cleanup, startReader, measure, median, produce, type Row, type Stall } from './harness.js';
import { possibleCpus } from '../src/index.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const rows = arg('rows', 'perf,perf-stall,ringbuf,ringbuf-stall,decoded,latency,cli').split(',');
const repeat = Number(arg('repeat', '3'));
const N = Number(arg('events', '10000000'));
const perfPages = arg('pages', '64,1024').split(',').map(Number);
const decodedPages = arg('decoded-pages', '1024,4096,8192').split(',').map(Number);
const perfSizes = arg('sizes', '64,256,1024').split(',').map(Number);
/** The stopped-reader rows' stop lengths (ms): ring buffer, perf. */
const stopsMs = arg('stops', '6,6.5').split(',').map(Number);
const perfStopsMs = arg('perf-stops', '7,8').split(',').map(Number);
/** The reader's CPU taken away for `ms` about every 100 ms (harness.ts: Stall). */
const stopsOf = (ms: number): Stall => ({ stopUs: Math.round(ms * 1000), everyMs: 100 });

if (possibleCpus().length < 2) {
  console.error('bench: needs two CPUs (producer on CPU 1, reader on CPU 0)');
  process.exit(2);
}
buildBaselines();
const obj = loadBench();
const libbpf = path.join(BIN, 'libbpf_reader');
const perfPin = `${PIN}/bench_events`;
// The perf rows and the timer-driven ring buffer row read at the kernel's full rate: their readers put
// the process's other threads (V8's helpers) under SCHED_IDLE, as a collector pinned to a CPU would
// (idleOtherThreads(), README). Not the adaptive ring buffer row: there it lost more, not less.
// BENCH_IDLE=0: without (to compare); BENCH_IDLE=nice: the other threads at nice 19 instead of SCHED_IDLE;
// BENCH_IDLE=realtime: idleOtherThreads({ realtime: true })
// (the rows keep their names).
const IDLE: Record<string, string> = process.env.BENCH_IDLE === '0' ? {} : { BENCH_IDLE_OTHERS: process.env.BENCH_IDLE === 'nice' || process.env.BENCH_IDLE === 'realtime' ? process.env.BENCH_IDLE : '1' };
const rbPin = `${PIN}/bench_rb`;
/** The paced ring buffer row's rate: below what the producer reaches beside either reader. */
const RB_PACED = 8_000_000;
/** The paced perf rows' rate (the perf producer is slower: about 8 M/s unpaced). */
const PERF_PACED = 6_000_000;

function print(r: Row | Record<string, unknown>): void {
  console.log(JSON.stringify(r));
}

const lossy = (r: Row) => r.lost > 0 || r.dropped > 0;
/** A run's lost events: the reader's count, or the program's for readers that cannot see them. */
const lostOf = (r: Row) => Math.max(r.lost, r.dropped);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function compare(name: string, c: () => Promise<Row>, b: () => Promise<Row>): Promise<void> {
  const cs: Row[] = [];
  const bs: Row[] = [];
  for (let i = 0; i < repeat; i++) {
    const cr = await c();
    print(cr);
    cs.push(cr);
    const br = await b();
    print(br);
    bs.push(br);
  }
  const cm = median(cs, (r) => r.eventsPerSec);
  const bm = median(bs, (r) => r.eventsPerSec);
  print({
    summary: name,
    libbpf: { eventsPerSec: cm.eventsPerSec, lost: cm.lost, dropped: cm.dropped, readerCpuNsPerEvent: cm.readerCpuNsPerEvent, ...(cm.latencyUs ? { latencyUs: cm.latencyUs } : {}) },
    bpfpipe: { eventsPerSec: bm.eventsPerSec, lost: bm.lost, dropped: bm.dropped, readerCpuNsPerEvent: bm.readerCpuNsPerEvent, ...(bm.latencyUs ? { latencyUs: bm.latencyUs } : {}) },
    ratio: {
      eventsPerSec: Math.round((bm.eventsPerSec / cm.eventsPerSec) * 1000) / 1000,
      // the median of each round's own ratio (libbpf's run, then bpfpipe's): the VM's phases change
      // between rounds, and a round's two runs share its phase more than the medians of all do
      paired: Math.round(median(bs.map((r, i) => r.eventsPerSec / cs[i]!.eventsPerSec), (x) => x) * 1000) / 1000,
      readerCpu: cm.readerCpuNsPerEvent ? Math.round((bm.readerCpuNsPerEvent / cm.readerCpuNsPerEvent) * 100) / 100 : null,
    },
    // runs that lost events: by the reader's count or, for readers that cannot see them, the program's
    lostRuns: { libbpf: cs.filter(lossy).length, bpfpipe: bs.filter(lossy).length, of: repeat },
    // and the events they lost, over all runs
    lostEvents: { libbpf: sum(cs.map(lostOf)), bpfpipe: sum(bs.map(lostOf)) },
    // runs whose received + lost is not what the program output (only when there are any)
    ...(cs.some((r) => r.unaccounted) || bs.some((r) => r.unaccounted) ? { unaccountedRuns: { libbpf: cs.filter((r) => r.unaccounted).length, bpfpipe: bs.filter((r) => r.unaccounted).length } } : {}),
  });
}

try {
  // libbpf's watermark reader against bpfpipe's batches() (with `env`), on `pages` pages per CPU
  const watermark = (name: string, pages: number, n: number, label: string, env: Record<string, string>, o: { rate?: number; stall?: Stall } = {}) =>
    compare(
      name,
      async () => measure(obj, name, 'libbpf watermark', await startReader([libbpf, 'perf-watermark', perfPin, String(pages)]), 'perf_bench', n, o),
      async () => measure(obj, name, `bpfpipe batches(), ${label}`, await startReader([...BPFPIPE_READER_CMD, 'batches', perfPin, String(pages)], env), 'perf_bench', n, o),
    );
  if (rows.includes('perf')) {
    for (const pages of perfPages) {
      for (const size of perfSizes) {
        obj.setGlobal('event_size', size);
        await watermark(`perf ${size} B, ${pages} pages/CPU`, pages, Math.round(N / Math.max(1, size / 64) ** 0.5), 'idleOtherThreads()', IDLE);
      }
    }
    // the target row with the reader's thread under SCHED_FIFO too: a SCHED_IDLE helper picked while
    // the reader's thread is preempted cannot keep the CPU for a tick (bench/JOURNAL.md, 4 December)
    if (perfPages.includes(1024) && perfSizes.includes(64)) {
      obj.setGlobal('event_size', 64);
      await watermark('perf 64 B, 1024 pages/CPU, realtime', 1024, N, 'idleOtherThreads({ realtime: true })', { BENCH_IDLE_OTHERS: 'realtime' });
    }
  }
  if (rows.includes('perf-stall')) {
    // The perf target's ring with the reader's CPU taken away, as the ring buffer rows below: 1,024
    // pages hold 4 MiB of 80-byte records, 8.7 ms of 6 M events/s, less the up to a quarter of the ring
    // (2.2 ms) that waits for the watermark's wake-up
    obj.setGlobal('event_size', 64);
    for (const ms of perfStopsMs) {
      await watermark(`perf 64 B, 1024 pages/CPU, paced at ${PERF_PACED / 1e6} M/s, reader stopped ${ms} ms every 100 ms`, 1024, N, 'idleOtherThreads()', IDLE, { rate: PERF_PACED, stall: stopsOf(ms) });
    }
  }
  if (rows.includes('ringbuf') || rows.includes('ringbuf-poll') || rows.includes('ringbuf-stall')) {
    obj.setGlobal('event_size', 64);
    obj.setGlobal('rb_flags', 1n); // BPF_RB_NO_WAKEUP: the best libbpf reader consumes on a 1 ms timer
    // libbpf's consume on a 1 ms timer against bpfpipe's batches() with flushMs 1 (bpfpipe's reader
    // with `env`, both producers at `rate` events/s when given)
    const noWakeup = (name: string, label: string, env: Record<string, string>, rate?: number, stall?: Stall) =>
      compare(
        name,
        async () => measure(obj, name, 'libbpf consume every 1 ms', await startReader([libbpf, 'ringbuf-poll', rbPin]), 'rb_bench', N, { rate, stall }),
        async () => measure(obj, name, `bpfpipe batches(), flushMs 1, ${label}`, await startReader([...BPFPIPE_READER_CMD, 'batches', rbPin], { BENCH_FLUSH_MS: '1', ...env }), 'rb_bench', N, { rate, stall }),
      );
    if (rows.includes('ringbuf-stall')) {
      // The reader's CPU taken away for a few ms about every 100 ms (bench/c/stall.c), as the host takes
      // this VM's vCPUs away: at 8 M events/s, 4 MiB of 72-byte records hold 7.3 ms, less the up to
      // 1 ms since the last consume. What each reader loses says how much of a stop its ring rides out.
      for (const ms of stopsMs) {
        await noWakeup(`ring buffer 4 MiB, 64 B, no wake-up, paced at ${RB_PACED / 1e6} M/s, reader stopped ${ms} ms every 100 ms`, 'idleOtherThreads()', IDLE, RB_PACED, stopsOf(ms));
      }
    }
    if (rows.includes('ringbuf') || rows.includes('ringbuf-poll')) {
      await noWakeup('ring buffer 4 MiB, 64 B, no wake-up', 'idleOtherThreads()', IDLE);
      // the same with the reader's thread under SCHED_FIFO: kernel threads and V8's helpers cannot hold it up
      await noWakeup('ring buffer 4 MiB, 64 B, no wake-up, realtime', 'idleOtherThreads({ realtime: true })', { BENCH_IDLE_OTHERS: 'realtime' });
      // The same offered load for both readers, to compare their losses. Unpaced, the producer runs at
      // 17-18 M events/s beside bpfpipe's reader and at 10-13 M/s beside libbpf's, which stores
      // consumer_pos after every record (the producer reads that cache line at every reserve): 4 MiB then
      // hold 2.8 ms for one and 4-5 ms for the other.
      await noWakeup(`ring buffer 4 MiB, 64 B, no wake-up, paced at ${RB_PACED / 1e6} M/s`, 'idleOtherThreads()', IDLE, RB_PACED);
    }
    obj.setGlobal('rb_flags', 0n);
  }
  if (rows.includes('ringbuf')) {
    obj.setGlobal('event_size', 64);
    const name2 = 'ring buffer 4 MiB, 64 B, adaptive wake-up';
    await compare(
      name2,
      async () => measure(obj, name2, 'libbpf epoll', await startReader([libbpf, 'ringbuf', rbPin]), 'rb_bench', N),
      async () => measure(obj, name2, 'bpfpipe batches()', await startReader([...BPFPIPE_READER_CMD, 'batches', rbPin]), 'rb_bench', N),
    );
  }
  if (rows.includes('decoded')) {
    obj.setGlobal('event_size', 64);
    // The target is absolute (>= 2 M decoded events/s, 0 lost): the producer is paced at 2 M/s. At
    // ~400 ns per decoded object the reader uses 80 % of its CPU, and a collection of the old
    // generation (5-8 ms) backs up 10-16 k events: 1024 pages per CPU (52 k perf records of 80 B)
    // overflow when two come close; 4096 pages (16 MiB) hold ~105 ms of events, 8192 pages ~210 ms:
    // the VM's slow minutes double the cost per object, and 4096 pages lost in some of those runs
    // (bench/README.md). Every size, both readers.
    // The 4096-page row again with idleOtherThreads(), as a collector pinned to a CPU runs: with the
    // reader pinned, V8's helper threads (the parallel scavenger's among them) otherwise preempt it
    // thousands of times a run (`switches.involuntary`).
    const n = 6_000_000;
    const decodedReader = (pages: number, env: Record<string, string>) =>
      startReader([...BPFPIPE_READER_CMD, 'decoded', perfPin, String(pages), path.join(ROOT, 'bpf/bench.bpf.o')], env);
    const decodedRows = decodedPages.map((pages) => ({ pages, idle: false }));
    if (decodedPages.includes(4096)) decodedRows.push({ pages: 4096, idle: true });
    for (const { pages, idle } of decodedRows) {
      const name = `perf 64 B decoded objects, for await, 2M events/s, ${pages} pages/CPU${idle ? ', idleOtherThreads()' : ''}`;
      await compare(
        name,
        async () => measure(obj, name, 'libbpf watermark', await startReader([libbpf, 'perf-watermark', perfPin, String(pages)]), 'perf_bench', n, { rate: 2_000_000 }),
        async () => measure(obj, name, `bpfpipe for await (decoded)${idle ? ', idleOtherThreads()' : ''}`, await decodedReader(pages, idle ? IDLE : {}), 'perf_bench', n, { rate: 2_000_000 }),
      );
    }
  }
  if (rows.includes('latency')) {
    obj.setGlobal('event_size', 64);
    const name = 'latency at 1k events/s, 64 B';
    const n = 3000;
    await compare(
      name,
      async () => measure(obj, name, 'libbpf default (wake-up per event)', await startReader([libbpf, 'perf-default', perfPin, '256'], { LATENCY: '1' }), 'perf_bench', n, { rate: 1000, warmup: 200 }),
      async () => measure(obj, name, 'bpfpipe defaults', await startReader([...BPFPIPE_READER_CMD, 'latency', perfPin, 'default']), 'perf_bench', n, { rate: 1000, warmup: 200 }),
    );
    // The same with the reader's other threads (V8's helpers) idle: its wake-ups no longer wait for them.
    const nameIdle = `${name}, idleOtherThreads()`;
    await compare(
      nameIdle,
      async () => measure(obj, nameIdle, 'libbpf default (wake-up per event)', await startReader([libbpf, 'perf-default', perfPin, '256'], { LATENCY: '1' }), 'perf_bench', n, { rate: 1000, warmup: 200 }),
      async () => measure(obj, nameIdle, 'bpfpipe defaults, idleOtherThreads()', await startReader([...BPFPIPE_READER_CMD, 'latency', perfPin, 'default'], IDLE), 'perf_bench', n, { rate: 1000, warmup: 200 }),
    );
  }
  if (rows.includes('cli')) {
    obj.setGlobal('event_size', 64);
    const name = 'CLI listen --format json > /dev/null, 1M events/s';
    const n = 3_000_000;
    void produce;
    await compare(
      name,
      async () => measure(obj, name, 'libbpf watermark', await startReader([libbpf, 'perf-watermark', perfPin, '1024']), 'perf_bench', n, { rate: 1_000_000 }),
      async () => measure(obj, name, 'bpfpipe listen --format json', await startReader(['node', path.join(ROOT, 'bench/readers/cli-reader.mjs'), perfPin]), 'perf_bench', n, { rate: 1_000_000, countBy: 'program' }),
    );
  }
} finally {
  cleanup(obj);
}
