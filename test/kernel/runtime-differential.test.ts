/**
 * The userspace runtime against the kernel: every tc program in bpf/ runs over a corpus of packets
 * (IPv4/IPv6 × TCP/UDP/ICMP, VLAN, ARP, truncated) in the kernel (BPF_PROG_TEST_RUN, events read
 * through openEvents) and in the runtime (both the interpreter and the compiled path). Return values,
 * event streams (bytes, slot, appended packet bytes) and the maps the programs write must be equal,
 * excluding only time-dependent fields (bpf_ktime_get_ns values).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { loadObjectSync, openEvents, onlineCpus, possibleCpus, setAffinity, ObjectSpec, MapType, ProgType, BpfpipeError, type LoadedObject, type RingEvent } from '../../src/index.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { fdSnapshot, assertNoFdLeak, uniquePinDir, removeTree } from '../support/leaks.js';
import { packetCorpus } from '../support/packets.js';

const fds = fdSnapshot();
const pinDir = uniquePinDir('differential');
after(async () => {
  removeTree(pinDir);
  await assertNoFdLeak(fds, 'runtime differential tests');
});

const CPU = onlineCpus()[0]!;
const NCPU = possibleCpus().length;
const TIME_FIELDS = /^(ts|ktime|time|tstamp|timestamp)$/i;
const corpus = packetCorpus();
/** Maps that hold bpf_ktime_get_ns values (bench.bpf.o builds its event, with the time, in a per-CPU scratch map). */
const TIME_MAPS = new Set(['scratch']);

interface Observed {
  retvals: number[];
  /** Events per slot ('rb' for a ring buffer), in output order, time fields removed. */
  events: Record<string, unknown[]>;
  maps: Record<string, unknown>;
}

function normalize(events: RingEvent[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const e of events) {
    if (e.lost !== undefined) {
      (out.lost ??= []).push(e.lost);
      continue;
    }
    const event = e.event ? Object.fromEntries(Object.entries(e.event).filter(([k]) => !TIME_FIELDS.test(k))) : undefined;
    // Without a struct, the raw bytes are compared whole (the project's event structs all have BTF).
    const rec = { size: e.data.byteLength, event, packet: e.packet && Buffer.from(e.packet).toString('hex'), raw: event ? undefined : Buffer.from(e.data).toString('hex') };
    (out[e.slot === undefined ? 'rb' : `slot ${e.slot}`] ??= []).push(rec);
  }
  return out;
}

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);

/** Contents of the maps a program writes (arrays and hashes; the aux maps of bpfpipe.h included). */
function mapContents(spec: ObjectSpec, get: (name: string) => { keys(): Uint8Array[]; lookupPerCpu(k: Uint8Array): Uint8Array[] | undefined; lookup(k: Uint8Array): Uint8Array | undefined }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of spec.maps) {
    if (![MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.HASH].includes(m.type as never) || m.readonly || TIME_MAPS.has(m.name)) continue;
    const map = get(m.name);
    const entries: Record<string, unknown> = {};
    for (const k of map.keys()) {
      entries[hex(k)!] = m.type === MapType.PERCPU_ARRAY ? map.lookupPerCpu(k)!.map(hex) : hex(map.lookup(k));
    }
    out[m.name] = entries;
  }
  return out;
}

async function kernelMaps(spec: ObjectSpec, obj: LoadedObject): Promise<Record<string, unknown>> {
  const keys = new Map<string, Uint8Array[]>();
  for (const m of spec.maps) {
    if (![MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.HASH].includes(m.type as never) || m.readonly || TIME_MAPS.has(m.name)) continue;
    const list: Uint8Array[] = [];
    for await (const k of obj.map(m.name).keys()) list.push(k);
    keys.set(m.name, list);
  }
  return mapContents(spec, (n) => ({ keys: () => keys.get(n)!, lookup: (k) => obj.map(n).lookup(k), lookupPerCpu: (k) => obj.map(n).lookupPerCpu(k) }));
}

