/**
 * attachTc: the entry point. Checks the options and the program, resolves the interface in the calling
 * thread's network namespace, and attaches in the requested mode. 'auto' tries a tcx link first and
 * falls back to clsact + cls_bpf only when the kernel has no tcx (EINVAL/EOPNOTSUPP from the attach,
 * confirmed by the cached probe); every other failure is reported as it is.
 */
import { ifaceIndex } from '../sys/index.js';
import { Errno, SyscallError, UsageError } from '../errors.js';
import type { Program } from '../kernel/program.js';
import { ProgType, progTypeName } from '../object/uapi.js';
import { attachClsact } from './clsact.js';
import { haveTcx } from './probe.js';
import { netnsId } from './state.js';
import { attachTcx, NO_TCX_ERRNOS, notSupported } from './tcx.js';
import type { AttachOptions, TcAttachment, Target } from './types.js';

const MODES = ['auto', 'tcx', 'clsact'];

function checkOptions(program: Program, o: AttachOptions): void {
  if (o === null || typeof o !== 'object') throw new UsageError('attachTc: options { iface, direction } are required');
  if (typeof o.iface !== 'string' || o.iface === '') throw new UsageError('attachTc: iface must be an interface name');
  if (o.direction !== 'ingress' && o.direction !== 'egress') {
    throw new UsageError(`attachTc: direction must be 'ingress' or 'egress', got ${JSON.stringify(o.direction)}`);
  }
  if (o.mode !== undefined && !MODES.includes(o.mode)) throw new UsageError(`attachTc: mode must be auto, tcx or clsact, got ${JSON.stringify(o.mode)}`);
  if (o.priority !== undefined && (!Number.isInteger(o.priority) || o.priority < 1 || o.priority > 0xffff)) {
    throw new UsageError(`attachTc: priority must be an integer from 1 to 65535, got ${o.priority}`);
  }
  if (o.handle !== undefined && (!Number.isInteger(o.handle) || o.handle < 1 || o.handle > 0xffffffff)) {
    throw new UsageError(`attachTc: handle must be an integer from 1 to 2^32-1, got ${o.handle}`);
  }
  if (o.mode === 'tcx' && (o.priority !== undefined || o.handle !== undefined)) {
    throw new UsageError('attachTc: priority and handle apply to clsact filters; tcx links are ordered by the kernel');
  }
  if (program.type !== ProgType.SCHED_CLS) {
    throw new UsageError(`attachTc: program '${program.name}' is a ${progTypeName(program.type)} program; tc needs a sched_cls program (SEC("tc") or SEC("tcx/ingress"))`);
  }
}

export function attachTcSync(program: Program, options: AttachOptions): TcAttachment {
  checkOptions(program, options);
  const target: Target = { iface: options.iface, ifindex: ifaceIndex(options.iface), direction: options.direction, netns: netnsId() };
  const mode = options.mode ?? 'auto';
  const clsact = { priority: options.priority, handle: options.handle, persist: options.persist };
  if (mode === 'clsact') return attachClsact(program, target, clsact);
  try {
    return attachTcx(program, target, { persist: options.persist });
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    if (err.errno !== undefined && NO_TCX_ERRNOS.includes(err.errno) && !haveTcx(program.fd)) {
      if (mode === 'tcx') throw notSupported(options.direction, err);
      return attachClsact(program, target, clsact);
    }
    const why = err.errno === Errno.EEXIST ? ': the program is already attached to this hook' : '';
    throw new SyscallError(err.syscall, err.errno ?? 0, `attaching program '${program.name}' to ${options.iface} ${options.direction} (tcx)${why}`);
  }
}

/** Attach `program` to the tc hook of an interface; see AttachOptions. Dispose (or close) to detach. */
export async function attachTc(program: Program, options: AttachOptions): Promise<TcAttachment> {
  return attachTcSync(program, options);
}
