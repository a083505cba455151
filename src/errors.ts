/**
 * The error vocabulary of bpfpipe. Every error thrown by the library is a BpfpipeError with a stable
 * `code` and a one-line message that names the cause and, where there is one, the fix.
 */

export type ErrorCode =
  | 'EBPF_BAD_OBJECT' // malformed ELF/BTF/object, unknown section, unsupported relocation
  | 'EBPF_BAD_INPUT' // bad user input: pcap, pinned path that is not a map, wrong map type, bad option
  | 'EBPF_USAGE' // API or CLI misuse (unknown program/map/struct name, conflicting options)
  | 'EBPF_VERIFIER' // the kernel verifier rejected a program
  | 'EBPF_PERM' // missing capability or permission
  | 'EBPF_NOTSUP' // the kernel (or the userspace runtime) lacks a feature
  | 'EBPF_NETLINK' // rtnetlink error, with the kernel's extended ack text
  | 'EBPF_IFACE' // missing network interface
  | 'EBPF_PIN' // pin path problems: incompatible existing pin, outside bpffs, not writable
  | 'EBPF_BUSY' // a resource is claimed by another reader
  | 'EBPF_RUNTIME' // userspace runtime fault (out-of-bounds access, bad helper argument)
  | 'EBPF_CLOSED' // operation on a closed handle
  | 'EBPF_SYSCALL'; // any other failing system call (errno attached)

export interface ErrorOptions {
  errno?: number;
  cause?: unknown;
}

export class BpfpipeError extends Error {
  readonly code: ErrorCode;
  readonly errno: number | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.errno = options.errno;
  }
}

export class BadObjectError extends BpfpipeError {
  constructor(message: string, options?: ErrorOptions) {
    super('EBPF_BAD_OBJECT', message, options);
  }
}

export class BadInputError extends BpfpipeError {
  constructor(message: string, options?: ErrorOptions) {
    super('EBPF_BAD_INPUT', message, options);
  }
}

export class UsageError extends BpfpipeError {
  constructor(message: string, options?: ErrorOptions) {
    super('EBPF_USAGE', message, options);
  }
}

export class VerifierError extends BpfpipeError {
  /** Every line of the verifier log. */
  readonly log: string[];
  readonly program: string;

  constructor(program: string, log: string[], options?: ErrorOptions) {
    super('EBPF_VERIFIER', `verifier rejected program '${program}': ${lastMeaningfulLine(log)}`, options);
    this.log = log;
    this.program = program;
  }
}

/** The last verifier line that says why, skipping the statistics footer the kernel appends. */
export function lastMeaningfulLine(log: string[]): string {
  for (let i = log.length - 1; i >= 0; i--) {
    const line = log[i]!.trim();
    if (line === '') continue;
    if (/^(processed \d+ insns|verification time|stack depth|max_states_per_insn|mark_read|-- END PROG LOAD LOG --)/.test(line)) continue;
    return line;
  }
  return 'no verifier output';
}

export class PermissionError extends BpfpipeError {
  constructor(message: string, options?: ErrorOptions) {
    super('EBPF_PERM', message, options);
  }
}

export class NotSupportedError extends BpfpipeError {
  constructor(message: string, options?: ErrorOptions) {
    super('EBPF_NOTSUP', message, options);
  }
}

export class NetlinkError extends BpfpipeError {
  /** The kernel's extended ack message, when it sent one. */
  readonly extack: string | undefined;

  constructor(message: string, options: ErrorOptions & { extack?: string } = {}) {
    super('EBPF_NETLINK', message, options);
    this.extack = options.extack;
  }
}

export class InterfaceError extends BpfpipeError {
  readonly iface: string;

  constructor(iface: string, message?: string, options?: ErrorOptions) {
    super('EBPF_IFACE', message ?? `network interface '${iface}' does not exist (check the name with 'ip link')`, options);
    this.iface = iface;
  }
}

export class PinError extends BpfpipeError {
  readonly path: string;

  constructor(path: string, message: string, options?: ErrorOptions) {
    super('EBPF_PIN', message, options);
    this.path = path;
  }
}

export class BusyError extends BpfpipeError {
  constructor(message: string, options?: ErrorOptions) {
    super('EBPF_BUSY', message, options);
  }
}

export class RuntimeFault extends BpfpipeError {
  /** Index of the faulting instruction, when known. */
  readonly insn: number | undefined;

  constructor(message: string, options: ErrorOptions & { insn?: number } = {}) {
    super('EBPF_RUNTIME', message, options);
    this.insn = options.insn;
  }
}

export class ClosedError extends BpfpipeError {
  constructor(what: string) {
    super('EBPF_CLOSED', `${what} is closed`);
  }
}

export class SyscallError extends BpfpipeError {
  readonly syscall: string;

  constructor(syscall: string, errno: number, detail?: string) {
    super('EBPF_SYSCALL', `${syscall} failed: ${errnoName(errno)} (${errnoText(errno)})${detail ? `: ${detail}` : ''}`, { errno });
    this.syscall = syscall;
  }
}

/** Errno numbers used by the project (Linux x86_64/arm64 generic values). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  ENODATA: 61,
  ENOLINK: 67,
  EPROTO: 71,
  EOVERFLOW: 75,
  EBADFD: 77,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  ENOBUFS: 105,
  ETIMEDOUT: 110,
  ENOTSUPP: 524,
} as const;

const errnoNames = new Map<number, string>(Object.entries(Errno).map(([k, v]) => [v, k]));

const errnoTexts: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  3: 'No such process',
  4: 'Interrupted system call',
  5: 'Input/output error',
  6: 'No such device or address',
  7: 'Argument list too long',
  9: 'Bad file descriptor',
  11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  14: 'Bad address',
  16: 'Device or resource busy',
  17: 'File exists',
  18: 'Invalid cross-device link',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  23: 'Too many open files in system',
  24: 'Too many open files',
  25: 'Inappropriate ioctl for device',
  27: 'File too large',
  28: 'No space left on device',
  30: 'Read-only file system',
  34: 'Numerical result out of range',
  36: 'File name too long',
  38: 'Function not implemented',
  39: 'Directory not empty',
  40: 'Too many levels of symbolic links',
  61: 'No data available',
  67: 'Link has been severed',
  71: 'Protocol error',
  75: 'Value too large for defined data type',
  95: 'Operation not supported',
  97: 'Address family not supported by protocol',
  98: 'Address already in use',
  105: 'No buffer space available',
  110: 'Connection timed out',
  524: 'Operation not supported (kernel-internal ENOTSUPP)',
};

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

export function errnoText(errno: number): string {
  return errnoTexts[errno] ?? 'unknown error';
}
