/**
 * The compiled path: each program is turned once into JavaScript, so V8 can optimise it. A program
 * whose jumps all go forward within its functions (what the verifier accepts, loops aside) becomes one
 * JavaScript function per eBPF function, jumps being breaks out of labelled blocks; any other program
 * one function with a dispatch loop (a switch over the jump targets). Registers are pairs of int32
 * locals (`rNl` low half, `rNh` high half): 64-bit arithmetic is done on the halves (carries, 16-bit
 * limb products, shifts across the halves, unsigned and signed compares on pairs). Memory: the stack
 * and the packet are read and written inline through their DataViews (with the same bounds checks),
 * everything else (context, map values, and every access that would fault) through
 * Memory.loadP/storeP, which check as Memory.load/store do and fault with their messages. So the hot
 * path allocates no BigInt: only 64-bit division by large values, helper arguments and results, and
 * the entry/exit values go through BigInt (rare, or a few times per run).
 * Same semantics and the same checked memory as the interpreter, written independently of it: the
 * differential tests (and the fuzz target 'runtime: interpreter vs compiled') compare the two.
 */
import { Cls, Mode, SIZE_BYTES, type Decoded } from './insn.js';
import { MAX_CALL_DEPTH, MAX_STEPS, STACK_SIZE, type Linked } from './interpreter.js';
import type { RunEnv } from './env.js';
import { pairHelper } from './helpers.js';
import type { Region } from './memory.js';
import { RuntimeFault } from '../errors.js';

export interface Compiled {
  /** Run with r1 = `r1`; r0 at exit (u64). */
  (env: RunEnv, stack: Region, r1: bigint): bigint;
  /** The same run, giving the low 32 bits of r0 as an int32 (no BigInt for the result). */
  low32(env: RunEnv, stack: Region, r1: bigint): number;
  /** low32() with r1 as int32 halves (no BigInt at all). */
  entry(env: RunEnv, stack: Region, r1l: number, r1h: number): number;
}

/** An operand: a register's halves, or a sign-extended immediate's (as literals). */
interface Operand {
  l: string;
  h: string;
  /** Unsigned views, for compares. */
  ul: string;
  uh: string;
  /** The immediate, when it is one. */
  imm?: number;
}

const reg = (n: number): Operand => ({ l: `r${n}l`, h: `r${n}h`, ul: `(r${n}l >>> 0)`, uh: `(r${n}h >>> 0)` });
const immOp = (imm: number): Operand => {
  const h = imm < 0 ? -1 : 0;
  return { l: `${imm | 0}`, h: `${h}`, ul: `${imm >>> 0}`, uh: `${h >>> 0}`, imm };
};

/** Frame of a bpf-to-bpf call: return pc, r6..r10 halves. */
const FRAME = 11;

/** Arguments each helper reads (the others are passed as 0n); unknown helpers get all five. */
const HELPER_ARGS: Record<number, number> = { 1: 2, 2: 4, 3: 2, 5: 0, 125: 0, 6: 5, 7: 0, 8: 0, 25: 5, 26: 4, 130: 4, 131: 3, 132: 1, 133: 1, 134: 2 };

const bswap32 = (x: string) => `(((${x} & 0xff) << 24) | ((${x} & 0xff00) << 8) | ((${x} >>> 8) & 0xff00) | (${x} >>> 24))`;

