/** Benchmark plumbing: a pinned bench object, reader processes, the test-run producer, JSON rows. */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { loadObjectSync, type LoadedObject } from '../src/index.js';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const BIN = path.join(ROOT, 'bench/bin');
export const PIN = `/sys/fs/bpf/bpfpipe-bench-${process.pid}`;
export const READER_CPU = '0';
export const PRODUCER_CPU = '1';

// This process (the harness) only starts readers and producers and waits for them: its threads (V8's
// helpers among them) stay off the reader's CPU, where they took it from the reader under test for a
// scheduler tick (4 ms) at a time (traced: twice in one measured second of the ring buffer row).
if (process.env.BENCH_HARNESS_PIN !== '0') execFileSync('taskset', ['-a', '-p', '-c', PRODUCER_CPU, String(process.pid)], { stdio: 'ignore' });

export interface Row {
  name: string;
  reader: string;
  events: number;
  received: number;
  lost: number;
  seconds: number;
  eventsPerSec: number;
  readerCpuNsPerEvent: number;
  latencyUs?: { p50: number; p99: number; max: number };
  /**
   * Outputs that failed (the ring full), as the program itself counted them in the measured window: a
   * ring buffer reader other than bpfpipe's cannot see these (the kernel reports no ring buffer drops),
   * so `lost` alone would say 0 for libbpf's ring buffer readers whatever they lost.
   */
  dropped: number;
  /** Events the program output that the reader neither received nor counted lost (only when not 0). */
  unaccounted?: number;
  /** Rows with stops (measure()'s `stall`): how many, and how long they were (µs, as measured). */
  stops?: { stops: number; stopUs: { min: number; mean: number; max: number } };
}

/**
 * The reader's CPU taken away while the producer runs, as the host takes a vCPU away: bench/c/stall.c
 * spins on it under SCHED_FIFO for `stopUs`, every `everyMs` from `everyMs` on. What each reader then
 * loses says how much of such a stop its ring rides out.
 */
export interface Stall {
  stopUs: number;
  everyMs: number;
}

/**
 * Build what the benchmarks run: the C baselines, and bpfpipe's dist/ (the reader processes load the
 * compiled JavaScript that users run, not the sources through tsx, whose keepNames helper renames every
 * closure it creates).
 */
export function buildBaselines(): void {
  execFileSync('bash', [path.join(ROOT, 'bench/build.sh')], { stdio: 'inherit' });
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  // the bpfpipe reader process runs as plain JavaScript too (node bench/bin/bpfpipe-reader.mjs, types stripped): under
  // `--import tsx` it would carry tsx's loader thread and an esbuild process on the reader's CPU
  const src = fs.readFileSync(path.join(ROOT, 'bench/readers/bpfpipe-reader.ts'), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  fs.mkdirSync(BIN, { recursive: true });
  fs.writeFileSync(BPFPIPE_READER, js);
}

/** The compiled bpfpipe reader (bench/readers/bpfpipe-reader.ts), built by buildBaselines(). */
export const BPFPIPE_READER = path.join(BIN, 'bpfpipe-reader.mjs');
/**
 * The command that starts it (its arguments follow): node with BENCH_NODE_ARGS, node options for the
 * reader only (e.g. '--cpu-prof --cpu-prof-dir=DIR', or --trace-gc with BENCH_TEE=1).
 */
export const BPFPIPE_READER_CMD = ['node', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), BPFPIPE_READER];

/** Load bench.bpf.o and pin its programs and event maps where reader processes can open them. */
export function loadBench(): LoadedObject {
  fs.rmSync(PIN, { recursive: true, force: true });
  const obj = loadObjectSync(path.join(ROOT, 'bpf/bench.bpf.o'), { pinDir: PIN });
  for (const p of ['perf_bench', 'rb_bench']) obj.program(p).pin(`${PIN}/${p}`);
  // Interrupted benchmarks leave nothing behind either.
  onInterrupt(() => cleanup(obj));
  return obj;
}

export function cleanup(obj: LoadedObject): void {
  obj.close();
  fs.rmSync(PIN, { recursive: true, force: true });
}

/** Sum of the per-CPU bench counters: [ok, failed]. */
export function counts(obj: LoadedObject): [number, number] {
  const m = obj.map('bench_counts');
  const get = (k: number) => (m.lookupPerCpu(new Uint8Array(new Uint32Array([k]).buffer)) ?? [])
    .reduce((a, v) => a + Number(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)), 0);
  return [get(0), get(1)];
}

function waitFor(child: ChildProcess, re: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = re.exec(buf);
      if (m) {
        child.stdout!.off('data', onData);
        resolve(m[0]);
      }
    };
    child.stdout!.on('data', onData);
    const gone = (code: number | null) => reject(new Error(`${what} exited (${code ?? child.signalCode}) before printing ${re}: ${buf}`));
    // (a child that ended before this wait began emits no more 'exit': without this check the wait,
    // and the benchmark with its namespaces and pins, would hang until killed)
    if (child.exitCode !== null || child.signalCode !== null) gone(child.exitCode);
    else child.once('exit', gone);
  });
}

export interface ReaderProc {
  child: ChildProcess;
  result(): Promise<Record<string, unknown>>;
}

/** Reader processes not ended yet (an interrupted benchmark ends them too). */
const liveReaders = new Set<ChildProcess>();

