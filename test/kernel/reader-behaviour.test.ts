/**
 * Event pipe behaviour against the real kernel: BPF_F_CURRENT_CPU samples carry the right CPU,
 * channel readers get only their channel, samples decode from BTF with their appended packet bytes,
 * ordered readers merge CPUs by time, slots are claimed, and a reader closes promptly and cleanly.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { loadObjectSync, openEvents, onlineCpus, BpfpipeError, type LoadedObject, type Sample } from '../../src/index.js';
import { fdSnapshot, assertNoFdLeak, uniquePinDir, removeTree } from '../support/leaks.js';
import { runOn, udpPacket, counter } from '../support/produce.js';

const fds = fdSnapshot();
const pinDir = uniquePinDir('behaviour');
after(async () => {
  removeTree(pinDir);
  await assertNoFdLeak(fds, 'reader behaviour tests');
});

const cpus = onlineCpus();

function tcEvents(): LoadedObject {
  return loadObjectSync('bpf/tc_events.bpf.o', { pinDir });
}

test('BPF_F_CURRENT_CPU samples come from the ring of the CPU the program ran on', async () => {
  const obj = tcEvents();
  try {
    await using reader = await openEvents(obj.map('events'), { struct: 'event' });
    for (const cpu of cpus) runOn(cpu, obj.program('tc_events'), 10 + cpu, udpPacket(80));
    const batch = reader.read();
    const perCpu = new Map<number, number>();
    for (let i = 0; i < batch.length; i++) {
      perCpu.set(batch.cpu(i), (perCpu.get(batch.cpu(i)) ?? 0) + 1);
      assert.equal(batch.slot(i), batch.cpu(i), 'channel 0: slot == cpu');
    }
    assert.deepEqual([...perCpu].sort(), cpus.map((c) => [c, 10 + c]));
    await reader.close();
  } finally {
    obj.close();
  }
});

test('channel readers get only their channel (slots k*ncpu + cpu)', async () => {
  const obj = tcEvents();
  try {
    await using ch0 = await openEvents(obj.map('events'), { channel: 0, struct: 'event' });
    await using ch1 = await openEvents(obj.map('events'), { channel: 1, struct: 'event' });
    await using ch5 = await openEvents(obj.map('events'), { channel: 5, struct: 'event' });
    assert.deepEqual(ch1.slots, cpus.map((c) => cpus.length + c));
    const prog = obj.program('tc_events');
    for (const cpu of cpus) {
      runOn(cpu, prog, 3, udpPacket(9000)); // channel 0
      runOn(cpu, prog, 2, udpPacket(9001)); // channel 1
      runOn(cpu, prog, 1, udpPacket(9005)); // channel 5
    }
    const got = (r: typeof ch0) => r.read().toArray().filter((e): e is Sample => e.lost === undefined);
    const a = got(ch0);
    const b = got(ch1);
    const c = got(ch5);
    assert.equal(a.length, 3 * cpus.length);
    assert.equal(b.length, 2 * cpus.length);
    assert.equal(c.length, cpus.length);
    assert.ok(a.every((e) => e.event!.dport === 9000 && e.event!.channel === 0));
    assert.ok(b.every((e) => e.event!.dport === 9001 && e.slot === cpus.length + e.cpu));
    assert.ok(c.every((e) => e.event!.dport === 9005 && e.slot === 5 * cpus.length + e.cpu));
    // Channels that do not exist are refused with the reason.
    await assert.rejects(openEvents(obj.map('events'), { channel: 128 }), (e) => e instanceof BpfpipeError && /channel 128 does not exist/.test(e.message));
    for (const r of [ch0, ch1, ch5]) await r.close();
  } finally {
    obj.close();
  }
});

test('samples decode from BTF; bytes after the struct are the appended packet', async () => {
  const obj = loadObjectSync('bpf/decode_types.bpf.o', { pinDir });
  try {
    await using reader = await openEvents(obj.map('samples'), { struct: true });
    const pkt = udpPacket(4242);
    runOn(cpus[0]!, obj.program('emit_sample'), 1, pkt);
    const [s] = reader.read().toArray() as Sample[];
    assert.ok(s);
    assert.deepEqual(s.event, {
      u8v: 250, s8v: -5, u16v: 65000, s16v: -30000, u32v: 4000000000, s32v: -2000000000,
      u64v: 0xfedcba9876543210n, s64v: -9000000000000000000n, small64: 123456789n,
      flag_a: 1, flag_b: 5, field_c: 0xabc, signed_d: -100, color: 'BLUE', name: 'hello',
      ports: [80, 443, 8080, 65535], where: { x: -1, y: 2 }, path: [{ x: 3, y: -4 }, { x: 5, y: -6 }],
      u: { as_u32: 0x04030201, as_bytes: [1, 2, 3, 4] }, ok: true, _pad: [0, 0, 0],
    });
    // 32 packet bytes appended by BPF_F_CTXLEN_MASK, then the kernel's padding.
    assert.deepEqual([...s.packet!.subarray(0, 32)], [...pkt.subarray(0, 32)]);
    assert.ok(s.packet!.byteLength - 32 < 8);
    await reader.close();
  } finally {
    obj.close();
  }
});

test('ordered: samples of all CPUs come out in timestamp order', { skip: cpus.length < 2 }, async () => {
  const obj = tcEvents();
  try {
    await using reader = await openEvents(obj.map('events'), { ordered: { windowMs: 1 }, struct: 'event' });
    const prog = obj.program('tc_events');
    for (let round = 0; round < 5; round++) for (const cpu of cpus) runOn(cpu, prog, 20, udpPacket(80));
    await new Promise((r) => setTimeout(r, 20));
    const samples = reader.read().toArray() as Sample[];
    assert.equal(samples.length, 5 * 20 * cpus.length);
    for (let i = 1; i < samples.length; i++) assert.ok(samples[i - 1]!.ts! <= samples[i]!.ts!, `order at ${i}`);
    // The global sequence number the program writes agrees with the time order.
    const seqs = samples.map((s) => s.event!.seq as bigint);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => (x < y ? -1 : 1)));
    await reader.close();
  } finally {
    obj.close();
  }
});

test('slots are claimed: a second reader of the same slots gets a clear error', async () => {
  const obj = tcEvents();
  try {
    await using first = await openEvents(obj.map('events'));
    await assert.rejects(openEvents(obj.map('events')), (e) => e instanceof BpfpipeError && e.code === 'EBPF_BUSY' && /already read/.test(e.message));
    await first.close();
    await using again = await openEvents(obj.map('events'));
    await again.close();
  } finally {
    obj.close();
  }
});

test('claim files of killed readers are swept; a file another process locks is kept', async () => {
  const dir = '/run/bpfpipe/claims';
  fs.mkdirSync(dir, { recursive: true });
  const stale = `${dir}/map-${0x7ffffff0}`; // an id no map has: what a SIGKILLed reader leaves
  fs.writeFileSync(stale, '');
  // A live claim of another process: a child holding a lock on its own file.
  const live = `${dir}/map-${0x7ffffff1}`;
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `
    import * as fs from 'node:fs';
    import { tryLockRange } from './src/sys/index.ts';
    const fd = fs.openSync('${live}', fs.constants.O_RDWR | fs.constants.O_CREAT);
    if (!tryLockRange(fd, 3, 1).ok) process.exit(3);
    console.log('locked');
    setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (c) => reject(new Error(`lock holder exited with ${c}`)));
    });
    const obj = tcEvents();
    try {
      await using reader = await openEvents(obj.map('events'));
      assert.equal(fs.existsSync(stale), false, 'stale claim file swept');
      assert.equal(fs.existsSync(live), true, 'a claim file another process locks stays');
      await reader.close();
    } finally {
      obj.close();
    }
  } finally {
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    fs.rmSync(stale, { force: true });
    fs.rmSync(live, { force: true });
  }
});

test('close() ends a waiting loop at once, with the events still in the rings', async () => {
  const obj = tcEvents();
  try {
    await using reader = await openEvents(obj.map('events'), { flushMs: 60_000 });
    runOn(cpus[0]!, obj.program('tc_events'), 5, udpPacket(80));
    let n = 0;
    const loop = (async () => {
      for await (const e of reader) if (e.lost === undefined) n++;
    })();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await reader.close();
    await loop;
    assert.ok(Date.now() - t0 < 1000, 'closed within 1 s');
    assert.equal(n, 5, 'the loop got every event, including the final drain');
  } finally {
    obj.close();
  }
});

/**
 * A ring buffer whose producer sends no wake-ups (so only the reader's timer drains it), read with
 * `flushMs` while another thread produces 20 events every 0.1 ms for 600 ms: the sorted gaps between
 * the drains after the first `skip` (having asserted that every event arrived, the last ones in the
 * final drain).
 */