function alu64(pc: number, code: number, off: number, d: Operand, s: Operand, imm: number): string {
  switch (code) {
    case 0x0: // add
      if (s.imm !== undefined) {
        if (s.imm === 0) return '';
        return s.imm > 0
          ? `t = ${d.ul} + ${s.imm}; ${d.l} = t | 0; if (t > 4294967295) ${d.h} = (${d.h} + 1) | 0;`
          : `t = ${d.ul} + ${s.imm}; ${d.l} = t | 0; if (t < 0) ${d.h} = (${d.h} - 1) | 0;`;
      }
      return `t = ${d.ul} + ${s.ul}; ${d.h} = (${d.h} + ${s.h} + (t > 4294967295 ? 1 : 0)) | 0; ${d.l} = t | 0;`;
    case 0x1: // sub
      if (s.imm !== undefined) {
        if (s.imm === 0) return '';
        return s.imm > 0
          ? `t = ${d.ul} - ${s.imm}; ${d.l} = t | 0; if (t < 0) ${d.h} = (${d.h} - 1) | 0;`
          : `t = ${d.ul} - ${s.imm}; ${d.l} = t | 0; if (t > 4294967295) ${d.h} = (${d.h} + 1) | 0;`;
      }
      return `t = ${d.ul} - ${s.ul}; ${d.h} = (${d.h} - ${s.h} - (t < 0 ? 1 : 0)) | 0; ${d.l} = t | 0;`;
    case 0x2: // mul: low halves' full product from 16-bit limbs, cross terms with Math.imul
      return (
        `t = ${d.l} & 0xffff; u = ${d.l} >>> 16; w = ${s.l} & 0xffff; x = ${s.l} >>> 16; ` +
        `y = t * w; z = (y >>> 16) + ((t * x) & 0xffff) + ((u * w) & 0xffff); ` +
        `${d.h} = (u * x + ((t * x) >>> 16) + ((u * w) >>> 16) + (z >>> 16) + Math.imul(${d.l}, ${s.h}) + Math.imul(${d.h}, ${s.l})) | 0; ` +
        `${d.l} = (z << 16) | (y & 0xffff);`
      );
    case 0x3: // div
    case 0x9: // mod
      return `${d.l} = DIV(${d.l}, ${d.h}, ${s.l}, ${s.h}, ${off === 1}, ${code === 0x9}); ${d.h} = T.h;`;
    case 0x4:
      return `${d.l} |= ${s.l}; ${d.h} |= ${s.h};`;
    case 0x5:
      return `${d.l} &= ${s.l}; ${d.h} &= ${s.h};`;
    case 0xa:
      return `${d.l} ^= ${s.l}; ${d.h} ^= ${s.h};`;
    case 0x6: // lsh
    case 0x7: // rsh
    case 0xc: // arsh
      if (s.imm !== undefined) return shift64(code, d, `${s.imm & 63}`, s.imm & 63);
      return `t = ${s.l} & 63; ${shift64(code, d, 't', undefined)}`;
    case 0x8: // neg: ~x + 1
      return `${d.h} = (~${d.h} + (${d.l} === 0 ? 1 : 0)) | 0; ${d.l} = (-${d.l}) | 0;`;
    case 0xb: // mov, movsx
      if (off === 8) return `${d.l} = (${s.l} << 24) >> 24; ${d.h} = ${d.l} >> 31;`;
      if (off === 16) return `${d.l} = (${s.l} << 16) >> 16; ${d.h} = ${d.l} >> 31;`;
      if (off === 32) return `${d.l} = ${s.l}; ${d.h} = ${d.l} >> 31;`;
      return d.l === s.l ? '' : `${d.l} = ${s.l}; ${d.h} = ${s.h};`;
    case 0xd: // ALU64 END: unconditional byte swap
      return bswap(d, imm);
  }
  throw new Error(`program instruction ${pc}: alu64 ${code}`);
}

/** A 64-bit shift of `d` by `n` (0..63): a literal when `k` is known, else a variable. */
function shift64(code: number, d: Operand, n: string, k: number | undefined): string {
  const { l, h } = d;
  if (k !== undefined) {
    if (k === 0) return '';
    if (code === 0x6) return k < 32 ? `${h} = (${h} << ${k}) | (${l} >>> ${32 - k}); ${l} = ${l} << ${k};` : `${h} = ${l} << ${k - 32}; ${l} = 0;`;
    if (code === 0x7) return k < 32 ? `${l} = (${l} >>> ${k}) | (${h} << ${32 - k}); ${h} = (${h} >>> ${k}) | 0;` : `${l} = (${h} >>> ${k - 32}) | 0; ${h} = 0;`;
    return k < 32 ? `${l} = (${l} >>> ${k}) | (${h} << ${32 - k}); ${h} = ${h} >> ${k};` : `${l} = ${h} >> ${k - 32}; ${h} = ${h} >> 31;`;
  }
  if (code === 0x6) return `if (${n} >= 32) { ${h} = ${l} << (${n} - 32); ${l} = 0; } else if (${n} !== 0) { ${h} = (${h} << ${n}) | (${l} >>> (32 - ${n})); ${l} = ${l} << ${n}; }`;
  if (code === 0x7) return `if (${n} >= 32) { ${l} = (${h} >>> (${n} - 32)) | 0; ${h} = 0; } else if (${n} !== 0) { ${l} = (${l} >>> ${n}) | (${h} << (32 - ${n})); ${h} = (${h} >>> ${n}) | 0; }`;
  return `if (${n} >= 32) { ${l} = ${h} >> (${n} - 32); ${h} = ${h} >> 31; } else if (${n} !== 0) { ${l} = (${l} >>> ${n}) | (${h} << (32 - ${n})); ${h} = ${h} >> ${n}; }`;
}

function bswap(d: Operand, bits: number): string {
  if (bits === 16) return `${d.l} = ((${d.l} & 0xff) << 8) | ((${d.l} >>> 8) & 0xff); ${d.h} = 0;`;
  if (bits === 32) return `${d.l} = ${bswap32(d.l)}; ${d.h} = 0;`;
  if (bits === 64) return `t = ${bswap32(d.l)}; ${d.l} = ${bswap32(d.h)}; ${d.h} = t;`;
  // The interpreter's byte swap of other widths: the low `bits` bits, byte-reversed (BigInt: rare).
  return `${d.l} = SWAP(${d.l}, ${d.h}, ${bits}); ${d.h} = T.h;`;
}

