/**
 * Readiness through Node's own event loop: each watched fd (a reader's epoll fd, a packet socket) is a
 * libuv poll handle (uv_poll_t) on the main thread's loop, whose callback runs on the JS thread when
 * the fd becomes readable. One wake-up per batch, of the thread that reads, where the waker thread of
 * poller.ts costs two (its own, then the JS thread's) and can wait behind other threads twice.
 *
 * libuv's functions come from the node binary itself (it exports them for native addons), called
 * through koffi; the callback is a koffi callback, called by libuv on the JS thread. Used on the main
 * thread only: uv_default_loop() is the main thread's loop, not a worker's (workers use poller.ts).
 * Registrations are one-shot, as poller.ts's: one callback per arm(). The handle itself stays started
 * from one arm() to the next, and stops only when the fd is readable while nobody is armed.
 * Handles are unreferenced: they never keep the process alive (whoever waits holds a timer).
 */
import koffi from 'koffi';
import { SyscallError } from '../errors.js';
import type { PollRegistration } from './kernel.js';

const UV_POLL = 8;
const UV_READABLE = 1;

interface Uv {
  loop: bigint;
  handleSize: number;
  pollInit(loop: bigint, handle: bigint, fd: number): number;
  pollStart(handle: bigint, events: number, cb: unknown): number;
  pollStop(handle: bigint): number;
  close(handle: bigint, cb: unknown): void;
  unref(handle: bigint): void;
  onPoll: unknown;
  onClose: unknown;
}

interface Watch {
  onReady: () => void;
  /** Someone waits for the next readiness (one-shot). */
  armed: boolean;
  /** The handle is started. It stays started between a callback and the next arm(), as a reader
   * re-arms at once: stopping and starting it would cost two epoll_ctl calls per wake-up. */
  started: boolean;
}

/** Watches by handle address (the callback's first argument). */
const byHandle = new Map<bigint, Watch>();
let uv: Uv | null | undefined;

function load(): Uv | null {
  try {
    const self = koffi.load(null);
    const PollCb = koffi.proto('void bpfpipe_uv_poll_cb(void *handle, int status, int events)');
    const CloseCb = koffi.proto('void bpfpipe_uv_close_cb(void *handle)');
    const defaultLoop = self.func('void *uv_default_loop(void)') as () => bigint;
    const handleSize = self.func('size_t uv_handle_size(int type)') as (t: number) => number;
    const u: Uv = {
      loop: defaultLoop(),
      handleSize: handleSize(UV_POLL),
      pollInit: self.func('int uv_poll_init(void *loop, void *handle, int fd)'),
      pollStart: self.func('int uv_poll_start(void *handle, int events, bpfpipe_uv_poll_cb *cb)'),
      pollStop: self.func('int uv_poll_stop(void *handle)'),
      close: self.func('void uv_close(void *handle, bpfpipe_uv_close_cb *cb)'),
      unref: self.func('void uv_unref(void *handle)'),
      onPoll: koffi.register((handle: bigint) => {
        const w = byHandle.get(handle);
        if (w === undefined || !w.armed) {
          // readable while nobody waits: stop watching until the next arm()
          u.pollStop(handle);
          if (w !== undefined) w.started = false;
          return;
        }
        w.armed = false; // one-shot
        try {
          w.onReady();
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
      }, koffi.pointer(PollCb)),
      onClose: koffi.register((handle: bigint) => koffi.free(handle as never), koffi.pointer(CloseCb)),
    };
    return u.loop && u.handleSize > 0 ? u : null;
  } catch {
    return null; // a Node built without exported libuv symbols: the waker thread of poller.ts
  }
}

/** Whether the loop poller can be used here (Node's libuv is reachable). */
export function loopPollerAvailable(): boolean {
  if (uv === undefined) uv = load();
  return uv !== null;
}

/** Watch `fd` for readability on the main thread's event loop; `onReady` runs on the JS thread. */
export function watchOnLoop(fd: number, onReady: () => void): PollRegistration {
  if (!loopPollerAvailable()) throw new Error('bpfpipe: the event loop poller is not available');
  const u = uv!;
  const handle = koffi.alloc('uint8_t', u.handleSize) as unknown as bigint;
  const rc = u.pollInit(u.loop, handle, fd);
  if (rc < 0) {
    koffi.free(handle as never);
    throw new SyscallError('uv_poll_init', -rc);
  }
  u.unref(handle);
  const w: Watch = { onReady, armed: false, started: false };
  byHandle.set(handle, w);
  let closed = false;
  return {
    arm(): void {
      if (closed) return;
      w.armed = true;
      if (w.started) return;
      const r = u.pollStart(handle, UV_READABLE, u.onPoll);
      if (r < 0) throw new SyscallError('uv_poll_start', -r);
      w.started = true;
    },
    close(): void {
      if (closed) return;
      closed = true;
      byHandle.delete(handle);
      // (stopping takes the fd out of libuv's epoll set at once, before its owner closes it)
      u.pollStop(handle);
      u.close(handle, u.onClose); // the memory is freed in the close callback
    },
  };
}
