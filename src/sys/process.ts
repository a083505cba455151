/** Thread placement: CPU affinity and network namespaces of the calling (JS) thread. */
import * as fs from 'node:fs';
import * as libc from './libc.js';
import { SyscallError } from '../errors.js';

const CLONE_NEWNET = 0x40000000;

/** Pin the calling thread to the given CPUs. */
export function setAffinity(cpus: number[]): void {
  const mask = new Uint8Array(128);
  for (const c of cpus) mask[c >> 3]! |= 1 << (c & 7);
  if (libc.sched_setaffinity(0, mask.byteLength, mask) < 0) throw new SyscallError('sched_setaffinity', libc.errno());
}

export function currentCpu(): number {
  return libc.sched_getcpu();
}

/**
 * Move the calling thread into the network namespace at `nsPath` (e.g. /run/netns/NAME) — only the
 * network namespace, so bpffs pins stay visible. Returns a function that moves it back.
 */
export function enterNetns(nsPath: string): () => void {
  const self = fs.openSync('/proc/thread-self/ns/net', 'r');
  const target = fs.openSync(nsPath, 'r');
  try {
    if (libc.setns(target, CLONE_NEWNET) < 0) throw new SyscallError(`setns(${nsPath})`, libc.errno());
  } catch (err) {
    fs.closeSync(self);
    throw err;
  } finally {
    fs.closeSync(target);
  }
  return () => {
    try {
      if (libc.setns(self, CLONE_NEWNET) < 0) throw new SyscallError('setns(back)', libc.errno());
    } finally {
      fs.closeSync(self);
    }
  };
}

/**
 * The network namespace cookie of the calling thread's namespace (SO_NETNS_COOKIE, Linux 5.14): unlike
 * the namespace's inode number, never reused for another namespace. Undefined where the kernel has none.
 */
export function netnsCookie(): bigint | undefined {
  const fd = libc.socket(1 /* AF_UNIX */, 2 /* SOCK_DGRAM */ | 0x80000 /* SOCK_CLOEXEC */, 0);
  if (fd < 0) return undefined;
  try {
    const val = new Uint8Array(8);
    const len = new Uint32Array([8]);
    if (libc.getsockopt(fd, 1 /* SOL_SOCKET */, 71 /* SO_NETNS_COOKIE */, val, len) < 0) return undefined;
    return new DataView(val.buffer).getBigUint64(0, true);
  } finally {
    libc.close(fd);
  }
}
