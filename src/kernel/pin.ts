/** Pinning objects in bpffs and opening pinned objects. */
import * as fs from 'node:fs';
import { kernel, checkPinPath, isBpffs, fdTarget, readOnlyBpffs } from '../sys/index.js';
import { Errno, PinError, SyscallError, BadInputError, PermissionError } from '../errors.js';
import * as attr from './attr.js';
import { classify } from './privileges.js';

function withPath<T>(path: string, fn: (address: bigint) => T): T {
  const k = kernel();
  const bytes = new TextEncoder().encode(path);
  const mem = k.alloc(bytes.byteLength + 1);
  try {
    mem.bytes.set(bytes);
    mem.bytes[bytes.byteLength] = 0;
    return fn(mem.address);
  } finally {
    k.free(mem);
  }
}

/**
 * Pin `fd` at `path` (parent directories are created inside bpffs and listed in `createdDirs`).
 * Mode defaults to 0600: only root can open the pin.
 */
export function pinObject(fd: number, path: string, what: string, mode = 0o600, createdDirs?: string[]): void {
  const real = checkPinPath(path, { create: true, createdDirs });
  withPath(real, (address) => {
    try {
      kernel().bpf(attr.Cmd.OBJ_PIN, attr.objPin(address, fd));
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.EEXIST) {
        throw new PinError(path, `cannot pin ${what} at '${path}': something is already pinned there (remove it or choose another --pin directory)`, { errno: err.errno });
      }
      if (err instanceof SyscallError && err.errno === Errno.EROFS) throw readOnlyBpffs(path, err);
      throw classify(err, 'pin', `pinning ${what} at '${path}'`);
    }
  });
  if (mode !== 0o600) fs.chmodSync(real, mode);
}

/** Open whatever is pinned at `path`; returns the fd and what it is ("map", "prog", "link"). */
export function openPinned(path: string, flags = 0): { fd: number; kind: 'map' | 'prog' | 'link' | 'other' } {
  try {
    fs.statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new PermissionError(`cannot reach '${path}': permission denied; pins and their directories are root-only (0600/0700) unless made with --pin-mode`, { cause: err });
    }
    throw new PinError(path, `nothing is pinned at '${path}'`);
  }
  const real = checkPinPath(path);
  if (!isBpffs(real)) throw new PinError(path, `'${path}' is not on bpffs`);
  const fd = withPath(real, (address) => {
    try {
      return kernel().bpf(attr.Cmd.OBJ_GET, attr.objPin(address, 0, flags));
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.ENOENT) throw new PinError(path, `nothing is pinned at '${path}'`, { errno: err.errno });
      if (err instanceof SyscallError && (err.errno === Errno.EINVAL || err.errno === Errno.EPERM && fs.statSync(real).isDirectory())) {
        throw new BadInputError(`'${path}' is not a pinned BPF object`, { errno: err.errno });
      }
      throw classify(err, 'open-pin', `opening pinned object '${path}'`);
    }
  });
  const target = fdTarget(fd);
  const kind = target.includes('bpf-map') ? 'map' : target.includes('bpf-prog') ? 'prog' : target.includes('bpf_link') ? 'link' : 'other';
  return { fd, kind };
}

/** Remove a pin (the object lives on while fds reference it). Missing pins are ignored. */
export function unpin(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
