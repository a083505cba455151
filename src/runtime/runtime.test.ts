/**
 * The Runtime over the project's real objects, without a kernel: the compiled path (inline map lookups,
 * the clock read once per run, the reader's columns) against the interpreter, and map semantics a
 * program can observe (per-CPU copies, hash entries deleted from user space between runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ObjectSpec, MapType, ProgType } from '../index.js';
import { Runtime } from './runtime.js';
import { packetCorpus } from '../../test/support/packets.js';
import type { RuntimeMap, RingbufMap } from './maps.js';
import { Memory } from './memory.js';
import { RuntimeFault } from '../errors.js';
import { compile } from './compiler.js';
import type { Kind } from './codegen-kinds.js';
import type { Linked } from './interpreter.js';
import { I, legacyMapClassifier } from '../elf/test-support/elf-builder.js';

const corpus = packetCorpus();
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : 'none');

function mapDump(rt: Runtime): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of rt.spec.maps) {
    if (![MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH].includes(m.type as never)) continue;
    const map = rt.map(m.name);
    out[m.name] = map.keys().map((k) => `${hex(k)}=${(map.lookupPerCpu(k) ?? []).map(hex).join('/')}`);
  }
  return out;
}

/** Every run of `prog` over the corpus (alternating CPUs 0 and 1, fixed clock): return values, records, maps. */
async function observe(file: string, prog: string, mode: 'compiled' | 'interpreter', force?: Kind) {
  const rt = Runtime.load(fs.readFileSync(file), { programs: [prog], ncpus: 2, mode });
  if (force !== undefined) {
    // the same program compiled with every access taken for one kind of region (codegen-kinds)
    const p = rt.program(prog) as unknown as { linked: Linked; compiled: unknown };
    p.compiled = compile(p.linked, force);
  }
  const events = rt.spec.maps.filter((m) => m.type === MapType.PERF_EVENT_ARRAY || m.type === MapType.RINGBUF);
  const readers = events.map((m) => rt.openEvents(m.name, m.type === MapType.PERF_EVENT_ARRAY ? { slots: [0, 1] } : {}));
  const retvals: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const [i, p] of corpus.entries()) retvals.push(rt.program(prog).run(p.data, { cpu: (i + round) & 1, tsNs: BigInt(1000 * i + round) }).retval);
  }
  const records: string[] = [];
  for (const r of readers) {
    await r.close();
    for await (const b of r.batches()) for (const e of b.toArray()) records.push(e.lost !== undefined ? `lost ${e.lost}` : `${e.cpu}/${e.slot} ${e.ts} ${hex(e.data)}`);
  }
  return { retvals, records, maps: mapDump(rt) };
}

test('the compiled path equals the interpreter on every tc program in bpf/ (return values, records with times, maps), also with the kinds of its accesses forced', async () => {
  let programs = 0;
  for (const f of fs.readdirSync('bpf').filter((n) => n.endsWith('.o') && n !== 'rejected.bpf.o').sort()) {
    const spec = ObjectSpec.parse(fs.readFileSync(`bpf/${f}`));
    for (const p of spec.programs) {
      if (p.type !== ProgType.SCHED_CLS && p.type !== ProgType.SCHED_ACT) continue;
      let compiled;
      try {
        compiled = await observe(`bpf/${f}`, p.name, 'compiled');
      } catch (e) {
        if ((e as { code?: string }).code === 'EBPF_NOTSUP') continue;
        throw e;
      }
      const interpreted = await observe(`bpf/${f}`, p.name, 'interpreter');
      assert.deepEqual(compiled, interpreted, `${f} ${p.name}`);
      // what each access is taken to go through only picks the inline path tried: any kind, right
      // or wrong, gives the same results (the checked path catches the rest)
      for (const force of ['any', 'stack', 'ctx', 'other'] as const) assert.deepEqual(await observe(`bpf/${f}`, p.name, 'compiled', force), interpreted, `${f} ${p.name}, every access taken for '${force}'`);
      programs++;
    }
  }
  assert.ok(programs >= 13, `ran ${programs} programs`);
});

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64le = (b: Uint8Array | undefined) => (b ? new DataView(b.buffer, b.byteOffset).getBigUint64(0, true) : undefined);

