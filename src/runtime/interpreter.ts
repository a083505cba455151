/**
 * The reference interpreter: one instruction at a time, registers as unsigned 64-bit BigInts, every
 * memory access through the checked address space. Slow and simple on purpose: the compiled path
 * (compiler.ts) must agree with it.
 */
import { RuntimeFault } from '../errors.js';
import { alu, cond, u64, M32 } from './alu.js';
import { Cls, Mode, SIZE_BYTES, type Decoded } from './insn.js';
import type { RunEnv } from './env.js';
import type { HelperFn } from './helpers.js';
import type { RuntimeMap } from './maps.js';
import { Memory, type Region } from './memory.js';

export const STACK_SIZE = 512;
export const MAX_CALL_DEPTH = 8;
/** Instructions one run may execute before it is stopped (the kernel's verifier bounds loops instead). */
export const MAX_STEPS = 1 << 24;

export interface Linked {
  readonly code: Decoded;
  /** ld_imm64 map references resolved to addresses. */
  readonly imm64: (bigint | undefined)[];
  /** Helper functions by instruction index. */
  readonly helpers: (HelperFn | undefined)[];
  readonly name: string;
  /** The map each ld_imm64 of a map loads, by instruction index (the compiled path's inline lookups). */
  readonly maps?: (RuntimeMap | undefined)[];
}

function sext(size: number, v: bigint): bigint {
  return u64(BigInt.asIntN(size * 8, v));
}

export function interpret(p: Linked, env: RunEnv, stack: Region, r1: bigint): bigint {
  const c = p.code;
  const mem = env.mem;
  const r: bigint[] = new Array(11).fill(0n);
  r[1] = r1;
  r[10] = Memory.address(stack, stack.bytes.byteLength);
  const frames: { ret: number; saved: bigint[] }[] = [];
  let pc = 0;
  for (let steps = 0; ; steps++) {
    if (steps > MAX_STEPS) throw new RuntimeFault(`program '${p.name}' ran more than ${MAX_STEPS} instructions (instruction ${pc}); stopped`, { insn: pc });
    const op = c.op[pc]!;
    const cls = op & 7;
    const dst = c.dst[pc]!;
    const src = c.src[pc]!;
    const off = c.off[pc]!;
    const imm = c.imm[pc]!;
    switch (cls) {
      case Cls.ALU:
      case Cls.ALU64: {
        const fromImm = (op & 0x08) === 0;
        const code = op >> 4;
        const is64 = cls === Cls.ALU64;
        const b = fromImm ? u64(BigInt(imm)) : r[src]!;
        r[dst] = alu(code, off, is64, r[dst]!, code === 0xd ? r[dst]! : b, imm, fromImm);
        pc++;
        break;
      }
      case Cls.JMP:
      case Cls.JMP32: {
        const code = op >> 4;
        if (code === 0x0) {
          pc += (cls === Cls.JMP32 ? imm : off) + 1;
          break;
        }
        if (cls === Cls.JMP && code === 0x8) {
          if (src === 1) {
            if (frames.length + 1 >= MAX_CALL_DEPTH) throw new RuntimeFault(`instruction ${pc}: calls nested deeper than ${MAX_CALL_DEPTH}`, { insn: pc });
            frames.push({ ret: pc + 1, saved: [r[6]!, r[7]!, r[8]!, r[9]!, r[10]!] });
            r[10] = r[10]! - BigInt(STACK_SIZE);
            if (r[10]! < Memory.address(stack)) throw new RuntimeFault(`instruction ${pc}: stack overflow`, { insn: pc });
            pc += imm + 1;
            break;
          }
          const h = p.helpers[pc]!;
          r[0] = h(env, r[1]!, r[2]!, r[3]!, r[4]!, r[5]!, pc);
          r[1] = r[2] = r[3] = r[4] = r[5] = 0n;
          pc++;
          break;
        }
        if (code === 0x9) {
          const f = frames.pop();
          if (!f) return r[0]!;
          [r[6], r[7], r[8], r[9], r[10]] = f.saved;
          pc = f.ret;
          break;
        }
        const b = (op & 0x08) === 0 ? u64(BigInt(imm)) : r[src]!;
        pc += cond(code, cls === Cls.JMP, r[dst]!, b) ? off + 1 : 1;
        break;
      }
      case Cls.LD: {
        // ld_imm64 (decode() refused everything else)
        r[dst] = p.imm64[pc]!;
        pc += 2;
        break;
      }
      case Cls.LDX: {
        const size = SIZE_BYTES[(op >> 3) & 3]!;
        const v = mem.load(u64(r[src]! + BigInt(off)), size, pc);
        r[dst] = (op & 0xe0) === Mode.MEMSX ? sext(size, v) : v;
        pc++;
        break;
      }
      case Cls.ST: {
        const size = SIZE_BYTES[(op >> 3) & 3]!;
        mem.store(u64(r[dst]! + BigInt(off)), size, u64(BigInt(imm)), pc);
        pc++;
        break;
      }
      case Cls.STX: {
        const size = SIZE_BYTES[(op >> 3) & 3]!;
        const addr = u64(r[dst]! + BigInt(off));
        if ((op & 0xe0) === Mode.ATOMIC) {
          atomic(mem, pc, addr, size, imm, r, src);
        } else {
          mem.store(addr, size, r[src]!, pc);
        }
        pc++;
        break;
      }
    }
  }
}

/** Atomic read-modify-write at `addr`: ADD/OR/AND/XOR (optionally FETCH), XCHG, CMPXCHG. */
function atomic(mem: Memory, pc: number, addr: bigint, size: number, imm: number, r: bigint[], src: number): void {
  if (size !== 4 && size !== 8) throw new RuntimeFault(`instruction ${pc}: atomic operations are 4 or 8 bytes wide`, { insn: pc });
  const mask = size === 4 ? M32 : (1n << 64n) - 1n;
  const old = mem.load(addr, size, pc);
  const v = r[src]! & mask;
  switch (imm) {
    case 0xe1: // XCHG
      mem.store(addr, size, v, pc);
      r[src] = old;
      return;
    case 0xf1: // CMPXCHG: compare with r0
      if ((r[0]! & mask) === old) mem.store(addr, size, v, pc);
      r[0] = old;
      return;
  }
  let nv: bigint;
  switch (imm & ~1) {
    case 0x00: nv = (old + v) & mask; break;
    case 0x40: nv = old | v; break;
    case 0x50: nv = old & v; break;
    case 0xa0: nv = old ^ v; break;
    default: throw new RuntimeFault(`instruction ${pc}: unknown atomic operation 0x${imm.toString(16)}`, { insn: pc });
  }
  mem.store(addr, size, nv, pc);
  if (imm & 1) r[src] = old;
}
