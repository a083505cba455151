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
