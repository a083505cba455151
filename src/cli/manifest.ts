/**
 * What `bpfpipe attach` left behind, so that `bpfpipe detach` removes exactly that: one JSON file per
 * attachment in /run/bpfpipe/attach (tmpfs: gone after a reboot, like the attachments themselves).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { enterNetns, netnsCookie } from '../index.js';

export const MANIFEST_DIR = '/run/bpfpipe/attach';

export interface Manifest {
  iface: string;
  direction: 'ingress' | 'egress';
  netns: number;
  program: string;
  object: string;
  mode: 'tcx' | 'clsact';
  /** Pins this attach created (maps, the program); removed by detach. */
  pins: string[];
  /** Pin directories this attach created; removed by detach when empty. */
  dirs: string[];
  created: string;
  /** For `bpfpipe run`: the process that owns these pins while it runs (they are removed at its exit). */
  pid?: number;
  /** The namespace's cookie (decimal): inode numbers of deleted namespaces are reused, cookies are not. */
  cookie?: string;
}

/** True when `pid` is a live process. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function removeManifest(m: Pick<Manifest, 'netns' | 'iface' | 'direction' | 'program'>): void {
  fs.rmSync(fileFor(m), { force: true });
}

export function netnsInode(): number {
  return fs.statSync('/proc/thread-self/ns/net').ino;
}

function fileFor(m: Pick<Manifest, 'netns' | 'iface' | 'direction' | 'program'>): string {
  return path.join(MANIFEST_DIR, `${m.netns}-${m.iface}-${m.direction}-${m.program}.json`);
}

export function writeManifest(m: Manifest): void {
  fs.mkdirSync(MANIFEST_DIR, { recursive: true, mode: 0o755 });
  const cookie = netnsCookie();
  fs.writeFileSync(fileFor(m), JSON.stringify({ ...m, ...(cookie !== undefined ? { cookie: String(cookie) } : {}) }, null, 2) + '\n', { mode: 0o600 });
}

/** Manifests of this network namespace for `iface` (and `direction`, when given). */
export function readManifests(iface: string, direction?: string): { file: string; manifest: Manifest }[] {
  let names: string[];
  try {
    names = fs.readdirSync(MANIFEST_DIR);
  } catch {
    return [];
  }
  const ns = netnsInode();
  const out: { file: string; manifest: Manifest }[] = [];
  for (const n of names) {
    const file = path.join(MANIFEST_DIR, n);
    try {
      const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
      if (m.netns === ns && m.iface === iface && (!direction || m.direction === direction)) out.push({ file, manifest: m });
    } catch {
      /* not ours or damaged: leave it */
    }
  }
  return out;
}

/** The network namespaces that exist, by inode: named (/run/netns) and those of running processes, with a path to each. */
export function liveNetns(): Map<number, string> {
  const out = new Map<number, string>([[netnsInode(), '/proc/thread-self/ns/net']]);
  const statIno = (p: string) => {
    try {
      const ino = fs.statSync(p).ino;
      if (!out.has(ino)) out.set(ino, p);
    } catch {
      /* gone meanwhile, or not ours to see */
    }
  };
  for (const dir of ['/run/netns', '/var/run/netns']) {
    try {
      for (const n of fs.readdirSync(dir)) statIno(path.join(dir, n));
    } catch {
      /* no named namespaces */
    }
  }
  for (const pid of fs.readdirSync('/proc')) if (/^\d+$/.test(pid)) statIno(`/proc/${pid}/ns/net`);
  return out;
}

/**
 * Manifests left behind in network namespaces that no longer exist, by processes that are gone (a
 * `bpfpipe run` killed with SIGKILL whose namespace was deleted): their attachments went with the
 * namespace, their pins (in the machine's bpffs) did not. `bpfpipe detach --gone` removes them.
 */
export function orphanManifests(): { file: string; manifest: Manifest }[] {
  let names: string[];
  try {
    names = fs.readdirSync(MANIFEST_DIR);
  } catch {
    return [];
  }
  const live = liveNetns();
  const cookies = new Map<number, string | undefined>();
  /** Whether the manifest's namespace still exists: its inode is live and (where recorded) so is its cookie. */
  const exists = (m: Manifest): boolean => {
    const where = live.get(m.netns);
    if (where === undefined) return false;
    if (m.cookie === undefined) return true;
    if (!cookies.has(m.netns)) {
      let cookie: string | undefined;
      try {
        const back = enterNetns(where);
        try {
          cookie = netnsCookie()?.toString();
        } finally {
          back();
        }
      } catch {
        cookie = undefined; // cannot look: assume it is the same namespace
      }
      cookies.set(m.netns, cookie);
    }
    const c = cookies.get(m.netns);
    return c === undefined || c === m.cookie;
  };
  const out: { file: string; manifest: Manifest }[] = [];
  for (const n of names) {
    const file = path.join(MANIFEST_DIR, n);
    try {
      const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
      if ((m.pid === undefined || !alive(m.pid)) && !exists(m)) out.push({ file, manifest: m });
    } catch {
      /* not ours or damaged: leave it */
    }
  }
  return out;
}

/** Remove the pins (under `only`, when given) and empty directories a manifest lists, then the manifest; returns the pins removed. */
export function removeManifestPins(file: string, m: Manifest, only?: string): string[] {
  const removed: string[] = [];
  for (const p of m.pins) {
    if (only && path.dirname(p) !== only) continue;
    try {
      fs.unlinkSync(p);
      removed.push(p);
    } catch {
      /* already gone */
    }
  }
  for (const d of [...m.dirs].sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(d);
    } catch {
      /* not empty: someone else's pins live there */
    }
  }
  fs.rmSync(file, { force: true });
  return removed;
}

/**
 * The pins a load of `spec` with `pinDir` would create: maps that ask for pinning and are not pinned
 * yet (an existing pin is reused, not ours to remove). Recorded before loading, so that a process
 * killed half-way still leaves a complete list for `bpfpipe detach`.
 */
export function intendedPins(maps: readonly { name: string; pinning: string }[], pinDir: string): string[] {
  return maps
    .filter((m) => m.pinning === 'by_name' || m.pinning === 'global')
    .map((m) => path.join(pinDir, m.name))
    .filter((p) => !fs.existsSync(p));
}

/** Directories `dir` and its parents that do not exist yet (deepest first), up to bpffs. */
export function missingDirs(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; d !== '/' && d !== '/sys/fs/bpf' && !fs.existsSync(d); d = path.dirname(d)) out.push(d);
  return out;
}
