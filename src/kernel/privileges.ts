/** Turning EPERM/EACCES from the kernel into errors that name the missing capability. */
import { BpfpipeError, PermissionError, SyscallError, Errno } from '../errors.js';

export type Operation = 'map' | 'prog' | 'perf' | 'pin' | 'open-pin' | 'link' | 'netlink' | 'btf' | 'mmap';

const needs: Record<Operation, string> = {
  map: 'creating or opening BPF maps needs CAP_BPF (or root)',
  prog: 'loading tc programs needs CAP_BPF and CAP_NET_ADMIN (or root)',
  perf: 'opening perf event rings needs CAP_PERFMON (or root, or kernel.perf_event_paranoid <= 1)',
  pin: 'pinning needs write access to bpffs (root, or a bpffs mounted writable for this user)',
  'open-pin': 'opening a pin needs read and write permission on it (pins are 0600, root only, unless made with --pin-mode) and CAP_BPF',
  link: 'attaching to tc needs CAP_NET_ADMIN and CAP_BPF (or root)',
  netlink: 'changing tc qdiscs and filters needs CAP_NET_ADMIN (or root)',
  btf: 'loading BTF needs CAP_BPF (or root)',
  mmap: 'mapping the ring needs CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK / kernel.perf_event_mlock_kb; use fewer pages per CPU',
};

/** Rethrow `err` as PermissionError when it is EPERM/EACCES from a syscall, else unchanged. */
export function classify(err: unknown, op: Operation, what: string): BpfpipeError | unknown {
  if (err instanceof SyscallError && (err.errno === Errno.EPERM || err.errno === Errno.EACCES)) {
    return new PermissionError(`${what}: ${err.errno === Errno.EPERM ? 'operation not permitted' : 'permission denied'}; ${needs[op]}`, {
      errno: err.errno,
      cause: err,
    });
  }
  return err;
}

/** Run `fn`; translate permission failures for `op`. */
export function withPrivilege<T>(op: Operation, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw classify(err, op, what);
  }
}
