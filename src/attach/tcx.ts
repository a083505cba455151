/**
 * tcx: a BPF link on the interface's tcx hook (BPF_LINK_CREATE with BPF_TCX_INGRESS/EGRESS, Linux 6.6+).
 * The attachment owns the link fd; closing it detaches the program. With `persist`, the link is
 * pinned in LINK_PIN_DIR so it outlives the process (detachAll() removes it later).
 */
import * as fs from 'node:fs';
import { kernel } from '../sys/index.js';
import { Errno, InterfaceError, NotSupportedError, PinError, SyscallError } from '../errors.js';
import type { Program } from '../kernel/program.js';
import { createTcxLink, linkInfo } from '../kernel/link.js';
import { pinObject, unpin } from '../kernel/pin.js';
import { classify } from '../kernel/privileges.js';
import { AttachType } from '../object/uapi.js';
import type { Direction } from '../netlink/index.js';
import { register, tcxPinPath, tidyLinkPinDir, unregister, type LiveAttachment } from './state.js';
import type { ProgramRef, Target } from './types.js';

export function tcxAttachType(direction: Direction): number {
  return direction === 'ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS;
}

/** errnos a kernel without tcx answers to LINK_CREATE with a tcx attach type. */
export const NO_TCX_ERRNOS: readonly number[] = [Errno.EINVAL, Errno.EOPNOTSUPP, Errno.ENOTSUPP];

class TcxAttachment implements LiveAttachment {
  readonly mode = 'tcx' as const;
  readonly priority = undefined;
  readonly handle = undefined;
  readonly filterName = undefined;
  readonly createdQdisc = false;
  private fd: number;

  constructor(
    fd: number,
    private readonly target: Target,
    readonly program: ProgramRef,
    readonly linkId: number,
    readonly pinPath: string | undefined,
    readonly persist: boolean,
  ) {
    this.fd = fd;
  }

  get iface(): string {
    return this.target.iface;
  }
  get ifindex(): number {
    return this.target.ifindex;
  }
  get direction(): Direction {
    return this.target.direction;
  }
  get netns(): string {
    return this.target.netns;
  }
  get closed(): boolean {
    return this.fd < 0;
  }

  /** Closing the last reference to the link detaches the program (persist: the pin keeps it). */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    unregister(this);
    kernel().close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/**
 * Create the tcx link. Failures come back as: InterfaceError (ENODEV), PermissionError (EPERM),
 * or the SyscallError itself (the auto mode classifies EINVAL/EOPNOTSUPP with a feature probe).
 */
export function attachTcx(program: Program, target: Target, options: { persist?: boolean } = {}): LiveAttachment {
  let fd: number;
  try {
    fd = createTcxLink(program.fd, target.ifindex, tcxAttachType(target.direction));
  } catch (err) {
    if (err instanceof SyscallError && err.errno === Errno.ENODEV) {
      throw new InterfaceError(target.iface, `network interface '${target.iface}' does not exist (any more)`, { errno: err.errno, cause: err });
    }
    throw classify(err, 'link', `attaching program '${program.name}' to ${target.iface} ${target.direction} (tcx)`);
  }
  try {
    const id = linkInfo(fd).id;
    let pinPath: string | undefined;
    if (options.persist) {
      pinPath = tcxPinPath(target.netns, target.ifindex, target.direction, id);
      pinWithRetry(fd, pinPath, `the tcx link of program '${program.name}'`);
    }
    const a = new TcxAttachment(fd, target, { name: program.name, id: program.id, tag: program.tag }, id, pinPath, options.persist ?? false);
    register(a);
    return a;
  } catch (err) {
    kernel().close(fd);
    throw err;
  }
}

/** Pin, retrying once if another process removed the (empty) pin directory in between. */
function pinWithRetry(fd: number, pinPath: string, what: string): void {
  try {
    pinObject(fd, pinPath, what);
  } catch (err) {
    if (!(err instanceof PinError || (err instanceof SyscallError && err.errno === Errno.ENOENT))) throw err;
    if (fs.existsSync(pinPath)) throw err;
    pinObject(fd, pinPath, what);
  }
}

/** Remove a persistent link's pin (and the pin directory when it is empty). */
export function removeTcxPin(pinPath: string): void {
  unpin(pinPath);
  tidyLinkPinDir();
}

export function notSupported(direction: Direction, cause: unknown): NotSupportedError {
  return new NotSupportedError(
    `this kernel has no tcx hooks (BPF_TCX_${direction.toUpperCase()}, Linux 6.6+); attach with mode 'clsact' or 'auto'`,
    { cause, errno: cause instanceof SyscallError ? cause.errno : undefined },
  );
}
