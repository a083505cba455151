/**
 * The userspace runtime against the kernel's JIT, same programs, same packets, same run: for every tc
 * program in bpf/ the runtime supports, each packet of the corpus (test/support/packets.ts) runs
 * `--runs` times in the kernel and in the runtime, `--repeat` times over, median of the repeats.
 *
 * What is measured, per program, as the mean over the packets of ns per run:
 * - kernel_ns: BPF_PROG_TEST_RUN with repeat = --runs on each packet; the kernel's own per-run duration
 *   (its timing covers the program runs, not the syscall), with the event map read between packets.
 * - runtime_ns: the runtime (compiled path unless --mode interpreter) with an event reader open on the
 *   program's perf event array / ring buffer, so every output is copied into the reader's ring (the
 *   reader is drained between packets, outside the timed loop, as the kernel side reads between test
 *   runs); wall time of --runs runs of a packet divided by --runs.
 * - runtime_ns_no_reader: the same without a reader (outputs fail with ENOENT, as when nothing reads).
 * Steady state: before timing, each runtime instance is warmed up over the whole corpus (every packet
 * in turn, --warmup-per-packet runs each, draining the reader after each packet) for at least
 * --warmup runs in all and until a pass over the corpus is no more than 3% slower than the best pass
 * so far (at most 100 passes): V8 re-optimises the generated function for every new packet shape
 * (60-110 ms each time), which a short per-packet warm-up would otherwise put into the measurement.
 * warmup_runs in the output is what it took. Prints one JSON line per program and a summary with the
 * ratios runtime / kernel (median and max over the programs).
 *   node --import tsx bench/runtime.ts [--runs 2000] [--repeat 3] [--warmup 20000] [--warmup-per-packet 100] [--mode compiled|interpreter] [--prog NAME]
 */
import * as fs from 'node:fs';
import { loadObjectSync, openEvents, onlineCpus, possibleCpus, setAffinity, ObjectSpec, MapType, ProgType, Runtime, BpfpipeError } from '../src/index.js';
import { packetCorpus } from '../test/support/packets.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const RUNS = Number(arg('runs', '2000'));
const REPEAT = Number(arg('repeat', '3'));
const MODE = arg('mode', 'compiled') as 'compiled' | 'interpreter';
const ONLY = arg('prog', '');
const WARMUP = Number(arg('warmup', '20000'));
const WARMUP_PER_PACKET = Number(arg('warmup-per-packet', '100'));
const CPU = onlineCpus().at(-1)!;
const NCPU = possibleCpus().length;
const PIN = `/sys/fs/bpf/bpfpipe-bench-runtime-${process.pid}`;
const corpus = packetCorpus();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Case { file: string; prog: string; eventMap?: string }
const cases: Case[] = [];
for (const f of fs.readdirSync('bpf').filter((n) => n.endsWith('.o') && n !== 'rejected.o').sort()) {
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

/** Kernel ns per run for each packet (events read between packets, as a reader would). */
async function kernelNs(c: Case): Promise<number[]> {
  const obj = loadObjectSync(c.file, { pinDir: PIN, programs: [c.prog] });
  try {
    const reader = c.eventMap ? await openEvents(obj.map(c.eventMap), { slots: obj.spec.maps.find((m) => m.name === c.eventMap)!.type === MapType.PERF_EVENT_ARRAY ? [0, 1, 2, 3].map((k) => k * NCPU + CPU).filter((s) => s < (obj.spec.maps.find((m) => m.name === c.eventMap)!.maxEntries || NCPU)) : undefined }) : undefined;
    const out: number[] = [];
    setAffinity([CPU]);
    try {
      for (const p of corpus) {
        out.push(obj.program(c.prog).testRun({ data: p.data, repeat: RUNS }).durationNs);
        reader?.read();
      }
    } finally {
      setAffinity(onlineCpus());
      await reader?.close();
    }
    return out;
  } finally {
    obj.close();
  }
}

/** Runtime ns per run for each packet (with a reader of the program's event map, or without), after the warm-up. */
async function runtimeNs(c: Case, withReader: boolean): Promise<{ ns: number[]; warmupRuns: number }> {
  const rt = Runtime.load(fs.readFileSync(c.file), { programs: [c.prog], ncpus: NCPU, mode: MODE });
  const spec = rt.spec;
  const m = withReader && c.eventMap ? spec.maps.find((x) => x.name === c.eventMap)! : undefined;
  const reader = m ? rt.openEvents(c.eventMap!, m.type === MapType.PERF_EVENT_ARRAY ? { slots: [0, 1, 2, 3].map((k) => k * NCPU + CPU).filter((s) => s < (m.maxEntries || NCPU)), ringBytes: 64 << 20 } : {}) : undefined;
  const it = reader?.batches()[Symbol.asyncIterator]();
  // take what the runs output (the batch is built, as a reader's loop would get it)
  const drain = async () => {
    if (reader && it && reader.queued > 0) await it.next();
  };
  const prog = rt.program(c.prog);
  const o = { cpu: CPU };
  // Warm-up over the whole corpus until passes stop getting faster (see the header).
  let warmupRuns = 0;
  let best = Infinity;
  for (let pass = 0; pass < 100; pass++) {
    const t0 = process.hrtime.bigint();
    for (const p of corpus) {
      for (let i = 0; i < WARMUP_PER_PACKET; i++) prog.run(p.data, o);
      await drain();
    }
    const t = Number(process.hrtime.bigint() - t0);
    warmupRuns += WARMUP_PER_PACKET * corpus.length;
    const stable = t <= best * 1.03;
    best = Math.min(best, t);
    if (warmupRuns >= WARMUP && stable) break;
  }
  const out: number[] = [];
  for (const p of corpus) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < RUNS; i++) prog.run(p.data, o);
    out.push(Number(process.hrtime.bigint() - t0) / RUNS);
    await drain();
  }
  await reader?.close();
  return { ns: out, warmupRuns };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ratios: number[] = [];
const ratiosNoReader: number[] = [];
try {
  for (const c of cases) {
    const k: number[] = [];
    const r: number[] = [];
    const rn: number[] = [];
    let warmupRuns = 0;
    for (let i = 0; i < REPEAT; i++) {
      k.push(mean(await kernelNs(c)));
      const withReader = await runtimeNs(c, true);
      r.push(mean(withReader.ns));
      rn.push(mean((await runtimeNs(c, false)).ns));
      warmupRuns = Math.max(warmupRuns, withReader.warmupRuns);
    }
    const row = {
      row: 'runtime', mode: MODE, object: c.file, prog: c.prog, packets: corpus.length, runs: RUNS, kernel_ns: +median(k).toFixed(1), runtime_ns: +median(r).toFixed(1), ratio: +(median(r) / median(k)).toFixed(2),
      runtime_ns_no_reader: +median(rn).toFixed(1), ratio_no_reader: +(median(rn) / median(k)).toFixed(2), event_map: c.eventMap ?? null, warmup_runs: warmupRuns,
    };
    ratios.push(row.ratio);
    ratiosNoReader.push(row.ratio_no_reader);
    console.log(JSON.stringify(row));
  }
  console.log(JSON.stringify({ summary: 'runtime', mode: MODE, programs: cases.length, median_ratio: median(ratios), max_ratio: Math.max(...ratios), median_ratio_no_reader: median(ratiosNoReader), max_ratio_no_reader: Math.max(...ratiosNoReader) }));
} finally {
  fs.rmSync(PIN, { recursive: true, force: true });
}
