/**
 * A CLI process that a test left running: what it holds and where it waits (its fds, its kernel wait
 * channel, Node's diagnostic report: JavaScript stack and libuv handles), then stopped — SIGTERM, and
 * SIGKILL if it has not ended 2 s later.
 */
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Leftover {
  child: ChildProcess;
  args: string[];
  stderr(): string;
  /** Where the child's Node writes its diagnostic report on SIGUSR2 (--report-on-signal). */
  reports: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ended(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function endWithin(child: ChildProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!ended(child) && Date.now() < deadline) await sleep(20);
  return ended(child);
}

/** The process's fds, counted by what they are ("anon_inode:bpf-map × 9, anon_inode:[perf_event] × 4"). */
function fdSummary(pid: number): string {
  const counts = new Map<string, number>();
  let names: string[] = [];
  try {
    names = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return '(fds unreadable)';
  }
  for (const n of names) {
    let target = '?';
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${n}`).replace(/^(socket|pipe):\[\d+\]$/, '$1');
    } catch {
      continue;
    }
    counts.set(target, (counts.get(target) ?? 0) + 1);
  }
  return [...counts].map(([t, c]) => (c > 1 ? `${t} × ${c}` : t)).join(', ');
}

function readProc(pid: number, file: string): string {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').trim();
  } catch {
    return '?';
  }
}

interface Report {
  javascriptStack?: { message?: string; stack?: string[] };
  libuv?: { type: string; is_active?: boolean; fd?: number; firesInMsFromNow?: number; signum?: number }[];
}

/** Ask the process for Node's diagnostic report (SIGUSR2) and summarize it; '' when none came. */
async function nodeReport(pid: number, dir: string): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const mine = () => fs.readdirSync(dir).filter((f) => f.includes(`.${pid}.`) && f.endsWith('.json'));
  const before = new Set(mine());
  try {
    process.kill(pid, 'SIGUSR2');
  } catch {
    return '';
  }
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    const file = mine().find((f) => !before.has(f));
    if (file) {
      await sleep(100); // (written in one go, but let it finish)
      try {
        const r = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Report;
        const stack = (r.javascriptStack?.stack ?? []).map((l) => l.trim()).filter((l) => l !== '').slice(0, 12);
        const handles = (r.libuv ?? []).filter((h) => h.is_active).map((h) =>
          [h.type, h.fd !== undefined && h.fd >= 0 ? `fd ${h.fd}` : '', h.firesInMsFromNow !== undefined ? `in ${h.firesInMsFromNow} ms` : '', h.signum ? `signal ${h.signum}` : ''].filter(Boolean).join(' '));
        return `  js: ${r.javascriptStack?.message ?? ''} ${stack.join(' | ')}\n  active libuv handles: ${handles.join(', ')}\n  report: ${path.join(dir, file)}`;
      } catch (err) {
        return `  report ${file} unreadable: ${String(err)}`;
      }
    }
    await sleep(50);
  }
  return '  (no diagnostic report within 2 s)';
}

/** Describe a running child, stop it, and return the description (first line: command and pid). */
export async function stopLeftover(l: Leftover): Promise<string> {
  const pid = l.child.pid!;
  const lines = [`bpfpipe ${l.args.join(' ')} (pid ${pid})`];
  if (!ended(l.child)) {
    lines.push(`  state: ${readProc(pid, 'stat').split(' ')[2] ?? '?'}, wchan ${readProc(pid, 'wchan')}, threads ${readProc(pid, 'status').match(/Threads:\s*(\d+)/)?.[1] ?? '?'}`);
    lines.push(`  fds: ${fdSummary(pid)}`);
    lines.push(await nodeReport(pid, l.reports));
    l.child.kill('SIGTERM');
    if (!(await endWithin(l.child, 2000))) {
      lines.push('  (still running 2 s after SIGTERM: SIGKILLed)');
      l.child.kill('SIGKILL');
      await endWithin(l.child, 2000);
    }
  }
  lines.push(`  stderr: ${l.stderr().trim().split('\n').slice(-8).join('\n          ')}`);
  return lines.join('\n');
}