for (const mode of ['compiled', 'interpreter'] as const) {
  test(`${mode}: a hash element deleted from user space between runs is gone for the program (s_tc counts again from 1)`, () => {
    const rt = Runtime.load(fs.readFileSync('bpf/sections.bpf.o'), { programs: ['s_tc'], mode });
    const hits: RuntimeMap = rt.map('hits');
    const run = () => rt.program('s_tc').run(corpus[0]!.data);
    run();
    run();
    assert.equal(u64le(hits.lookup(u32(0))), 2n);
    assert.equal(hits.delete(u32(0)), 0);
    assert.equal(hits.lookup(u32(0)), undefined);
    run();
    assert.equal(u64le(hits.lookup(u32(0))), 1n, 'the lookup missed, the update inserted');
    run();
    assert.equal(u64le(hits.lookup(u32(0))), 2n, 'the new element is found');
    hits.update(u32(0), new Uint8Array(new BigUint64Array([40n]).buffer), 0, -1);
    run();
    assert.equal(u64le(hits.lookup(u32(0))), 41n, 'a value written from user space is what the program adds to');
  });

  test(`${mode}: per-CPU array counters are per CPU (tc_events counts SEEN on the CPU it runs on)`, () => {
    const rt = Runtime.load(fs.readFileSync('bpf/tc_events.bpf.o'), { programs: ['tc_events'], ncpus: 2, mode });
    for (let i = 0; i < 5; i++) rt.program('tc_events').run(corpus[i % corpus.length]!.data, { cpu: 1 });
    for (let i = 0; i < 2; i++) rt.program('tc_events').run(corpus[i]!.data, { cpu: 0 });
    const seen = rt.map('counters').lookupPerCpu(u32(0))!.map(u64le);
    assert.deepEqual(seen, [2n, 5n]);
    // no reader: every output failed, counted as such on its CPU
    assert.deepEqual(rt.map('counters').lookupPerCpu(u32(2))!.map(u64le), [2n, 5n]);
  });
}

test('without tsNs the clock is read once per run: the event time and the output time agree, and runs go forward', async () => {
  const rt = Runtime.load(fs.readFileSync('bpf/tc_events.bpf.o'), { programs: ['tc_events'], ncpus: 1 });
  const r = rt.openEvents('events', { struct: 'event', slots: Array.from({ length: 64 }, (_, i) => i) });
  for (let i = 0; i < 3; i++) rt.program('tc_events').run(corpus[i]!.data);
  await r.close();
  const ts: bigint[] = [];
  for await (const e of r) {
    assert.ok(!('lost' in e), 'nothing lost');
    const ev = e.event as { ts: bigint };
    assert.equal(ev.ts, e.ts, 'bpf_ktime_get_ns equals the record time');
    ts.push(e.ts!);
  }
  assert.equal(ts.length, 3);
  assert.ok(ts[0]! < ts[1]! && ts[1]! < ts[2]!, `times go forward: ${ts.join(', ')}`);
});

test('a submitted ring buffer record faults until a later reservation brings its region back (zeroed)', async () => {
  const rt = Runtime.load(fs.readFileSync('bpf/ringbuf_events.bpf.o'), { programs: ['rb_reserve'] });
  const r = rt.openEvents('rb');
  rt.program('rb_reserve').run(corpus[0]!.data);
  const rb = rt.map('rb') as RingbufMap;
  const spare = [...rb.spare.values()].flat();
  assert.equal(spare.length, 1, 'the record went back to the spare list');
  const region = spare[0]!;
  const mem = (rt as unknown as { mem: Memory }).mem;
  assert.equal(region.live, false);
  assert.throws(() => mem.load(Memory.address(region), 8, 7), (e) => e instanceof RuntimeFault && /instruction 7: load of 8 bytes .* no region/.test(e.message));
  assert.throws(() => mem.storeP(region.id, 0, 0, 4, 1, 0, 9), (e) => e instanceof RuntimeFault && /instruction 9: store/.test(e.message));
  assert.equal(mem.regionP(region.id), undefined);
  rt.program('rb_reserve').run(corpus[1]!.data);
  assert.deepEqual([...rb.spare.values()].flat(), [region], 'the next reservation had the same region, and gave it back');
  await r.close();
  const records: Uint8Array[] = [];
  for await (const b of r.batches()) for (const e of b.toArray()) if (e.lost === undefined) records.push(e.data.slice());
  assert.equal(records.length, 2);
  // both records are whole (len, caplen, packet bytes of their own packet): the reuse did not mix them
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
  assert.deepEqual(records.map((b) => dv(b).getUint32(8, true)), [corpus[0]!.data.length, corpus[1]!.data.length]);
  assert.deepEqual(records.map((b) => Buffer.from(b.subarray(32, 32 + 14)).toString('hex')), [0, 1].map((i) => Buffer.from(corpus[i]!.data.subarray(0, 14)).toString('hex')));
});

