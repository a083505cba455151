/**
 * Cleanup on every path, each test in its own namespace pair: detachAll() after a SIGKILLed attacher
 * removes its clsact filters and the qdisc it created (and nothing else); SIGTERM and SIGINT with
 * cleanupOnSignals() detach before the process dies of the signal; listAttachments() tells ours from
 * others' on every interface, and detachAll() leaves the others alone.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { attachTcSync, cleanupOnSignals, detachAllSync, listAttachmentsSync } from '../../src/attach/index.js';
import { Rtnl } from '../../src/attach/rtnl.js';
import { createTcxLink } from '../../src/kernel/link.js';
import { kernel } from '../../src/sys/index.js';
import { clsactParent, encodeBpfFilterAdd } from '../../src/netlink/index.js';
import {
  withNetns, tcState, loadCounter, fdSnapshot, assertNoFdLeak, assertNothingLeft, startAttachChild, linksOf, NO_TCX,
} from './helpers/index.js';

const fds = fdSnapshot();
after(async () => assertNoFdLeak(fds, 'cleanup tests'));

/** A foreign classic-BPF filter (no maps, no pins): tc's "bpf bytecode" with a pass-all program. */
const foreignFilter = (dev: string, dir: string, prio: number) => ['filter', 'add', 'dev', dev, dir, 'prio', String(prio), 'bpf', 'bytecode', '1,6 0 0 4294967295,', 'flowid', '1:1'];

test('detachAll after a SIGKILLed clsact attacher removes its filters and qdisc, and nothing else', async () => {
  await withNetns(async (ns) => {
    const before = tcState(ns);
    const child = await startAttachChild(ns, { dirs: 'ingress,egress', mode: 'clsact' });
    const progIds = child.attached.map((a) => a.programId);
    child.child.kill('SIGKILL');
    assert.equal((await child.exited).signal, 'SIGKILL');
    // The kernel keeps the filters of a dead process; the child's "bpfpipe:" names mark them.
    const listed = ns.inside(() => listAttachmentsSync(ns.dev));
    assert.deepEqual(listed.map((x) => [x.mode, x.direction, x.ours, x.filterName]).sort(), [
      ['clsact', 'egress', true, 'bpfpipe:s_tc'], ['clsact', 'ingress', true, 'bpfpipe:s_tc'],
    ]);
    // Someone else's filter arrives on the same qdisc meanwhile and must survive.
    ns.run('tc', foreignFilter(ns.dev, 'ingress', 3));
    const r = ns.inside(() => detachAllSync({ iface: ns.dev }));
    assert.equal(r.removed.length, 2);
    assert.equal(r.qdiscRemoved, false, 'a foreign filter is still on the qdisc');
    const s = tcState(ns);
    assert.equal((s.ingress as { options?: unknown }[]).filter((f) => f.options).length, 1, 'the foreign filter stays');
    assert.deepEqual(s.egress, []);
    // Once the foreign filter is gone, detachAll removes the qdisc the dead process created.
    ns.run('tc', ['filter', 'del', 'dev', ns.dev, 'ingress', 'prio', '3']);
    const r2 = ns.inside(() => detachAllSync({ iface: ns.dev }));
    assert.deepEqual([r2.removed.length, r2.qdiscRemoved], [0, true]);
    assert.deepEqual(tcState(ns), before);
    assertNothingLeft(ns, progIds);
  });
});

for (const [signal, mode] of [['SIGTERM', 'clsact'], ['SIGINT', 'clsact'], ['SIGTERM', 'tcx']] as const) {
  test(`${signal} with cleanupOnSignals: a ${mode} attacher detaches, then dies of the signal`, { skip: mode === 'tcx' && NO_TCX }, async () => {
    await withNetns(async (ns) => {
      const before = tcState(ns);
      const child = await startAttachChild(ns, { dirs: 'ingress,egress', mode, signals: true });
      assert.deepEqual(child.attached.map((a) => a.mode), [mode, mode]);
      assert.equal(ns.inside(() => listAttachmentsSync(ns.dev)).length, 2);
      child.child.kill(signal);
      const exit = await child.exited;
      assert.equal(exit.signal, signal, `exit ${JSON.stringify(exit)}: ${child.stderr()}`);
      assert.equal(child.stderr(), '');
      assert.deepEqual(tcState(ns), before);
      assertNothingLeft(ns, child.attached.map((a) => a.programId));
    });
  });
}