function alu32(pc: number, code: number, off: number, d: Operand, s: Operand, imm: number, toLe: boolean): string {
  const { l } = d;
  const z = `${d.h} = 0;`;
  switch (code) {
    case 0x0: return `${l} = (${l} + ${s.l}) | 0; ${z}`;
    case 0x1: return `${l} = (${l} - ${s.l}) | 0; ${z}`;
    case 0x2: return `${l} = Math.imul(${l}, ${s.l}); ${z}`;
    case 0x3:
      return off === 1
        ? `${l} = ${s.l} === 0 ? 0 : (${l} / ${s.l}) | 0; ${z}`
        : `${l} = ${s.l} === 0 ? 0 : (${d.ul} / ${s.ul}) | 0; ${z}`;
    case 0x9:
      return off === 1
        ? `if (${s.l} !== 0) ${l} = (${l} % ${s.l}) | 0; ${z}`
        : `if (${s.l} !== 0) ${l} = (${d.ul} % ${s.ul}) | 0; ${z}`;
    case 0x4: return `${l} |= ${s.l}; ${z}`;
    case 0x5: return `${l} &= ${s.l}; ${z}`;
    case 0xa: return `${l} ^= ${s.l}; ${z}`;
    // JavaScript masks 32-bit shift amounts with 31, as eBPF does.
    case 0x6: return `${l} = ${l} << ${s.imm !== undefined ? s.imm & 31 : s.l}; ${z}`;
    case 0x7: return `${l} = (${l} >>> ${s.imm !== undefined ? s.imm & 31 : s.l}) | 0; ${z}`;
    case 0xc: return `${l} = ${l} >> ${s.imm !== undefined ? s.imm & 31 : s.l}; ${z}`;
    case 0x8: return `${l} = (-${l}) | 0; ${z}`;
    case 0xb:
      if (off === 8) return `${l} = (${s.l} << 24) >> 24; ${z}`;
      if (off === 16) return `${l} = (${s.l} << 16) >> 16; ${z}`;
      return `${l} = ${s.l}; ${z}`;
    case 0xd:
      // END: source bit 0 = to big endian (a swap on this little-endian machine), else to little endian.
      if (!toLe) return bswap(d, imm);
      if (imm === 64) return '';
      if (imm === 32) return z;
      if (imm === 16) return `${l} &= 0xffff; ${z}`;
      return `${l} = MASK(${l}, ${d.h}, ${imm}); ${d.h} = T.h;`;
  }
  throw new Error(`program instruction ${pc}: alu32 ${code}`);
}

function condition(pc: number, code: number, is64: boolean, a: Operand, b: Operand): string {
  if (!is64) {
    switch (code) {
      case 0x1: return `${a.l} === ${b.l}`;
      case 0x5: return `${a.l} !== ${b.l}`;
      case 0x2: return `${a.ul} > ${b.ul}`;
      case 0x3: return `${a.ul} >= ${b.ul}`;
      case 0xa: return `${a.ul} < ${b.ul}`;
      case 0xb: return `${a.ul} <= ${b.ul}`;
      case 0x4: return `(${a.l} & ${b.l}) !== 0`;
      case 0x6: return `${a.l} > ${b.l}`;
      case 0x7: return `${a.l} >= ${b.l}`;
      case 0xc: return `${a.l} < ${b.l}`;
      case 0xd: return `${a.l} <= ${b.l}`;
    }
    throw new Error(`program instruction ${pc}: jmp32 ${code}`);
  }
  // Unsigned: compare the high halves, then the low halves; signed: the high halves signed.
  const u = (op: string) => `(${a.uh} ${op[0]} ${b.uh} || (${a.h} === ${b.h} && ${a.ul} ${op} ${b.ul}))`;
  const s = (op: string) => `(${a.h} ${op[0]} ${b.h} || (${a.h} === ${b.h} && ${a.ul} ${op} ${b.ul}))`;
  switch (code) {
    case 0x1: return `(${a.l} === ${b.l} && ${a.h} === ${b.h})`;
    case 0x5: return `(${a.l} !== ${b.l} || ${a.h} !== ${b.h})`;
    case 0x4: return `((${a.l} & ${b.l}) !== 0 || (${a.h} & ${b.h}) !== 0)`;
    case 0x2: return u('>');
    case 0x3: return u('>=');
    case 0xa: return u('<');
    case 0xb: return u('<=');
    case 0x6: return s('>');
    case 0x7: return s('>=');
    case 0xc: return s('<');
    case 0xd: return s('<=');
  }
  throw new Error(`program instruction ${pc}: jmp ${code}`);
}

