/**
 * The compiled path: each program is turned once into one JavaScript function (a switch over
 * instruction indexes that falls through straight-line code, registers as local BigInts), so V8 can
 * optimise it. Same semantics and the same checked memory as the interpreter, written independently
 * of it: the differential tests compare the two.
 */
import { Cls, Mode, SIZE_BYTES } from './insn.js';
import { MAX_CALL_DEPTH, MAX_STEPS, STACK_SIZE, type Linked } from './interpreter.js';
import type { RunEnv } from './env.js';
import { Memory, type Region } from './memory.js';
import { RuntimeFault } from '../errors.js';

export type Compiled = (env: RunEnv, stack: Region, r1: bigint) => bigint;

const R = (n: number) => `r${n}`;

function imm64(v: number): string {
  return `${BigInt.asUintN(64, BigInt(v))}n`;
}

function alu64(code: number, off: number, d: string, s: string, imm: number): string {
  switch (code) {
    case 0x0: return `${d} = U(${d} + ${s});`;
    case 0x1: return `${d} = U(${d} - ${s});`;
    case 0x2: return `${d} = U(${d} * ${s});`;
    case 0x3: return off === 1
      ? `{ const y = ${s}; ${d} = y === 0n ? 0n : U(S(${d}) / S(y)); }`
      : `{ const y = ${s}; ${d} = y === 0n ? 0n : ${d} / y; }`;
    case 0x4: return `${d} |= ${s};`;
    case 0x5: return `${d} &= ${s};`;
    case 0x6: return `${d} = U(${d} << (${s} & 63n));`;
    case 0x7: return `${d} >>= (${s} & 63n);`;
    case 0x8: return `${d} = U(-${d});`;
    case 0x9: return off === 1
      ? `{ const y = ${s}; if (y !== 0n) ${d} = U(S(${d}) % S(y)); }`
      : `{ const y = ${s}; if (y !== 0n) ${d} %= y; }`;
    case 0xa: return `${d} ^= ${s};`;
    case 0xb: return off === 8 || off === 16 || off === 32 ? `${d} = U(BigInt.asIntN(${off}, ${s}));` : `${d} = ${s};`;
    case 0xc: return `${d} = U(S(${d}) >> (${s} & 63n));`;
    case 0xd: return `${d} = SWAP(${d}, ${imm});`;
  }
  throw new Error(`alu64 ${code}`);
}

function alu32(code: number, off: number, d: string, s: string, imm: number, toLe: boolean): string {
  const x = `(${d} & M32)`;
  const y = `(${s} & M32)`;
  switch (code) {
    case 0x0: return `${d} = (${x} + ${y}) & M32;`;
    case 0x1: return `${d} = (${x} - ${y}) & M32;`;
    case 0x2: return `${d} = (${x} * ${y}) & M32;`;
    case 0x3: return off === 1
      ? `{ const y = ${y}; ${d} = y === 0n ? 0n : (S32(${x}) / S32(y)) & M32; }`
      : `{ const y = ${y}; ${d} = y === 0n ? 0n : ${x} / y; }`;
    case 0x4: return `${d} = ${x} | ${y};`;
    case 0x5: return `${d} = ${x} & ${y};`;
    case 0x6: return `${d} = (${x} << (${y} & 31n)) & M32;`;
    case 0x7: return `${d} = ${x} >> (${y} & 31n);`;
    case 0x8: return `${d} = (-${x}) & M32;`;
    case 0x9: return off === 1
      ? `{ const y = ${y}; ${d} = y === 0n ? ${x} : (S32(${x}) % S32(y)) & M32; }`
      : `{ const y = ${y}; ${d} = y === 0n ? ${x} : ${x} % y; }`;
    case 0xa: return `${d} = ${x} ^ ${y};`;
    case 0xb: return off === 8 || off === 16 ? `${d} = BigInt.asIntN(${off}, ${s}) & M32;` : `${d} = ${y};`;
    case 0xc: return `${d} = (S32(${x}) >> (${y} & 31n)) & M32;`;
    case 0xd: return toLe ? (imm === 64 ? '' : `${d} &= ${(1n << BigInt(imm)) - 1n}n;`) : `${d} = SWAP(${d}, ${imm});`;
  }
  throw new Error(`alu32 ${code}`);
}

