/**
 * Random well-formed eBPF programs for the fuzz target 'runtime: interpreter vs compiled': every
 * ALU/JMP class, loads and stores (stack, context, packet, and mostly-not-pointers), atomics, bounded
 * loops, bpf-to-bpf calls, helpers; and the outcome of one run in either mode, to compare.
 */
import fc from 'fast-check';
import { RuntimeFault } from '../../src/errors.js';
import { loadRaw } from '../../src/runtime/raw.js';

/** One instruction slot; `skip` (forward jump over that many following items) and `call` are resolved at layout. */
interface Ins {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  skip?: number;
  /** A bpf-to-bpf call of function 1 (the recursive one) or 2 (a leaf). */
  call?: 1 | 2;
}
type Item = Ins[];

const I = (op: number, dst = 0, src = 0, off = 0, imm = 0): Ins => ({ op, dst, src, off, imm });
const SIZE_BITS: Record<number, number> = { 4: 0x00, 2: 0x08, 1: 0x10, 8: 0x18 };
const ALL_REGS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const CTX_SLOT = -8;

function ld64(dst: number, v: bigint): Ins[] {
  const u = BigInt.asUintN(64, v);
  return [I(0x18, dst, 0, 0, Number(u & 0xffffffffn) | 0), I(0, 0, 0, 0, Number(u >> 32n) | 0)];
}

const u64Arb = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 0xffffffffffffffffn, 0x8000000000000000n, 0x7fffffffffffffffn, 0x80000000n, 0xffffffffn, 0x7fffffffn, 0x100000000n, 0xffffffff80000000n, 0xffffffff00000000n, 0x8000n, 0xff80n, 0x80n, 63n, 64n, 32n),
  fc.bigInt({ min: 0n, max: 0xffffffffffffffffn }),
  fc.bigInt({ min: -300n, max: 300n }).map((v) => BigInt.asUintN(64, v)),
);
const immArb = fc.oneof(
  fc.constantFrom(0, 1, -1, 2, 7, 31, 32, 33, 63, 64, 65, 127, -128, 0x7fff, -0x8000, 0xffff, 0x7fffffff, -0x80000000),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.integer({ min: -70, max: 70 }),
);
const anyReg = fc.integer({ min: 0, max: 10 });
const sizeArb = fc.constantFrom(1, 2, 4, 8);
/** A stack offset from r10 for `size` bytes: aligned and in the frame, or (1 in 10) outside the stack. */
const stackOff = (size: number) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.tuple(fc.integer({ min: 2, max: 64 }), fc.nat(7)).map(([k, j]) => -8 * k + ((j * size) % 8)) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 8, 64, -4096, -4104, -4097, -8192, -32768, 32767) },
  );

function aluArb(regs: number[]): fc.Arbitrary<Item> {
  return fc
    .record({ is64: fc.boolean(), code: fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc), reg: fc.boolean(), dst: fc.constantFrom(...regs), src: anyReg, imm: immArb, signed: fc.boolean(), sx: fc.constantFrom(0, 8, 16, 32) })
    .map(({ is64, code, reg, dst, src, imm, signed, sx }) => {
      const cls = is64 ? 0x07 : 0x04;
      if (code === 8) return [I(cls | 0x80, dst)];
      let off = 0;
      if (code === 3 || code === 9) off = signed ? 1 : 0;
      if (code === 0xb && reg) off = is64 || sx !== 32 ? sx : 0;
      return [I(cls | (code << 4) | (reg ? 8 : 0), dst, reg ? src : 0, off, reg ? 0 : imm)];
    });
}

const endArb = (regs: number[]) =>
  fc.record({ op: fc.constantFrom(0xd4, 0xdc, 0xd7), width: fc.constantFrom(16, 32, 64), dst: fc.constantFrom(...regs) }).map(({ op, width, dst }): Item => [I(op, dst, 0, 0, width)]);

const ld64Arb = (regs: number[]) => fc.tuple(fc.constantFrom(...regs), u64Arb).map(([d, v]): Item => ld64(d, v));

const stackStoreArb = sizeArb.chain((size) =>
  fc.record({ reg: fc.boolean(), src: anyReg, imm: immArb, off: stackOff(size) }).map(({ reg, src, imm, off }): Item => [reg ? I(0x63 | SIZE_BITS[size]!, 10, src, off) : I(0x62 | SIZE_BITS[size]!, 10, 0, off, imm)]),
);