/** Atomic read-modify-write, as the interpreter: load (checked), compute, store (checked). */
function atomicCode(pc: number, size: number, imm: number, d: Operand, s: Operand, off: number): string {
  const load = `t = mem.loadP(${d.h}, ${d.l}, ${off}, ${size}, ${pc}); u = mem.hi;`;
  const store = (vl: string, vh: string) => `mem.storeP(${d.h}, ${d.l}, ${off}, ${size}, ${vl}, ${vh}, ${pc});`;
  // inline (the stack, a cached region: in bounds, live and writable, so neither access faults)
  const vload = (v: string) => `t = ${v}.getInt32(o, true); u = ${size === 8 ? `${v}.getInt32(o + 4, true)` : '0'};`;
  const vstore = (v: string) => (vl: string, vh: string) => `${v}.setInt32(o, ${vl}, true);${size === 8 ? ` ${v}.setInt32(o + 4, ${vh}, true);` : ''}`;
  // the source value, masked to the width (v = w:x)
  const src = size === 4 ? `x = ${s.l}; w = 0;` : `x = ${s.l}; w = ${s.h};`;
  const fetch = `${s.l} = t; ${s.h} = u;`;
  const body = (ld: string, st: (vl: string, vh: string) => string): string => {
    switch (imm) {
      case 0xe1: // XCHG
        return `${ld} ${src} ${st('x', 'w')} ${fetch}`;
      case 0xf1: // CMPXCHG: compare with r0 (masked to the width)
        return `${ld} ${src} if (r0l === t && ${size === 4 ? '0' : 'r0h'} === u) { ${st('x', 'w')} } r0l = t; r0h = u;`;
    }
    let nv: string;
    switch (imm & ~1) {
      case 0x00:
        nv = size === 4 ? `y = (t + x) | 0; z = 0;` : `y = (t >>> 0) + (x >>> 0); z = (u + w + (y > 4294967295 ? 1 : 0)) | 0; y = y | 0;`;
        break;
      case 0x40: nv = 'y = t | x; z = u | w;'; break;
      case 0x50: nv = 'y = t & x; z = u & w;'; break;
      case 0xa0: nv = 'y = t ^ x; z = u ^ w;'; break;
      default: return '';
    }
    return `${ld} ${src} ${nv} ${st('y', 'z')}${imm & 1 ? ` ${fetch}` : ''}`;
  };
  const slow = body(load, store);
  if (slow === '') return `throw fault(${pc}, 'unknown atomic operation 0x${imm.toString(16)}');`;
  return (
    `o = ${d.ul} + ${off}; if (${d.h} === SID && o >= 0 && o <= SLW - ${size}) { ${body(vload('SV'), vstore('SV'))} }` +
    ` else if (${d.h} === (q = RC${pc}).id && q.live && q.writable && o >= 0 && o <= q.size - ${size}) { ${body(vload('q.view'), vstore('q.view'))} }` +
    ` else { ${slow} ${cacheFill(pc, d)} }`
  );
}

/** After a checked access through mem: remember the region of `b` for the next accesses of instruction `pc`. */
const cacheFill = (pc: number, b: Operand) => `if ((q = mem.regionP(${b.h})) !== undefined && CACHEABLE(q)) RC${pc} = q;`;

const GET: Record<number, string> = { 1: 'getUint8', 2: 'getUint16', 4: 'getInt32' };
const SET: Record<number, string> = { 1: 'setUint8', 2: 'setUint16', 4: 'setInt32' };

/** A load of `size` bytes at `b` + `off` into `d` (sign-extended for MEMSX); `stackBase`: b is r10. */
function loadCode(pc: number, d: Operand, b: Operand, off: number, size: number, sx: boolean, stackBase: boolean): string {
  const fromView = (v: string) => {
    if (size === 8) return `${d.l} = ${v}.getInt32(t, true); ${d.h} = ${v}.getInt32(t + 4, true);`;
    const get = `${v}.${GET[size]}(t${size === 1 ? '' : ', true'})`;
    if (!sx) return `${d.l} = ${get}; ${d.h} = 0;`;
    return `${d.l} = ${size === 1 ? `(${get} << 24) >> 24` : size === 2 ? `(${get} << 16) >> 16` : get}; ${d.h} = ${d.l} >> 31;`;
  };
  const slow = sx
    ? `t = mem.loadP(${b.h}, ${b.l}, ${off}, ${size}, ${pc}); ${d.l} = ${size === 1 ? '(t << 24) >> 24' : size === 2 ? '(t << 16) >> 16' : 't'}; ${d.h} = ${d.l} >> 31;`
    : `${d.l} = mem.loadP(${b.h}, ${b.l}, ${off}, ${size}, ${pc}); ${d.h} = mem.hi;`;
  // the context: inline too, its pointer fields (Region.pointerField) as loadP gives them
  const packet = stackBase
    ? ''
    : ` else if (${b.h} === PID && t >= 0 && t <= PL - ${size}) { ${fromView('PV')} }` +
      ` else if (${b.h} === CID && t >= 0 && t <= CL - ${size}) { if (CPF !== undefined && (pv = CPF(t, ${size})) !== undefined) { ${sx ? `t = RET(pv); ${d.l} = ${size === 1 ? '(t << 24) >> 24' : size === 2 ? '(t << 16) >> 16' : 't'}; ${d.h} = ${d.l} >> 31;` : `${d.l} = RET(pv); ${d.h} = T.h;`} } else { ${fromView('CV')} } }`;
  const cached = stackBase ? '' : ` else if (${b.h} === (q = RC${pc}).id && q.live && t >= 0 && t <= q.size - ${size}) { ${fromView('q.view')} }`;
  return `t = ${b.ul} + ${off}; if (${b.h} === SID && t >= 0 && t <= SL - ${size}) { ${fromView('SV')} }${packet}${cached} else { ${slow}${stackBase ? '' : ` ${cacheFill(pc, b)}`} }`;
}

