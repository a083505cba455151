/**
 * The waker-thread readiness poller, for readers in worker threads (the main thread's readers are
 * woken by Node's own event loop: loop-poller.ts). A waker thread (WAKER below) blocks in epoll_wait
 * while the JS thread never does: readiness comes back through shared memory and Atomics.waitAsync.
 * Registrations are one-shot (EPOLLONESHOT): a reader arms, gets one callback, drains, arms again;
 * arming is a plain epoll_ctl from the JS thread, with no hand-off to another thread. The thread and
 * its fds exist only while there are registrations.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import * as libc from './libc.js';
import { SyscallError } from '../errors.js';

const EPOLLIN = 0x001;
const EPOLLONESHOT = 1 << 30;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLL_CTL_MOD = 3;
const EFD_CLOEXEC = 0x80000;
const EFD_NONBLOCK = 0x800;
const EPOLL_CLOEXEC = 0x80000;
const EVENT_SIZE = 12; // struct epoll_event is packed on x86_64: u32 events, u64 data
const WAKE_ID = 0;
const GEN = 0;
const QUIT = 1;
/** The waker thread's tid, stored as soon as it runs. */
const TID = 2;
const FLAGS = 3;
const MAX_IDS = 4096;

interface Entry {
  id: number;
  fd: number;
  onReady: () => void;
  armed: boolean;
  added: boolean;
  closed: boolean;
}

/**
 * The waker thread (a worker_thread running this CommonJS source): blocks in epoll_wait on the
 * poller's epoll fd and tells the JS thread which registrations became ready through shared memory
 * (flag per registration, then a generation counter + Atomics.notify). It never touches the rings.
 */
const WAKER = `
const { workerData } = require('node:worker_threads');
const koffi = require(workerData.koffi);
const lib = koffi.load('libc.so.6');
const epoll_wait = lib.func('int epoll_wait(int epfd, void *evs, int max, int timeout)');
const read = lib.func('long read(int fd, void *buf, unsigned long n)');
const gettid = lib.func('int gettid(void)');
const { sab, epfd, wakeFd } = workerData;
const ctl = new Int32Array(sab);
const MAX = 64, SIZE = 12, GEN = 0, QUIT = 1, TID = 2, FLAGS = 3;
Atomics.store(ctl, TID, gettid());
const events = new Uint8Array(MAX * SIZE);
const view = new DataView(events.buffer);
const drain = new Uint8Array(8);
for (;;) {
  const n = epoll_wait(epfd, events, MAX, -1);
  if (Atomics.load(ctl, QUIT) !== 0) break;
  let any = false;
  for (let i = 0; i < n; i++) {
    const id = view.getUint32(i * SIZE + 4, true);
    if (id === 0) { read(wakeFd, drain, 8); continue; }
    if (FLAGS + id < ctl.length) { Atomics.store(ctl, FLAGS + id, 1); any = true; }
  }
  if (any) { Atomics.add(ctl, GEN, 1); Atomics.notify(ctl, GEN); }
}
`;

const koffiPath = createRequire(import.meta.url).resolve('koffi');

/** Pollers whose waker thread may be running (threads.ts leaves their threads' scheduling alone). */
const live = new Set<Poller>();

/** The tids of the running waker threads (each known once its thread has started). */
export async function pollerThreads(): Promise<number[]> {
  const tids = await Promise.all([...live].map((p) => p.tid()));
  return tids.filter((t) => t > 0);
}

