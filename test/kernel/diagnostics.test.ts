/**
 * Observability against the real kernel: the diagnostics_channel messages of readers (open, every
 * drain, every loss, close) add up to the reader's own counts and to the program's; program loads
 * and verifier refusals are published with the error; tc attach and detach are published.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import {
  loadObjectSync,
  openEvents,
  onlineCpus,
  channels,
  VerifierError,
  type ReaderOpenMessage,
  type ReaderDrainMessage,
  type ReaderLostMessage,
  type ReaderCloseMessage,
  type ProgramLoadMessage,
  type TcAttachMessage,
} from '../../src/index.js';
import { attachTcSync } from '../../src/attach/index.js';
import { fdSnapshot, assertNoFdLeak } from '../support/leaks.js';
import { runOn, counter } from '../support/produce.js';
import { withNetns, loadCounter } from './helpers/index.js';

const fds = fdSnapshot();
after(() => assertNoFdLeak(fds, 'diagnostics tests'));

const cpu = onlineCpus().at(-1)!;

/** Push the messages of `name` into `into` until the function returned is called. */
function listen<T>(name: string, into: T[]): () => void {
  const on = (m: unknown) => into.push(m as T);
  diagnostics_channel.subscribe(name, on);
  return () => diagnostics_channel.unsubscribe(name, on);
}

/** The messages of `name` while `f` runs. */
async function collect<T>(name: string, f: () => Promise<void> | void): Promise<T[]> {
  const got: T[] = [];
  const stop = listen(name, got);
  try {
    await f();
  } finally {
    stop();
  }
  return got;
}

for (const kind of ['perf', 'ringbuf'] as const) {
  test(`${kind} reader: open, drains, losses and close add up to what the program output`, async () => {
    const obj = loadObjectSync('bpf/bench.bpf.o', { pinDir: `/sys/fs/bpf/bpfpipe-test-diag-${process.pid}`, maxEntries: { bench_rb: 64 * 1024 } });
    try {
      const map = obj.map(kind === 'perf' ? 'bench_events' : 'bench_rb');
      const prog = obj.program(kind === 'perf' ? 'perf_bench' : 'rb_bench');
      const opens: ReaderOpenMessage[] = [];
      const drains: ReaderDrainMessage[] = [];
      const losses: ReaderLostMessage[] = [];
      const closes: ReaderCloseMessage[] = [];
      const stops = [
        listen(channels.readerOpen, opens),
        listen(channels.readerDrain, drains),
        listen(channels.readerLost, losses),
        listen(channels.readerClose, closes),
      ];
      let r: Awaited<ReturnType<typeof openEvents>>;
      try {
        r = await openEvents(map, { pagesPerCpu: 16 }); // 64 KiB rings: 5000 outputs must lose
        runOn(cpu, prog, 1000);
        r.read(); // a drain while it runs
        runOn(cpu, prog, 4000);
        await r.close(); // the final drain and drop counters
        while (r.read().count > 0);
      } finally {
        for (const stop of stops) stop();
      }
      assert.equal(opens.length, 1);
      assert.equal(opens[0]!.reader, r);
      assert.equal(opens[0]!.where, 'kernel');
      assert.equal(opens[0]!.kind, kind);
      assert.deepEqual(opens[0]!.slots, kind === 'perf' ? r.slots : []);
      const ok = counter(obj, 'bench_counts', 0);
      const failed = counter(obj, 'bench_counts', 1);
      assert.equal(ok + failed, 5000);
      assert.ok(failed > 0, 'a small ring must lose');
      assert.ok(drains.length >= 2, 'a drain while running and the final one');
      assert.ok(drains.every((d) => d.reader === r && d.kind === kind && d.where === 'kernel'));
      assert.equal(drains[0]!.cause, 'read');
      assert.equal(drains.at(-1)!.cause, 'close');
      const sum = (xs: { events?: number; lost?: number; bytes?: number }[], k: 'events' | 'lost' | 'bytes') => xs.reduce((a, x) => a + (x[k] ?? 0), 0);
      assert.equal(sum(drains, 'events'), ok, 'the drains carried every successful output');
      assert.equal(sum(drains, 'lost'), failed, 'and every failed one as lost');
      assert.equal(sum(drains, 'bytes'), r.stats.bytes);
      assert.equal(sum(losses, 'lost'), failed, 'each loss published once');
      assert.ok(losses.every((l) => l.reader === r && (l.source === 'ring' || l.source === 'counter')));
      if (kind === 'ringbuf') assert.ok(losses.every((l) => l.source === 'counter'), 'ring buffer losses come from the counters');
      assert.equal(closes.length, 1);
      assert.deepEqual(closes[0]!.stats, { ...r.stats });
      assert.equal(closes[0]!.stats.received, ok);
      assert.equal(closes[0]!.stats.lost, failed);
    } finally {
      obj.close();
    }
  });
}