/** A store of the low `size` bytes of `vh:vl` at `b` + `off`. */
function storeCode(pc: number, b: Operand, off: number, size: number, vl: string, vh: string, stackBase: boolean): string {
  const toView = (v: string) => (size === 8 ? `${v}.setInt32(t, ${vl}, true); ${v}.setInt32(t + 4, ${vh}, true);` : `${v}.${SET[size]}(t, ${vl}${size === 1 ? '' : ', true'});`);
  const packet = stackBase ? '' : ` else if (${b.h} === PID && t >= 0 && t <= PLW - ${size}) { ${toView('PV')} }`;
  const cached = stackBase ? '' : ` else if (${b.h} === (q = RC${pc}).id && q.live && q.writable && t >= 0 && t <= q.size - ${size}) { ${toView('q.view')} }`;
  return `t = ${b.ul} + ${off}; if (${b.h} === SID && t >= 0 && t <= SLW - ${size}) { ${toView('SV')} }${packet}${cached} else { mem.storeP(${b.h}, ${b.l}, ${off}, ${size}, ${vl}, ${vh}, ${pc});${stackBase ? '' : ` ${cacheFill(pc, b)}`} }`;
}

/** How control flow is written: a jump from `i` to `t`, a bpf-to-bpf call at `i` to `t`, an exit. */
interface Flow {
  jump(i: number, t: number): string;
  call(i: number, t: number): string;
  exit(i: number): string;
}

const isExit = (op: number) => ((op & 7) === Cls.JMP || (op & 7) === Cls.JMP32) && op >> 4 === 0x9;

/** The code of instruction `i` (for ld_imm64, of both its slots). */
function insnCode(p: Linked, i: number, flow: Flow): string {
  const c = p.code;
  const op = c.op[i]!;
  const cls = op & 7;
  const d = reg(c.dst[i]!);
  const s = reg(c.src[i]!);
  const off = c.off[i]!;
  const imm = c.imm[i]!;
  switch (cls) {
    case Cls.ALU64:
    case Cls.ALU: {
      const fromImm = (op & 0x08) === 0;
      const code = op >> 4;
      const b = fromImm ? immOp(imm) : s;
      return cls === Cls.ALU64 ? alu64(i, code, off, d, b, imm) : alu32(i, code, off, d, b, imm, fromImm);
    }
    case Cls.LD: {
      const v = BigInt.asUintN(64, p.imm64[i] ?? 0n);
      return `${d.l} = ${Number(BigInt.asIntN(32, v))}; ${d.h} = ${Number(BigInt.asIntN(32, v >> 32n))};`;
    }
    case Cls.LDX: {
      const size = SIZE_BYTES[(op >> 3) & 3]!;
      return loadCode(i, d, s, off, size, (op & 0xe0) === Mode.MEMSX && size !== 8, c.src[i] === 10);
    }
    case Cls.ST: {
      const v = immOp(imm);
      return storeCode(i, d, off, SIZE_BYTES[(op >> 3) & 3]!, v.l, v.h, c.dst[i] === 10);
    }
    case Cls.STX: {
      const size = SIZE_BYTES[(op >> 3) & 3]!;
      if ((op & 0xe0) === Mode.ATOMIC) {
        return size === 4 || size === 8 ? atomicCode(i, size, imm, d, s, off) : `throw fault(${i}, 'atomic operations are 4 or 8 bytes wide');`;
      }
      return storeCode(i, d, off, size, s.l, s.h, c.dst[i] === 10);
    }
  }
  // JMP, JMP32
  const code = op >> 4;
  if (code === 0x0) return flow.jump(i, i + (cls === Cls.JMP32 ? imm : off) + 1);
  if (cls === Cls.JMP && code === 0x8) {
    if (c.src[i] === 1) return flow.call(i, i + imm + 1);
    const h = p.helpers[i];
    if (h !== undefined && pairHelper(h) !== undefined) {
      // the helper's int32-pair form (helpers.ts): no BigInt for its arguments and result
      return `r0l = P[${i}](env, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, ${i}); r0h = mem.hi; r1l = r1h = r2l = r2h = r3l = r3h = r4l = r4h = r5l = r5h = 0;`;
    }
    const n = HELPER_ARGS[imm] ?? 5;
    const args = [1, 2, 3, 4, 5].map((r) => (r <= n ? `A(r${r}l, r${r}h)` : '0n')).join(', ');
    return `r0l = RET(H[${i}](env, ${args}, ${i})); r0h = T.h; r1l = r1h = r2l = r2h = r3l = r3h = r4l = r4h = r5l = r5h = 0;`;
  }
  if (code === 0x9) return flow.exit(i);
  const b = (op & 0x08) === 0 ? immOp(imm) : s;
  return `if (${condition(i, code, cls === Cls.JMP, d, b)}) { ${flow.jump(i, i + off + 1)} }`;
}

/**
 * The functions (start instructions) of a program whose control flow nests as blocks: every jump goes
 * forward within its function (the main program or a bpf-to-bpf callee), to an instruction, and every
 * function ends with an exit. The verifier's programs without loops are all like this. Undefined for
 * any other program.
 */
