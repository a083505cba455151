/**
 * The userspace runtime against the kernel's JIT, same programs, same packets, same CPU, same time: for
 * every tc program in bpf/ the runtime supports, ns per run over each packet of the corpus
 * (test/support/packets.ts), the kernel's and the runtime's measured in turn on the same packet.
 *
 * Each (program, reader or not) runs in a Node process of its own, pinned to one CPU (the last online
 * one), as `bpfpipe replay` runs one program: JIT state of other programs' runtimes stays out of it.
 * In that process:
 * - warm-up: the runtime over the whole corpus (every packet in turn, --warmup-per-packet runs each,
 *   draining the reader after each packet) for at least --warmup runs in all and --warmup-ms of time,
 *   and until a pass over the corpus is no more than 3% slower than the best pass so far (at most 10x
 *   --warmup-ms): V8 re-optimises the generated code for new packet shapes, and for new paths (the
 *   first failing output once a ring buffer without a reader is full), in the background: a program's
 *   function takes 25-50 ms to compile here, while the code it replaces runs ten times slower, and
 *   passes of that code are as steady as any (without the minimum time, one process in three of
 *   rb_reserve without a reader was timed in it: 3.7x instead of 2.0x). The timed loop is the
 *   warm-up's own function.
 * - then for each packet, --repeat times: the kernel (BPF_PROG_TEST_RUN, repeat = --runs: its own
 *   per-run duration, the syscall excluded), then the runtime (--runs runs, wall time / runs), each
 *   with an events reader open on the program's perf event array / ring buffer when `reader` (drained
 *   between measurements, untimed; rings large enough that every output succeeds, checked). The
 *   median of the repeats is the packet's time for each side — interleaving and the median keep the
 *   VM's noise bursts (the two vCPUs here can differ by 1.5x at times) out of the ratio.
 * kernel_ns / runtime_ns: the mean over the packets of those medians; ratio = runtime / kernel; per_packet_ns:
 * each packet's [kernel, runtime] medians with a reader (the VM's slow phases show as runs of slower packets).
 * runtime_ns_no_reader: the same without a reader (perf outputs fail with ENOENT, as when nothing
 * reads; ring buffer records wait in the map as in the kernel, until it is full).
 * Each (program, reader or not) is measured in --processes separate processes (default 3) and the
 * process with the median ratio gives the row's numbers (ratio_runs lists every process's ratio): how
 * V8 compiles the generated code (which helpers TurboFan inlines into it) differs from process to
 * process: two copies of the same build loaded in one process ran up to 8 % apart, the same copy
 * faster pass after pass.
 * Prints one JSON line per program and a summary (median and max of the ratios over the programs).
 * The runtime measured is dist/ (built first), the compiled JavaScript that users run: through tsx the
 * sources differ (its keepNames helper): the runtime reader's drainInto was deoptimised at nearly every
 * drain there (495 times in 3 s of rb_reserve), 6 times from dist/.
 *   node --import tsx bench/runtime.ts [--runs 20000] [--repeat 5] [--warmup 20000] [--warmup-ms 500] [--warmup-per-packet 100] [--processes 3] [--mode compiled|interpreter] [--prog NAME]
 */
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { packetCorpus } from '../test/support/packets.js';

