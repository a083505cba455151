/**
 * Does the kernel have tcx hooks? Asked only after a tcx attach failed with an errno that could mean
 * "no" (EINVAL/EOPNOTSUPP), and answered once per process: BPF_LINK_CREATE with the program, a tcx
 * attach type and interface index 0 attaches nothing. A kernel with tcx looks the interface up and
 * answers ENODEV; one without refuses the attach type (EINVAL). Never decided by kernel version.
 */
import { Errno, SyscallError } from '../errors.js';
import { kernel } from '../sys/index.js';
import { createTcxLink } from '../kernel/link.js';
import { AttachType } from '../object/uapi.js';

let cached: boolean | undefined;

/** true/false once known; throws the probe's own unexpected error (e.g. EPERM) without caching. */
export function haveTcx(progFd: number): boolean {
  if (cached !== undefined) return cached;
  try {
    const fd = createTcxLink(progFd, 0, AttachType.TCX_INGRESS);
    kernel().close(fd); // cannot happen (no interface 0), but never leak a link
    cached = true;
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    if (err.errno === Errno.ENODEV) cached = true;
    else if (err.errno === Errno.EINVAL || err.errno === Errno.EOPNOTSUPP || err.errno === Errno.ENOTSUPP) cached = false;
    else throw err;
  }
  return cached;
}

/** Forget the cached answer (tests that inject kernel faults). */
export function resetTcxProbe(): void {
  cached = undefined;
}
