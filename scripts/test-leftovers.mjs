// What killed test runs leave behind: a test process stopped by a signal runs no after() hooks, so its
// pin directories (/sys/fs/bpf/bpfpipe-test-TAG-PID[-N]) and network namespaces (/run/netns/bpt-PID-N,
// PID in base 36) stay. sweepLeftovers() removes those whose process is gone; anything of a live process
// (or not named so) is left alone.
import { readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

const list = (dir) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/** Remove the pins and namespaces of test processes that are gone; returns what was removed. */
export function sweepLeftovers() {
  const removed = [];
  for (const n of list('/sys/fs/bpf')) {
    const m = /^bpfpipe-test-[a-z]+(?:-[a-z]+)*-(\d+)(?:-\d+)?$/.exec(n);
    if (!m || alive(Number(m[1]))) continue;
    rmSync(`/sys/fs/bpf/${n}`, { recursive: true, force: true });
    removed.push(`/sys/fs/bpf/${n}`);
  }
  for (const n of list('/run/netns')) {
    const m = /^bpt-([0-9a-z]+)-[0-9a-z]+(?:-p)?$/.exec(n);
    if (!m || alive(parseInt(m[1], 36))) continue;
    if (spawnSync('ip', ['netns', 'del', n]).status === 0) removed.push(`netns ${n}`);
  }
  return removed;
}