function condition(code: number, is64: boolean, a: string, b: string): string {
  const A = is64 ? a : `(${a} & M32)`;
  const B = is64 ? b : `(${b} & M32)`;
  const sg = (v: string) => (is64 ? `S(${v})` : `S32(${v})`);
  switch (code) {
    case 0x1: return `${A} === ${B}`;
    case 0x2: return `${A} > ${B}`;
    case 0x3: return `${A} >= ${B}`;
    case 0x4: return `(${A} & ${B}) !== 0n`;
    case 0x5: return `${A} !== ${B}`;
    case 0x6: return `${sg(A)} > ${sg(B)}`;
    case 0x7: return `${sg(A)} >= ${sg(B)}`;
    case 0xa: return `${A} < ${B}`;
    case 0xb: return `${A} <= ${B}`;
    case 0xc: return `${sg(A)} < ${sg(B)}`;
    case 0xd: return `${sg(A)} <= ${sg(B)}`;
  }
  throw new Error(`jmp ${code}`);
}

function atomicCode(pc: number, size: number, imm: number, d: string, s: string, off: number): string {
  const mask = size === 4 ? 'M32' : 'M64';
  const addr = `U(${d} + ${off}n)`;
  const pre = `{ const a = ${addr}; const old = mem.load(a, ${size}, ${pc}); const v = ${s} & ${mask};`;
  switch (imm) {
    case 0xe1: return `${pre} mem.store(a, ${size}, v, ${pc}); ${s} = old; }`;
    case 0xf1: return `${pre} if ((r0 & ${mask}) === old) mem.store(a, ${size}, v, ${pc}); r0 = old; }`;
  }
  const ops: Record<number, string> = { 0x00: `(old + v) & ${mask}`, 0x40: 'old | v', 0x50: 'old & v', 0xa0: 'old ^ v' };
  const e = ops[imm & ~1];
  if (!e) return `throw fault(${pc}, 'unknown atomic operation 0x${imm.toString(16)}');`;
  return `${pre} mem.store(a, ${size}, ${e}, ${pc});${imm & 1 ? ` ${s} = old;` : ''} }`;
}