test('a PERF_RECORD_LOST is published as a loss from the ring, with its CPU and slot', async () => {
  const obj = loadObjectSync('bpf/bench.bpf.o', { pinDir: `/sys/fs/bpf/bpfpipe-test-diag-${process.pid}` });
  try {
    const losses = await collect<ReaderLostMessage>(channels.readerLost, async () => {
      // no drop counters: the ring's own loss record is the only source
      await using reader = await openEvents(obj.map('bench_events'), { pagesPerCpu: 1, drops: false, wakeupEvents: 1 });
      const prog = obj.program('perf_bench');
      runOn(cpu, prog, 200); // one page holds fewer: the rest are lost
      reader.read();
      obj.setGlobal('event_size', 16);
      runOn(cpu, prog, 1); // the kernel writes the loss record before this sample
      reader.read();
      await reader.close();
    });
    const failed = counter(obj, 'bench_counts', 1);
    assert.ok(failed > 0);
    assert.deepEqual(losses.map((l) => [l.source, l.cpu, l.slot, l.lost]), [['ring', cpu, cpu, failed]]);
  } finally {
    obj.close();
  }
});

test('program loads are published, with the verifier error when the kernel refuses one', async () => {
  const loads = await collect<ProgramLoadMessage>(channels.programLoad, () => {
    loadObjectSync('bpf/tc_events.bpf.o', { pinDir: `/sys/fs/bpf/bpfpipe-test-diag-${process.pid}` }).close();
    assert.throws(() => loadObjectSync('bpf/rejected.bpf.o', { pinDir: `/sys/fs/bpf/bpfpipe-test-diag-${process.pid}` }), VerifierError);
  });
  const ok = loads.find((l) => l.name === 'tc_events');
  assert.ok(ok, 'tc_events published');
  assert.ok(ok.fd! > 0 && ok.error === undefined && ok.insns > 10 && ok.durationMs >= 0);
  const bad = loads.find((l) => l.error !== undefined);
  assert.ok(bad, 'the refused program published');
  assert.ok(bad.error instanceof VerifierError && bad.error.log.length > 0);
  assert.equal(bad.fd, undefined);
});

test('tc attach and detach are published', async () => {
  await withNetns(async (ns) => {
    const c = loadCounter();
    try {
      let id = 0;
      const attached = await collect<TcAttachMessage>(channels.tcAttach, async () => {
        const detached = await collect<TcAttachMessage>(channels.tcDetach, () => {
          const a = ns.inside(() => attachTcSync(c.program, { iface: ns.dev, direction: 'ingress' }));
          id = a.ifindex;
          a.close();
          a.close(); // idempotent: published once
        });
        assert.equal(detached.length, 1);
        assert.equal(detached[0]!.attachment.iface, ns.dev);
      });
      assert.equal(attached.length, 1);
      const a = attached[0]!.attachment;
      assert.deepEqual([a.iface, a.ifindex, a.direction, a.program.name, a.persist], [ns.dev, id, 'ingress', c.program.name, false]);
      assert.ok(a.mode === 'tcx' || a.mode === 'clsact');
    } finally {
      c.close();
    }
  });
});
