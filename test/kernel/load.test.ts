/**
 * The kernel step of the loader: every bundled object loads into the real kernel, programs test-run,
 * maps read and write, pins are created, reused, refused when incompatible and removed, the verifier's
 * refusal is reported with its log, and every fd is closed afterwards.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  loadObjectSync, openPinnedMapSync, ObjectSpec, VerifierError, PinError, BpfpipeError, MapType, possibleCpus,
} from '../../src/index.js';
import { fdSnapshot, assertNoFdLeak, uniquePinDir, listTree, removeTree } from '../support/leaks.js';
import { DropsReader } from '../../src/kernel/aux-maps.js';

const fds = fdSnapshot();
const dirs: string[] = [];
function pinDir(tag: string): string {
  const d = uniquePinDir(tag);
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) removeTree(d);
  await assertNoFdLeak(fds, 'load tests');
});

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const sumPerCpu = (values: Uint8Array[] | undefined) =>
  (values ?? []).reduce((a, v) => a + new DataView(v.buffer, v.byteOffset).getBigUint64(0, true), 0n);

/** A 64-byte IPv4/UDP packet to dst port `dport`. */
function udpPacket(dport: number): Uint8Array {
  const p = new Uint8Array(64);
  const v = new DataView(p.buffer);
  p.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2], 0);
  v.setUint16(12, 0x0800);
  p[14] = 0x45;
  v.setUint16(16, 50);
  p[22] = 64;
  p[23] = 17;
  p.set([198, 18, 0, 1, 198, 18, 0, 2], 26);
  v.setUint16(34, 40000);
  v.setUint16(36, dport);
  v.setUint16(38, 30);
  return p;
}

test('every bundled object except the rejected one loads; tc programs test-run', () => {
  for (const name of fs.readdirSync('bpf').filter((f) => f.endsWith('.o') && f !== 'rejected.bpf.o')) {
    const obj = loadObjectSync(`bpf/${name}`, { pinDir: pinDir('all') });
    try {
      const spec = ObjectSpec.parse(fs.readFileSync(`bpf/${name}`));
      assert.deepEqual([...obj.programs.keys()].sort(), spec.programs.map((p) => p.name).sort(), name);
      assert.deepEqual([...obj.maps.keys()].sort(), spec.maps.map((m) => m.name).sort(), name);
      for (const p of obj.programs.values()) {
        assert.ok(p.id > 0 && p.fd > 0 && /^[0-9a-f]{16}$/.test(p.tag), `${name}/${p.name}`);
        if (p.type === 3 /* sched_cls */) {
          const r = p.testRun({ data: udpPacket(80) });
          assert.ok(Number.isInteger(r.retval), `${name}/${p.name} retval ${r.retval}`);
          assert.equal(r.dataOut.byteLength, 64);
        }
      }
    } finally {
      obj.close();
    }
  }
});

