/**
 * The event-loop poller (src/sys/loop-poller.ts) on an eventfd: one callback per arm(), on the JS
 * thread; readiness while nobody is armed is held until the next arm(); close() ends the callbacks.
 * And the fallback: a reader in a worker thread is woken by the waker thread of poller.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import * as libc from '../../src/sys/libc.js';
import { loopPollerAvailable, watchOnLoop } from '../../src/sys/loop-poller.js';

const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;
const one = new Uint8Array(new BigUint64Array([1n]).buffer);
const sink = new Uint8Array(8);
const tick = () => new Promise((r) => setTimeout(r, 20));

test('one callback per arm(), on the JS thread; held while not armed; none after close()', async () => {
  assert.ok(loopPollerAvailable(), 'Node exports libuv to native code');
  const fd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  assert.ok(fd >= 0);
  let calls = 0;
  const reg = watchOnLoop(fd, () => calls++);
  try {
    reg.arm();
    await tick();
    assert.equal(calls, 0, 'not readable: no callback');
    libc.write(fd, one, 8);
    await tick();
    assert.equal(calls, 1, 'readable: one callback');
    await tick();
    assert.equal(calls, 1, 'still readable, not armed again: no second callback');
    reg.arm();
    await tick();
    assert.equal(calls, 2, 'armed while readable: a callback at once');
    libc.read(fd, sink, 8);
    reg.arm();
    await tick();
    assert.equal(calls, 2, 'drained: no callback');
    libc.write(fd, one, 8);
    await tick();
    assert.equal(calls, 3);
    reg.arm();
    reg.close();
    await tick();
    assert.equal(calls, 3, 'closed: no callback');
    reg.arm(); // after close: nothing
    reg.close(); // idempotent
  } finally {
    reg.close();
    libc.close(fd);
  }
});

test('a reader in a worker thread is woken by the waker thread (the loop poller is the main thread\'s)', async () => {
  const w = new Worker(new URL('./helpers/worker-boot.mjs', import.meta.url), { workerData: { file: new URL('./helpers/worker-reader.ts', import.meta.url).href } });
  const r = await new Promise<{ n?: number; ms?: number; error?: string }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.equal(r.error, undefined, r.error);
  assert.equal(r.n, 3);
  assert.ok(r.ms! < 5000, `woken by the kernel, not the 10 s timer (${r.ms} ms)`);
});
