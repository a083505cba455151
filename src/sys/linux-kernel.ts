/** The real kernel behind the Kernel seam: system calls through koffi, errno → SyscallError. */
import * as libc from './libc.js';
import { isMainThread } from 'node:worker_threads';
import { Poller } from './poller.js';
import { loopPollerAvailable, watchOnLoop } from './loop-poller.js';
import { SyscallError } from '../errors.js';
import type { Kernel, Mapping, NativeMemory, PollRegistration } from './kernel.js';

const MAP_SHARED = 0x01;
const F_DUPFD_CLOEXEC = 1030;
const EPOLL_CLOEXEC = 0x80000;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 0x001;
const EPOLLET = 1 << 31;
const EINTR = 4;
const BPF_PROG_TEST_RUN = 10;

export class LinuxKernel implements Kernel {
  private poller: Poller | undefined;
  private readonly epollBuf = new Uint8Array(12);
  private readonly epollView = new DataView(this.epollBuf.buffer);

  bpf(cmd: number, attr: Uint8Array, name = bpfCmdName(cmd)): number {
    for (;;) {
      const rc = libc.syscall_bpf(libc.SYS.bpf, cmd, attr, attr.byteLength);
      if (rc >= 0) return rc;
      const errno = libc.errno();
      // Retry interrupted calls, except a test run: its repeats have already had effects.
      if (errno === EINTR && cmd !== BPF_PROG_TEST_RUN) continue;
      throw new SyscallError(`bpf(${name})`, errno);
    }
  }

  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number {
    const rc = libc.syscall_perf_event_open(libc.SYS.perf_event_open, attr, pid, cpu, groupFd, flags);
    if (rc < 0) throw new SyscallError(`perf_event_open(cpu ${cpu})`, libc.errno());
    return rc;
  }

  ioctl(fd: number, request: number, arg: number, name = `ioctl(0x${request.toString(16)})`): number {
    const rc = libc.ioctl(fd, request, arg);
    if (rc < 0) throw new SyscallError(name, libc.errno());
    return rc;
  }

  mmap(fd: number, length: number, prot: number, offset: number): Mapping {
    const address = libc.mmap(null, length, prot, MAP_SHARED, fd, offset);
    if (address === libc.MAP_FAILED || address === 0n) throw new SyscallError('mmap', libc.errno());
    return { address, length, buffer: libc.viewOf(address, length) };
  }

  munmap(mapping: Mapping): void {
    if (libc.munmap(mapping.address, mapping.length) < 0) throw new SyscallError('munmap', libc.errno());
  }

  close(fd: number): void {
    if (fd < 0) return;
    if (libc.close(fd) < 0) {
      const errno = libc.errno();
      if (errno !== EINTR) throw new SyscallError(`close(${fd})`, errno);
    }
  }

  dup(fd: number): number {
    const rc = libc.dup(fd, F_DUPFD_CLOEXEC, 3);
    if (rc < 0) throw new SyscallError('fcntl(F_DUPFD_CLOEXEC)', libc.errno());
    return rc;
  }

  alloc(size: number): NativeMemory {
    const { address, buffer } = libc.allocNative(size);
    const bytes = new Uint8Array(buffer, 0, size);
    bytes.fill(0);
    return { address, bytes };
  }

  free(memory: NativeMemory): void {
    libc.freeNative(memory.address);
  }

  epollCreate(): number {
    const rc = libc.epoll_create1(EPOLL_CLOEXEC);
    if (rc < 0) throw new SyscallError('epoll_create1', libc.errno());
    return rc;
  }