test('tc_events: global data, counters and the perf array sized by the object', () => {
  const obj = loadObjectSync('bpf/tc_events.bpf.o', { pinDir: pinDir('tce') });
  try {
    const events = obj.map('events');
    assert.equal(events.type, MapType.PERF_EVENT_ARRAY);
    assert.equal(events.maxEntries, 256);
    // .data holds the tag, .rodata the snaplen, both from the C initializers.
    assert.equal(new TextDecoder().decode(obj.map('.data').lookup(u32(0))!.subarray(0, 7)), 'bpfpipe');
    assert.equal(new DataView(obj.map('.rodata').lookup(u32(0))!.buffer).getUint32(0, true), 128);
    // The meta map tells the program how many CPUs a channel has.
    assert.equal(new DataView(obj.map('events_meta').lookup(u32(0))!.buffer).getUint32(0, true), possibleCpus().length);
    const prog = obj.program('tc_events');
    prog.testRun({ data: udpPacket(9000), repeat: 10 });
    const c = obj.map('counters');
    assert.equal(sumPerCpu(c.lookupPerCpu(u32(0))), 10n); // seen
    // Nobody reads the events: every output fails (no perf event in the slot) and is counted.
    assert.equal(sumPerCpu(c.lookupPerCpu(u32(2))), 10n);
    assert.equal(sumPerCpu(obj.map('events_drops').lookupPerCpu(u32(0))), 10n);
    // The reader's drop counters: a prepared lookup per channel, the same values, updated in place.
    const drops = new DropsReader(obj.map('events_drops'));
    const view = drops.read(0)!;
    assert.equal(view.length, possibleCpus().length);
    assert.equal(drops.total(0), 10n);
    assert.equal(drops.total(1), 0n);
    prog.testRun({ data: udpPacket(9000), repeat: 5 });
    assert.equal(drops.total(0), 15n);
    assert.equal(drops.read(0), view, 'the same view, read again');
    // .bss: the global sequence counter advanced once per run (10 + 5).
    assert.equal(new DataView(obj.map('.bss').lookup(u32(0))!.buffer).getBigUint64(0, true), 15n);
  } finally {
    obj.close();
  }
});

test('hash map operations on raw bytes: update, lookup, keys, delete', async () => {
  const obj = loadObjectSync('bpf/sections.bpf.o');
  try {
    const hits = obj.map('hits');
    const value = (n: bigint) => new Uint8Array(new BigUint64Array([n]).buffer);
    hits.update(u32(7), value(70n));
    hits.update(u32(3), value(30n));
    assert.deepEqual(hits.lookup(u32(7)), value(70n));
    assert.equal(hits.lookup(u32(5)), undefined);
    const seven = hits.preparedLookup(u32(7));
    const five = hits.preparedLookup(u32(5));
    assert.deepEqual(seven(), value(70n));
    assert.equal(five(), undefined);
    hits.update(u32(5), value(50n));
    assert.deepEqual(five(), value(50n));
    hits.delete(u32(5));
    const keys: number[] = [];
    for await (const k of hits.keys()) keys.push(new DataView(k.buffer).getUint32(0, true));
    assert.deepEqual(keys.sort(), [3, 7]);
    assert.equal(hits.delete(u32(7)), true);
    assert.equal(hits.delete(u32(7)), false);
    assert.throws(() => hits.lookup(new Uint8Array(3)), (e) => e instanceof BpfpipeError && e.code === 'EBPF_USAGE');
    // The program's own writes are visible too.
    obj.program('s_tc').testRun({ data: udpPacket(1) });
    assert.deepEqual(hits.lookup(u32(0)), value(1n));
    obj.close();
    assert.throws(() => seven(), (e) => e instanceof BpfpipeError && e.code === 'EBPF_CLOSED');
  } finally {
    obj.close();
  }
});

test('pinning: created under pinDir, reused by a second load, removed on close unless kept', () => {
  const dir = pinDir('pins');
  const a = loadObjectSync('bpf/tc_events.bpf.o', { pinDir: dir });
  const b = loadObjectSync('bpf/tc_events.bpf.o', { pinDir: dir });
  try {
    assert.deepEqual(listTree(dir), ['events', 'events_drops', 'events_meta']);
    assert.equal((fs.statSync(`${dir}/events`).mode & 0o777), 0o600);
    assert.deepEqual(a.createdPins.map((p) => p.replace(`${dir}/`, '')).sort(), ['events', 'events_drops', 'events_meta']);
    assert.deepEqual(b.createdPins, []);
    for (const m of ['events', 'events_drops', 'events_meta']) assert.equal(a.map(m).id, b.map(m).id, m);
    // Unpinned maps are private to each load.
    assert.notEqual(a.map('counters').id, b.map('counters').id);
    const pinned = openPinnedMapSync(`${dir}/events`);
    assert.equal(pinned.id, a.map('events').id);
    pinned.close();
  } finally {
    b.close();
    a.close();
  }
  assert.equal(fs.existsSync(dir), false, 'the pins and the directory the load created are gone');

  const kept = loadObjectSync('bpf/tc_events.bpf.o', { pinDir: dir, keepPins: true });
  kept.close();
  assert.deepEqual(listTree(dir), ['events', 'events_drops', 'events_meta']);
  removeTree(dir);
});