const stackLoadArb = (regs: number[]) =>
  sizeArb.chain((size) =>
    fc.record({ sx: fc.boolean(), dst: fc.constantFrom(...regs), off: stackOff(size) }).map(({ sx, dst, off }): Item => [I(0x01 | (sx && size !== 8 ? 0x80 : 0x60) | SIZE_BITS[size]!, dst, 10, off)]),
  );

const atomicArb = (regs: number[]) =>
  fc.constantFrom(4, 8).chain((size) =>
    fc
      .record({ aop: fc.constantFrom(0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1), src: fc.constantFrom(...regs), off: stackOff(size) })
      .map(({ aop, src, off }): Item => [I(0xc3 | SIZE_BITS[size]!, 10, src, off, aop)]),
  );

/** The stack through another register: p = r10 - 8k, then a load or a store at p + j. */
const viaPointerArb = (regs: number[]) =>
  sizeArb.chain((size) =>
    fc
      .record({ p: fc.constantFrom(...regs), k: fc.integer({ min: 2, max: 64 }), j: fc.nat(7), load: fc.boolean(), sx: fc.boolean(), other: fc.constantFrom(...regs) })
      .map(({ p, k, j, load, sx, other }): Item => {
        const off = (j * size) % 8;
        return [
          I(0xbf, p, 10),
          I(0x07, p, 0, 0, -8 * k),
          load ? I(0x01 | (sx && size !== 8 ? 0x80 : 0x60) | SIZE_BITS[size]!, other, p, off) : I(0x63 | SIZE_BITS[size]!, p, other, off),
        ];
      }),
  );

/**
 * Consecutive stores through one pointer (the compiled path checks the bytes they span at once): p = the
 * stack at r10 - 8k (the run may cross the stack's top: a fault at the store that does) or the
 * packet's data (read-only until copied in; past its end: a fault), then 2-6 stores at p + offsets.
 */
const storeRunArb = (regs: number[], ctx: boolean) =>
  fc
    .record({
      p: fc.constantFrom(...regs),
      k: fc.integer({ min: 1, max: 8 }),
      packet: fc.boolean(),
      stores: fc.array(fc.record({ size: sizeArb, off: fc.integer({ min: -8, max: 40 }), reg: fc.boolean(), src: anyReg, imm: immArb }), { minLength: 2, maxLength: 6 }),
    })
    .map(({ p, k, packet, stores }): Item => [
      ...(packet && ctx ? [I(0x79, p, 10, CTX_SLOT), I(0x61, p, p, 76)] : [I(0xbf, p, 10), I(0x07, p, 0, 0, -8 * k)]),
      ...stores.map((t) => (t.reg ? I(0x63 | SIZE_BITS[t.size]!, p, t.src, t.off) : I(0x62 | SIZE_BITS[t.size]!, p, 0, t.off, t.imm))),
    ]);

/** A load or store through any register (mostly not a pointer: a fault). */
const derefArb = (regs: number[]) =>
  fc
    .record({ size: sizeArb, base: anyReg, off: fc.oneof(fc.constant(0), fc.integer({ min: -0x8000, max: 0x7fff })), load: fc.boolean(), reg: fc.constantFrom(...regs) })
    .map(({ size, base, off, load, reg }): Item => [load ? I(0x61 | SIZE_BITS[size]!, reg, base, off) : I(0x63 | SIZE_BITS[size]!, base, reg, off)]);

/** bpf_trace_printk formats (16 bytes each, NUL padded): they print r3..r5. */
const FORMATS = ['%llx %llx %llx\n', '%d %u %x %c', '%lld %llu %lx', '%ld %lu %% %p'];
const helperArb = fc.oneof(
  fc.constantFrom(5, 7, 8).map((id): Item => [I(0x85, 0, 0, 0, id)]),
  fc.tuple(fc.constantFrom(...FORMATS), fc.constantFrom(16, 16, 16, 8, 0, 600)).map(([fmt, len]): Item => {
    const b = new Uint8Array(16);
    b.set(Buffer.from(fmt, 'latin1').subarray(0, 15));
    const v = new DataView(b.buffer);
    return [
      ...[0, 4, 8, 12].map((o) => I(0x62, 10, 0, -24 + o, v.getInt32(o, true))),
      I(0xbf, 1, 10),
      I(0x07, 1, 0, 0, -24),
      I(0xb7, 2, 0, 0, len),
      I(0x85, 0, 0, 0, 6),
    ];
  }),
);

