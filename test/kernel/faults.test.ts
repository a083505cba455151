/**
 * Faults injected through the Kernel seam: a failing perf_event_open or mmap on any ring, or a failing
 * map update, ends in a clear typed error, and everything opened before the failure is released.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadObjectSync, openEvents, onlineCpus, BpfpipeError, Errno, possibleCpus } from '../../src/index.js';
import { PERF_EVENT_IOC_ENABLE } from '../../src/ring/perf-attr.js';
import { kernel, useKernel } from '../../src/sys/index.js';
import { fdSnapshot, assertNoFdLeak, uniquePinDir, removeTree } from '../support/leaks.js';
import { FaultKernel, type Fault } from '../support/fault-kernel.js';
import { runOn, udpPacket } from '../support/produce.js';

const fds = fdSnapshot();
const pinDir = uniquePinDir('faults');
after(async () => {
  removeTree(pinDir);
  await assertNoFdLeak(fds, 'fault tests');
});

const cases: { name: string; fault: Fault; code: string; message: RegExp }[] = [
  { name: 'EPERM from perf_event_open', fault: { at: 'perfEventOpen', errno: Errno.EPERM }, code: 'EBPF_PERM', message: /CAP_PERFMON/ },
  // (each ring opens its own event, then its eager twin: the last ring's own is call 2n - 1)
  { name: 'EACCES from perf_event_open on the last CPU', fault: { at: 'perfEventOpen', errno: Errno.EACCES, nth: 2 * possibleCpus().length - 1 }, code: 'EBPF_PERM', message: /CAP_PERFMON/ },
  { name: 'ENOMEM from mmap', fault: { at: 'mmap', errno: Errno.ENOMEM }, code: 'EBPF_SYSCALL', message: /mmap failed: ENOMEM/ },
  { name: 'EPERM from mmap on the last ring', fault: { at: 'mmap', errno: Errno.EPERM, nth: possibleCpus().length }, code: 'EBPF_PERM', message: /RLIMIT_MEMLOCK|perf_event_mlock_kb/ },
  // (the first ioctl is the eager twin's PERF_EVENT_IOC_SET_OUTPUT)
  { name: 'EINVAL from ENABLE', fault: { at: 'ioctl', errno: Errno.EINVAL, nth: 2 }, code: 'EBPF_SYSCALL', message: /PERF_EVENT_IOC_ENABLE/ },
  { name: 'ENOSPC putting the ring into the map', fault: { at: 'bpf', cmd: 2 /* MAP_UPDATE_ELEM */, errno: Errno.ENOSPC }, code: 'EBPF_SYSCALL', message: /MAP_UPDATE_ELEM/ },
];

for (const c of cases) {
  test(`${c.name}: ${c.code}, nothing left open`, async () => {
    const obj = loadObjectSync('bpf/tc_events.bpf.o', { pinDir });
    try {
      const before = fdSnapshot();
      const restore = useKernel(new FaultKernel(kernel(), [c.fault]));
      try {
        await assert.rejects(openEvents(obj.map('events')), (e) => {
          assert.ok(e instanceof BpfpipeError, String(e));
          assert.equal(e.code, c.code, e.message);
          assert.match(e.message, c.message);
          assert.ok(!e.message.includes('\n'));
          return true;
        });
      } finally {
        restore();
      }
      await assertNoFdLeak(before, c.name);
      // The slots are free again: a reader without faults works.
      await using reader = await openEvents(obj.map('events'));
      assert.ok(reader.slots.length > 0);
    } finally {
      obj.close();
    }
  });
}

for (const fault of [{ at: 'perfEventOpen', errno: Errno.EMFILE, nth: 2 }, { at: 'ioctl', errno: Errno.EINVAL, nth: 1 }] as Fault[]) {
  test(`the eager twin of a ring refused (${fault.at}): the ring works without it, polled as before, nothing left open`, async () => {
    const obj = loadObjectSync('bpf/tc_events.bpf.o', { pinDir });
    try {
      const before = fdSnapshot();
      const restore = useKernel(new FaultKernel(kernel(), [fault]));
      let reader;
      try {
        reader = await openEvents(obj.map('events'), { struct: 'event' });
      } finally {
        restore();
      }
      const cpu = onlineCpus()[0]!;
      runOn(cpu, obj.program('tc_events'), 7, udpPacket(80));
      await reader.close();
      assert.equal(reader.read().length, 7, 'the first CPU\'s ring (no eager twin) got its events');
      await assertNoFdLeak(before, 'eager twin refused');
    } finally {
      obj.close();
    }
  });
}

test('outputs that fail while a reader opens (its ring not yet in its slot) are not counted as its losses', async () => {
  // Each ring is enabled before it goes into its slot, and the drop counters are baselined after all
  // are in: an output then either reaches an enabled ring or fails before the baseline. Here the
  // program runs on every CPU at each PERF_EVENT_IOC_ENABLE, inside that window.
  const obj = loadObjectSync('bpf/tc_events.bpf.o', { pinDir });
  try {
    const prog = obj.program('tc_events');
    let runs = 0;
    class OnEnable extends FaultKernel {
      override ioctl(fd: number, request: number, arg: number, name?: string): number {
        if (request === PERF_EVENT_IOC_ENABLE) {
          for (const cpu of onlineCpus()) runOn(cpu, prog, 1, udpPacket(9000));
          runs += onlineCpus().length;
        }
        return super.ioctl(fd, request, arg, name);
      }
    }
    const restore = useKernel(new OnEnable(kernel()));
    let reader;
    try {
      reader = await openEvents(obj.map('events'));
    } finally {
      restore();
    }
    await reader.close();
    let received = 0;
    let lost = 0;
    for (let b = reader.read(); b.count > 0; b = reader.read()) {
      received += b.length;
      lost += b.lostCount;
    }
    assert.ok(runs > 0);
    assert.ok(received > 0, 'outputs to rings already in their slots arrive');
    assert.equal(lost, 0, `${received} received of ${runs}`);
    assert.equal(reader.stats.lost, 0);
  } finally {
    obj.close();
  }
});