function nestedFunctions(c: Decoded): number[] | undefined {
  const second = new Uint8Array(c.count + 1);
  const starts = new Set<number>([0]);
  for (let i = 0; i < c.count; i++) {
    if (c.op[i] === 0x18) second[++i] = 1;
    else if (c.op[i] === 0x85 && c.src[i] === 1) starts.add(i + c.imm[i]! + 1);
  }
  const sorted = [...starts].sort((a, b) => a - b);
  if (calledMain(c)) return undefined; // the main program called as a function: the dispatch loop
  for (let k = 0; k < sorted.length; k++) {
    const a = sorted[k]!;
    const b = sorted[k + 1] ?? c.count;
    if (second[a] || second[b - 1] || !isExit(c.op[b - 1]!)) return undefined;
    for (let i = a; i < b; i++) {
      const op = c.op[i]!;
      const cls = op & 7;
      if (op === 0x18) {
        i++;
        continue;
      }
      if (cls !== Cls.JMP && cls !== Cls.JMP32) continue;
      const code = op >> 4;
      if ((cls === Cls.JMP && code === 0x8) || code === 0x9) continue;
      const t = i + (cls === Cls.JMP32 && code === 0 ? c.imm[i]! : c.off[i]!) + 1;
      if (t <= i || t >= b || second[t]) return undefined;
    }
  }
  return sorted;
}

function calledMain(c: Decoded): boolean {
  for (let i = 0; i < c.count; i++) {
    if (c.op[i] === 0x18) i++;
    else if (c.op[i] === 0x85 && c.src[i] === 1 && i + c.imm[i]! + 1 === 0) return true;
  }
  return false;
}

/** Per-run constants of the inline stack and packet accesses (see loadCode/storeCode). */
const MEMORY_PROLOGUE = `const mem = env.mem;
    // The stack and the packet are reached inline (as loadP/storeP would, checks included; both live
    // for the whole run); other regions (and whatever is not in bounds: the faults) through mem.
    const SV = stack.view, SID = stack.id | 0, SL = mem.owns(stack) && stack.pointerField === undefined ? stack.size : 0, SLW = stack.writable ? SL : 0;
    const pk = env.packet === undefined ? stack : env.packet;
    const PV = pk.view, PID = pk.id | 0, PL = mem.owns(pk) && pk.pointerField === undefined ? pk.size : 0, PLW = pk.writable ? PL : 0;
    // Loads of the context (read-only here: stores go through storeP and its writableAt).
    const cx = env.ctx === undefined ? stack : env.ctx;
    const CV = cx.view, CID = cx.id | 0, CL = env.ctx !== undefined && mem.owns(cx) ? cx.size : 0, CPF = cx.pointerField;
    // Other regions (map values, globals, records): each access's last region (RCn), inline while it
    // is live and the access in its bounds; the caches belong to one address space.
    if (CM !== mem) { CM = mem; RESET(); }`;

const TEMPS = 'let t = 0, u = 0, w = 0, x = 0, y = 0, z = 0, o = 0, pv, q = NOREG;';

/**
 * Programs whose control flow nests (nestedFunctions): one JavaScript function per eBPF function,
 * forward jumps as `break` out of labelled blocks (no dispatch loop: V8 sees straight-line code with
 * merges), bpf-to-bpf calls as calls, registers crossing through a shared Int32Array (the callee
 * starts with the caller's r0-r9 and hands back r0-r5; r6-r10 stay the caller's).
 */
function structured(p: Linked, starts: number[]): { source: string; entry: string } {
  const c = p.code;
  const regList = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
  const store = (n: number) => regList(0, n).map((r) => `RF[${2 * r}] = r${r}l; RF[${2 * r + 1}] = r${r}h;`).join(' ');
  const load = (n: number) => regList(0, n).map((r) => `r${r}l = RF[${2 * r}]; r${r}h = RF[${2 * r + 1}];`).join(' ');
  const fns: string[] = [];
  for (let k = 0; k < starts.length; k++) {
    const a = starts[k]!;
    const b = starts[k + 1] ?? c.count;
    const main = a === 0;
    const flow: Flow = {
      jump: (_i, t) => `break L${t};`,
      call: (i, t) =>
        `if (depth >= ${MAX_CALL_DEPTH - 1}) throw fault(${i}, 'calls nested deeper than ${MAX_CALL_DEPTH}'); ` +
        `t = (r10l >>> 0) - ${STACK_SIZE}; u = t < 0 ? (r10h - 1) | 0 : r10h; ` +
        `if ((u >>> 0) < (stack.id >>> 0)) throw fault(${i}, 'stack overflow'); ` +
        `${store(10)} f${t}(env, stack, t | 0, u, depth + 1); ${load(6)}`,
      exit: () => (main ? 'T.h = r0h; return r0l;' : `${store(6)} return;`),
    };
    const targets = new Set<number>();
    for (let i = a; i < b; i++) {
      const op = c.op[i]!;
      const cls = op & 7;
      if (op === 0x18) {
        i++;
        continue;
      }
      const code = op >> 4;
      if ((cls === Cls.JMP || cls === Cls.JMP32) && !(cls === Cls.JMP && code === 0x8) && code !== 0x9) targets.add(i + (cls === Cls.JMP32 && code === 0 ? c.imm[i]! : c.off[i]!) + 1);
    }
    const lines: string[] = [[...targets].sort((x, y) => y - x).map((t) => `L${t}: {`).join(' ')];
    for (let i = a; i < b; i++) {
      if (targets.has(i)) lines.push(`} // ${i}`);
      lines.push(insnCode(p, i, flow));
      if (c.op[i] === 0x18) i++;
    }
    const regs = regList(0, 10)
      .map((r) => (main ? (r === 1 ? 'r1l = argl, r1h = argh' : `r${r}l = 0, r${r}h = 0`) : `r${r}l = RF[${2 * r}], r${r}h = RF[${2 * r + 1}]`))
      .join(', ');
    fns.push(`function f${a}(env, stack, ${main ? 'argl, argh, ' : ''}r10l, r10h, depth) {
    ${MEMORY_PROLOGUE}
    let ${regs};
    ${TEMPS}
    ${lines.join('\n    ')}
    throw fault(${b - 1}, 'fell off the end of the program');
  }`);
  }
  return { source: `const RF = new Int32Array(20);\n  ${fns.join('\n  ')}`, entry: 'f0' };
}