export function compile(p: Linked): Compiled {
  const c = p.code;
  const lines: string[] = [];
  const targets = new Set<number>([0]);
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
        targets.add(i + 1);
        if (c.src[i] === 1) targets.add(i + c.imm[i]! + 1);
      } else if (code !== 0x9) {
        targets.add(i + (cls === Cls.JMP32 && code === 0 ? c.imm[i]! : c.off[i]!) + 1);
        targets.add(i + 1);
      }
    }
  }
  for (let i = 0; i < c.count; i++) {
    const op = c.op[i]!;
    const cls = op & 7;
    const d = R(c.dst[i]!);
    const s = R(c.src[i]!);
    const off = c.off[i]!;
    const imm = c.imm[i]!;
    if (targets.has(i)) lines.push(`case ${i}:`);
    switch (cls) {
      case Cls.ALU64:
      case Cls.ALU: {
        const fromImm = (op & 0x08) === 0;
        const code = op >> 4;
        const b = fromImm ? imm64(imm) : s;
        lines.push(cls === Cls.ALU64 ? alu64(code, off, d, b, imm) : alu32(code, off, d, b, imm, fromImm));
        break;
      }
      case Cls.LD:
        lines.push(`${d} = I[${i}];`);
        i++;
        if (targets.has(i)) lines.push(`case ${i}:`);
        break;
      case Cls.LDX: {
        const size = SIZE_BYTES[(op >> 3) & 3]!;
        const load = `mem.load(U(${s} + ${off}n), ${size}, ${i})`;
        lines.push((op & 0xe0) === Mode.MEMSX ? `${d} = U(BigInt.asIntN(${size * 8}, ${load}));` : `${d} = ${load};`);
        break;
      }
      case Cls.ST:
        lines.push(`mem.store(U(${d} + ${off}n), ${SIZE_BYTES[(op >> 3) & 3]}, ${imm64(imm)}, ${i});`);
        break;
      case Cls.STX: {
        const size = SIZE_BYTES[(op >> 3) & 3]!;
        if ((op & 0xe0) === Mode.ATOMIC) {
          lines.push(size === 4 || size === 8 ? atomicCode(i, size, imm, d, s, off) : `throw fault(${i}, 'atomic operations are 4 or 8 bytes wide');`);
        } else lines.push(`mem.store(U(${d} + ${off}n), ${size}, ${s}, ${i});`);
        break;
      }
      case Cls.JMP:
      case Cls.JMP32: {
        const code = op >> 4;
        if (code === 0x0) {
          const t = i + (cls === Cls.JMP32 ? imm : off) + 1;
          lines.push(t <= i ? `if (++steps > ${MAX_STEPS}) throw loop(${i}); pc = ${t}; continue;` : `pc = ${t}; continue;`);
        } else if (cls === Cls.JMP && code === 0x8) {
          if (c.src[i] === 1) {
            lines.push(`if (frames.length >= ${MAX_CALL_DEPTH - 1}) throw fault(${i}, 'calls nested deeper than ${MAX_CALL_DEPTH}');`);
            lines.push(`frames.push(${i + 1}, r6, r7, r8, r9, r10); r10 -= ${STACK_SIZE}n; pc = ${i + imm + 1}; continue;`);
          } else {
            lines.push(`r0 = H[${i}](env, r1, r2, r3, r4, r5, ${i}); r1 = r2 = r3 = r4 = r5 = 0n;`);
          }
        } else if (code === 0x9) {
          lines.push(`if (frames.length === 0) return r0; r10 = frames.pop(); r9 = frames.pop(); r8 = frames.pop(); r7 = frames.pop(); r6 = frames.pop(); pc = frames.pop(); continue;`);
        } else {
          const t = i + off + 1;
          const b = (op & 0x08) === 0 ? imm64(imm) : s;
          const back = t <= i ? `if (++steps > ${MAX_STEPS}) throw loop(${i}); ` : '';
          lines.push(`if (${condition(code, cls === Cls.JMP, d, b)}) { ${back}pc = ${t}; continue; }`);
        }
        break;
      }
    }
  }
  const body = `
    const mem = env.mem;
    let r0 = 0n, r1 = arg, r2 = 0n, r3 = 0n, r4 = 0n, r5 = 0n, r6 = 0n, r7 = 0n, r8 = 0n, r9 = 0n;
    let r10 = STACK_TOP;
    let pc = 0, steps = 0;
    const frames = [];
    for (;;) {
      switch (pc) {
        ${lines.join('\n        ')}
        default: throw fault(pc, 'fell off the end of the program');
      }
      throw fault(pc, 'fell off the end of the program');
    }`;
  const fault = (pc: number, what: string) => new RuntimeFault(`program '${p.name}' instruction ${pc}: ${what}`, { insn: pc });
  const loop = (pc: number) => new RuntimeFault(`program '${p.name}' ran more than ${MAX_STEPS} backward jumps (instruction ${pc}); stopped`, { insn: pc });
  const swap = (v: bigint, bits: number): bigint => {
    let out = 0n;
    for (let k = 0; k < bits; k += 8) out = (out << 8n) | ((v >> BigInt(k)) & 0xffn);
    return out;
  };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('U', 'S', 'S32', 'M32', 'M64', 'SWAP', 'H', 'I', 'fault', 'loop', `return function (env, stack, arg, STACK_TOP) {${body}\n};`);
  const fn = make(
    (v: bigint) => BigInt.asUintN(64, v),
    (v: bigint) => BigInt.asIntN(64, v),
    (v: bigint) => BigInt.asIntN(32, v),
    0xffffffffn,
    (1n << 64n) - 1n,
    swap,
    p.helpers,
    p.imm64,
    fault,
    loop,
  ) as (env: RunEnv, stack: Region, arg: bigint, top: bigint) => bigint;
  return (env, stack, r1) => fn(env, stack, r1, Memory.address(stack, stack.bytes.byteLength));
}
