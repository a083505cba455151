/**
 * BpffsGuard: remember what exists under some bpffs paths, and later remove exactly what appeared
 * since (files, pins, symlinks, then directories that are empty) — e.g. the /sys/fs/bpf/{tc,ip,xdp}
 * hierarchy and the /sys/fs/bpf/tc/globals pins that `tc … bpf obj FILE` creates. Entries that were
 * there before are never touched; a directory that is not empty (someone else's pins) stays.
 *
 *   const guard = new BpffsGuard();          // default: tc, ip, xdp and bpfpipe under /sys/fs/bpf
 *   try { … } finally { guard.restore(); }
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const TC_BPFFS_PATHS = ['/sys/fs/bpf/tc', '/sys/fs/bpf/ip', '/sys/fs/bpf/xdp', '/sys/fs/bpf/bpfpipe'];

function walk(p: string, out: Map<string, 'dir' | 'other'>): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch {
    return;
  }
  if (st.isDirectory()) {
    out.set(p, 'dir');
    for (const n of fs.readdirSync(p)) walk(path.join(p, n), out);
  } else {
    out.set(p, 'other');
  }
}

export function bpffsEntries(paths: readonly string[] = TC_BPFFS_PATHS): Map<string, 'dir' | 'other'> {
  const out = new Map<string, 'dir' | 'other'>();
  for (const p of paths) walk(p, out);
  return out;
}

export class BpffsGuard {
  private readonly before: Map<string, 'dir' | 'other'>;

  constructor(private readonly paths: readonly string[] = TC_BPFFS_PATHS) {
    this.before = bpffsEntries(paths);
  }

  /** Entries that appeared since the guard was made. */
  created(): string[] {
    return [...bpffsEntries(this.paths).keys()].filter((p) => !this.before.has(p)).sort();
  }

  /** Remove what appeared since; returns what could not be removed (non-empty directories). */
  restore(): string[] {
    const now = bpffsEntries(this.paths);
    const added = [...now].filter(([p]) => !this.before.has(p));
    for (const [p, kind] of added) if (kind === 'other') fs.rmSync(p, { force: true });
    const left: string[] = [];
    for (const [p] of added.filter(([, k]) => k === 'dir').sort((a, b) => b[0].length - a[0].length)) {
      try {
        fs.rmdirSync(p);
      } catch {
        left.push(p);
      }
    }
    return left;
  }
}