  epollAdd(epfd: number, fd: number, data: number, edge = false): void {
    this.epollView.setUint32(0, (EPOLLIN | (edge ? EPOLLET : 0)) >>> 0, true);
    this.epollView.setBigUint64(4, BigInt(data), true);
    if (libc.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, this.epollBuf) < 0) throw new SyscallError('epoll_ctl(ADD)', libc.errno());
  }

  epollDel(epfd: number, fd: number): void {
    this.epollBuf.fill(0);
    if (libc.epoll_ctl(epfd, EPOLL_CTL_DEL, fd, this.epollBuf) < 0) throw new SyscallError('epoll_ctl(DEL)', libc.errno());
  }

  private readonly timerSpec = new Uint8Array(32);
  private readonly timerView = new DataView(this.timerSpec.buffer);
  private readonly timerBuf = new Uint8Array(8);

  timerCreate(): number {
    const fd = libc.timerfd_create(1 /* CLOCK_MONOTONIC */, 0x800 /* TFD_NONBLOCK */ | 0x80000 /* TFD_CLOEXEC */);
    if (fd < 0) throw new SyscallError('timerfd_create', libc.errno());
    return fd;
  }

  timerSet(fd: number, intervalUs: number, once = false): void {
    // struct itimerspec { it_interval, it_value }, each { tv_sec, tv_nsec }
    const sec = BigInt(Math.floor(intervalUs / 1e6));
    const nsec = BigInt(Math.round((intervalUs % 1e6) * 1000));
    this.timerView.setBigInt64(0, once ? 0n : sec, true);
    this.timerView.setBigInt64(8, once ? 0n : nsec, true);
    this.timerView.setBigInt64(16, sec, true);
    this.timerView.setBigInt64(24, nsec, true);
    if (libc.timerfd_settime(fd, 0, this.timerSpec, null) < 0) throw new SyscallError('timerfd_settime', libc.errno());
  }

  timerRead(fd: number): number {
    const n = libc.read(fd, this.timerBuf, 8);
    if (n !== 8) return 0;
    return Number(new DataView(this.timerBuf.buffer).getBigUint64(0, true));
  }

  async quiesce(): Promise<void> {
    if (this.poller?.isDisposed) await this.poller.exited;
  }

  watch(fd: number, onReady: () => void): PollRegistration {
    // On the main thread, Node's own event loop watches the fd (one wake-up, of the JS thread); in a
    // worker, or with BPFPIPE_POLLER=thread, the waker thread of poller.ts does.
    if (isMainThread && process.env.BPFPIPE_POLLER !== 'thread' && loopPollerAvailable()) return watchOnLoop(fd, onReady);
    if (!this.poller || this.poller.isDisposed) this.poller = new Poller();
    return this.poller.watch(fd, onReady);
  }
}

const BPF_CMD_NAMES = [
  'BPF_MAP_CREATE', 'BPF_MAP_LOOKUP_ELEM', 'BPF_MAP_UPDATE_ELEM', 'BPF_MAP_DELETE_ELEM', 'BPF_MAP_GET_NEXT_KEY',
  'BPF_PROG_LOAD', 'BPF_OBJ_PIN', 'BPF_OBJ_GET', 'BPF_PROG_ATTACH', 'BPF_PROG_DETACH', 'BPF_PROG_TEST_RUN',
  'BPF_PROG_GET_NEXT_ID', 'BPF_MAP_GET_NEXT_ID', 'BPF_PROG_GET_FD_BY_ID', 'BPF_MAP_GET_FD_BY_ID',
  'BPF_OBJ_GET_INFO_BY_FD', 'BPF_PROG_QUERY', 'BPF_RAW_TRACEPOINT_OPEN', 'BPF_BTF_LOAD', 'BPF_BTF_GET_FD_BY_ID',
  'BPF_TASK_FD_QUERY', 'BPF_MAP_LOOKUP_AND_DELETE_ELEM', 'BPF_MAP_FREEZE', 'BPF_BTF_GET_NEXT_ID',
  'BPF_MAP_LOOKUP_BATCH', 'BPF_MAP_LOOKUP_AND_DELETE_BATCH', 'BPF_MAP_UPDATE_BATCH', 'BPF_MAP_DELETE_BATCH',
  'BPF_LINK_CREATE', 'BPF_LINK_UPDATE', 'BPF_LINK_GET_FD_BY_ID', 'BPF_LINK_GET_NEXT_ID', 'BPF_ENABLE_STATS',
  'BPF_ITER_CREATE', 'BPF_LINK_DETACH', 'BPF_PROG_BIND_MAP',
];

function bpfCmdName(cmd: number): string {
  return BPF_CMD_NAMES[cmd] ?? `bpf cmd ${cmd}`;
}
