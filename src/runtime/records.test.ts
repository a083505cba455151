/**
 * Ring buffer records are written in place: a reservation is a window of its ring's slab, next to the
 * records before and after it. rb_reserve (bpf/ringbuf_events.bpf.o) with one instruction changed at a
 * time checks that every way out of the window faults (stores, a helper's destination, a submit of
 * another address), that a record starts zeroed in a slab that held others before, and that a
 * reservation a program leaves open is given up at the next drain. Interpreter and compiled path alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { ObjectSpec } from '../index.js';
import { Runtime } from './runtime.js';
import { RuntimeFault } from '../errors.js';
import { packetCorpus } from '../../test/support/packets.js';
import type { RingbufMap } from './maps.js';

const corpus = packetCorpus();
const MODES = ['interpreter', 'compiled'] as const;
const big = corpus.reduce((a, b) => (b.data.length > a.data.length ? b : a));
const small = corpus.reduce((a, b) => (b.data.length < a.data.length ? b : a));

/** rb_reserve with instruction `at` replaced by op/dst/src/off/imm (the indexes are the object's, checked). */
function patched(patches: { at: number; was: number; op: number; dst: number; src?: number; off?: number; imm?: number }[], mode: (typeof MODES)[number], programs = ['rb_reserve']): Runtime {
  const spec = ObjectSpec.parse(fs.readFileSync('bpf/ringbuf_events.bpf.o'));
  const code = spec.programs.find((p) => p.name === 'rb_reserve')!.instructions;
  const v = new DataView(code.buffer, code.byteOffset, code.byteLength);
  for (const p of patches) {
    assert.equal(code[p.at * 8], p.was, `instruction ${p.at} is the one meant`);
    code[p.at * 8] = p.op;
    code[p.at * 8 + 1] = ((p.src ?? 0) << 4) | p.dst;
    v.setInt16(p.at * 8 + 2, p.off ?? 0, true);
    v.setInt32(p.at * 8 + 4, p.imm ?? 0, true);
  }
  return Runtime.load(spec, { programs, mode });
}

const STX_DW = 0x7b;
const ADD_IMM = 0x07;
const MOV_IMM = 0xb7;
const CALL = 0x85;
const MOV_REG = 0xbf;
const LSH_IMM = 0x67;
const SUB_REG = 0x1f;
const ST_DW = 0x7a;

/** A record (rb_output's) before the reservation in the slab, then rb_reserve faults; the record is intact. */
async function expectFault(rt: Runtime, insn: number, message: RegExp, mode: string): Promise<void> {
  const r = rt.openEvents('rb');
  const it = r.batches()[Symbol.asyncIterator]();
  rt.program('rb_output').run(small.data);
  assert.throws(
    () => rt.program('rb_reserve').run(big.data),
    (e) => e instanceof RuntimeFault && e.insn === insn && message.test(e.message),
    mode,
  );
  const b = (await it.next()).value!;
  assert.equal(b.length, 1, 'the record before; the faulted reservation is given up');
  const d = b.data(0);
  assert.equal(new DataView(d.buffer, d.byteOffset).getUint32(8, true), small.data.length);
  assert.deepEqual(d.subarray(32, 32 + small.data.length), small.data.subarray(0, 64));
  await r.close();
  await it.return(undefined);
}