test('reader batches are leased: the next batch writes into the same slabs, the samples given away were copied out first, a released batch refuses access', async () => {
  const rt = Runtime.load(fs.readFileSync('bpf/ringbuf_events.bpf.o'), { programs: ['rb_reserve'] });
  const r = rt.openEvents('rb');
  const it = r.batches()[Symbol.asyncIterator]();
  const prog = rt.program('rb_reserve');
  const kept: { data: Uint8Array; packet: number }[] = [];
  const slabsSeen: ArrayBufferLike[] = [];
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 4; i++) prog.run(corpus[(round * 4 + i) % corpus.length]!.data);
    const b = (await it.next()).value!;
    assert.equal(b.length, 4);
    assert.equal(b.leased, true);
    slabsSeen.push(b.raw(0).buf.buffer);
    for (let i = 0; i < b.length; i++) kept.push({ data: b.data(i), packet: (round * 4 + i) % corpus.length });
    if (round === 0) {
      // taking the next batch releases this one
      for (let i = 0; i < 2; i++) prog.run(corpus[0]!.data);
      const next = (await it.next()).value!;
      assert.throws(() => b.data(0), /released/);
      for (let i = 0; i < next.length; i++) kept.push({ data: next.data(i), packet: 0 });
    }
  }
  assert.equal(new Set(slabsSeen).size, 1, 'every batch read the same slab: given back and written again');
  // what was given away is intact: each record's len field and packet bytes are its own packet's
  for (const k of kept) {
    const dv = new DataView(k.data.buffer, k.data.byteOffset);
    assert.equal(dv.getUint32(8, true), corpus[k.packet]!.data.length);
    assert.equal(Buffer.from(k.data.subarray(32, 46)).toString('hex'), Buffer.from(corpus[k.packet]!.data.subarray(0, 14)).toString('hex'));
  }
  await r.close();
  await it.return(undefined);
});

/**
 * A classifier that outputs 8 bytes at address 0x1234 (no region) to perf event array 'ev' (2 slots)
 * with `flags`, r1 the context (or 0), and returns the helper's result (iproute2 legacy maps,
 * hand-built ELF).
 */
function badPointerOutput(flags = 0xffffffffn, r1 = 'ctx' as 'ctx' | 'zero'): Uint8Array {
  return legacyMapClassifier([
    ...I.ldImm64(2, 0), // r2 = &ev (relocated)
    ...I.ld64(3, flags),
    [0xb7, 4, 0, 0, 0x1234], // r4 = a scalar, not a pointer
    [0xb7, 5, 0, 0, 8],
    ...(r1 === 'zero' ? [I.movImm(1, 0)] : []),
    I.call(25), // bpf_perf_event_output(r1, ...)
    I.exit(),
  ], { name: 'ev', type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2 }, 0);
}

for (const mode of ['compiled', 'interpreter'] as const) {
  test(`${mode}: a perf output to a slot nobody reads fails with ENOENT before the event is read (as in the kernel); with a reader, a bad event pointer faults`, async () => {
    const rt = Runtime.load(badPointerOutput(), { mode });
    // warm (the compiled path's inline forms), then the same again
    for (let i = 0; i < 20; i++) assert.equal(rt.program('cls').run(corpus[0]!.data).retval, -2, 'ENOENT');
    const r = rt.openEvents('ev');
    assert.throws(() => rt.program('cls').run(corpus[0]!.data), (e: unknown) => e instanceof RuntimeFault && e.insn === 6 && /instruction 6/.test(e.message));
    await r.close();
    assert.equal(rt.program('cls').run(corpus[0]!.data).retval, -2, 'ENOENT again once the reader is gone');
  });
}

for (const mode of ['compiled', 'interpreter'] as const) {
  test(`${mode}: with no reader, the perf output's earlier checks come first, as the helper's (the compiled path's inline ENOENT stands aside)`, () => {
    const CUR = 0xffffffffn;
    const cases: [string, bigint, 'ctx' | 'zero', number][] = [
      ['no reader', CUR, 'ctx', -2],
      ['a flag bit above the packet length', CUR | (1n << 52n), 'ctx', -22],
      ['the top flag bit', CUR | (1n << 63n), 'ctx', -22],
      ['a slot outside the map', 5n, 'ctx', -7],
      ['more packet bytes than the packet has', CUR | (100000n << 32n), 'ctx', -14],
      ['packet bytes without the context in r1', CUR | (8n << 32n), 'zero', -22],
      ['packet bytes that fit', CUR | (8n << 32n), 'ctx', -2],
    ];
    for (const [what, flags, r1, errno] of cases) {
      const rt = Runtime.load(badPointerOutput(flags, r1), { mode });
      // 20 runs: the compiled function is optimised with its inline forms
      for (let i = 0; i < 20; i++) assert.equal(rt.program('cls').run(corpus[0]!.data).retval, errno, what);
    }
  });
}
