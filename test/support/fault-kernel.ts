/** A Kernel that delegates to the real one and fails chosen calls with chosen errnos (fault injection). */
import { SyscallError } from '../../src/errors.js';
import { LinuxKernel, type Kernel } from '../../src/sys/index.js';

export type FaultPoint = 'perfEventOpen' | 'mmap' | 'bpf' | 'ioctl' | 'epollCreate';

export interface Fault {
  at: FaultPoint;
  errno: number;
  /** Fail the Nth call (1-based) of that kind; default 1. */
  nth?: number;
  /** For bpf: only this command. */
  cmd?: number;
}

export class FaultKernel implements Kernel {
  private readonly counts = new Map<FaultPoint, number>();

  constructor(private readonly real: Kernel = new LinuxKernel(), private readonly faults: Fault[] = []) {}

  /** Fail this call if a fault says so; `name` is what the real kernel would call it. */
  private hit(at: FaultPoint, name: string, cmd?: number): void {
    for (const f of this.faults) {
      if (f.at !== at || (f.cmd !== undefined && f.cmd !== cmd)) continue;
      const n = (this.counts.get(at) ?? 0) + 1;
      this.counts.set(at, n);
      if (n === (f.nth ?? 1)) throw new SyscallError(name, f.errno);
    }
  }

  bpf(cmd: number, attr: Uint8Array, name?: string): number {
    this.hit('bpf', `bpf(${name ?? BPF_CMDS[cmd] ?? cmd})`, cmd);
    return this.real.bpf(cmd, attr, name);
  }
  perfEventOpen(attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number): number {
    this.hit('perfEventOpen', `perf_event_open(cpu ${cpu})`);
    return this.real.perfEventOpen(attr, pid, cpu, groupFd, flags);
  }
  ioctl(fd: number, request: number, arg: number, name?: string): number {
    this.hit('ioctl', name ?? `ioctl(0x${request.toString(16)})`);
    return this.real.ioctl(fd, request, arg, name);
  }
  mmap(fd: number, length: number, prot: number, offset: number) {
    this.hit('mmap', 'mmap');
    return this.real.mmap(fd, length, prot, offset);
  }
  munmap(m: Parameters<Kernel['munmap']>[0]) {
    return this.real.munmap(m);
  }
  close(fd: number) {
    return this.real.close(fd);
  }
  dup(fd: number) {
    return this.real.dup(fd);
  }
  alloc(size: number) {
    return this.real.alloc(size);
  }
  free(m: Parameters<Kernel['free']>[0]) {
    return this.real.free(m);
  }
  epollCreate() {
    this.hit('epollCreate', 'epoll_create1');
    return this.real.epollCreate();
  }
  epollAdd(epfd: number, fd: number, data: number, edge?: boolean) {
    return this.real.epollAdd(epfd, fd, data, edge);
  }
  epollDel(epfd: number, fd: number) {
    return this.real.epollDel(epfd, fd);
  }
  watch(fd: number, onReady: () => void) {
    return this.real.watch(fd, onReady);
  }
  quiesce() {
    return this.real.quiesce();
  }
  timerCreate() {
    return this.real.timerCreate();
  }
  timerSet(fd: number, us: number) {
    return this.real.timerSet(fd, us);
  }
  timerRead(fd: number) {
    return this.real.timerRead(fd);
  }
}

const BPF_CMDS: Record<number, string> = { 0: 'BPF_MAP_CREATE', 1: 'BPF_MAP_LOOKUP_ELEM', 2: 'BPF_MAP_UPDATE_ELEM', 3: 'BPF_MAP_DELETE_ELEM', 5: 'BPF_PROG_LOAD' };