for (const mode of MODES) {
  test(`${mode}: a store or a helper outside the reserved record faults, next to other records in the slab`, async () => {
    // the memset's last store (offset 88, 8 bytes) moved to 92: 4 bytes past the 96-byte record
    const p = (at: number, was: number, op: number, dst: number, src: number, off: number, imm: number) => patched([{ at, was, op, dst, src, off, imm }], mode, ['rb_reserve', 'rb_output']);
    await expectFault(p(64, STX_DW, STX_DW, 7, 1, 92, 0), 64, /store of 8 bytes .*past the end of the ringbuf record \(96 bytes, offset 92\)/, mode);
    // its first store (offset 24) moved to -8: before the record's start
    await expectFault(p(56, STX_DW, STX_DW, 7, 1, -8, 0), 56, /store of 8 bytes .*before the start of the ringbuf record \(96 bytes, offset -8\)/, mode);
    // bpf_skb_load_bytes into e->packet moved 8 bytes on (64 bytes from offset 40) or 40 back (to -8)
    await expectFault(p(67, ADD_IMM, ADD_IMM, 3, 0, 0, 40), 72, /past the end of the ringbuf record \(96 bytes, offset 40\)/, mode);
    await expectFault(p(67, ADD_IMM, ADD_IMM, 3, 0, 0, -8), 72, /before the start of the ringbuf record \(96 bytes, offset -8\)/, mode);
  });

  test(`${mode}: a store that moves back run after run faults at its first byte before the record (also once the compiled path caches the region)`, () => {
    // after e->seq = rb_seq++ (r1 = the old value): r2 = r7 - 8 * seq; *(u64 *)(r2 + 24) = 0, so runs
    // 0..3 store at offsets 24, 16, 8, 0 of their record and run 4 at -8: into the record before it
    const rt = patched(
      [
        { at: 55, was: MOV_IMM, op: MOV_REG, dst: 2, src: 7 },
        { at: 56, was: STX_DW, op: LSH_IMM, dst: 1, imm: 3 },
        { at: 57, was: STX_DW, op: SUB_REG, dst: 2, src: 1 },
        { at: 58, was: STX_DW, op: ST_DW, dst: 2, off: 24 },
        ...Array.from({ length: 6 }, (_, k) => ({ at: 59 + k, was: STX_DW, op: MOV_IMM, dst: 1 })),
      ],
      mode,
    );
    const r = rt.openEvents('rb');
    const prog = rt.program('rb_reserve');
    for (let i = 0; i < 4; i++) prog.run(small.data);
    assert.throws(() => prog.run(small.data), (e) => e instanceof RuntimeFault && e.insn === 58 && /store of 8 bytes .*before the start of the ringbuf record \(96 bytes, offset -8\)/.test(e.message));
    void r.close();
  });

  test(`${mode}: submitting an address inside the record but not its start faults`, () => {
    // r7 (the record) += 8 in place of the load of the wakeup flags; r1 = r7 then submits record + 8
    const rt = patched([{ at: 79, was: 0x79, op: ADD_IMM, dst: 7, imm: 8 }], mode);
    const r = rt.openEvents('rb');
    assert.throws(() => rt.program('rb_reserve').run(big.data), (e) => e instanceof RuntimeFault && e.insn === 81 && /submit of something that is not a reserved record/.test(e.message));
    void r.close();
  });

  test(`${mode}: a record starts zeroed in a slab that held other records`, async () => {
    // the memset of e->packet (stores 56..64) gone: what the program does not write must read 0
    const rt = patched(
      Array.from({ length: 9 }, (_, k) => ({ at: 56 + k, was: STX_DW, op: MOV_IMM, dst: 1 })),
      mode,
    );
    const r = rt.openEvents('rb');
    const it = r.batches()[Symbol.asyncIterator]();
    const prog = rt.program('rb_reserve');
    const slabs = new Set<ArrayBufferLike>();
    // (a frame of 0xff bytes: what the first round leaves in the slab is not zero anywhere)
    const ones = new Uint8Array(1000).fill(0xff);
    for (let round = 0; round < 3; round++) {
      // a full slab's worth of large packets, then small ones over the same (recycled) memory
      const n = round === 0 ? 2000 : 50;
      for (let i = 0; i < n; i++) prog.run(round === 0 ? ones : small.data);
      const b = (await it.next()).value!;
      assert.equal(b.length, n);
      slabs.add(b.raw(0).buf.buffer);
      if (round === 0) continue;
      for (let i = 0; i < b.length; i++) {
        const d = b.data(i);
        const caplen = new DataView(d.buffer, d.byteOffset).getUint32(24, true);
        assert.equal(caplen, small.data.length);
        assert.ok(d.subarray(32 + caplen).every((x: number) => x === 0), `record ${i} of round ${round}: bytes past the packet are zero`);
      }
    }
    assert.ok(slabs.size < 3, 'the rounds wrote into recycled slabs');
    await r.close();
    await it.return(undefined);
  });

  test(`${mode}: a reservation left open is given up at the next drain (it faults, its room comes back)`, async () => {
    // the submit call replaced by r0 = 0: the program ends with its reservation open (the kernel's
    // verifier refuses such a program; the runtime has to survive it)
    const rt = patched([{ at: 81, was: CALL, op: MOV_IMM, dst: 0 }], mode, ['rb_reserve', 'rb_output']);
    const r = rt.openEvents('rb');
    const it = r.batches()[Symbol.asyncIterator]();
    const rb = rt.map('rb') as RingbufMap;
    rt.program('rb_reserve').run(small.data);
    assert.equal(rb.reserved, 1);
    const held = rb.ring.used;
    assert.ok(held > 0, 'the open reservation holds room');
    // a record from rb_output wakes the reader: the drain gives the reservation up
    rt.program('rb_output').run(small.data);
    const b = (await it.next()).value!;
    assert.equal(b.length, 1, 'only the output record: the open reservation is not one');
    assert.equal(new DataView(b.data(0).buffer, b.data(0).byteOffset).getUint32(8, true), small.data.length);
    assert.equal(rb.reserved, 0, 'the reservation is given up');
    assert.equal(rb.spare.length, 1, 'its region waits for the next reservation');
    assert.equal(rb.spare[0]!.live, false, 'and faults until then');
    assert.equal(rb.ring.used, 0, 'its room is back, and the output record is drained');
    // the ring is not stuck: later reservations still become records
    rt.program('rb_reserve').run(small.data);
    rt.program('rb_output').run(small.data);
    assert.equal((await it.next()).value!.length, 1);
    await r.close();
    await it.return(undefined);
  });
}