const args = process.argv.slice(2);
const child = args.indexOf('--child');
// the parent builds dist/; its children load it as built
if (child < 0) execFileSync('npm', ['run', '--silent', 'build'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'ignore', 'inherit'] });
const { loadObjectSync, openEvents, onlineCpus, possibleCpus, setAffinity, ObjectSpec, MapType, ProgType, Runtime, BpfpipeError } = await import('../dist/index.js');
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const RUNS = Number(arg('runs', '20000'));
const REPEAT = Number(arg('repeat', '5'));
const MODE = arg('mode', 'compiled') as 'compiled' | 'interpreter';
const ONLY = arg('prog', '');
const WARMUP = Number(arg('warmup', '20000'));
const WARMUP_PER_PACKET = Number(arg('warmup-per-packet', '100'));
const WARMUP_MS = Number(arg('warmup-ms', '500'));
const PROCESSES = Math.max(1, Number(arg('processes', '3')));
const CPU = onlineCpus().at(-1)!;
const NCPU = possibleCpus().length;
const PIN = `/sys/fs/bpf/bpfpipe-bench-runtime-${process.pid}`;
const corpus = packetCorpus();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Case { file: string; prog: string; eventMap?: string }
const cases: Case[] = [];
for (const f of fs.readdirSync('bpf').filter((n) => n.endsWith('.o') && n !== 'rejected.bpf.o').sort()) {
  const spec = ObjectSpec.parse(fs.readFileSync(`bpf/${f}`));
  for (const p of spec.programs) {
    if (p.type !== ProgType.SCHED_CLS && p.type !== ProgType.SCHED_ACT) continue;
    if (ONLY && p.name !== ONLY) continue;
    try {
      Runtime.load(spec, { programs: [p.name] });
    } catch (e) {
      if (e instanceof BpfpipeError && e.code === 'EBPF_NOTSUP') continue;
      throw e;
    }
    const ev = spec.maps.find((m) => (m.type === MapType.PERF_EVENT_ARRAY || m.type === MapType.RINGBUF) && p.mapRefs.some((r) => r.map === m.name));
    cases.push({ file: `bpf/${f}`, prog: p.name, eventMap: ev?.name });
  }
}

/** `n` runs of `prog` over `data` (the warm-up and the timed loop both use it: optimised before timing). */
function runMany(prog: { run(d: Uint8Array, o: { cpu: number }): unknown }, data: Uint8Array, o: { cpu: number }, n: number): void {
  for (let i = 0; i < n; i++) prog.run(data, o);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const slotsOf = (maxEntries: number) => [0, 1, 2, 3].map((k) => k * NCPU + CPU).filter((s) => s < (maxEntries || NCPU));

interface Measured { kernel: number; runtime: number; warmupRuns: number; perPacket: [number, number][] }

/** In a process of its own: kernel and runtime ns per run for `c`, interleaved per packet (see the header). */
async function measure(c: Case, withReader: boolean): Promise<Measured> {
  setAffinity([CPU]);
  const spec = ObjectSpec.parse(fs.readFileSync(c.file));
  const m = withReader && c.eventMap ? spec.maps.find((x) => x.name === c.eventMap)! : undefined;
  const perf = m?.type === MapType.PERF_EVENT_ARRAY;
  // with a reader, kernel rings large enough for one measurement's outputs too (a 64 MiB ring buffer,
  // 8 MiB perf rings): every output succeeds on both sides (checked below)
  const obj = loadObjectSync(c.file, { pinDir: PIN, programs: [c.prog], maxEntries: m && !perf ? { [m.name]: 64 << 20 } : undefined });
  try {
    const rt = Runtime.load(fs.readFileSync(c.file), { programs: [c.prog], ncpus: NCPU, mode: MODE });
    const kreader = m ? await openEvents(obj.map(m.name), perf ? { slots: slotsOf(m.maxEntries), pagesPerCpu: 2048 } : {}) : undefined;
    // rings large enough for one measurement's outputs: every output succeeds (checked below)
    const reader = m ? rt.openEvents(m.name, perf ? { slots: slotsOf(m.maxEntries), ringBytes: 256 << 20 } : { ringBytes: 256 << 20 }) : undefined;
    const it = reader?.batches()[Symbol.asyncIterator]();
    const drain = async () => {
      if (reader && it && reader.queued > 0) await it.next();
    };
    try {
      const prog = rt.program(c.prog);
      const o = { cpu: CPU };
      let warmupRuns = 0;
      let best = Infinity;
      const warmupStart = performance.now();
      for (;;) {
        const t0 = process.hrtime.bigint();
        for (const p of corpus) {
          runMany(prog, p.data, o, WARMUP_PER_PACKET);
          await drain();
        }
        const t = Number(process.hrtime.bigint() - t0);
        warmupRuns += WARMUP_PER_PACKET * corpus.length;
        const stable = t <= best * 1.03;
        best = Math.min(best, t);
        const ms = performance.now() - warmupStart;
        if ((warmupRuns >= WARMUP && ms >= WARMUP_MS && stable) || ms >= 10 * WARMUP_MS) break;
      }
      const k: number[] = [];
      const r: number[] = [];
      for (const p of corpus) {
        const kp: number[] = [];
        const rp: number[] = [];
        for (let i = 0; i < REPEAT; i++) {
          kp.push(obj.program(c.prog).testRun({ data: p.data, repeat: RUNS }).durationNs);
          kreader?.read();
          const t0 = process.hrtime.bigint();
          runMany(prog, p.data, o, RUNS);
          rp.push(Number(process.hrtime.bigint() - t0) / RUNS);
          await drain();
        }
        k.push(median(kp));
        r.push(median(rp));
      }
      if (reader && reader.stats.lost > 0) throw new Error(`${c.prog}: the runtime's reader lost ${reader.stats.lost} records; the measurement would not be of successful outputs`);
      if (kreader && kreader.stats.lost > 0) throw new Error(`${c.prog}: the kernel's reader lost ${kreader.stats.lost} records; the measurement would not be of successful outputs`);
      return { kernel: mean(k), runtime: mean(r), warmupRuns, perPacket: k.map((x, i) => [Math.round(x), Math.round(r[i]!)]) };
    } finally {
      await reader?.close();
      await kreader?.close();
    }
  } finally {
    obj.close();
    fs.rmSync(PIN, { recursive: true, force: true });
  }
}

/** measure() in a Node process of its own. */
function measureApart(c: Case, withReader: boolean): Measured {
  const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args, '--child', JSON.stringify({ c, withReader })], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Measured;
}