export class Poller {
  private readonly epfd: number;
  private readonly wakeFd: number;
  private readonly ctl = new Int32Array(new SharedArrayBuffer((FLAGS + MAX_IDS) * 4));
  private readonly entries = new Map<number, Entry>();
  private readonly freeIds: number[] = [];
  private nextId = 1;
  private readonly ctlBuf = new Uint8Array(EVENT_SIZE);
  private readonly ctlView = new DataView(this.ctlBuf.buffer);
  private readonly worker: Worker;
  private waiting = false;
  private seenGen = 0;
  private disposed = false;
  /** Resolves when the waker thread has exited and the poller's fds are closed. */
  readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor() {
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    this.epfd = check('epoll_create1', libc.epoll_create1(EPOLL_CLOEXEC));
    try {
      this.wakeFd = check('eventfd', libc.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    } catch (err) {
      libc.close(this.epfd);
      throw err;
    }
    this.ctlView.setUint32(0, EPOLLIN, true);
    this.ctlView.setBigUint64(4, BigInt(WAKE_ID), true);
    check('epoll_ctl', libc.epoll_ctl(this.epfd, EPOLL_CTL_ADD, this.wakeFd, this.ctlBuf));
    const epfd = this.epfd;
    const wakeFd = this.wakeFd;
    this.worker = new Worker(WAKER, { eval: true, workerData: { sab: this.ctl.buffer, epfd, wakeFd, koffi: koffiPath }, stdout: false, stderr: false });
    // The thread never keeps the process alive: whoever waits for events holds a timer.
    this.worker.unref();
    this.worker.on('error', () => {
      /* a broken waker shows up as missing wake-ups; readers' timers still drain */
    });
    live.add(this);
    this.worker.on('exit', () => {
      live.delete(this);
      libc.close(wakeFd);
      libc.close(epfd);
      this.markExited();
    });
  }

  /** The waker thread's tid once it runs (0 if it exited before it could tell). */
  async tid(): Promise<number> {
    // (a timer, not Atomics.waitAsync: a pending waitAsync does not keep the event loop alive)
    for (;;) {
      const t = Atomics.load(this.ctl, TID);
      if (t !== 0 || !live.has(this)) return t;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  watch(fd: number, onReady: () => void): { arm(): void; close(): void } {
    const id = this.freeIds.pop() ?? this.nextId++;
    if (id >= MAX_IDS) throw new SyscallError('poller', 24, `more than ${MAX_IDS - 1} registrations`);
    const entry: Entry = { id, fd, onReady, armed: false, added: false, closed: false };
    this.entries.set(id, entry);
    return {
      arm: () => {
        if (entry.closed || entry.armed) return;
        entry.armed = true;
        Atomics.store(this.ctl, FLAGS + id, 0);
        this.epollCtl(entry.added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLONESHOT, id);
        entry.added = true;
        this.ensureWaiting();
      },
      close: () => {
        if (entry.closed) return;
        entry.closed = true;
        entry.armed = false;
        this.entries.delete(id);
        if (entry.added) {
          // The fd may already be closed by its owner (then the kernel removed it); ignore errors.
          this.ctlBuf.fill(0);
          libc.epoll_ctl(this.epfd, EPOLL_CTL_DEL, fd, this.ctlBuf);
        }
        Atomics.store(this.ctl, FLAGS + id, 0);
        this.freeIds.push(id);
        if (this.entries.size === 0) this.dispose();
      },
    };
  }

  private epollCtl(op: number, fd: number, events: number, id: number): void {
    this.ctlView.setUint32(0, events >>> 0, true);
    this.ctlView.setBigUint64(4, BigInt(id), true);
    check('epoll_ctl', libc.epoll_ctl(this.epfd, op, fd, this.ctlBuf));
  }

  private ensureWaiting(): void {
    if (this.waiting || this.disposed) return;
    this.waiting = true;
    const r = Atomics.waitAsync(this.ctl, GEN, this.seenGen);
    if (r.async) void r.value.then(() => this.dispatch());
    else queueMicrotask(() => this.dispatch());
  }

  private dispatch(): void {
    this.waiting = false;
    if (this.disposed) return;
    this.seenGen = Atomics.load(this.ctl, GEN);
    const ready: Entry[] = [];
    for (const entry of this.entries.values()) {
      if (entry.armed && Atomics.load(this.ctl, FLAGS + entry.id) !== 0) {
        Atomics.store(this.ctl, FLAGS + entry.id, 0);
        entry.armed = false;
        ready.push(entry);
      }
    }
    for (const entry of ready) {
      try {
        entry.onReady();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    for (const entry of this.entries.values()) {
      if (entry.armed) {
        this.ensureWaiting();
        break;
      }
    }
  }

  /** Stop the waker thread; its fds are closed when it has exited. */
  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // Keep the process alive until the thread is gone, so awaiting `exited` always settles.
    this.worker.ref();
    Atomics.store(this.ctl, QUIT, 1);
    libc.write(this.wakeFd, ONE, 8);
  }
}

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);

function check(name: string, rc: number): number {
  if (rc < 0) throw new SyscallError(name, libc.errno());
  return rc;
}