/** On SIGINT or SIGTERM: kill the readers, run `release` (what the benchmark set up), exit 130. */
export function onInterrupt(release: () => void): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const r of liveReaders) r.kill('SIGKILL');
      release();
      process.exit(130);
    });
  }
}

/** Start a reader process pinned to the reader CPU; resolves when it is ready. */
export async function startReader(cmd: string[], env: Record<string, string> = {}): Promise<ReaderProc> {
  const child = spawn('taskset', ['-c', READER_CPU, ...cmd], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  liveReaders.add(child);
  child.once('exit', () => liveReaders.delete(child));
  // BENCH_TEE=1: the reader's stdout also on stderr (e.g. with BENCH_NODE_ARGS=--trace-gc)
  if (process.env.BENCH_TEE) child.stdout!.on('data', (d: Buffer) => process.stderr.write(d));
  await waitFor(child, /ready/, cmd[0]!);
  return {
    child,
    result: async () => JSON.parse(await waitFor(child, /\{.*\}/, cmd[0]!)) as Record<string, unknown>,
  };
}

/** Run the producer (pinned to the producer CPU): n runs of the program, optionally paced. */
export function produce(prog: string, n: number, rate = 0, repeat = 100_000): { runs: number; seconds: number } {
  const out = execFileSync('taskset', ['-c', PRODUCER_CPU, path.join(BIN, 'producer'), `${PIN}/${prog}`, String(n), String(rate ? Math.max(1, Math.min(repeat, Math.round(rate / 1000))) : repeat), String(rate)]);
  return JSON.parse(out.toString()) as { runs: number; seconds: number };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** BENCH_WARMUP=N: warm-up events of the full-rate rows (default 1 M; paced rows keep their own). */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1_000_000);

/** Warm up, reset the reader's counters, produce `n` events, stop the reader, build the row. */
export async function measure(
  obj: LoadedObject,
  name: string,
  readerName: string,
  reader: ReaderProc,
  prog: string,
  n: number,
  o: { rate?: number; warmup?: number; countBy?: 'reader' | 'program'; stall?: Stall } = {},
): Promise<Row> {
  const warm = o.warmup ?? Math.min(n, WARMUP);
  if (warm > 0) produce(prog, warm, o.rate ? Math.max(o.rate, 1000) : 0);
  await sleep(300);
  reader.child.kill('SIGUSR2');
  await sleep(250);
  const [ok0, failed0] = counts(obj);
  const stall = o.stall ? stopReader(o.stall, n / o.rate!) : undefined;
  const p = produce(prog, n, o.rate ?? 0);
  const stops = await stall;
  await sleep(300);
  const [ok1, failed1] = counts(obj);
  reader.child.kill('SIGUSR1');
  const r = await reader.result();
  await new Promise((resolve) => (reader.child.exitCode !== null ? resolve(undefined) : reader.child.once('exit', resolve)));
  const emitted = ok1 - ok0 + (failed1 - failed0);
  // 'program': the program's own counters over the measured window (outputs that reached the ring,
  // and outputs the full ring refused) — for readers that cannot reset their counts after the warm-up.
  const received = o.countBy === 'program' ? ok1 - ok0 : Number(r.received);
  const lost = o.countBy === 'program' ? failed1 - failed0 : Number(r.lost);
  const row: Row = {
    name,
    reader: readerName,
    events: emitted,
    received,
    lost,
    seconds: p.seconds,
    eventsPerSec: Math.round(received / p.seconds),
    readerCpuNsPerEvent: received ? Math.round((Number(r.cpuSeconds) * 1e9) / received * 10) / 10 : 0,
    dropped: failed1 - failed0,
  };
  // received + lost == emitted, or the row says by how much it is not (reader-counted rows)
  if (o.countBy !== 'program' && received + lost !== emitted) row.unaccounted = emitted - received - lost;
  if (stops) row.stops = stops;
  // the bpfpipe reader's diagnostics: its measured window (to line up with V8's log or `perf record`),
  // its CPU split by thread, faults, wake-ups and batches; BENCH_GAPS=1: the batch gaps and collections
  for (const k of ['gaps', 'gc', 'windowMs', 'windowMono', 'sysSeconds', 'threadSeconds', 'faults', 'switches', 'syscalls', 'wakeups', 'batches'] as const) if (r[k]) (row as unknown as Record<string, unknown>)[k] = r[k];
  if (r.latencyUs && (r.latencyUs as { p50: number }).p50 > 0) row.latencyUs = { ...(r.latencyUs as Row['latencyUs'] & object), ...(r.slow !== undefined ? { over2ms: r.slow } : {}) } as Row['latencyUs'];
  return row;
}

/** Take the reader's CPU away now and then for the `seconds` the (paced) producer runs (bench/c/stall.c). */
async function stopReader(s: Stall, seconds: number): Promise<NonNullable<Row['stops']>> {
  const count = Math.max(1, Math.floor((seconds * 1000) / s.everyMs) - 1);
  const child = spawn('taskset', ['-c', READER_CPU, path.join(BIN, 'stall'), String(s.everyMs), String(s.stopUs), String(count), String(s.everyMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  // ('close': its output is all read; 'exit' may come first)
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`stall exited (${code}): ${out}`);
  return JSON.parse(out) as NonNullable<Row['stops']>;
}

export function median<T>(rows: T[], key: (r: T) => number): T {
  const s = [...rows].sort((a, b) => key(a) - key(b));
  return s[Math.floor(s.length / 2)]!;
}