/** measureApart() in PROCESSES processes: the one with the median ratio, and every process's ratio. */
function measureMedian(c: Case, withReader: boolean): { m: Measured; ratios: number[] } {
  const runs = Array.from({ length: PROCESSES }, () => measureApart(c, withReader));
  const ratio = (m: Measured) => m.runtime / m.kernel;
  const sorted = [...runs].sort((a, b) => ratio(a) - ratio(b));
  return { m: sorted[(sorted.length - 1) >> 1]!, ratios: runs.map((m) => +ratio(m).toFixed(2)) };
}

if (child >= 0) {
  const { c, withReader } = JSON.parse(args[child + 1]!) as { c: Case; withReader: boolean };
  console.log(JSON.stringify(await measure(c, withReader)));
  process.exit(0);
}
const ratios: number[] = [];
const ratiosNoReader: number[] = [];
for (const c of cases) {
  const { m: a, ratios: ra } = measureMedian(c, true);
  const { m: b, ratios: rb } = measureMedian(c, false);
  const row = {
    row: 'runtime', mode: MODE, object: c.file, prog: c.prog, packets: corpus.length, runs: RUNS, repeat: REPEAT, processes: PROCESSES,
    kernel_ns: +a.kernel.toFixed(1), runtime_ns: +a.runtime.toFixed(1), ratio: +(a.runtime / a.kernel).toFixed(2),
    kernel_ns_no_reader: +b.kernel.toFixed(1), runtime_ns_no_reader: +b.runtime.toFixed(1), ratio_no_reader: +(b.runtime / b.kernel).toFixed(2),
    // every process's ratio, with and without a reader (the row's numbers are the median process's)
    ratio_runs: ra, ratio_no_reader_runs: rb,
    event_map: c.eventMap ?? null, warmup_runs: a.warmupRuns,
    // each packet's medians [kernel, runtime] with a reader, in corpus order: the VM's phases show here
    // (consecutive packets measured in a slow phase are slower on both sides, the runtime more)
    per_packet_ns: a.perPacket,
  };
  ratios.push(row.ratio);
  ratiosNoReader.push(row.ratio_no_reader);
  console.log(JSON.stringify(row));
}
console.log(JSON.stringify({ summary: 'runtime', mode: MODE, programs: cases.length, median_ratio: median(ratios), max_ratio: Math.max(...ratios), median_ratio_no_reader: median(ratiosNoReader), max_ratio_no_reader: Math.max(...ratiosNoReader) }));