test('an incompatible pin is a clear error and nothing is left behind', () => {
  const dir = pinDir('incompat');
  const other = loadObjectSync('bpf/sections.bpf.o');
  try {
    other.map('hits').pin(`${dir}/events`);
    assert.throws(
      () => loadObjectSync('bpf/tc_events.bpf.o', { pinDir: dir }),
      (e) => e instanceof PinError && e.code === 'EBPF_PIN' && /incompatible/.test(e.message) && /hash/.test(e.message),
    );
    assert.deepEqual(listTree(dir), ['events'], 'the failed load removed its own pins');
  } finally {
    other.close();
    removeTree(dir);
  }
});

test('legacy iproute2 maps: PIN_GLOBAL_NS maps are pinned by name, PIN_NONE maps are not', () => {
  const dir = pinDir('legacy');
  const obj = loadObjectSync('bpf/legacy_maps.bpf.o', { pinDir: dir });
  try {
    assert.deepEqual(listTree(dir), ['legacy_counts', 'legacy_events']);
    obj.program('legacy_prog').testRun({ data: udpPacket(1), repeat: 3 });
    const counts = openPinnedMapSync(`${dir}/legacy_counts`);
    assert.equal(new DataView(counts.lookup(u32(0))!.buffer).getBigUint64(0, true), 3n);
    counts.close();
  } finally {
    obj.close();
  }
});

test('a verifier rejection: VerifierError with the whole log, message ending with the reason', () => {
  const before = fdSnapshot();
  assert.throws(
    () => loadObjectSync('bpf/rejected.bpf.o'),
    (e) => {
      assert.ok(e instanceof VerifierError);
      assert.equal(e.code, 'EBPF_VERIFIER');
      assert.equal(e.program, 'rejected');
      assert.match(e.message, /^verifier rejected program 'rejected': .*outside of the packet/);
      assert.ok(e.log.length > 3 && e.log.some((l) => /^\d+: \(/.test(l)), 'the log has the instructions');
      assert.ok(!e.message.includes('\n'));
      return true;
    },
  );
  assert.deepEqual([...fdSnapshot().keys()].filter((fd) => !before.has(fd)), [], 'a failed load closes what it opened');
});

test('malformed objects and missing files are bad input, not crashes', () => {
  assert.throws(() => loadObjectSync('bpf/does-not-exist.o'), (e) => e instanceof BpfpipeError && e.code === 'EBPF_BAD_INPUT');
  const bytes = fs.readFileSync('bpf/tc_events.bpf.o');
  assert.throws(() => loadObjectSync(bytes.subarray(0, 100)), (e) => e instanceof BpfpipeError && e.code === 'EBPF_BAD_OBJECT');
});

test('openPinnedMap refuses paths that are not pinned maps', () => {
  assert.throws(() => openPinnedMapSync('/sys/fs/bpf/no-such-pin'), (e) => e instanceof BpfpipeError && e.code === 'EBPF_PIN');
  assert.throws(() => openPinnedMapSync('/etc/hostname'), (e) => e instanceof BpfpipeError && e.code === 'EBPF_PIN');
  const dir = pinDir('prog');
  const obj = loadObjectSync('bpf/sections.bpf.o');
  try {
    obj.program('s_tc').pin(`${dir}/prog`);
    assert.throws(() => openPinnedMapSync(`${dir}/prog`), (e) => e instanceof BpfpipeError && /not a map/.test(e.message));
  } finally {
    obj.close();
    removeTree(dir);
  }
});
