/**
 * The control flow of a program as the compiled path needs it: jump targets, whether its functions
 * nest as blocks (forward jumps only: one JavaScript function each, no dispatch loop), and which small
 * callees are written in place at their call sites.
 */
import { Cls, type Decoded } from './insn.js';

/** The target of the jump at `i` (conditional or not; not a call, not an exit), else undefined. */
export function jumpTarget(c: Decoded, i: number): number | undefined {
  const op = c.op[i]!;
  const cls = op & 7;
  if (cls !== Cls.JMP && cls !== Cls.JMP32) return undefined;
  const code = op >> 4;
  if ((cls === Cls.JMP && code === 0x8) || code === 0x9) return undefined;
  return i + (cls === Cls.JMP32 && code === 0 ? c.imm[i]! : c.off[i]!) + 1;
}

const isExit = (op: number) => ((op & 7) === Cls.JMP || (op & 7) === Cls.JMP32) && op >> 4 === 0x9;

/**
 * The functions (start instructions) of a program whose control flow nests as blocks: every jump goes
 * forward within its function (the main program or a bpf-to-bpf callee), to an instruction, and every
 * function ends with an exit. The verifier's programs without loops are all like this. Undefined for
 * any other program.
 */
export function nestedFunctions(c: Decoded): number[] | undefined {
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
      const t = jumpTarget(c, i);
      if (t !== undefined && (t <= i || t >= b || second[t])) return undefined;
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

/** Callees written in place at their call sites: up to this many instructions each... */
const INLINE_MAX = 128;
/** ...and this many instructions inlined in all. */
const INLINE_BUDGET = 1024;

/**
 * The bpf-to-bpf callees (start instructions) that structured() writes at their call sites instead of
 * calling them: those that call no function themselves, small enough, within the budget.
 */
export function inlined(c: Decoded, starts: number[], end: (a: number) => number): Set<number> {
  const calls = new Map<number, number>();
  for (let i = 0; i < c.count; i++) {
    if (c.op[i] === 0x18) i++;
    else if (c.op[i] === 0x85 && c.src[i] === 1) calls.set(i + c.imm[i]! + 1, (calls.get(i + c.imm[i]! + 1) ?? 0) + 1);
  }
  const out = new Set<number>();
  let budget = INLINE_BUDGET;
  for (const a of starts) {
    const n = calls.get(a);
    if (a === 0 || n === undefined) continue;
    const b = end(a);
    let leaf = b - a <= INLINE_MAX;
    for (let i = a; leaf && i < b; i++) if (c.op[i] === 0x85 && c.src[i] === 1) leaf = false;
    if (leaf && (b - a) * n <= budget) {
      out.add(a);
      budget -= (b - a) * n;
    }
  }
  return out;
}
