/**
 * The libc functions bpfpipe calls, declared once through koffi. This file and the rest of src/sys/
 * are the only places that import koffi. Pointers are bigints (koffi 3); buffers passed as
 * `void *` arguments are Uint8Arrays that live for the duration of the call.
 */
import koffi from 'koffi';

const lib = koffi.load('libc.so.6');

/** Syscall numbers (x86_64 and aarch64 generic). */
const arch = process.arch;
export const SYS = arch === 'arm64'
  ? { bpf: 280, perf_event_open: 241 }
  : { bpf: 321, perf_event_open: 298 };

/** long syscall(long nr, ...), declared with fixed integer/pointer arguments for each use. */
export const syscall_bpf = lib.func('syscall', 'long', ['long', 'int', 'void *', 'uint']) as (
  nr: number, cmd: number, attr: Uint8Array, size: number) => number;
export const syscall_perf_event_open = lib.func('syscall', 'long', ['long', 'void *', 'int', 'int', 'int', 'ulong']) as (
  nr: number, attr: Uint8Array, pid: number, cpu: number, groupFd: number, flags: number) => number;

export const close = lib.func('int close(int fd)') as (fd: number) => number;
export const ioctl = lib.func('ioctl', 'int', ['int', 'ulong', 'ulong']) as (fd: number, req: number, arg: number) => number;
export const mmap = lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, int64_t offset)') as (
  addr: null, length: number, prot: number, flags: number, fd: number, offset: number) => bigint;
export const munmap = lib.func('int munmap(void *addr, size_t length)') as (addr: bigint, length: number) => number;
export const read = lib.func('long read(int fd, void *buf, size_t n)') as (fd: number, buf: Uint8Array, n: number) => number;
export const write = lib.func('long write(int fd, void *buf, size_t n)') as (fd: number, buf: Uint8Array, n: number) => number;
export const dup = lib.func('int fcntl(int fd, int cmd, int arg)') as (fd: number, cmd: number, arg: number) => number;
export const flock = lib.func('int flock(int fd, int op)') as (fd: number, op: number) => number;

export const epoll_create1 = lib.func('int epoll_create1(int flags)') as (flags: number) => number;
export const epoll_ctl = lib.func('int epoll_ctl(int epfd, int op, int fd, void *ev)') as (
  epfd: number, op: number, fd: number, ev: Uint8Array | null) => number;
export const epoll_wait = lib.func('int epoll_wait(int epfd, void *evs, int max, int timeout)');
export const eventfd = lib.func('int eventfd(unsigned int initval, int flags)') as (init: number, flags: number) => number;

export const socket = lib.func('int socket(int domain, int type, int protocol)') as (d: number, t: number, p: number) => number;
export const bind = lib.func('int bind(int fd, void *addr, uint32_t len)') as (fd: number, addr: Uint8Array, len: number) => number;
export const setsockopt = lib.func('int setsockopt(int fd, int level, int name, void *val, uint32_t len)') as (
  fd: number, level: number, name: number, val: Uint8Array, len: number) => number;
export const sendto = lib.func('long sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t alen)') as (
  fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array | null, alen: number) => number;
export const recv = lib.func('long recv(int fd, void *buf, size_t len, int flags)') as (
  fd: number, buf: Uint8Array, len: number, flags: number) => number;
export const recvfrom = lib.func('long recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *alen)') as (
  fd: number, buf: Uint8Array, len: number, flags: number, addr: Uint8Array, alen: Uint32Array) => number;
export const getsockopt = lib.func('int getsockopt(int fd, int level, int name, void *val, void *len)') as (
  fd: number, level: number, name: number, val: Uint8Array, len: Uint32Array) => number;
export const poll = lib.func('int poll(void *fds, unsigned long n, int timeout)') as (fds: Uint8Array, n: number, t: number) => number;

export const if_nametoindex = lib.func('unsigned int if_nametoindex(const char *name)') as (name: string) => number;
export const if_indextoname = lib.func('char *if_indextoname(unsigned int idx, _Out_ char *buf)') as (idx: number, buf: Uint8Array) => string | null;
export const mount = lib.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, void *data)') as (
  src: string, target: string, fstype: string, flags: number, data: null) => number;
export const setns = lib.func('int setns(int fd, int nstype)') as (fd: number, nstype: number) => number;
export const sched_getcpu = lib.func('int sched_getcpu(void)') as () => number;
export const sched_setaffinity = lib.func('int sched_setaffinity(int pid, size_t size, void *mask)') as (
  pid: number, size: number, mask: Uint8Array) => number;
export const sched_setscheduler = lib.func('int sched_setscheduler(int pid, int policy, void *param)') as (
  pid: number, policy: number, param: Uint8Array) => number;
export const sched_getscheduler = lib.func('int sched_getscheduler(int pid)') as (pid: number) => number;
export const sched_getparam = lib.func('int sched_getparam(int pid, _Out_ void *param)') as (pid: number, param: Uint8Array) => number;
export const gettid = lib.func('int gettid(void)') as () => number;
export const getpid = lib.func('int getpid(void)') as () => number;
export const sysconf = lib.func('long sysconf(int name)') as (name: number) => number;

export function errno(): number {
  return koffi.errno();
}

/** Native memory that never moves: for buffers whose address goes into a bpf_attr. */
export function allocNative(size: number): { address: bigint; buffer: ArrayBuffer } {
  const address = koffi.alloc('uint8_t', Math.max(1, size)) as unknown as bigint;
  return { address, buffer: koffi.view(address, Math.max(1, size)) as ArrayBuffer };
}

export function freeNative(address: bigint): void {
  koffi.free(address);
}

/** An ArrayBuffer over mapped memory (no copy). Never touch it after munmap. */
export function viewOf(address: bigint, length: number): ArrayBuffer {
  return koffi.view(address, length) as ArrayBuffer;
}

export const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

export const statfs = lib.func('int statfs(const char *path, _Out_ uint8_t *buf)') as (path: string, buf: Uint8Array) => number;
export const fcntl_lock = lib.func('fcntl', 'int', ['int', 'int', 'void *']) as (fd: number, cmd: number, lock: Uint8Array) => number;
export const timerfd_create = lib.func('int timerfd_create(int clockid, int flags)') as (clock: number, flags: number) => number;
export const timerfd_settime = lib.func('int timerfd_settime(int fd, int flags, void *new_value, void *old_value)') as (
  fd: number, flags: number, value: Uint8Array, old: null) => number;
