/**
 * The userspace runtime against the kernel's JIT, same programs, same packets, same run: for every tc
 * program in bpf/ the runtime supports, each packet of the corpus runs `--runs` times in the kernel
 * (BPF_PROG_TEST_RUN with repeat; the kernel's own per-run duration) and in the runtime (compiled path;
 * wall time of the run loop), with the events read in both. Prints one JSON line per program and a
 * summary with the ratio runtime / kernel (mean over the packets of ns per packet).
 *   node --import tsx bench/runtime.ts [--runs 2000] [--repeat 3] [--mode compiled|interpreter] [--prog NAME]
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

/** Runtime ns per run for each packet. */
async function runtimeNs(c: Case): Promise<number[]> {
  const rt = Runtime.load(fs.readFileSync(c.file), { programs: [c.prog], ncpus: NCPU, mode: MODE });
  const spec = rt.spec;
  const m = c.eventMap ? spec.maps.find((x) => x.name === c.eventMap)! : undefined;
  const reader = m ? rt.openEvents(c.eventMap!, m.type === MapType.PERF_EVENT_ARRAY ? { slots: [0, 1, 2, 3].map((k) => k * NCPU + CPU).filter((s) => s < (m.maxEntries || NCPU)), ringBytes: 64 << 20 } : {}) : undefined;
  const it = reader?.batches()[Symbol.asyncIterator]();
  const prog = rt.program(c.prog);
  const out: number[] = [];
  for (const p of corpus) {
    for (let i = 0; i < 200; i++) prog.run(p.data, { cpu: CPU }); // warm up (and let V8 optimise)
    if (it) await it.next();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < RUNS; i++) prog.run(p.data, { cpu: CPU });
    out.push(Number(process.hrtime.bigint() - t0) / RUNS);
    if (it) await it.next();
  }
  await reader?.close();
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ratios: number[] = [];
try {
  for (const c of cases) {
    const k: number[] = [];
    const r: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      k.push(mean(await kernelNs(c)));
      r.push(mean(await runtimeNs(c)));
    }
    const row = { row: 'runtime', mode: MODE, object: c.file, prog: c.prog, packets: corpus.length, runs: RUNS, kernel_ns: +median(k).toFixed(1), runtime_ns: +median(r).toFixed(1), ratio: +(median(r) / median(k)).toFixed(2) };
    ratios.push(row.ratio);
    console.log(JSON.stringify(row));
  }
  console.log(JSON.stringify({ summary: 'runtime', mode: MODE, programs: cases.length, median_ratio: median(ratios), max_ratio: Math.max(...ratios) }));
} finally {
  fs.rmSync(PIN, { recursive: true, force: true });
}
