/**
 * Scheduling of the process's other threads, for readers that must keep up with the kernel.
 *
 * A Node process has more threads than its JS thread: V8's helpers (concurrent marking and sweeping,
 * the optimizing compiler), worker threads, loaders' hook threads. Pinned to one CPU with them, a
 * reader woken by its timer or by the kernel can wait for a busy helper to run out its time slice
 * (a 4 ms tick was seen on the project's VM) while the ring fills: at 10 M events/s a 4 MiB ring
 * holds 4-6 ms. SCHED_IDLE threads run only when nothing else wants the CPU and give it up at once to
 * a woken normal thread: idleOtherThreads() puts every other thread of the process under it, except
 * the calling thread and bpfpipe's waker thread (which carries the kernel's wake-ups to readers in
 * worker threads; the main thread's readers are woken by the event loop itself).
 *
 * It is for processes that exist to read (a collector pinned to a CPU), and only for readers whose
 * JS thread allocates little (batches()): helpers that collect garbage for a JS thread busy decoding
 * objects get their work done later, on that thread. Threads started after the call keep the policy
 * of the thread that starts them.
 *
 * A SCHED_IDLE thread does not run at all while its CPU is never idle. A reader that cannot keep up
 * keeps the JS thread busy all the time, and one of the idled helpers is V8's optimizing compiler: the
 * reader's own code would then stay in V8's baseline tier, several times slower, for as long as the
 * backlog lasts, which it then does (measured on bench/'s perf row: 107-218 ns per event against 12-30,
 * half the events lost). So while a reader of the calling thread has found data waiting every time it
 * looked, for several drains on end (reader-pace.ts), the idled threads get their policy back
 * (lendIdledThreads), until it waits again.
 */
import * as fs from 'node:fs';
import * as libc from './libc.js';
import { pollerThreads } from './poller.js';
import { PermissionError, SyscallError, Errno } from '../errors.js';

const SCHED_IDLE = 5;
const ESRCH = Errno.ESRCH;

export interface IdledThreads {
  /** The threads put under SCHED_IDLE, with the policy each had. */
  readonly threads: readonly { tid: number; policy: number }[];
  /**
   * Give the threads that still run their policy back. Leaving SCHED_IDLE needs CAP_SYS_NICE or an
   * RLIMIT_NICE of at least 20 (the kernel's rule): without them this throws EBPF_PERM, naming how
   * many threads stay idle, after restoring what it could.
   */
  restore(): void;
  [Symbol.dispose](): void;
}

const param = new Uint8Array(4); // struct sched_param { int sched_priority = 0 }

/** The tids of this process's threads. */
export function processThreads(): number[] {
  return fs.readdirSync('/proc/self/task').map(Number).filter((t) => t > 0);
}

/** The scheduling policy of thread `tid` (SCHED_OTHER 0, SCHED_BATCH 3, SCHED_IDLE 5, ...). */
export function threadPolicy(tid: number): number {
  const p = libc.sched_getscheduler(tid);
  if (p < 0) throw new SyscallError('sched_getscheduler', libc.errno());
  return p;
}

type Idled = readonly { tid: number; policy: number }[];
/** The threads of idleOtherThreads() calls not restored yet. */
const idledSets = new Set<Idled>();
/** Readers (of this thread) that cannot keep up: while there is one, the idled threads run as before. */
const saturated = new Set<object>();
let lent = false;
/** Leaving SCHED_IDLE was refused (no CAP_SYS_NICE): the threads stay idle. */
let cannotLend = false;

/**
 * `reader` cannot keep up (`on`), or waits for data again: while some reader of this thread cannot,
 * the threads idleOtherThreads() idled have their own policy back (see the file comment).
 */
export function lendIdledThreads(reader: object, on: boolean): void {
  if (on) saturated.add(reader);
  else saturated.delete(reader);
  const want = saturated.size > 0 && !cannotLend;
  if (want === lent) return;
  lent = want;
  for (const set of idledSets) {
    // (leaving SCHED_IDLE needs CAP_SYS_NICE or RLIMIT_NICE; entering it never does)
    if (setPolicies(set, !want) > 0) {
      cannotLend = true;
      lent = false;
      return;
    }
  }
}

/**
 * Each thread of `threads` still of this process (the tid of one that ended may be another's by now)
 * under SCHED_IDLE, or back under its own policy: the number the kernel refused (EPERM).
 */
function setPolicies(threads: Idled, idle: boolean): number {
  const live = new Set(processThreads());
  let denied = 0;
  for (const t of threads) {
    if (!live.has(t.tid) || libc.sched_setscheduler(t.tid, idle ? SCHED_IDLE : t.policy, param) >= 0) continue;
    const e = libc.errno();
    if (e === Errno.EPERM) denied++;
    else if (e !== ESRCH) throw new SyscallError('sched_setscheduler', e, `thread ${t.tid} ${idle ? 'to' : 'back from'} SCHED_IDLE`);
  }
  return denied;
}

/** Put every other thread of this process (but bpfpipe's poller) under SCHED_IDLE; see the file comment. */
export async function idleOtherThreads(): Promise<IdledThreads> {
  const keep = new Set([libc.gettid(), ...(await pollerThreads())]);
  const done: { tid: number; policy: number }[] = [];
  for (const tid of processThreads()) {
    if (keep.has(tid)) continue;
    const policy = libc.sched_getscheduler(tid);
    if (policy < 0 || policy === SCHED_IDLE) continue; // gone meanwhile, or idle already
    if (libc.sched_setscheduler(tid, SCHED_IDLE, param) < 0) {
      const e = libc.errno();
      if (e === ESRCH) continue;
      throw new SyscallError('sched_setscheduler', e, `thread ${tid} to SCHED_IDLE`);
    }
    done.push({ tid, policy });
  }
  idledSets.add(done);
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    idledSets.delete(done);
    const denied = setPolicies(done, false);
    if (denied > 0) {
      throw new PermissionError(`${denied} thread(s) stay under SCHED_IDLE: leaving it needs CAP_SYS_NICE or RLIMIT_NICE >= 20 (ulimit -e 20)`);
    }
  };
  return { threads: done, restore, [Symbol.dispose]: restore };
}
