/**
 * tcx links, each test in its own namespace pair: the program runs on real traffic, close() detaches
 * (no link left, tc unchanged), 'auto' picks tcx on this kernel and falls back to clsact only when the
 * kernel says it has no tcx (faults injected through the Kernel seam), a vanished interface is fine,
 * and a persistent link outlives close() until detachAll().
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { attachTc, attachTcSync, detachAllSync, listAttachmentsSync, LINK_PIN_DIR } from '../../src/attach/index.js';
import { resetTcxProbe } from '../../src/attach/probe.js';
import { kernel, useKernel, type Kernel } from '../../src/sys/index.js';
import { Cmd } from '../../src/kernel/attr.js';
import { NotSupportedError, PermissionError, SyscallError } from '../../src/errors.js';
import { withNetns, tcState, linksOf, loadCounter, eventually, fdSnapshot, assertNoFdLeak, assertNothingLeft, bpfpipeStateFor, NO_TCX } from './helpers/index.js';

const fds = fdSnapshot();
after(async () => assertNoFdLeak(fds, 'tcx attach tests'));

test('tcx: the link runs the program on traffic; close() detaches it and leaves tc as it was', { skip: NO_TCX }, async () => {
  await withNetns(async (ns) => {
    const before = tcState(ns);
    const c = loadCounter();
    try {
      const a = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'tcx' }));
      assert.equal(a.mode, 'tcx');
      assert.deepEqual(linksOf([c.program.id]).map((l) => l.id), [a.linkId]);
      assert.deepEqual(ns.inside(() => listAttachmentsSync(ns.dev)).map((x) => [x.mode, x.direction, x.linkId, x.ours, x.program.name]), [
        ['tcx', 'ingress', a.linkId, true, 's_tc'],
      ]);
      ns.sendUdp(5);
      await eventually(() => c.hits() >= 5n, 'ingress packets counted');
      a.close();
      assert.deepEqual(linksOf([c.program.id]), []);
      const settled = c.hits();
      ns.sendUdp(3);
      assert.equal(c.hits(), settled);
      assert.deepEqual(tcState(ns), before);
      assertNothingLeft(ns, [c.program.id]);
    } finally {
      c.close();
    }
  });
});

test('auto picks tcx on this kernel (egress too)', { skip: NO_TCX }, async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    try {
      await ns.inside(async () => {
        await using a = await attachTc(c.program, { iface: ns.dev, direction: 'egress' });
        assert.equal(a.mode, 'tcx');
        ns.sendUdp(4, { from: 'dev' });
        await eventually(() => c.hits() >= 4n, 'egress packets counted');
      });
      assertNothingLeft(ns, [c.program.id]);
    } finally {
      c.close();
    }
  });
});

/** The real kernel, except that LINK_CREATE with a tcx attach type fails as `fault` says. */
function withTcxFault(fault: (ifindex: number) => number | undefined, fn: () => void): void {
  const real = kernel();
  const faulty = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'bpf') {
        return (cmd: number, attr: Uint8Array, name?: string) => {
          if (cmd === Cmd.LINK_CREATE) {
            const v = new DataView(attr.buffer, attr.byteOffset);
            const type = v.getUint32(8, true);
            const errno = type === 46 || type === 47 ? fault(v.getUint32(4, true)) : undefined;
            if (errno !== undefined) throw new SyscallError('bpf(BPF_LINK_CREATE)', errno);
          }
          return target.bpf(cmd, attr, name);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as Kernel;
  const restore = useKernel(faulty);
  resetTcxProbe();
  try {
    fn();
  } finally {
    restore();
    resetTcxProbe();
  }
}

test('auto falls back to clsact only when the kernel has no tcx; other errors are reported', { skip: NO_TCX }, async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    try {
      ns.inside(() => {
        // A kernel without tcx refuses the attach type everywhere (the probe included).
        withTcxFault(() => 22, () => {
          const a = attachTcSync(c.program, { iface: ns.dev, direction: 'ingress' });
          assert.equal(a.mode, 'clsact');
          a.close();
          assert.throws(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'tcx' }), NotSupportedError);
        });
        withTcxFault(() => 95, () => {
          const a = attachTcSync(c.program, { iface: ns.dev, direction: 'egress', mode: 'auto' });
          assert.equal(a.mode, 'clsact');
          a.close();
        });
        // Permission refused: reported, never masked by a fallback.
        withTcxFault(() => 1, () => {
          assert.throws(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress' }), (e: unknown) =>
            e instanceof PermissionError && /CAP_NET_ADMIN/.test(e.message));
        });
        // EINVAL on a kernel that has tcx (the probe on interface 0 gets ENODEV): reported.
        withTcxFault((ifindex) => (ifindex === 0 ? undefined : 22), () => {
          assert.throws(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress' }), (e: unknown) =>
            e instanceof SyscallError && e.errno === 22 && e.message.includes(ns.dev));
        });
      });
      assertNothingLeft(ns, [c.program.id]);
    } finally {
      c.close();
    }
  });
});

test('deleting the interface while a tcx link is attached: close() neither throws nor leaks', { skip: NO_TCX }, async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    try {
      const a = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'tcx' }));
      ns.deleteDev();
      a.close();
      assert.deepEqual(linksOf([c.program.id]), []);
    } finally {
      c.close();
    }
  });
});

test('persist: the pinned tcx link outlives close(); detachAll() detaches and unpins it', { skip: NO_TCX }, async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    try {
      const a = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'tcx', persist: true }));
      assert.ok(a.pinPath?.startsWith(`${LINK_PIN_DIR}/`));
      a.close();
      assert.ok(fs.existsSync(a.pinPath!));
      assert.deepEqual(linksOf([c.program.id]).map((l) => l.id), [a.linkId], 'still attached after close()');
      ns.sendUdp(3);
      await eventually(() => c.hits() >= 3n, 'packets counted by the persistent link');
      const listed = ns.inside(() => listAttachmentsSync(ns.dev));
      assert.deepEqual(listed.map((x) => [x.mode, x.ours, x.pinPath]), [['tcx', true, a.pinPath]]);
      const r = ns.inside(() => detachAllSync({ iface: ns.dev }));
      assert.deepEqual(r.removed.map((x) => [x.mode, x.linkId]), [['tcx', a.linkId]]);
      assert.equal(fs.existsSync(a.pinPath!), false);
      assert.deepEqual(bpfpipeStateFor(ns), []);
      assertNothingLeft(ns, [c.program.id]);
    } finally {
      c.close();
    }
  });
});
