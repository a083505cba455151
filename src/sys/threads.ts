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
 * (lendIdledThreads), until it waits again; and so they do while the event loop is busy all the time
 * though the reader waits (other work, or V8's sweeper spinning the JS thread until a concurrent sweep
 * on an idled helper ends).
 *
 * `realtime`: the calling thread also goes under SCHED_FIFO. A normal thread that wakes while the
 * reader's runs can take the CPU from it for as long as its work lasts, and the kernel threads of the
 * project's VM do: its DAMON reclaim thread (kdamond) works 2-4 ms at a time, and without kernel
 * preemption nothing stops it; a SCHED_IDLE helper picked while the reader's thread is preempted keeps
 * the CPU until the next tick (4 ms). A real-time thread is not preempted by normal ones, and is
 * picked before them when it wakes (a kernel thread still finishes its stretch of kernel work first).
 * On bench/'s ring buffer row: lost in 1 of 34 runs against 7 of 34; in the VM's fast phases (a 4 MiB
 * ring holds 3.2 ms) in 0 of 5 against 5 of 5. Whenever the idled threads are lent their policy, the
 * calling thread is back under its own too (beside a real-time thread they would get no CPU at all).
 * Threads it starts begin under SCHED_OTHER (SCHED_RESET_ON_FORK).
 */
import * as fs from 'node:fs';
import * as libc from './libc.js';
import { pollerThreads } from './poller.js';
import { PermissionError, SyscallError, UsageError, Errno } from '../errors.js';

const SCHED_IDLE = 5;
const SCHED_FIFO = 1;
/** Threads the real-time thread starts begin under SCHED_OTHER, not SCHED_FIFO. */
const SCHED_RESET_ON_FORK = 0x40000000;
const ESRCH = Errno.ESRCH;

export interface IdleOptions {
  /** Also put the calling thread under SCHED_FIFO at this priority (true: 1); see the file comment. */
  realtime?: boolean | number;
}

export interface IdledThreads {
  /** The threads put under SCHED_IDLE, with the policy each had. */
  readonly threads: readonly { tid: number; policy: number }[];
  /** The calling thread, with the policy it had, when it went under SCHED_FIFO (`realtime`). */
  readonly realtime: { tid: number; policy: number } | undefined;
  /**
   * Give the threads that still run their policy back. Leaving SCHED_IDLE needs CAP_SYS_NICE or an
   * RLIMIT_NICE of at least 20 (the kernel's rule): without them this throws EBPF_PERM, naming how
   * many threads stay idle, after restoring what it could.
   */
  restore(): void;
  [Symbol.dispose](): void;
}

/** struct sched_param { int sched_priority } */
const param = (priority: number): Uint8Array => new Uint8Array(new Int32Array([priority]).buffer);

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

/** A thread idleOtherThreads() changed: its own policy and priority, and those it has while idled. */
interface Managed {
  tid: number;
  policy: number;
  priority: number;
  idled: number;
  idledPriority: number;
}
type Idled = readonly Managed[];
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
      // refused: every thread as idled again (a realtime thread may have left SCHED_FIFO), and no more lending
      cannotLend = true;
      lent = false;
      for (const s of idledSets) setPolicies(s, true);
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
    const [policy, priority] = idle ? [t.idled, t.idledPriority] : [t.policy, t.priority];
    if (!live.has(t.tid) || libc.sched_setscheduler(t.tid, policy, param(priority)) >= 0) continue;
    const e = libc.errno();
    if (e === Errno.EPERM) denied++;
    else if (e !== ESRCH) throw new SyscallError('sched_setscheduler', e, `thread ${t.tid} ${idle ? 'to' : 'back from'} its idled policy`);
  }
  return denied;
}

/**
 * Put every other thread of this process (but bpfpipe's poller) under SCHED_IDLE, and with `realtime`
 * the calling thread under SCHED_FIFO; see the file comment.
 */
export async function idleOtherThreads(o: IdleOptions = {}): Promise<IdledThreads> {
  const self = libc.gettid();
  const keep = new Set([self, ...(await pollerThreads())]);
  const done: Managed[] = [];
  const realtime = o.realtime === undefined || o.realtime === false ? undefined : realtimeFor(self, o.realtime === true ? 1 : o.realtime);
  if (realtime) done.push(realtime);
  try {
    for (const tid of processThreads()) {
      if (keep.has(tid)) continue;
      const policy = libc.sched_getscheduler(tid);
      if (policy < 0 || policy === SCHED_IDLE) continue; // gone meanwhile, or idle already
      if (libc.sched_setscheduler(tid, SCHED_IDLE, param(0)) < 0) {
        const e = libc.errno();
        if (e === ESRCH) continue;
        throw new SyscallError('sched_setscheduler', e, `thread ${tid} to SCHED_IDLE`);
      }
      done.push({ tid, policy, priority: 0, idled: SCHED_IDLE, idledPriority: 0 });
    }
  } catch (e) {
    setPolicies(done, false);
    throw e;
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
  return {
    threads: done.filter((t) => t !== realtime).map(({ tid, policy }) => ({ tid, policy })),
    realtime: realtime && { tid: realtime.tid, policy: realtime.policy },
    restore,
    [Symbol.dispose]: restore,
  };
}

/** Put thread `tid` under SCHED_FIFO at `priority` (before any other thread is touched: EPERM changes nothing). */
function realtimeFor(tid: number, priority: number): Managed {
  if (!Number.isInteger(priority) || priority < 1 || priority > 99) throw new UsageError(`realtime: a SCHED_FIFO priority from 1 to 99, not ${priority}`);
  const policy = libc.sched_getscheduler(tid);
  const own = new Uint8Array(4);
  if (policy < 0 || libc.sched_getparam(tid, own) < 0) throw new SyscallError('sched_getparam', libc.errno());
  if (libc.sched_setscheduler(tid, SCHED_FIFO | SCHED_RESET_ON_FORK, param(priority)) < 0) {
    const e = libc.errno();
    if (e === Errno.EPERM) throw new PermissionError('realtime: SCHED_FIFO for the calling thread needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 1 (ulimit -r 1)');
    throw new SyscallError('sched_setscheduler', e, `thread ${tid} to SCHED_FIFO`);
  }
  return { tid, policy, priority: new Int32Array(own.buffer)[0]!, idled: SCHED_FIFO | SCHED_RESET_ON_FORK, idledPriority: priority };
}
