/** Hand-written programs with known results, run by the interpreter and by the compiled path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RuntimeFault } from '../errors.js';
import { assemble, insn, ldImm64, loadRaw } from './raw.js';

const MODES = ['interpreter', 'compiled'] as const;
const exit = insn(0x95, 0, 0, 0, 0);
const movImm = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
const mov = (dst: number, src: number) => insn(0xbf, dst, src, 0, 0);

function run(parts: Uint8Array[], packet?: Uint8Array): { interpreter: bigint; compiled: bigint } {
  const code = assemble(parts);
  const out = MODES.map((mode) => loadRaw(code, { mode }).run(packet ? { packet } : {}));
  return { interpreter: out[0]!, compiled: out[1]! };
}

function expectR0(parts: Uint8Array[], r0: bigint, packet?: Uint8Array): void {
  const got = run([...parts, exit], packet);
  assert.equal(got.interpreter, r0, `interpreter: 0x${got.interpreter.toString(16)}, want 0x${r0.toString(16)}`);
  assert.equal(got.compiled, r0, `compiled: 0x${got.compiled.toString(16)}, want 0x${r0.toString(16)}`);
}

function expectFault(parts: Uint8Array[], insnIndex: number, message: RegExp): void {
  const code = assemble(parts);
  const messages = MODES.map((mode) => {
    try {
      loadRaw(code, { mode }).run();
    } catch (e) {
      assert.ok(e instanceof RuntimeFault, `${mode}: ${String(e)}`);
      assert.equal(e.insn, insnIndex, `${mode}: ${e.message}`);
      assert.match(e.message, message, mode);
      return e.message;
    }
    assert.fail(`${mode}: no fault`);
  });
  assert.equal(messages[0], messages[1]);
}

const INT64_MIN = 0x8000000000000000n;
const ALL = 0xffffffffffffffffn;

test('signed and unsigned division and modulo, by zero and INT_MIN / -1', () => {
  expectR0([ldImm64(0, INT64_MIN), movImm(1, -1), insn(0x3f, 0, 1, 1, 0)], INT64_MIN); // sdiv64
  expectR0([ldImm64(0, INT64_MIN), insn(0x37, 0, 0, 1, -1)], INT64_MIN); // sdiv64 imm
  expectR0([ldImm64(0, INT64_MIN), movImm(1, -1), insn(0x9f, 0, 1, 1, 0)], 0n); // smod64
  expectR0([movImm(0, -7), insn(0x37, 0, 0, 1, 2)], BigInt.asUintN(64, -3n));
  expectR0([movImm(0, -7), insn(0x97, 0, 0, 1, 2)], ALL); // -7 s% 2 = -1
  expectR0([movImm(0, -7), insn(0x37, 0, 0, 0, 2)], (ALL - 6n) / 2n); // unsigned
  expectR0([insn(0xb4, 0, 0, 0, -0x80000000), insn(0x34, 0, 0, 1, -1)], 0x80000000n); // sdiv32 INT32_MIN / -1
  expectR0([insn(0xb4, 0, 0, 0, -7), insn(0x94, 0, 0, 1, 2)], 0xffffffffn); // smod32: -1, zero-extended
  expectR0([movImm(0, 5), movImm(1, 0), insn(0x3f, 0, 1, 0, 0)], 0n); // div by 0: 0
  expectR0([movImm(0, 5), movImm(1, 0), insn(0x9f, 0, 1, 0, 0)], 5n); // mod by 0: unchanged
  expectR0([ldImm64(0, 0xffffffff00000005n), movImm(1, 0), insn(0x9c, 0, 1, 0, 0)], 5n); // mod32 by 0: zero-extended
  expectR0([ldImm64(0, 0xffffffff00000005n), movImm(1, 0), insn(0x3c, 0, 1, 1, 0)], 0n); // sdiv32 by 0
});

test('shifts: by 63, and register amounts masked to the width', () => {
  expectR0([movImm(0, 1), insn(0x67, 0, 0, 0, 63)], INT64_MIN);
  expectR0([movImm(0, 1), movImm(1, 64), insn(0x6f, 0, 1, 0, 0)], 1n); // 64 & 63 = 0
  expectR0([ldImm64(0, INT64_MIN), movImm(1, 65), insn(0x7f, 0, 1, 0, 0)], INT64_MIN >> 1n);
  expectR0([ldImm64(0, INT64_MIN), insn(0xc7, 0, 0, 0, 63)], ALL); // arsh
  expectR0([ldImm64(0, 0x1_8000_0001n), movImm(1, 33), insn(0x6c, 0, 1, 0, 0)], 2n); // lsh32 by 33 & 31 = 1
  expectR0([ldImm64(0, 0x8000_0000n), insn(0xc4, 0, 0, 0, 31)], 0xffffffffn); // arsh32
  expectR0([movImm(0, 0x100), movImm(1, 0x28), insn(0x7f, 0, 1, 0, 0)], 0x100n >> 40n);
  expectR0([ldImm64(0, 0xabcd_0000_1234_5678n), insn(0x77, 0, 0, 0, 20)], 0xabcd_0000_1234_5678n >> 20n);
});

test('32-bit operations zero-extend their result', () => {
  expectR0([movImm(0, -1), insn(0x04, 0, 0, 0, 1)], 0n); // add32 wraps to 0
  expectR0([ldImm64(0, 0x1_2345_6789n), insn(0xbc, 0, 0, 0, 0)], 0x2345_6789n); // mov32 w0, w0
  expectR0([movImm(0, 1), insn(0x84, 0, 0, 0, 0)], 0xffffffffn); // neg32
  expectR0([movImm(0, -1), insn(0x24, 0, 0, 0, 3)], 0xfffffffdn); // mul32
  expectR0([insn(0xb4, 0, 0, 0, -1)], 0xffffffffn); // mov32 imm: not sign-extended to 64
  expectR0([movImm(0, -1)], ALL); // mov64 imm: sign-extended
});

test('byte swaps: bswap16/32/64, to-be, to-le', () => {
  const v = 0x0102030405060708n;
  expectR0([ldImm64(0, v), insn(0xd7, 0, 0, 0, 16)], 0x0807n);
  expectR0([ldImm64(0, v), insn(0xd7, 0, 0, 0, 32)], 0x08070605n);
  expectR0([ldImm64(0, v), insn(0xd7, 0, 0, 0, 64)], 0x0807060504030201n);
  expectR0([ldImm64(0, v), insn(0xdc, 0, 0, 0, 32)], 0x08070605n);
  expectR0([ldImm64(0, v), insn(0xd4, 0, 0, 0, 16)], 0x0708n);
  expectR0([ldImm64(0, v), insn(0xd4, 0, 0, 0, 32)], 0x05060708n);
  expectR0([ldImm64(0, v), insn(0xd4, 0, 0, 0, 64)], v);
});

test('movsx 8/16/32 and sign-extending loads', () => {
  expectR0([movImm(1, 0x80), insn(0xbf, 0, 1, 8, 0)], 0xffffffffffffff80n);
  expectR0([movImm(1, 0x80), insn(0xbc, 0, 1, 8, 0)], 0xffffff80n);
  expectR0([movImm(1, 0x8000), insn(0xbf, 0, 1, 16, 0)], 0xffffffffffff8000n);
  expectR0([ldImm64(1, 0x1_8000_0000n), insn(0xbf, 0, 1, 32, 0)], 0xffffffff80000000n);
  expectR0([insn(0x72, 10, 0, -1, 0x80), insn(0x91, 0, 10, -1, 0)], 0xffffffffffffff80n); // ldxsb
  expectR0([insn(0x6a, 10, 0, -2, 0x8001), insn(0x89, 0, 10, -2, 0)], 0xffffffffffff8001n); // ldxsh
  expectR0([insn(0x62, 10, 0, -4, -2), insn(0x81, 0, 10, -4, 0)], BigInt.asUintN(64, -2n)); // ldxsw
  expectR0([insn(0x62, 10, 0, -4, -2), insn(0x61, 0, 10, -4, 0)], 0xfffffffen); // ldxw: zero-extends
});

test('atomics: fetch_add, xchg, cmpxchg on the stack', () => {
  expectR0([insn(0x7a, 10, 0, -8, 40), movImm(1, 2), insn(0xdb, 10, 1, -8, 0x01), mov(0, 1)], 40n); // fetch_add returns old
  expectR0([insn(0x7a, 10, 0, -8, 40), movImm(1, 2), insn(0xdb, 10, 1, -8, 0x00), insn(0x79, 0, 10, -8, 0)], 42n);
  expectR0([insn(0x62, 10, 0, -4, -1), movImm(1, 1), insn(0xc3, 10, 1, -4, 0x01), mov(0, 1)], 0xffffffffn); // 32-bit fetch zero-extends
  expectR0([insn(0x7a, 10, 0, -8, 7), movImm(1, 9), insn(0xdb, 10, 1, -8, 0xe1), insn(0x79, 0, 10, -8, 0), insn(0x0f, 0, 1, 0, 0)], 16n); // xchg
  // cmpxchg: equal -> stored; r0 = old either way
  expectR0([insn(0x7a, 10, 0, -8, 7), movImm(0, 7), movImm(1, 9), insn(0xdb, 10, 1, -8, 0xf1), insn(0x79, 2, 10, -8, 0), insn(0x27, 2, 0, 0, 100), insn(0x0f, 0, 2, 0, 0)], 907n);
  expectR0([insn(0x7a, 10, 0, -8, 7), movImm(0, 8), movImm(1, 9), insn(0xdb, 10, 1, -8, 0xf1), insn(0x79, 2, 10, -8, 0), insn(0x27, 2, 0, 0, 100), insn(0x0f, 0, 2, 0, 0)], 707n);
});

test('conditional jumps: 32-bit and 64-bit signed compares differ', () => {
  const body = (op: number) => [ldImm64(1, 0xffffffffn), movImm(0, 0), insn(op, 1, 0, 1, 0), exit, movImm(0, 1)];
  expectR0(body(0xc6), 1n); // jslt32 w1, 0: -1 < 0
  expectR0(body(0xc5), 0n); // jslt r1, 0: 4294967295 < 0 is false
  expectR0([ldImm64(1, INT64_MIN), movImm(2, 1), movImm(0, 0), insn(0x2d, 1, 2, 1, 0), exit, movImm(0, 1)], 1n); // jgt unsigned
  expectR0([ldImm64(1, INT64_MIN), movImm(2, 1), movImm(0, 0), insn(0x6d, 1, 2, 1, 0), exit, movImm(0, 1)], 0n); // jsgt signed
});

test('bpf-to-bpf calls keep r6-r9 and stop at the call depth limit', () => {
  // main: r6 = 5; call sub; r0 += r6; exit.  sub: r6 = 100; r0 = 1; exit.
  expectR0([movImm(6, 5), insn(0x85, 0, 1, 0, 2), insn(0x0f, 0, 6, 0, 0), exit, movImm(6, 100), movImm(0, 1)], 6n);
  // sub recurses while r1 > 0 (r1 counts down): 7 nested calls are allowed, the 8th faults.
  const rec = (depth: number) => [movImm(1, depth), movImm(0, 0), insn(0x85, 0, 1, 0, 1), exit, insn(0x07, 0, 0, 0, 1), insn(0x15, 1, 0, 2, 0), insn(0x07, 1, 0, 0, -1), insn(0x85, 0, 1, 0, -4), exit];
  const got = run(rec(6));
  assert.deepEqual(got, { interpreter: 7n, compiled: 7n });
  expectFault(rec(7), 7, /^program 'raw' instruction 7: calls nested deeper than 8$/);
});

test('a small callee called twice (written in place by the compiled path): its own frame, r6-r9 and r10 back after it, r0-r5 as it left them', () => {
  const prog = [
    movImm(6, 5),
    insn(0x7b, 10, 6, -8, 0), // *(u64 *)(r10 - 8) = r6
    movImm(1, 3),
    insn(0x85, 0, 1, 0, 9), // call sub: r0 = 1030
    mov(7, 0),
    movImm(1, 4),
    insn(0x85, 0, 1, 0, 6), // call sub: r0 = 4, r1 = 4
    insn(0x0f, 0, 7, 0, 0), // r0 += r7
    insn(0x79, 2, 10, -8, 0), // r2 = *(u64 *)(r10 - 8): still 5
    insn(0x0f, 0, 2, 0, 0),
    insn(0x0f, 0, 6, 0, 0), // r6: still 5
    insn(0x0f, 0, 1, 0, 0), // r1: the callee's (4)
    exit,
    // sub: r6 = 1000; its own r10 - 8 = r1; r0 = r1 == 3 ? 30 + r6 : *(r10 - 8)
    movImm(6, 1000),
    insn(0x7b, 10, 1, -8, 0),
    insn(0x15, 1, 0, 2, 3),
    insn(0x79, 0, 10, -8, 0),
    insn(0x05, 0, 0, 2, 0),
    movImm(0, 30),
    insn(0x0f, 0, 6, 0, 0),
  ];
  expectR0(prog, 1030n + 4n + 5n + 5n + 4n);
});

test('the main program called as a function (recursion into instruction 0)', () => {
  // r0 += 1; if r1 == 0 exit; r1 -= 1; call 0; exit
  const code = [insn(0x07, 0, 0, 0, 1), insn(0x15, 1, 0, 2, 0), insn(0x07, 1, 0, 0, -1), insn(0x85, 0, 1, 0, -4), exit];
  for (const mode of MODES) assert.equal(loadRaw(assemble(code), { mode }).run({ r1: 3n }), 4n, mode);
  for (const mode of MODES) {
    assert.throws(() => loadRaw(assemble(code), { mode }).run({ r1: 20n }), (e) => e instanceof RuntimeFault && e.insn === 3 && /^program 'raw' instruction 3: calls nested deeper than 8$/.test(e.message), mode);
  }
});

test('an out-of-bounds stack access faults naming the instruction', () => {
  expectFault([movImm(0, 0), insn(0x79, 0, 10, 0, 0), exit], 1, /^program 'raw' instruction 1: load of 8 bytes at 0x100001000 is outside the program's memory: past the end of the stack \(4096 bytes, offset 4096\)$/);
  expectFault([movImm(0, 0), insn(0x7a, 10, 0, -4100, 1), exit], 1, /instruction 1: store of 8 bytes at 0xfffffffc is outside the program's memory: no region \(not a pointer\)$/);
  expectFault([movImm(1, 0), insn(0x61, 0, 1, 0, 0), exit], 1, /instruction 1: load of 4 bytes at 0x0 is outside the program's memory: a NULL pointer$/);
});

test('the tc context: data/data_end are packet pointers, the packet is read through them', () => {
  const pkt = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  // r2 = data; r3 = data_end; r0 = data_end - data
  expectR0([insn(0x61, 2, 1, 76, 0), insn(0x61, 3, 1, 80, 0), mov(0, 3), insn(0x1f, 0, 2, 0, 0)], 10n, pkt);
  expectR0([insn(0x61, 2, 1, 76, 0), insn(0x79, 0, 2, 2, 0)], 0x0a09080706050403n, pkt);
  expectR0([insn(0x61, 0, 1, 0, 0)], 10n, pkt); // skb->len
  expectFault([insn(0x61, 2, 1, 76, 0), insn(0x79, 0, 2, 4, 0), exit], 1, /load of 8 bytes at 0x200000004 .*past the end of the packet \(0 bytes, offset 4\)$/);
  expectFault([insn(0x62, 1, 0, 0, 1), exit], 0, /store of 4 bytes at 0x300000000 .*the ctx, which is read-only$/);
});

test('packet writes: the frame is copied in at the first store, later loads see the store, the caller\'s frame stays as it was', () => {
  const frame = Uint8Array.from([0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a]);
  const before = frame.slice();
  // r2 = data; r0 = *(s16 *)(r2 + 1) (sign-extending), then *(u16 *)(r2 + 2) = 0x1234, r0 += *(u32 *)(r2 + 0)
  const prog = [
    insn(0x61, 2, 1, 76, 0),
    insn(0x89, 0, 2, 1, 0), // ldxsh r0 = *(s16 *)(r2 + 1): 0x8382 sign-extended
    insn(0x6a, 2, 0, 2, 0x1234), // *(u16 *)(r2 + 2) = 0x1234
    insn(0x61, 3, 2, 0, 0), // r3 = *(u32 *)(r2 + 0): 0x12348281
    insn(0x0f, 0, 3, 0, 0),
    insn(0x79, 4, 2, 2, 0), // r4 = *(u64 *)(r2 + 2)
    insn(0x61, 5, 2, 6, 0), // r5 = *(u32 *)(r2 + 6)
    insn(0x0f, 0, 4, 0, 0),
    insn(0x0f, 0, 5, 0, 0),
    exit,
  ];
  const want = BigInt.asUintN(64, -0x7c7en + 0x12348281n + 0x8a89888786851234n + 0x8a898887n);
  for (const mode of MODES) {
    const p = loadRaw(assemble(prog), { mode });
    assert.equal(p.run({ packet: frame }), want, mode);
    assert.deepEqual(Array.from(p.skb.frame), [0x81, 0x82, 0x34, 0x12, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a], `${mode}: the program's packet`);
    assert.deepEqual(frame, before, `${mode}: the caller's frame is not written`);
    // the next run starts from its own frame again
    assert.equal(p.run({ packet: frame }), want, `${mode}: second run`);
  }
});

test('helper calls: arguments and result cross as u64, r1-r5 are cleared', () => {
  // "%llx %lld %u\n" at r10-16, then bpf_trace_printk(fmt, 16, -2, -2, 0x1_0000_0005)
  const fmt = new Uint8Array(16);
  fmt.set(Buffer.from('%llx %lld %u\n', 'latin1'));
  const v = new DataView(fmt.buffer);
  const code = assemble([
    ...[0, 4, 8, 12].map((o) => insn(0x62, 10, 0, -16 + o, v.getInt32(o, true))),
    mov(1, 10),
    insn(0x07, 1, 0, 0, -16),
    movImm(2, 16),
    movImm(3, -2),
    movImm(4, -2),
    ldImm64(5, 0x1_0000_0005n),
    insn(0x85, 0, 0, 0, 6),
    insn(0x0f, 0, 1, 0, 0), // r0 += r1 (0 after the call)
    exit,
  ]);
  for (const mode of MODES) {
    const p = loadRaw(code, { mode });
    assert.equal(p.run(), 16n, mode);
    assert.deepEqual(p.traceLines, ['fffffffffffffffe -2 5'], mode);
  }
});

test('an endless loop is stopped', () => {
  const code = assemble([movImm(0, 0), insn(0x07, 0, 0, 0, 1), insn(0x05, 0, 0, -2, 0), exit]);
  // The interpreter counts instructions, the compiled path backward jumps (the one at instruction 2).
  const stopped = (re: RegExp) => (e: unknown) => e instanceof RuntimeFault && re.test(e.message);
  assert.throws(() => loadRaw(code, { mode: 'interpreter' }).run(), stopped(/^program 'raw' ran more than 16777216 instructions \(instruction [12]\); stopped$/));
  assert.throws(() => loadRaw(code, { mode: 'compiled' }).run(), stopped(/^program 'raw' ran more than 16777216 backward jumps \(instruction 2\); stopped$/));
});

test('a run of stores through one pointer: written in order, and a store past the region faults at its own instruction', () => {
  const pkt = Uint8Array.from({ length: 12 }, (_, k) => k);
  // r2 = data; *(u32 *)(r2 + 0) = 0x11111111 (the packet is copied in); r3 = 0x2222; then a run:
  // *(u16 *)(r2 + 4) = r3; *(u8 *)(r2 + 5) = 0x33 (over the u16's high byte); *(u32 *)(r2 + 8) = 0x44444444
  const fill = [insn(0x61, 2, 1, 76, 0), insn(0x62, 2, 0, 0, 0x11111111), movImm(3, 0x2222), insn(0x6b, 2, 3, 4, 0), insn(0x72, 2, 0, 5, 0x33), insn(0x62, 2, 0, 8, 0x44444444)];
  expectR0([...fill, insn(0x79, 0, 2, 0, 0)], 0x0706332211111111n, pkt);
  // ... the same before the packet is copied in: the first store of the run copies it
  expectR0([insn(0x61, 2, 1, 76, 0), movImm(3, 0x2222), ...fill.slice(3), insn(0x79, 0, 2, 0, 0)], 0x0706332203020100n, pkt);
  // on the stack through r2 = r10 - 16, all in bounds; r0 = *(u64 *)(r2 + 4)
  expectR0([mov(2, 10), insn(0x07, 2, 0, 0, -16), insn(0x62, 2, 0, 0, 1), insn(0x62, 2, 0, 4, 2), insn(0x62, 2, 0, 8, 3), insn(0x79, 0, 2, 4, 0)], 0x0000000300000002n);
  for (const mode of MODES) {
    const p = loadRaw(assemble([...fill, movImm(0, 0), exit]), { mode });
    p.run({ packet: pkt });
    assert.deepEqual(Array.from(p.skb.frame), [0x11, 0x11, 0x11, 0x11, 0x22, 0x33, 6, 7, 0x44, 0x44, 0x44, 0x44], mode);
  }
  // the same run on the stack through r2 = r10 - 8: the third store (at r10 - 8 + 8) is past the top
  const stack = [mov(2, 10), insn(0x07, 2, 0, 0, -8), insn(0x62, 2, 0, 0, 1), insn(0x62, 2, 0, 4, 2), insn(0x62, 2, 0, 8, 3), exit];
  expectFault(stack, 4, /instruction 4: store of 4 bytes at 0x100001000 is outside the program's memory: past the end of the stack/);
});

test('the context fields a program may write are zero again at the next run', () => {
  // r0 = cb[0] | priority | tc_classid | tstamp (all zero on a fresh context); then each is written
  const ldxw = (dst: number, off: number) => insn(0x61, dst, 1, off, 0);
  const ldxdw = (dst: number, off: number) => insn(0x79, dst, 1, off, 0);
  const stw = (off: number, imm: number) => insn(0x62, 1, 0, off, imm);
  const or = (dst: number, src: number) => insn(0x4f, dst, src, 0, 0);
  const code = assemble([
    ldxw(0, 48), ldxw(2, 32), or(0, 2), ldxw(2, 72), or(0, 2), ldxdw(2, 152), or(0, 2), ldxw(2, 44), or(0, 2), ldxw(2, 12), or(0, 2),
    stw(48, 7), stw(64, 8), stw(32, 9), stw(72, 10), stw(152, 11), stw(156, 12), stw(44, 13), stw(12, 14), exit,
  ]);
  for (const mode of MODES) {
    const p = loadRaw(code, { mode });
    for (let run = 0; run < 3; run++) assert.equal(p.run({ packet: new Uint8Array(60) }), 0n, `${mode}, run ${run}: the fields the last run wrote read as zero`);
  }
});
