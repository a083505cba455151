/** bpffs: mount it when missing, and tell whether a path lives on it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as libc from './libc.js';
import { PermissionError, PinError, SyscallError } from '../errors.js';

export const BPFFS_ROOT = '/sys/fs/bpf';
const BPF_FS_MAGIC = 0xcafe4a11;

/** True when `p` (which must exist) is on a bpf filesystem. */
export function isBpffs(p: string): boolean {
  const buf = new Uint8Array(128);
  if (libc.statfs(p, buf) < 0) return false;
  return new DataView(buf.buffer).getUint32(0, true) === BPF_FS_MAGIC;
}

/** Whether this process mounted bpffs (it was missing in its mount namespace). */
let mountedHere = false;

/** Mount bpffs at /sys/fs/bpf when it is not mounted there (and only then). */
export function ensureBpffs(): void {
  if (fs.existsSync(BPFFS_ROOT) && isBpffs(BPFFS_ROOT)) return;
  fs.mkdirSync(BPFFS_ROOT, { recursive: true });
  if (libc.mount('bpf', BPFFS_ROOT, 'bpf', 0, null) < 0) {
    const errno = libc.errno();
    if (errno === 1) {
      throw new PermissionError(`cannot mount bpffs at ${BPFFS_ROOT}: mounting needs CAP_SYS_ADMIN (run as root, or mount it once: mount -t bpf bpf ${BPFFS_ROOT})`, { errno });
    }
    throw new SyscallError(`mount(bpf, ${BPFFS_ROOT})`, errno);
  }
  mountedHere = true;
}

/**
 * Why pins made here would vanish when this process exits, or undefined when they would not.
 * `ip netns exec` (like a one-process container) runs the command in a new mount namespace with a
 * fresh /sys and no bpffs: ensureBpffs() then mounts a new, empty instance that lives only as long as
 * the namespace — that is, as long as this process, when no other process shares the namespace.
 */
export function privateBpffs(): string | undefined {
  if (!mountedHere && isBpffs(BPFFS_ROOT)) return undefined;
  let mine: string;
  try {
    mine = fs.readlinkSync('/proc/self/ns/mnt');
  } catch {
    return undefined;
  }
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (fs.readlinkSync(`/proc/${pid}/ns/mnt`) === mine) return undefined;
    } catch {
      /* gone, or not ours to inspect */
    }
  }
  return `bpffs was not mounted in this mount namespace (as under \`ip netns exec\`, which remounts /sys) and no other process shares it, so pins made here vanish when bpfpipe exits, and pins made elsewhere are not seen here`;
}

/**
 * Resolve a pin path and make sure it stays inside bpffs: no `..` escape, no symlink out of it.
 * The parent directory is created (mode 0700) when `create` is set.
 */
export function checkPinPath(p: string, options: { create?: boolean; createdDirs?: string[] } = {}): string {
  if (!path.isAbsolute(p)) throw new PinError(p, `pin path '${p}' must be absolute (e.g. ${BPFFS_ROOT}/myapp/events)`);
  const normalized = path.normalize(p);
  if (p.split('/').includes('..')) {
    throw new PinError(p, `pin path '${p}' contains '..'; give a plain path inside ${BPFFS_ROOT}`);
  }
  const dir = path.dirname(normalized);
  if (options.create) {
    ensureBpffs();
    mkdirInBpffs(dir, options.createdDirs);
  }
  let realDir: string;
  try {
    realDir = fs.realpathSync(dir);
  } catch {
    throw new PinError(p, `pin directory '${dir}' does not exist`);
  }
  if (!isBpffs(realDir)) {
    throw new PinError(p, `pin path '${p}' is not on bpffs (resolves to ${realDir}); pins must live under a bpf filesystem such as ${BPFFS_ROOT}`);
  }
  return path.join(realDir, path.basename(normalized));
}

function mkdirInBpffs(dir: string, created?: string[]): void {
  if (fs.existsSync(dir)) return;
  mkdirInBpffs(path.dirname(dir), created);
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    created?.push(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') return;
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      throw new PermissionError(`cannot create pin directory '${dir}': bpffs is not writable for this user (run as root)`, { cause: err });
    }
    if (e.code === 'EROFS') throw readOnlyBpffs(dir, err);
    throw new PinError(dir, `cannot create pin directory '${dir}': ${e.message}`, { cause: err });
  }
}

/** bpffs mounted read-only (e.g. in a container): nothing can be pinned there. */
export function readOnlyBpffs(where: string, cause?: unknown): PermissionError {
  return new PermissionError(`cannot pin under '${where}': bpffs is mounted read-only here; remount it read-write (mount -o remount,rw /sys/fs/bpf) or give --pin a directory on a writable bpffs`, { cause });
}

/** Remove directories (deepest first) that are empty; used to undo directories a load created. */
export function removeEmptyDirs(dirs: readonly string[]): void {
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      fs.rmdirSync(d);
    } catch {
      /* not empty (someone else's pins) or already gone */
    }
  }
}

/** Refuse a pin directory that is relative or contains '..' (before anything is joined to it). */
export function checkPinDir(dir: string): void {
  if (!path.isAbsolute(dir)) throw new PinError(dir, `pin directory '${dir}' must be absolute (e.g. ${BPFFS_ROOT}/myapp)`);
  if (dir.split('/').includes('..')) throw new PinError(dir, `pin directory '${dir}' contains '..'; give a plain path inside ${BPFFS_ROOT}`);
}