test('cleanupOnSignals: release() removes the handlers; a handled signal closes once', async () => {
  const n = process.listenerCount('SIGTERM');
  let closed = 0;
  const guard = cleanupOnSignals({ close: () => void closed++ });
  assert.equal(process.listenerCount('SIGTERM'), n + 1);
  guard.release();
  guard.release();
  assert.equal(process.listenerCount('SIGTERM'), n);
  // With another listener present the signal is not raised again: that listener owns the outcome.
  const other = () => {};
  process.on('SIGUSR2', other);
  cleanupOnSignals({ close: () => void closed++ }, { signals: ['SIGUSR2'] });
  process.emit('SIGUSR2', 'SIGUSR2');
  process.emit('SIGUSR2', 'SIGUSR2');
  assert.equal(closed, 1);
  assert.equal(process.listenerCount('SIGUSR2'), 1);
  await new Promise((r) => setTimeout(r, 20)); // the close has settled: still alive, nothing raised
  process.off('SIGUSR2', other);
});

test('listAttachments on every interface tells ours from others\'; detachAll leaves others alone', { skip: NO_TCX }, async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    const other = loadCounter('s_tc_ingress'); // a tcx hook takes each program once
    let foreignLink = -1;
    try {
      await ns.inside(async () => {
        using ours1 = attachTcSync(c.program, { iface: ns.dev, direction: 'ingress', mode: 'clsact' });
        using ours2 = attachTcSync(c.program, { iface: ns.dev, direction: 'egress', mode: 'tcx' });
        // Others: a tcx link this test holds directly, and a cls_bpf filter with a foreign name.
        foreignLink = createTcxLink(other.program.fd, ours1.ifindex, 47);
        using rtnl = new Rtnl();
        rtnl.request((seq) => encodeBpfFilterAdd({ ifindex: ours1.ifindex, parent: clsactParent('ingress'), priority: 2, handle: 1, fd: c.program.fd, name: 'other:s_tc' }, { seq }),
          { dump: false, what: 'adding a foreign filter' });

        const all = listAttachmentsSync();
        assert.ok(all.every((x) => x.iface === ns.dev), 'only the test interface has tc programs in this namespace');
        const rows = all.map((x) => [x.mode, x.direction, x.ours, x.filterName ?? x.linkId]);
        assert.deepEqual(rows.sort(), [
          ['clsact', 'ingress', false, 'other:s_tc'],
          ['clsact', 'ingress', true, 'bpfpipe:s_tc'],
          ['tcx', 'egress', false, linksOf([other.program.id])[0]!.id],
          ['tcx', 'egress', true, ours2.linkId],
        ].sort());
        const progOf = (x: (typeof all)[number]) => (x.mode === 'tcx' && !x.ours ? other.program : c.program);
        assert.ok(all.every((x) => x.program.id === progOf(x).id && x.program.name === progOf(x).name && x.program.tag === progOf(x).tag));

        const r = detachAllSync({ iface: ns.dev });
        assert.deepEqual(r.removed.map((x) => [x.mode, x.direction]).sort(), [['clsact', 'ingress'], ['tcx', 'egress']]);
        assert.equal(ours1.closed && ours2.closed, true, 'live attachments were closed');
        assert.deepEqual(listAttachmentsSync(ns.dev).map((x) => [x.mode, x.ours]).sort(), [['clsact', false], ['tcx', false]]);
        assert.equal(r.qdiscRemoved, false);
      });
      kernel().close(foreignLink);
      foreignLink = -1;
      ns.run('tc', ['filter', 'del', 'dev', ns.dev, 'ingress', 'prio', '2']);
      // The qdisc was created by bpfpipe (ours1): now empty, detachAll removes it.
      assert.equal(ns.inside(() => detachAllSync({ iface: ns.dev })).qdiscRemoved, true);
      assertNothingLeft(ns, [c.program.id, other.program.id]);
    } finally {
      if (foreignLink >= 0) kernel().close(foreignLink);
      other.close();
      c.close();
    }
  });
});