/** The tc context (saved at r10-8 by the prologue): its fields, its pointer fields, the packet through them. */
const ctxArb = (regs: number[]) =>
  fc
    .record({ kind: fc.nat(4), p: fc.constantFrom(...regs), a: fc.constantFrom(...regs), e: fc.constantFrom(...regs), d: fc.constantFrom(...regs), size: sizeArb, off: fc.oneof(fc.constantFrom(76, 80, 140, 0, 8, 16, 48, 152), fc.nat(200)), poff: fc.nat(80), imm: immArb, sx: fc.boolean(), reg: fc.boolean() })
    .map(({ kind, p, a, e, d, size, off, poff, imm, sx, reg }): Item => {
      const out = [I(0x79, p, 10, CTX_SLOT)];
      const ldx = (dst: number, src: number, o: number) => I(0x01 | (sx && size !== 8 ? 0x80 : 0x60) | SIZE_BITS[size]!, dst, src, o);
      const stx = (base: number, o: number) => (reg ? I(0x63 | SIZE_BITS[size]!, base, d, o) : I(0x62 | SIZE_BITS[size]!, base, 0, o, imm));
      switch (kind) {
        case 0: return [...out, ldx(d, p, off)];
        case 1: return [...out, stx(p, off)];
        case 2: return [...out, I(0x61, a, p, off % 3 === 0 ? 140 : 76), ldx(d, a, poff)];
        case 3: return [...out, I(0x61, a, p, 76), stx(a, poff)];
        default:
          // a bounds-checked packet load: if (data + poff + size > data_end) skip
          return [...out, I(0x61, e, p, 80), I(0x61, a, p, 76), I(0xbf, d, a), I(0x07, d, 0, 0, poff + size), I(0x2d, d, e, 1), ldx(d, a, poff)];
      }
    });

const condJumpArb = fc
  .record({ is64: fc.boolean(), code: fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 0xa, 0xb, 0xc, 0xd), reg: fc.boolean(), dst: anyReg, src: anyReg, imm: immArb, skip: fc.nat(6) })
  .map(({ is64, code, reg, dst, src, imm, skip }): Item => [{ op: (is64 ? 0x05 : 0x06) | (code << 4) | (reg ? 8 : 0), dst, src: reg ? src : 0, off: 0, imm: reg ? 0 : imm, skip }]);

const jaArb = fc.record({ long: fc.boolean(), skip: fc.nat(4) }).map(({ long, skip }): Item => [{ op: long ? 0x06 : 0x05, dst: 0, src: 0, off: 0, imm: 0, skip }]);

/** Straight-line items writing only `regs`. */
const simpleArb = (regs: number[], ctx: boolean) =>
  fc.oneof(
    { weight: 10, arbitrary: aluArb(regs) },
    { weight: 2, arbitrary: endArb(regs) },
    { weight: 1, arbitrary: ld64Arb(regs) },
    { weight: 3, arbitrary: stackStoreArb },
    { weight: 3, arbitrary: stackLoadArb(regs) },
    { weight: 2, arbitrary: atomicArb(regs) },
    { weight: 1, arbitrary: viaPointerArb(regs) },
    { weight: 1, arbitrary: derefArb(regs) },
    { weight: 1, arbitrary: storeRunArb(regs, ctx) },
    { weight: 1, arbitrary: helperArb },
    { weight: ctx ? 2 : 0, arbitrary: ctx ? ctxArb(regs) : aluArb(regs) },
  );

/** A bounded loop counting c down from n, its body straight-line code that leaves c alone. */
const loopArb = fc
  .constantFrom(6, 7, 8, 9)
  .chain((c) => fc.record({ c: fc.constant(c), n: fc.integer({ min: 1, max: 4 }), body: fc.array(simpleArb(ALL_REGS.filter((r) => r !== c), true), { minLength: 1, maxLength: 5 }), ja: fc.boolean(), is32: fc.boolean() }))
  .map(({ c, n, body, ja, is32 }): Item => {
    const b = body.flat();
    const head = [I(0xb7, c, 0, 0, n), ...b, I(0x07, c, 0, 0, -1)];
    return ja
      ? [...head, I(is32 ? 0x16 : 0x15, c, 0, 1, 0), I(0x05, 0, 0, -(b.length + 3))]
      : [...head, I(is32 ? 0x56 : 0x55, c, 0, -(b.length + 2), 0)];
  });

const callArb = fc.tuple(fc.integer({ min: 0, max: 9 }), fc.constantFrom(1 as const, 2 as const)).map(([depth, fn]): Item => [I(0xb7, 1, 0, 0, depth), { ...I(0x85, 0, 1), call: fn }]);

