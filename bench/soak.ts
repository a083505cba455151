/**
 * Soak: SOAK_SECONDS (default 600) at SOAK_RATE events/s (default 1.2M, 64 B perf events) from the
 * test-run producer on CPU 1, one bpfpipe reader on CPU 0 reporting RSS, heap and fds every 30 s.
 * Prints the samples and a summary: RSS start/end, fd start/end, and received + lost == emitted.
 *   node --import tsx bench/soak.ts
 */
import { spawn } from 'node:child_process';
import { PIN, READER_CPU, BPFPIPE_READER, buildBaselines, loadBench, cleanup, counts, produce, sleep } from './harness.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 1_200_000);
buildBaselines(); // the C producer, dist/ and the bpfpipe reader
const obj = loadBench();
obj.setGlobal('event_size', 64);
const samples: Record<string, number>[] = [];
let child: ReturnType<typeof spawn> | undefined;
try {
  child = spawn('taskset', ['-c', READER_CPU, 'node', BPFPIPE_READER, 'batches', `${PIN}/bench_events`, '1024'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SOAK_REPORT_MS: '30000' },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => {
    for (const line of String(d).split('\n').filter(Boolean)) {
      try {
        const s = JSON.parse(line) as Record<string, number>;
        samples.push(s);
        console.log(JSON.stringify({ sample: s }));
      } catch {
        process.stderr.write(line + '\n');
      }
    }
  });
  while (!out.includes('ready')) await sleep(50);
  const [ok0, failed0] = counts(obj);
  const p = produce('perf_bench', Math.round(SECONDS * RATE), RATE);
  await sleep(500);
  const [ok1, failed1] = counts(obj);
  child.kill('SIGUSR1');
  await new Promise((r) => child!.once('exit', r));
  const r = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as { received: number; lost: number; cpuSeconds: number };
  const emitted = ok1 - ok0 + (failed1 - failed0);
  console.log(JSON.stringify({
    summary: 'soak',
    seconds: p.seconds,
    eventsPerSec: Math.round(emitted / p.seconds),
    emitted,
    received: r.received,
    lost: r.lost,
    exact: r.received + r.lost === emitted && r.received === ok1 - ok0,
    rssMiB: { first: samples[0]?.rssMiB, last: samples.at(-1)?.rssMiB, max: Math.max(...samples.map((s) => s.rssMiB ?? 0)) },
    fds: { first: samples[0]?.fds, last: samples.at(-1)?.fds },
    readerCpuNsPerEvent: Math.round((r.cpuSeconds * 1e9) / Math.max(1, r.received)),
  }));
} finally {
  if (child && child.exitCode === null) child.kill('SIGKILL'); // an interrupted soak leaves no reader behind
  cleanup(obj);
}