async function drainGapsWithoutWakeups(flushMs: number, skip: number): Promise<number[]> {
  const obj = loadObjectSync('bpf/bench.bpf.o', { pinDir });
  const prog = `${pinDir}/rb_bench_producer`;
  try {
    obj.setGlobal('rb_flags', 1n); // BPF_RB_NO_WAKEUP: only the reader's timer drains the ring
    obj.program('rb_bench').pin(prog);
    await using reader = await openEvents(obj.map('bench_rb'), { flushMs });
    const worker = new Worker(new URL('./helpers/worker-boot.mjs', import.meta.url), {
      workerData: { file: new URL('./helpers/worker-producer.ts', import.meta.url).href, pin: prog, cpu: cpus.at(-1), ms: 600, everyUs: 100, repeat: 20 },
    });
    let done: { runs?: number; error?: string } | undefined;
    worker.once('message', (m) => {
      done = m;
      void reader.close(); // the loop ends after the final drain
    });
    const at: number[] = [];
    let received = 0;
    for await (const b of reader.batches()) {
      at.push(performance.now());
      received += b.length;
    }
    at.pop(); // the final drain, at close
    await worker.terminate();
    assert.equal(done!.error, undefined);
    assert.equal(received, done!.runs, 'every event, the last ones in the final drain');
    return at.slice(skip + 1).map((t, i) => t - at[skip + i]!).sort((a, b) => a - b);
  } finally {
    obj.close();
    fs.rmSync(prog, { force: true });
  }
}

