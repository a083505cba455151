/** Leak checks shared by kernel and CLI tests: file descriptors and bpffs entries. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listOpenFds } from '../../src/sys/index.js';

/** The fds this process has open now (fd → what it points to). */
export function fdSnapshot(): Map<number, string> {
  return new Map(listOpenFds().map((f) => [f.fd, f.target]));
}

/** Assert that no fd opened since `before` is still open (waits briefly for asynchronous closes). */
export async function assertNoFdLeak(before: Map<number, string>, what = 'test'): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const leaked = [...fdSnapshot()].filter(([fd, target]) => before.get(fd) !== target);
    if (leaked.length === 0) return;
    if (i === 19) assert.fail(`${what} leaked fds: ${leaked.map(([fd, t]) => `${fd} -> ${t}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let counter = 0;

/** A fresh, unique pin directory path under /sys/fs/bpf (not created). */
export function uniquePinDir(tag: string): string {
  return `/sys/fs/bpf/bpfpipe-test-${tag}-${process.pid}-${++counter}`;
}

/** Everything below `dir` (relative paths), or [] when it does not exist. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      out.push(path.relative(dir, p));
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Remove a test's pin directory tree (pins and directories), whatever it holds. */
export function removeTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