const mainItemArb = fc.oneof(
  { weight: 20, arbitrary: simpleArb(ALL_REGS, true) },
  { weight: 4, arbitrary: condJumpArb },
  { weight: 1, arbitrary: jaArb },
  { weight: 1, arbitrary: loopArb },
  { weight: 1, arbitrary: callArb },
);
const leafItemArb = fc.oneof({ weight: 10, arbitrary: simpleArb(ALL_REGS, false) }, { weight: 2, arbitrary: condJumpArb }, { weight: 1, arbitrary: jaArb });
const subItemArb = fc.oneof({ weight: 12, arbitrary: leafItemArb }, { weight: 1, arbitrary: fc.constant<Item>([{ ...I(0x85, 0, 1), call: 2 }]) });

/** Lay out one function's items from instruction `base`, resolving forward skips (to `tail` at most) and calls. */
function layout(items: Item[], tail: Ins[], base: number, fns: number[]): Ins[] {
  const starts: number[] = [];
  let at = base;
  for (const it of items) {
    starts.push(at);
    at += it.length;
  }
  const end = at;
  const out: Ins[] = [];
  items.forEach((it, j) =>
    it.forEach((ins, k) => {
      const pos = starts[j]! + k;
      const x = { ...ins };
      if (ins.skip !== undefined) {
        const t = j + 1 + ins.skip;
        const rel = (t >= items.length ? end : starts[t]!) - (pos + 1);
        if (ins.op === 0x06) x.imm = rel;
        else x.off = rel;
      }
      if (ins.call) x.imm = fns[ins.call]! - (pos + 1);
      delete x.skip;
      delete x.call;
      out.push(x);
    }),
  );
  return [...out, ...tail];
}

export function encode(code: Ins[]): Uint8Array {
  const b = new Uint8Array(code.length * 8);
  const v = new DataView(b.buffer);
  code.forEach((x, i) => {
    v.setUint8(i * 8, x.op);
    v.setUint8(i * 8 + 1, x.dst | (x.src << 4));
    v.setInt16(i * 8 + 2, x.off, true);
    v.setInt32(i * 8 + 4, x.imm, true);
  });
  return b;
}

export const rawProgramArb = fc
  .record({
    init: fc.array(u64Arb, { minLength: 10, maxLength: 10 }),
    main: fc.array(mainItemArb, { minLength: 1, maxLength: 40 }),
    subA: fc.array(subItemArb, { maxLength: 8 }),
    subB: fc.array(subItemArb, { maxLength: 8 }),
    leaf: fc.array(leafItemArb, { maxLength: 8 }),
    packet: fc.uint8Array({ maxLength: 80 }),
  })
  .map(({ init, main, subA, subB, leaf, packet }) => {
    const prologue: Item = [I(0x7b, 10, 1, CTX_SLOT), ...init.flatMap((v, r) => ld64(r, v))];
    const epilogue: Ins[] = [...ALL_REGS.map((r) => I(0x7b, 10, r, -96 + 8 * r)), I(0x95)];
    // Function 1 recurses while r1 > 0 (r1 counts down; the call depth limit bounds it anyway) and may call function 2.
    const recurse: Item = [I(0x15, 1, 0, 2), I(0x07, 1, 0, 0, -1), { ...I(0x85, 0, 1), call: 1 }];
    const size = (items: Item[]) => items.reduce((n, it) => n + it.length, 0);
    const fns = [0, size([prologue, ...main]) + epilogue.length];
    fns.push(fns[1]! + size([...subA, recurse, ...subB]) + 1);
    const code = layout([prologue, ...main], epilogue, 0, fns);
    code.push(...layout([...subA, recurse, ...subB], [I(0x95)], fns[1]!, fns));
    code.push(...layout(leaf, [I(0x95)], fns[2]!, fns));
    return { code, packet };
  });

export function rawOutcome(code: Uint8Array, mode: 'compiled' | 'interpreter', packet: Uint8Array) {
  const p = loadRaw(code, { mode, name: 'fuzz' });
  let r0: string | undefined;
  let fault: string | undefined;
  try {
    r0 = p.run({ packet }).toString(16);
  } catch (e) {
    if (!(e instanceof RuntimeFault)) throw e;
    fault = `${e.message} [insn ${e.insn}]`;
  }
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return { r0, fault, stack: hex(p.stack.bytes), packet: hex(p.skb.frame), ctx: hex(p.skb.ctx.bytes), trace: p.traceLines.join('\n') };
}

export function disassemble(code: Ins[]): string {
  return code.map((x, i) => `${i}: op=0x${x.op.toString(16)} dst=r${x.dst} src=r${x.src} off=${x.off} imm=${x.imm}`).join('\n');
}