/** Any other program: one function, a dispatch loop (a switch over the jump targets) around straight-line code. */
function dispatchLoop(p: Linked): { source: string; entry: string } {
  const c = p.code;
  const targets = new Set<number>([0]);
  let calls = false;
  for (let i = 0; i < c.count; i++) {
    const op = c.op[i]!;
    const cls = op & 7;
    if (op === 0x18) {
      i++;
      continue;
    }
    if (cls === Cls.JMP || cls === Cls.JMP32) {
      const code = op >> 4;
      if (cls === Cls.JMP && code === 0x8) {
        if (c.src[i] === 1) {
          calls = true;
          targets.add(i + 1);
          targets.add(i + c.imm[i]! + 1);
        }
      } else if (code !== 0x9) {
        targets.add(i + (cls === Cls.JMP32 && code === 0 ? c.imm[i]! : c.off[i]!) + 1);
        targets.add(i + 1);
      }
    }
  }
  const save = [6, 7, 8, 9, 10].flatMap((r, k) => [`FR[fp + ${1 + 2 * k}] = r${r}l;`, `FR[fp + ${2 + 2 * k}] = r${r}h;`]).join(' ');
  const restore = [6, 7, 8, 9, 10].flatMap((r, k) => [`r${r}l = FR[fp + ${1 + 2 * k}];`, `r${r}h = FR[fp + ${2 + 2 * k}];`]).join(' ');
  const flow: Flow = {
    jump: (i, t) => (t <= i ? `if (++steps > ${MAX_STEPS}) throw loop(${i}); pc = ${t}; continue;` : `pc = ${t}; continue;`),
    call: (i, t) =>
      `if (fp >= ${(MAX_CALL_DEPTH - 1) * FRAME}) throw fault(${i}, 'calls nested deeper than ${MAX_CALL_DEPTH}'); ` +
      `FR[fp] = ${i + 1}; ${save} fp += ${FRAME}; ` +
      `t = (r10l >>> 0) - ${STACK_SIZE}; if (t < 0) r10h = (r10h - 1) | 0; r10l = t | 0; ` +
      `if ((r10h >>> 0) < (stack.id >>> 0)) throw fault(${i}, 'stack overflow'); ` +
      `pc = ${t}; continue;`,
    exit: () => (calls ? `if (fp === 0) { T.h = r0h; return r0l; } fp -= ${FRAME}; pc = FR[fp]; ${restore} continue;` : 'T.h = r0h; return r0l;'),
  };
  const lines: string[] = [];
  for (let i = 0; i < c.count; i++) {
    if (targets.has(i)) lines.push(`case ${i}:`);
    lines.push(insnCode(p, i, flow));
    if (c.op[i] === 0x18) {
      i++;
      if (targets.has(i)) lines.push(`case ${i}:`);
    }
  }
  const regs = Array.from({ length: 10 }, (_, n) => (n === 1 ? 'r1l = argl, r1h = argh' : `r${n}l = 0, r${n}h = 0`)).join(', ');
  const source = `const FR = new Int32Array(${MAX_CALL_DEPTH * FRAME});
  function run(env, stack, argl, argh, r10l, r10h) {
    ${MEMORY_PROLOGUE}
    let ${regs};
    let pc = 0, steps = 0, fp = 0;
    ${TEMPS}
    for (;;) {
      switch (pc) {
        ${lines.join('\n        ')}
        default: throw fault(pc, 'fell off the end of the program');
      }
      throw fault(pc, 'fell off the end of the program');
    }
  }`;
  return { source, entry: 'run' };
}