async function inKernel(file: string, prog: string, eventMap: string | undefined, slots: number[]): Promise<Observed> {
  const obj: LoadedObject = loadObjectSync(file, { pinDir, programs: [prog] });
  try {
    const spec = obj.spec;
    const mapSpec = eventMap ? spec.maps.find((m) => m.name === eventMap)! : undefined;
    const reader = mapSpec
      ? await openEvents(obj.map(eventMap!), { ...(mapSpec.type === MapType.PERF_EVENT_ARRAY ? { slots } : {}), struct: spec.eventType(eventMap!) !== undefined ? true : undefined })
      : undefined;
    const retvals: number[] = [];
    const events: RingEvent[] = [];
    try {
      setAffinity([CPU]);
      try {
        for (const p of corpus) retvals.push(obj.program(prog).testRun({ data: p.data }).retval);
      } finally {
        setAffinity(onlineCpus());
      }
    } finally {
      if (reader) {
        await reader.close();
        for await (const b of reader.batches()) events.push(...b.toArray().map((e) => (e.lost === undefined ? { ...e, data: e.data.slice() } : e)));
      }
    }
    return { retvals, events: normalize(events), maps: await kernelMaps(spec, obj) };
  } finally {
    obj.close();
  }
}

async function inRuntime(file: string, prog: string, eventMap: string | undefined, slots: number[], mode: 'compiled' | 'interpreter'): Promise<Observed> {
  const rt = Runtime.load(fs.readFileSync(file), { programs: [prog], ncpus: NCPU, mode });
  const spec = rt.spec;
  const mapSpec = eventMap ? spec.maps.find((m) => m.name === eventMap)! : undefined;
  const reader = mapSpec
    ? rt.openEvents(eventMap!, { ...(mapSpec.type === MapType.PERF_EVENT_ARRAY ? { slots } : {}), struct: spec.eventType(eventMap!) !== undefined ? true : undefined })
    : undefined;
  const retvals = corpus.map((p) => rt.program(prog).run(p.data, { cpu: CPU }).retval);
  const events: RingEvent[] = [];
  if (reader) {
    await reader.close();
    for await (const b of reader.batches()) events.push(...b.toArray());
  }
  return { retvals, events: normalize(events), maps: mapContents(spec, (n) => rt.map(n)) };
}

const cases: { file: string; prog: string; eventMap?: string }[] = [];
for (const f of fs.readdirSync('bpf').filter((n) => n.endsWith('.o') && n !== 'rejected.bpf.o').sort()) {
  const spec = ObjectSpec.parse(fs.readFileSync(`bpf/${f}`));
  const eventMaps = spec.maps.filter((m) => m.type === MapType.PERF_EVENT_ARRAY || m.type === MapType.RINGBUF);
  for (const p of spec.programs) {
    if (p.type !== ProgType.SCHED_CLS && p.type !== ProgType.SCHED_ACT) continue;
    if (p.name === 'link_main' || p.name === 'link_second') continue; // refused by the runtime (tested below)
    // The map the program outputs to: the only one, or the one its name says (bench: perf_bench → bench_events).
    const used = eventMaps.filter((m) => p.mapRefs.some((r) => r.map === m.name));
    cases.push({ file: `bpf/${f}`, prog: p.name, eventMap: used[0]?.name });
  }
}

