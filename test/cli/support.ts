/** Running the built `bpfpipe` binary in tests, inside a test network namespace when asked. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach } from 'node:test';
import type { TestNetns } from '../kernel/helpers/index.js';
import { stopLeftover, type Leftover } from './leftover.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli/main.js');
const REPORTS = path.join(ROOT, 'test-artifacts/reports');

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The command line of the CLI with `args` (Node's own options before them), in `netns` when given. */
function command(args: string[], netns: string | undefined, nodeOptions: string[] = []): string[] {
  const node = [process.execPath, ...nodeOptions, CLI, ...args];
  return netns ? ['nsenter', `--net=${netns}`, ...node] : node;
}

/** Run the CLI to completion (in network namespace `netns` when given). */
export function cli(args: string[], o: { netns?: string; timeoutMs?: number; input?: string } = {}): CliResult {
  const cmd = command(args, o.netns);
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd: ROOT, encoding: 'utf8', timeout: o.timeoutMs ?? 20_000, input: o.input, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit status when the process ends. */
  exited: Promise<number | null>;
  /** The exit status, or a failure (describing and stopping it) when the process is still running after `ms`. */
  exitWithin(ms: number): Promise<number | null>;
}

// The CLI processes a test started and that have not ended yet.
const running = new Map<ChildProcess, Leftover>();

// A test that ends (failed, or forgot one) with a CLI process still running: that process is stopped
// here, so that what it holds (the slots of a pinned map, a tc hook) cannot fail the tests after it;
// what it was doing is printed first, and the test fails.
afterEach(async () => {
  const left = [...running];
  running.clear();
  const reports: string[] = [];
  for (const [, l] of left) reports.push(await stopLeftover(l));
  if (reports.length) {
    for (const r of reports) process.stderr.write(`${r}\n`);
    throw new Error(`a bpfpipe process was still running at the end of the test (stopped): ${reports.map((r) => r.split('\n')[0]).join('; ')}`);
  }
});

/** Start the CLI in the background (stopped after the test if it is still running then). */
export function startCli(args: string[], o: { netns?: string } = {}): RunningCli {
  // (--report-on-signal: SIGUSR2 writes a diagnostic report, read when a process is left running)
  const cmd = command(args, o.netns, ['--report-on-signal', `--report-directory=${REPORTS}`]);
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const leftover: Leftover = { child, args, stderr: () => err, reports: REPORTS };
  running.set(child, leftover);
  child.on('exit', () => running.delete(child));
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  // 'close', not 'exit': the exit can come before the last of stdout and stderr is read (a summary
  // written just before exiting was missing from stderr once)
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const exitWithin = async (ms: number): Promise<number | null> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
    try {
      const first = await Promise.race([exited, late]);
      if (first !== 'late') return first;
    } finally {
      clearTimeout(timer);
    }
    running.delete(child);
    throw new Error(`still running after ${ms} ms (stopped): ${await stopLeftover(leftover)}`);
  };
  return { child, stdout: () => out, stderr: () => err, exited, exitWithin };
}

/** Call `tick` every `ms` until `done` resolves (or `timeoutMs` passes; then throws). */
export async function repeatUntil<T>(done: Promise<T>, tick: () => void, ms = 100, timeoutMs = 15_000): Promise<T> {
  let finished = false;
  const p = done.then((v) => {
    finished = true;
    return v;
  });
  const deadline = Date.now() + timeoutMs;
  while (!finished) {
    if (Date.now() > deadline) throw new Error(`not done within ${timeoutMs} ms`);
    tick();
    await Promise.race([p, new Promise((r) => setTimeout(r, ms))]);
  }
  return p;
}

/** Wait until `run` has attached in `ns` (a tcx link or a bpfpipe filter) and written its manifest. */
export async function waitAttached(ns: TestNetns, run: RunningCli): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const tcx = ns.tryRun('bpftool', ['-j', 'link', 'show']).stdout.includes('"prog_id"');
    const cls = ns.tryRun('tc', ['filter', 'show', 'dev', ns.dev, 'ingress']).stdout.includes('bpfpipe:');
    if ((tcx || cls) && fs.existsSync('/run/bpfpipe/attach') && fs.readdirSync('/run/bpfpipe/attach').length > 0) return;
    if (run.child.exitCode !== null) throw new Error(`run exited early: ${run.stderr()}`);
    if (Date.now() > deadline) throw new Error('not attached within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}