export function compile(p: Linked): Compiled {
  const starts = nestedFunctions(p.code);
  const { source, entry } = starts ? structured(p, starts) : dispatchLoop(p);
  const fault = (pc: number, what: string) => new RuntimeFault(`program '${p.name}' instruction ${pc}: ${what}`, { insn: pc });
  const loop = (pc: number) => new RuntimeFault(`program '${p.name}' ran more than ${MAX_STEPS} backward jumps (instruction ${pc}); stopped`, { insn: pc });
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const caches = [...new Set([...source.matchAll(/\bRC(\d+)\b/g)].map((m) => m[1]!))].map((n) => `RC${n}`);
  const cacheDecl = `let CM;${caches.length ? ` let ${caches.map((c) => `${c} = NOREG`).join(', ')};` : ''}\n  function RESET() { ${caches.map((c) => `${c} = NOREG;`).join(' ')} }`;
  const make = new Function('A', 'RET', 'DIV', 'SWAP', 'MASK', 'T', 'H', 'P', 'fault', 'loop', 'NOREG', 'CACHEABLE', `${cacheDecl}\n  ${source}\n  return ${entry};`);
  const pairs = p.helpers.map((h) => (h === undefined ? undefined : pairHelper(h)));
  // The entry returns r0's low half and leaves the high half in T.h.
  const fn = make(toBig, fromBig, div64, swapAny, maskAny, T, p.helpers, pairs, fault, loop, NOREG, cacheable) as (env: RunEnv, stack: Region, argl: number, argh: number, topl: number, toph: number, depth: number) => number;
  const low32 = (env: RunEnv, stack: Region, r1: bigint): number => {
    const l = fromBig(r1);
    return fn(env, stack, l, T.h, stack.bytes.byteLength | 0, stack.id | 0, 0);
  };
  const enter = (env: RunEnv, stack: Region, r1l: number, r1h: number): number => fn(env, stack, r1l, r1h, stack.bytes.byteLength | 0, stack.id | 0, 0);
  const run = (env: RunEnv, stack: Region, r1: bigint): bigint => {
    const l = low32(env, stack, r1);
    return toBig(l, T.h);
  };
  return Object.assign(run, { low32, entry: enter });
}

/**
 * No region (id -1: never a region's), the initial value of the region caches: the same shape as
 * Memory's regions (Memory.add), so the accesses through a cache stay monomorphic.
 */
const NOREG: Region = { id: -1, kind: 'map value', bytes: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)), size: 0, writable: false, live: false, owner: undefined, pointerField: undefined, writableAt: undefined };

/**
 * Regions an access may reach inline once seen: fixed size and bytes (map values, global data, ring
 * buffer records; not the packet, whose size changes per run, nor the context), no pointer fields.
 */
function cacheable(r: Region): boolean {
  return (r.kind === 'map value' || r.kind === 'read-only data' || r.kind === 'ringbuf record') && r.pointerField === undefined && r.writableAt === undefined;
}

/** Scratch for the high half of two-result functions. */
const T = { h: 0 };

/** Conversions between pairs and BigInts through one 8-byte scratch: no arithmetic, at most one allocation. */
const scratch = new ArrayBuffer(8);
const S64 = new BigUint64Array(scratch);
const S32 = new Int32Array(scratch);
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LE ? 0 : 1;
const HI = LE ? 1 : 0;

/**
 * A pair as a u64 BigInt. Helper arguments repeat from run to run (map handles, stack and context
 * pointers, sizes): a small direct-mapped cache of recent conversions saves most allocations.
 */
const CACHE = 256;
const cacheL = new Int32Array(CACHE);
const cacheH = new Int32Array(CACHE);
const cacheV: bigint[] = new Array<bigint>(CACHE).fill(0n);

function toBig(l: number, h: number): bigint {
  const i = (l ^ (l >>> 8) ^ (l >>> 16) ^ h) & (CACHE - 1);
  if (cacheL[i] === l && cacheH[i] === h) return cacheV[i]!;
  S32[LO] = l;
  S32[HI] = h;
  const v = S64[0]!;
  cacheL[i] = l;
  cacheH[i] = h;
  cacheV[i] = v;
  return v;
}

/** A BigInt (mod 2^64) as a pair: the low half returned, the high half in T.h. */
function fromBig(v: bigint): number {
  S64[0] = v;
  T.h = S32[HI]!;
  return S32[LO]!;
}

/** 64-bit division or modulo (signed: off 1), by zero as eBPF: div gives 0, mod leaves the dividend. */
function div64(al: number, ah: number, bl: number, bh: number, signed: boolean, mod: boolean): number {
  if (ah === 0 && bh === 0) {
    const b = bl >>> 0;
    const a = al >>> 0;
    T.h = 0;
    if (b === 0) return mod ? al : 0;
    return mod ? a % b | 0 : (a / b) | 0;
  }
  if (bl === 0 && bh === 0) {
    T.h = mod ? ah : 0;
    return mod ? al : 0;
  }
  let a = (BigInt(ah >>> 0) << 32n) | BigInt(al >>> 0);
  let b = (BigInt(bh >>> 0) << 32n) | BigInt(bl >>> 0);
  if (signed) {
    a = BigInt.asIntN(64, a);
    b = BigInt.asIntN(64, b);
  }
  return fromBig(BigInt.asUintN(64, mod ? a % b : a / b));
}

/** The interpreter's byte swap for widths other than 16/32/64 (the low `bits` bits, byte-reversed). */
function swapAny(l: number, h: number, bits: number): number {
  const v = (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
  let out = 0n;
  for (let i = 0; i < bits; i += 8) out = (out << 8n) | ((v >> BigInt(i)) & 0xffn);
  return fromBig(BigInt.asUintN(64, out));
}

/** to-le of another width: the low `bits` bits. */
function maskAny(l: number, h: number, bits: number): number {
  const v = (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
  return fromBig(v & ((1n << BigInt(bits)) - 1n));
}