for (const c of cases) {
  test(`${c.file} ${c.prog}: runtime (compiled and interpreted) == kernel over ${corpus.length} packets`, async () => {
    const max = c.eventMap ? ObjectSpec.parse(fs.readFileSync(c.file)).maps.find((m) => m.name === c.eventMap)!.maxEntries || NCPU : NCPU;
    const slots = [0, 1, 2, 3].map((k) => k * NCPU + CPU).filter((s) => s < max);
    const kernel = await inKernel(c.file, c.prog, c.eventMap, slots);
    for (const mode of ['compiled', 'interpreter'] as const) {
      const rt = await inRuntime(c.file, c.prog, c.eventMap, slots, mode);
      assert.deepEqual(rt.retvals, kernel.retvals, `${mode}: return values`);
      assert.deepEqual(rt.events, kernel.events, `${mode}: events`);
      assert.deepEqual(rt.maps, kernel.maps, `${mode}: maps`);
    }
    if (c.eventMap) assert.ok(Object.keys(kernel.events).length > 0, 'the corpus makes the program output events');
  });
}

test('what the runtime does not have is refused at load, naming it', () => {
  // link_main takes a callback's address (ld_imm64 BPF_PSEUDO_FUNC, for bpf_loop); link_second uses a map of maps.
  assert.throws(() => Runtime.load(fs.readFileSync('bpf/linking.bpf.o'), { programs: ['link_main'] }), (e) => e instanceof BpfpipeError && e.code === 'EBPF_NOTSUP' && /link_main.*instruction 22: ld_imm64 with source 4/.test(e.message));
  assert.throws(() => Runtime.load(fs.readFileSync('bpf/linking.bpf.o'), { programs: ['link_second'] }), (e) => e instanceof BpfpipeError && e.code === 'EBPF_NOTSUP' && /link_second.*'outer' is a array_of_maps/.test(e.message));
  assert.throws(() => Runtime.load(fs.readFileSync('bpf/sections.bpf.o'), { programs: ['s_xdp'] }), (e) => e instanceof BpfpipeError && e.code === 'EBPF_NOTSUP' && /xdp/.test(e.message));
});

test('ring buffer records wait in the map for a reader, up to its size: the runtime as the kernel (3000 outputs, no reader, then one)', async () => {
  const RUNS = 3000;
  const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
  const sum = (vals: Uint8Array[] | undefined) => (vals ?? []).reduce((a, v) => a + new DataView(v.buffer, v.byteOffset).getBigUint64(0, true), 0n);
  const drain = async (reader: { close(): Promise<void>; batches(): AsyncIterable<{ length: number; lostCount: number }> }) => {
    await reader.close();
    let n = 0;
    for await (const b of reader.batches()) n += b.length;
    return n;
  };
  const packet = corpus[0]!.data;
  let kernel: { records: number; ok: bigint; failed: bigint };
  const obj = loadObjectSync('bpf/ringbuf_events.bpf.o', { pinDir, programs: ['rb_output'] });
  try {
    setAffinity([CPU]);
    try {
      obj.program('rb_output').testRun({ data: packet, repeat: RUNS });
    } finally {
      setAffinity(onlineCpus());
    }
    const records = await drain(await openEvents(obj.map('rb')));
    kernel = { records, ok: sum(obj.map('rb_counters').lookupPerCpu(u32(1))), failed: sum(obj.map('rb_counters').lookupPerCpu(u32(2))) };
  } finally {
    obj.close();
  }
  assert.ok(kernel.failed > 0n && kernel.ok > 0n, `the ring fills: ${JSON.stringify(kernel, (_, v) => (typeof v === 'bigint' ? Number(v) : v))}`);
  assert.equal(BigInt(kernel.records), kernel.ok);
  for (const mode of ['compiled', 'interpreter'] as const) {
    const rt = Runtime.load(fs.readFileSync('bpf/ringbuf_events.bpf.o'), { programs: ['rb_output'], ncpus: NCPU, mode });
    for (let i = 0; i < RUNS; i++) rt.program('rb_output').run(packet, { cpu: CPU });
    const records = await drain(rt.openEvents('rb'));
    assert.deepEqual({ records, ok: sum(rt.map('rb_counters').lookupPerCpu(u32(1))), failed: sum(rt.map('rb_counters').lookupPerCpu(u32(2))) }, kernel, mode);
  }
});