test('flushMs: 1 drains a ring buffer whose producer sends no wake-ups every millisecond (timerfd, not libuv\'s millisecond timers)', async () => {
  // once the producer runs: a 1 ms period (libuv's timers gave 1.16-1.19 ms)
  const gaps = await drainGapsWithoutWakeups(1, 10);
  const median = gaps[gaps.length >> 1]!;
  assert.ok(gaps.length > 300, `${gaps.length} drains`);
  assert.ok(median > 0.9 && median < 1.1, `median gap ${median.toFixed(3)} ms`);
});

test('flushMs: 50 polls traffic too slow for wake-ups every tenth of it (5 ms), not every millisecond', async () => {
  // after the first drains (the 50 ms watchdog finds the traffic, then the poll takes over)
  const gaps = await drainGapsWithoutWakeups(50, 2);
  const median = gaps[gaps.length >> 1]!;
  assert.ok(gaps.length > 60, `${gaps.length} drains`);
  assert.ok(median > 4.5 && median < 5.5, `median gap ${median.toFixed(3)} ms`);
});

test('an AbortSignal closes the reader', async () => {
  const obj = tcEvents();
  try {
    const ac = new AbortController();
    await using reader = await openEvents(obj.map('events'), { signal: ac.signal, flushMs: 60_000 });
    setTimeout(() => ac.abort(), 50);
    const t0 = Date.now();
    for await (const _ of reader.batches()) assert.fail('no events were produced');
    assert.ok(Date.now() - t0 < 1000);
    assert.ok(reader.isClosed);
  } finally {
    obj.close();
  }
});

