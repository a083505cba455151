/**
 * clsact + cls_bpf direct-action, each test in its own namespace pair: the program runs on real
 * traffic, close() restores tc exactly as it was, foreign filters and their qdisc survive, the qdisc
 * goes only with the last bpfpipe filter on a qdisc bpfpipe created, a vanished interface is fine, and
 * errors are typed and carry the kernel's text.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { attachTcSync, detachAllSync, listAttachmentsSync } from '../../src/attach/index.js';
import { InterfaceError, NetlinkError, UsageError } from '../../src/errors.js';
import { loadObjectSync } from '../../src/kernel/load.js';
import {
  withNetns, tcState, loadCounter, eventually, fdSnapshot, assertNoFdLeak, assertNothingLeft, bpfpipeStateFor, BpffsGuard, type TestNetns,
} from './helpers/index.js';

const fds = fdSnapshot();
after(async () => assertNoFdLeak(fds, 'clsact attach tests'));

interface TcJsonFilter {
  pref: number;
  kind: string;
  options?: { handle: string; bpf_name?: string; 'direct-action'?: boolean; prog?: { id: number } };
}
const filters = (ns: TestNetns, dir: 'ingress' | 'egress') => (tcState(ns)[dir] as TcJsonFilter[]).filter((f) => f.options);

test('clsact: the filter runs on traffic in both directions; close() restores tc exactly', async () => {
  await withNetns(async (ns) => {
    const before = tcState(ns);
    const c = loadCounter();
    try {
      const ing = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact' }));
      assert.equal(ing.mode, 'clsact');
      assert.equal(ing.createdQdisc, true);
      assert.equal(ing.filterName, 'bpfpipe:s_tc');
      const [f] = filters(ns, 'ingress');
      assert.deepEqual(
        { pref: f!.pref, handle: f!.options!.handle, name: f!.options!.bpf_name, da: f!.options!['direct-action'], prog: f!.options!.prog!.id },
        { pref: ing.priority, handle: `0x${ing.handle!.toString(16)}`, name: 'bpfpipe:s_tc', da: true, prog: c.program.id },
      );
      ns.sendUdp(5);
      await eventually(() => c.hits() >= 5n, 'ingress packets counted');
      const afterIngress = c.hits();

      const eg = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'egress', mode: 'clsact' }));
      assert.equal(eg.createdQdisc, false);
      ns.sendUdp(4, { from: 'dev' });
      await eventually(() => c.hits() >= afterIngress + 4n, 'egress packets counted');

      ing.close();
      eg.close();
      ing.close(); // idempotent
      assert.deepEqual(tcState(ns), before);
      const settled = c.hits();
      ns.sendUdp(3);
      ns.sendUdp(3, { from: 'dev' });
      assert.equal(c.hits(), settled, 'detached: the program no longer runs');
      assertNothingLeft(ns, [c.program.id]);
    } finally {
      c.close();
    }
  });
});

test('foreign filters (before and after ours) and their clsact qdisc survive our detach', async () => {
  const bpffs = new BpffsGuard();
  try {
    await withNetns(async (ns) => {
      const c = loadCounter();
      try {
        // Someone else's qdisc and tc-loaded filter (tc pins its maps in /sys/fs/bpf/tc/globals).
        ns.run('tc', ['qdisc', 'add', 'dev', ns.dev, 'clsact']);
        ns.run('tc', ['filter', 'add', 'dev', ns.dev, 'ingress', 'bpf', 'da', 'obj', 'bpf/tc_events.bpf.o', 'sec', 'tc']);
        const a = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact' }));
        assert.equal(a.createdQdisc, false);
        ns.run('tc', ['filter', 'add', 'dev', ns.dev, 'ingress', 'bpf', 'da', 'obj', 'bpf/tc_events.bpf.o', 'sec', 'tc']);
        const withOurs = tcState(ns);
        assert.equal(filters(ns, 'ingress').length, 3);
        // A foreign filter ahead of ours runs first; TC_ACT_OK there ends classification, so send
        // traffic only to check that the hook works, not our count.
        ns.sendUdp(2);

        a.close();
        const now = tcState(ns);
        const notOurs = (s: typeof now) => (s.ingress as TcJsonFilter[]).filter((f) => !f.options || f.options.bpf_name !== 'bpfpipe:s_tc');
        // Exactly our filter (and its priority's empty head) went; the rest is unchanged.
        assert.deepEqual(
          (now.ingress as TcJsonFilter[]).filter((f) => f.options),
          notOurs(withOurs).filter((f) => f.options),
        );
        assert.equal(filters(ns, 'ingress').length, 2);
        assert.deepEqual(now.qdiscs, withOurs.qdiscs, 'the foreign clsact qdisc stays');
        assert.deepEqual(now.egress, withOurs.egress);
        assert.deepEqual(bpfpipeStateFor(ns), []);
      } finally {
        c.close();
      }
    });
  } finally {
    const left = bpffs.restore();
    assert.deepEqual(left, [], 'bpffs entries tc created were removed');
  }
});

test('the qdisc bpfpipe created goes with the last bpfpipe filter; a foreign empty qdisc stays', async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    try {
      const first = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact' }));
      const second = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'egress', mode: 'clsact' }));
      assert.deepEqual([first.createdQdisc, second.createdQdisc], [true, false]);
      first.close(); // a filter is left: the qdisc stays
      assert.ok(tcState(ns).qdiscs.some((q) => (q as { kind: string }).kind === 'clsact'));
      second.close(); // the last one: the qdisc bpfpipe created goes
      assertNothingLeft(ns, [c.program.id]);

      ns.run('tc', ['qdisc', 'add', 'dev', ns.dev, 'clsact']);
      const before = tcState(ns);
      const third = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact', priority: 7, handle: 9 }));
      assert.deepEqual([third.createdQdisc, third.priority, third.handle], [false, 7, 9]);
      third.close();
      assert.deepEqual(tcState(ns), before, 'the empty foreign qdisc stays');
      ns.run('tc', ['qdisc', 'del', 'dev', ns.dev, 'clsact']);
    } finally {
      c.close();
    }
  });
});

test('persist: a clsact attachment stays after close(); detachAll() removes it and the qdisc', async () => {
  await withNetns(async (ns) => {
    const before = tcState(ns);
    const c = loadCounter();
    try {
      const a = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'egress', mode: 'clsact', persist: true }));
      a.close();
      assert.equal(filters(ns, 'egress').length, 1, 'still attached');
      ns.sendUdp(3, { from: 'dev' });
      await eventually(() => c.hits() >= 3n, 'egress packets counted');
      const r = ns.inside(() => detachAllSync({ iface: ns.dev, direction: 'egress' }));
      assert.deepEqual([r.removed.map((x) => [x.mode, x.direction, x.priority, x.handle]), r.qdiscRemoved], [[['clsact', 'egress', a.priority, a.handle]], true]);
      assert.deepEqual(tcState(ns), before);
      assertNothingLeft(ns, [c.program.id]);
    } finally {
      c.close();
    }
  });
});

test('deleting the interface while attached: close() neither throws nor leaks', async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    try {
      const a = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact' }));
      assert.equal(bpfpipeStateFor(ns).length, 1, 'a marker for the qdisc bpfpipe created');
      ns.deleteDev();
      a.close();
      assert.equal(a.closed, true);
      assert.deepEqual(bpfpipeStateFor(ns), [], 'the marker went with the interface');
      assert.deepEqual(ns.inside(() => listAttachmentsSync()), []);
    } finally {
      c.close();
    }
  });
});

test('errors: missing interface, taken priority/handle (with the kernel\'s text), bad options, wrong program type', async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    const xdp = loadObjectSync('bpf/sections.bpf.o', { programs: ['s_xdp'] });
    try {
      ns.inside(() => {
        assert.throws(() => attachTcSync(c.program, { iface: 'bpt-nosuch0', direction: 'ingress', mode: 'clsact' }), (e: unknown) =>
          e instanceof InterfaceError && e.iface === 'bpt-nosuch0' && e.message.includes("'bpt-nosuch0'"));
        const a = attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact', priority: 5, handle: 7 });
        try {
          assert.throws(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact', priority: 5, handle: 7 }), (e: unknown) =>
            e instanceof NetlinkError && e.errno === 17 && e.extack !== undefined && e.message.includes(e.extack));
          assert.equal(listAttachmentsSync(ns.dev).length, 1, 'the failed attach left nothing behind');
        } finally {
          a.close();
        }
        assert.throws(() => attachTcSync(c.program, { iface: ns.dev, direction: 'sideways' as 'ingress' }), UsageError);
        // An `ingress` qdisc holds ffff: where clsact would go: refused with a way out, nothing changed.
        ns.run('tc', ['qdisc', 'add', 'dev', ns.dev, 'ingress']);
        const before = tcState(ns);
        assert.throws(() => attachTcSync(c.program, { iface: ns.dev, direction: 'egress', mode: 'clsact' }), (e: unknown) =>
          e instanceof NetlinkError && /qdisc at ffff: is 'ingress'/.test(e.message));
        assert.deepEqual(tcState(ns), before);
        ns.run('tc', ['qdisc', 'del', 'dev', ns.dev, 'ingress']);
        assert.throws(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact', priority: 0 }), UsageError);
        assert.throws(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'tcx', handle: 3 }), UsageError);
        assert.throws(() => attachTcSync(xdp.program('s_xdp'), { iface: ns.dev, direction: 'ingress' }), /xdp program/);
      });
      assertNothingLeft(ns, [c.program.id]);
    } finally {
      xdp.close();
      c.close();
    }
  });
});
