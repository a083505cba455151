/**
 * The Kernel seam: every system call bpfpipe makes goes through one object implementing this
 * interface. The default is the real kernel through koffi (linux-kernel.ts); tests swap in fakes or
 * fault injectors with useKernel().
 */

/** A shared mapping of a file (perf ring, ring buffer). `buffer` is invalid after munmap. */
export interface Mapping {
  readonly address: bigint;
  readonly length: number;
  readonly buffer: ArrayBuffer;
}

/** A Mapping over plain memory, in the shape of the kernel's (a synthetic ring: prime-reader.ts); nothing to unmap. */
export function memoryMapping(buffer: ArrayBuffer): Mapping {
  return { address: 0n, length: buffer.byteLength, buffer };
}

/** Native memory whose address can be put into a bpf_attr. */
export interface NativeMemory {
  readonly address: bigint;
  readonly bytes: Uint8Array;
}

/** A registration with the process-wide readiness poller. */
export interface PollRegistration {
  /** Ask for one callback when the fd becomes readable (one-shot; call again after draining). */
  arm(): void;
  /** Stop watching. Idempotent. */
  close(): void;
}

export interface Kernel {
  /** bpf(2). Returns the result (fd or 0); throws SyscallError on failure. */
  bpf(cmd: number, attr: Uint8Array, name?: string): number;
  /** perf_event_open(2); throws SyscallError. */
  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number;
  /** ioctl(2) with an integer argument; throws SyscallError. */
  ioctl(fd: number, request: number, arg: number, name?: string): number;
  /** mmap(2) MAP_SHARED; throws SyscallError. */
  mmap(fd: number, length: number, prot: number, offset: number): Mapping;
  munmap(mapping: Mapping): void;
  close(fd: number): void;
  /** fcntl(F_DUPFD_CLOEXEC). */
  dup(fd: number): number;
  alloc(size: number): NativeMemory;
  free(memory: NativeMemory): void;
  /** epoll_create1(EPOLL_CLOEXEC). */
  epollCreate(): number;
  /** epoll_ctl ADD with EPOLLIN: level-triggered, or edge-triggered (EPOLLET) when `edge`. */
  epollAdd(epfd: number, fd: number, data: number, edge?: boolean): void;
  epollDel(epfd: number, fd: number): void;
  /**
   * Watch `fd` for readability (on the main thread, through Node's own event loop; in a worker, on the
   * shared waker thread); `onReady` runs on the JS thread. The
   * event loop never blocks waiting for data.
   */
  watch(fd: number, onReady: () => void): PollRegistration;
  /** Resolves when background helpers (the poller thread) have released their resources. */
  quiesce(): Promise<void>;
  /** timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC). */
  timerCreate(): number;
  /** Arm a timerfd to fire every `intervalUs` (0: disarm), or once after it (`once`). */
  timerSet(fd: number, intervalUs: number, once?: boolean): void;
  /** Expirations since the last read (0 when none). */
  timerRead(fd: number): number;
}

let current: Kernel | undefined;
let factory: (() => Kernel) | undefined;

/** Registered by linux-kernel.ts so pure imports of this file do not load koffi. */
export function setDefaultKernelFactory(f: () => Kernel): void {
  factory = f;
}

export function kernel(): Kernel {
  if (current) return current;
  if (!factory) throw new Error('bpfpipe: no kernel implementation registered (import src/sys/index.js)');
  current = factory();
  return current;
}

/** Replace the kernel (tests); returns a function that restores the previous one. */
export function useKernel(k: Kernel): () => void {
  const previous = current;
  current = k;
  return () => {
    current = previous;
  };
}