test('a nearly full ring is read in bites no larger than its free space, which double as space comes back', async () => {
  const obj = loadObjectSync('bpf/bench.bpf.o', { pinDir });
  try {
    obj.setGlobal('rb_flags', 1n); // no wake-ups: the ring is read when the loop starts
    await using reader = await openEvents(obj.map('bench_rb'), { flushMs: 60_000 });
    const size = 4 * 1024 * 1024;
    const record = 72; // 64 bytes of event after the 8-byte header
    const n = 54_000; // 3.9 MB of the 4 MiB
    runOn(cpus[0]!, obj.program('rb_bench'), n);
    assert.equal(counter(obj, 'bench_counts', 1), 0, 'the ring took every event');
    const sizes: number[] = [];
    let total = 0;
    for await (const b of reader.batches()) {
      sizes.push(b.length);
      if ((total += b.length) >= n) break;
    }
    assert.equal(total, n);
    // the first bite is the free space (the records that reach it), not half the ring (29,128 records)
    const free = size - n * record;
    assert.equal(sizes[0], Math.ceil(free / record));
    // each bite's release frees it again: the next is the space free then, up to half the ring
    for (let i = 1, taken = sizes[0]!; i < sizes.length - 1; taken += sizes[i++]!) {
      const pending = (n - taken) * record;
      assert.equal(sizes[i], Math.ceil(Math.min(size / 2, size - pending) / record), `bite ${i} of ${sizes.join(', ')}`);
    }
  } finally {
    obj.close();
  }
});

test('leased batches refuse use after release; copies stay valid', async () => {
  const obj = tcEvents();
  try {
    await using reader = await openEvents(obj.map('events'), { struct: 'event' });
    runOn(cpus[0]!, obj.program('tc_events'), 3, udpPacket(80));
    const it = reader.batches();
    const first = (await it.next()).value!;
    assert.ok(first.leased);
    const kept = first.data(0);
    assert.ok(!first.leased, 'asking for bytes copied the batch out of the ring and handed the ring memory back');
    const keptEvent = first.event(0);
    runOn(cpus[0]!, obj.program('tc_events'), 1, udpPacket(81));
    await it.next(); // releases the first batch
    assert.throws(() => first.data(0), (e) => e instanceof BpfpipeError && e.code === 'EBPF_CLOSED');
    assert.equal(kept.byteLength > 0, true);
    assert.equal(keptEvent!.dport, 80);
    await it.return(undefined);
    await reader.close();
  } finally {
    obj.close();
  }
});

test('refused up front: rings smaller than one event, events larger than a perf record, wrong map types', async () => {
  const obj = tcEvents();
  try {
    await assert.rejects(
      openEvents(obj.map('events'), { pagesPerCpu: 3 }),
      (e) => e instanceof BpfpipeError && e.code === 'EBPF_USAGE' && /power of two/.test(e.message),
    );
    await assert.rejects(
      openEvents(obj.map('events'), { decoder: { size: 70000, decode: () => ({}) } }),
      (e) => e instanceof BpfpipeError && /larger than a perf record/.test(e.message),
    );
    await assert.rejects(
      openEvents(obj.map('events'), { pagesPerCpu: 1, decoder: { size: 5000, decode: () => ({}) } }),
      (e) => e instanceof BpfpipeError && /smaller than one/.test(e.message),
    );
    await assert.rejects(openEvents(obj.map('counters')), (e) => e instanceof BpfpipeError && e.code === 'EBPF_BAD_INPUT' && /percpu_array/.test(e.message));
  } finally {
    obj.close();
  }
});
