/**
 * JetStream export: how many events/s `bpfpipe listen --nats` gets acknowledged by a local
 * nats-server (file storage), and what it costs compared with `--format none`.
 *
 *   npm run build && node --import tsx bench/nats.ts [--sat-rate 200000] [--sat-seconds 3] [--rate 20000] [--seconds 5] [--window 256]
 *
 * Rows (JSON lines):
 * - saturation: the producer (BPF_PROG_TEST_RUN, CPU 1) emits --sat-rate events/s for --sat-seconds,
 *   more than the export can take; the CLI (CPU 0) reads, back-pressure from the ack window slows it,
 *   the kernel counts what the rings cannot hold as lost. publishedPerSec = acknowledged messages per
 *   second while the export was busy (from the CLI's own bpfpipe_nats_published_total), json and raw.
 * - cost at a sustainable rate (--rate events/s for --seconds): CLI CPU ns per event for --format none,
 *   --nats json and --nats raw, everything acknowledged (0 lost, 0 dropped), and the server's CPU.
 * The nats-server runs unpinned on the same two CPUs; all on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, BIN, PIN, READER_CPU, PRODUCER_CPU, buildBaselines, loadBench, cleanup, produce, counts, sleep } from './harness.js';
import { possibleCpus } from '../src/index.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const SAT_RATE = Number(arg('sat-rate', '200000'));
const SAT_SECONDS = Number(arg('sat-seconds', '3'));
const WINDOW = arg('window', '');
const RATE = Number(arg('rate', '20000'));
const SECONDS = Number(arg('seconds', '5'));

if (possibleCpus().length < 2) {
  console.error('bench: needs two CPUs (producer on CPU 1, reader on CPU 0)');
  process.exit(2);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function metrics(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(bpfpipe_[a-z_]+)(?:\{[^}]*\})? ([\d.e+-]+)$/.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

async function until(what: string, f: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Cli {
  child: ChildProcess;
  port: number;
  stderr(): string;
  exited: Promise<void>;
}

async function startCli(extra: string[]): Promise<Cli> {
  const port = await freePort();
  const child = spawn('taskset', ['-c', READER_CPU, process.execPath, path.join(ROOT, 'dist/cli/main.js'), 'listen', `${PIN}/bench_events`, '--format', 'none', '--metrics', `127.0.0.1:${port}`, ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await until('the CLI', async () => /metrics at/.test(err) || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`bench: the CLI exited: ${err}`);
  await sleep(1000);
  return { child, port, stderr: () => err, exited };
}

async function stopCli(c: Cli): Promise<{ received: number; lost: number; published: number; dropped: number }> {
  c.child.kill('SIGINT');
  await c.exited;
  const m = /received (\d+), lost (\d+)(?:, nats published (\d+), dropped (\d+))?/.exec(c.stderr());
  if (!m) throw new Error(`bench: no summary: ${c.stderr()}`);
  return { received: Number(m[1]), lost: Number(m[2]), published: Number(m[3] ?? 0), dropped: Number(m[4] ?? 0) };
}

/** The harness's producer, without blocking this process (so that it can watch the CLI meanwhile). */
function produceAsync(n: number, rate: number): Promise<{ runs: number; seconds: number }> {
  const child = spawn('taskset', ['-c', PRODUCER_CPU, path.join(BIN, 'producer'), `${PIN}/perf_bench`, String(n), String(Math.max(1, Math.min(100_000, Math.round(rate / 1000)))), String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { runs: number; seconds: number }) : reject(new Error(`producer exited ${code}`)))));
}

const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bpfpipe-bench-nats-'));
const natsPort = await freePort();
const server = spawn('nats-server', ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(natsPort)], { stdio: ['ignore', 'ignore', 'pipe'] });
let serverLog = '';
server.stderr!.on('data', (d) => (serverLog += d));
const url = `nats://127.0.0.1:${natsPort}`;
buildBaselines();
const obj = loadBench();
obj.setGlobal('event_size', 64);
const print = (r: unknown) => console.log(JSON.stringify(r));

try {
  await until('nats-server', async () => /Server is ready/.test(serverLog));
  // Saturation: as fast as the producer goes.
  for (const format of ['json', 'raw']) {
    const c = await startCli(['--nats', url, '--subject', `bpfpipe.bench.${format}`, '--nats-format', format, '--nats-drain', '120', ...(WINDOW ? ['--nats-window', WINDOW] : [])]);
    // Published per second in the steady middle of the production window (the export is saturated).
    const producing = produceAsync(SAT_RATE * SAT_SECONDS, SAT_RATE);
    await sleep(500);
    const a = { t: performance.now(), n: (await metrics(c.port)).bpfpipe_nats_published_total ?? 0 };
    await sleep((SAT_SECONDS - 1) * 1000);
    const b = { t: performance.now(), n: (await metrics(c.port)).bpfpipe_nats_published_total ?? 0 };
    const p = await producing;
    await until('the last acks', async () => {
      const m = await metrics(c.port);
      return (m.bpfpipe_nats_buffered_messages ?? 0) === 0 && (m.bpfpipe_nats_inflight_messages ?? 0) === 0;
    });
    const s = await stopCli(c);
    print({ name: `nats export saturation, 64 B, ${format}`, window: Number(WINDOW || 1024), offeredPerSec: SAT_RATE, producerSeconds: p.seconds, ...s, publishedPerSec: Math.round(((b.n - a.n) * 1000) / (b.t - a.t)) });
  }
  // Cost at a rate the export sustains.
  const n = RATE * SECONDS;
  const costs: Record<string, number> = {};
  for (const [label, extra] of [
    ['--format none', []],
    ['--nats json', ['--nats', url, '--subject', 'bpfpipe.bench.cost-json']],
    ['--nats raw', ['--nats', url, '--subject', 'bpfpipe.bench.cost-raw', '--nats-format', 'raw']],
  ] as [string, string[]][]) {
    const c = await startCli([...extra, ...(WINDOW && extra.length ? ['--nats-window', WINDOW] : [])]);
    const [ok0, failed0] = counts(obj);
    const cpu0 = cpuSeconds(c.child.pid!);
    const srv0 = cpuSeconds(server.pid!);
    const p = produce('perf_bench', n, RATE);
    await until('the reader', async () => {
      const m = await metrics(c.port);
      return (m.bpfpipe_events_received_total ?? 0) >= n && (m.bpfpipe_nats_buffered_messages ?? 0) === 0 && (m.bpfpipe_nats_inflight_messages ?? 0) === 0;
    }, 60_000).catch(() => {});
    await sleep(200);
    const cpu = cpuSeconds(c.child.pid!) - cpu0;
    const srv = cpuSeconds(server.pid!) - srv0;
    const s = await stopCli(c);
    const [ok1, failed1] = counts(obj);
    const perEvent = Math.round((cpu * 1e9) / n);
    costs[label] = perEvent;
    print({
      name: `cost at ${RATE} events/s, 64 B, ${label}`, events: n, emitted: ok1 - ok0, refused: failed1 - failed0, ...s, seconds: p.seconds,
      cliCpuNsPerEvent: perEvent, cliCpuPercent: Math.round((cpu / p.seconds) * 100), serverCpuNsPerEvent: extra.length ? Math.round((srv * 1e9) / n) : undefined,
    });
  }
  print({ summary: 'nats export cost relative to --format none (CLI CPU per event)', json: Math.round((costs['--nats json']! / costs['--format none']!) * 10) / 10, raw: Math.round((costs['--nats raw']! / costs['--format none']!) * 10) / 10 });
} finally {
  cleanup(obj);
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  fs.rmSync(storeDir, { recursive: true, force: true });
}
