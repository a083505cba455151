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
import { pairHelper } from './helpers-pair.js';
import { cpuBig, ktimeBig, ktimeBootBig } from './helpers.js';
import type { Region } from './memory.js';
import { RuntimeFault } from '../errors.js';
import { reg, immOp, HELPER_ARGS, alu64, alu32, condition, atomicCode, loadCode, storeCode, storeRunCode, CLOBBER, REFRESH, type RunStore } from './codegen-ops.js';
import { NOREG, T, cacheable, toBig, fromBig, div64, swapAny, maskAny } from './codegen-runtime.js';
import { blockInfo, mapHelperCode, type Bind, type BlockInfo } from './codegen-maps.js';
import { baseKinds, type Kind } from './codegen-kinds.js';
import { jumpTarget, nestedFunctions, inlined } from './codegen-flow.js';

/** Frame of a bpf-to-bpf call: return pc, r6..r10 halves. */
const FRAME = 11;

export interface Compiled {
  /** Run with r1 = `r1`; r0 at exit (u64). */
  (env: RunEnv, stack: Region, r1: bigint): bigint;
  /** The same run, giving the low 32 bits of r0 as an int32 (no BigInt for the result). */
  low32(env: RunEnv, stack: Region, r1: bigint): number;
  /** low32() with r1 as int32 halves (no BigInt at all). */
  entry(env: RunEnv, stack: Region, r1l: number, r1h: number): number;
}


/** How control flow is written: a jump from `i` to `t`, a bpf-to-bpf call at `i` to `t`, an exit. */
interface Flow {
  jump(i: number, t: number): string;
  call(i: number, t: number): string;
  exit(i: number): string;
  /** The program's basic blocks and the names of bound values (inline map lookups). */
  blocks: BlockInfo;
  bind: Bind;
  /** What each access's base register points into (codegen-kinds; all 'any' when not analysed). */
  kinds: Kind[];
}

/** Instruction `i` as one plain store (ST/STX in MEM mode), else undefined. */
function plainStore(c: Decoded, i: number): (RunStore & { base: number }) | undefined {
  const op = c.op[i]!;
  const cls = op & 7;
  if ((cls !== Cls.ST && cls !== Cls.STX) || (op & 0xe0) !== Mode.MEM) return undefined;
  const v = cls === Cls.ST ? immOp(c.imm[i]!) : reg(c.src[i]!);
  return { pc: i, base: c.dst[i]!, off: c.off[i]!, size: SIZE_BYTES[(op >> 3) & 3]!, vl: v.l, vh: v.h };
}

/**
 * The code from instruction `i` on: a run of two or more plain stores through the same base register
 * (not the stack pointer; none of them but the first a jump target) as one (storeRunCode), else
 * instruction i alone. Returns the code and the next instruction.
 */
function codeFrom(p: Linked, i: number, flow: Flow, isTarget: (k: number) => boolean): [string, number] {
  const c = p.code;
  const s = plainStore(c, i);
  if (s !== undefined && s.base !== 10) {
    const run: RunStore[] = [s];
    for (let k = i + 1; k < c.count && !isTarget(k); k++) {
      const n = plainStore(c, k);
      if (n === undefined || n.base !== s.base) break;
      run.push(n);
    }
    if (run.length > 1) {
      const each = run.map((r) => insnCode(p, r.pc, flow)).join(' ');
      return [storeRunCode(reg(s.base), run, each, flow.kinds[i]!), i + run.length];
    }
  }
  return [insnCode(p, i, flow), c.op[i] === 0x18 ? i + 2 : i + 1];
}

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
      return loadCode(i, d, s, off, size, (op & 0xe0) === Mode.MEMSX && size !== 8, c.src[i] === 10 ? 'stack' : flow.kinds[i]!);
    }
    case Cls.ST: {
      const v = immOp(imm);
      return storeCode(i, d, off, SIZE_BYTES[(op >> 3) & 3]!, v.l, v.h, c.dst[i] === 10 ? 'stack' : flow.kinds[i]!);
    }
    case Cls.STX: {
      const size = SIZE_BYTES[(op >> 3) & 3]!;
      if ((op & 0xe0) === Mode.ATOMIC) {
        return size === 4 || size === 8 ? atomicCode(i, size, imm, d, s, off, flow.kinds[i]!) : `throw fault(${i}, 'atomic operations are 4 or 8 bytes wide');`;
      }
      return storeCode(i, d, off, size, s.l, s.h, c.dst[i] === 10 ? 'stack' : flow.kinds[i]!);
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
      const call = `r0l = P[${i}](env, r1l, r1h, r2l, r2h, r3l, r3h, r4l, r4h, r5l, r5h, ${i}); r0h = mem.hi; ${CLOBBER} ${REFRESH}`;
      // the helpers that only read the run's state, written in place (as cpuP and ktimeP do it)
      if (h === cpuBig) return `if (((x = env.cpu) | 0) === x && x >= 0) { r0l = x; r0h = 0; ${CLOBBER} } else { ${call} }`;
      if (h === ktimeBig || h === ktimeBootBig) return `pv = env.clock; pv.read(); r0l = pv.lo; r0h = pv.hi; ${CLOBBER}`;
      return mapHelperCode(p, flow.blocks, i, imm, call, flow.bind);
    }
    const n = HELPER_ARGS[imm] ?? 5;
    const args = [1, 2, 3, 4, 5].map((r) => (r <= n ? `A(r${r}l, r${r}h)` : '0n')).join(', ');
    return `r0l = RET(H[${i}](env, ${args}, ${i})); r0h = T.h; ${CLOBBER} ${REFRESH}`;
  }
  if (code === 0x9) return flow.exit(i);
  const b = (op & 0x08) === 0 ? immOp(imm) : s;
  return `if (${condition(i, code, cls === Cls.JMP, d, b)}) { ${flow.jump(i, i + off + 1)} }`;
}

/** Per-run constants of the inline stack and packet accesses (see loadCode/storeCode). */
const MEMORY_PROLOGUE = `const mem = env.mem;
    // The stack and the packet are reached inline (as loadP/storeP would, checks included; both are
    // the caller's own regions of env.mem, made once and live for the whole run); other regions (and
    // whatever is not in bounds: the faults) through mem.
    const SV = stack.view, SID = stack.id | 0, SL = stack.live && stack.pointers === undefined ? stack.size : 0, SLW = stack.writable ? SL : 0;
    const pk = env.packet === undefined ? stack : env.packet;
    const PV = pk.view, PID = pk.id | 0, PL = pk.live && pk.pointers === undefined ? pk.size : 0;
    // Packet loads read PB (Region.src: the frame itself until the packet is copied in); stores go
    // inline only once it is (PLW), else through mem (which copies it in). REFRESH after anything that
    // may have copied it in: stores through mem, helpers, calls.
    let PB = pk.src, PLW = pk.writable ? PL : 0;
    // Loads of the context (read-only here: stores go through storeP and its writableAt).
    const cx = env.ctx === undefined ? stack : env.ctx;
    const CV = cx.view, CID = cx.id | 0, CL = env.ctx !== undefined && cx.live ? cx.size : 0, CPP = cx.pointers;
    // Other regions (map values, globals, records): each access's last region (RCn), inline while it
    // is live and the access in its bounds; the caches belong to one address space.
    if (CM !== mem) { CM = mem; RESET(); }
    // Inline map lookups: only in the address space of the maps they were compiled for.
    const OWN = mem === MEM;`;

const TEMPS = 'let t = 0, u = 0, w = 0, x = 0, y = 0, z = 0, o = 0, bh = 0, pv, q = NOREG;';

/**
 * Programs whose control flow nests (nestedFunctions): one JavaScript function per eBPF function,
 * forward jumps as `break` out of labelled blocks (no dispatch loop: V8 sees straight-line code with
 * merges), bpf-to-bpf calls as calls, registers crossing through a shared Int32Array (the callee
 * starts with the caller's r0-r9 and hands back r0-r5; r6-r10 stay the caller's).
 */
function structured(p: Linked, starts: number[], common: Pick<Flow, 'blocks' | 'bind' | 'kinds'>): { source: string; entry: string } {
  const c = p.code;
  const regList = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
  const store = (n: number) => regList(0, n).map((r) => `RF[${2 * r}] = r${r}l; RF[${2 * r + 1}] = r${r}h;`).join(' ');
  const load = (n: number) => regList(0, n).map((r) => `r${r}l = RF[${2 * r}]; r${r}h = RF[${2 * r + 1}];`).join(' ');
  const end = (a: number) => starts[starts.indexOf(a) + 1] ?? c.count;
  const inline = inlined(c, starts, end);
  /** The jump targets of the function at [a, b) and its code, one string per instruction. */
  const body = (a: number, flow: Flow): string[] => {
    const b = end(a);
    const targets = new Set<number>();
    for (let i = a; i < b; i++) {
      const t = jumpTarget(c, i);
      if (t !== undefined) targets.add(t);
    }
    const lines: string[] = [[...targets].sort((x, y) => y - x).map((t) => `L${t}: {`).join(' ')];
    for (let i = a; i < b; ) {
      if (targets.has(i)) lines.push(`} // ${i}`);
      const [code, next] = codeFrom(p, i, flow, (k) => targets.has(k) || k >= b);
      lines.push(code);
      i = next;
    }
    return lines;
  };
  // the checks of a call, as the interpreter makes them; then t:u is the callee's frame pointer
  const enter = (i: number) =>
    `if (depth >= ${MAX_CALL_DEPTH - 1}) throw fault(${i}, 'calls nested deeper than ${MAX_CALL_DEPTH}'); ` +
    `t = (r10l >>> 0) - ${STACK_SIZE}; u = t < 0 ? (r10h - 1) | 0 : r10h; ` +
    `if ((u >>> 0) < (stack.id >>> 0)) throw fault(${i}, 'stack overflow');`;
  const fns: string[] = [];
  for (const a of starts) {
    if (a !== 0 && inline.has(a)) continue;
    const main = a === 0;
    const flow: Flow = {
      ...common,
      jump: (_i, t) => `break L${t};`,
      call: (i, t) => {
        if (!inline.has(t)) return `${enter(i)} ${store(10)} f${t}(env, stack, t | 0, u, depth + 1); ${load(6)} ${REFRESH}`;
        // A small callee that calls no function, written in place: it starts with the caller's r0-r9
        // and leaves r0-r5 as they are at its exit; r6-r10 are the caller's again after it.
        const saved = [6, 7, 8, 9, 10].flatMap((r) => [`r${r}l`, `r${r}h`]);
        const inner: Flow = { ...common, jump: (_j, to) => `break L${to};`, call: () => 'throw new Error("unreachable")', exit: () => `break X${i};` };
        return `${enter(i)} { const ${saved.map((v) => `S${i}${v} = ${v}`).join(', ')}; r10l = t | 0; r10h = u;\n    X${i}: { ${body(t, inner).join('\n    ')}\n    }\n    ${saved.map((v) => `${v} = S${i}${v};`).join(' ')} }`;
      },
      exit: () => (main ? 'T.h = r0h; return r0l;' : `${store(6)} return;`),
    };
    const lines = body(a, flow);
    const regs = regList(0, 10)
      .map((r) => (main ? (r === 1 ? 'r1l = argl, r1h = argh' : `r${r}l = 0, r${r}h = 0`) : `r${r}l = RF[${2 * r}], r${r}h = RF[${2 * r + 1}]`))
      .join(', ');
    fns.push(`function f${a}(env, stack, ${main ? 'argl, argh, ' : ''}r10l, r10h, depth) {
    ${MEMORY_PROLOGUE}
    let ${regs};
    ${TEMPS}
    ${lines.join('\n    ')}
    throw fault(${end(a) - 1}, 'fell off the end of the program');
  }`);
  }
  return { source: `const RF = new Int32Array(20);\n  ${fns.join('\n  ')}`, entry: 'f0' };
}

/** Any other program: one function, a dispatch loop (a switch over the jump targets) around straight-line code. */
function dispatchLoop(p: Linked, common: Pick<Flow, 'blocks' | 'bind' | 'kinds'>): { source: string; entry: string } {
  const c = p.code;
  const targets = new Set<number>([0]);
  let calls = false;
  for (let i = 0; i < c.count; i++) {
    const t = jumpTarget(c, i);
    if (t !== undefined) {
      targets.add(t);
      targets.add(i + 1);
    } else if (c.op[i] === 0x85 && c.src[i] === 1) {
      // a bpf-to-bpf call: its callee and the return point are targets
      calls = true;
      targets.add(i + 1);
      targets.add(i + c.imm[i]! + 1);
    }
  }
  const save = [6, 7, 8, 9, 10].flatMap((r, k) => [`FR[fp + ${1 + 2 * k}] = r${r}l;`, `FR[fp + ${2 + 2 * k}] = r${r}h;`]).join(' ');
  const restore = [6, 7, 8, 9, 10].flatMap((r, k) => [`r${r}l = FR[fp + ${1 + 2 * k}];`, `r${r}h = FR[fp + ${2 + 2 * k}];`]).join(' ');
  const flow: Flow = {
    ...common,
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
  for (let i = 0; i < c.count; ) {
    if (targets.has(i)) lines.push(`case ${i}:`);
    const [code, next] = codeFrom(p, i, flow, (k) => targets.has(k));
    lines.push(code);
    if (next === i + 2 && c.op[i] === 0x18 && targets.has(i + 1)) lines.push(`case ${i + 1}:`);
    i = next;
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

/** `force`: every access's kind (tests: a wrong kind must change nothing but speed). */
export function compile(p: Linked, force?: Kind): Compiled {
  const starts = nestedFunctions(p.code);
  // values the generated code reads as constants (B0, B1, ...: bound below)
  const bound: unknown[] = [];
  const bind: Bind = (v) => {
    let k = bound.indexOf(v);
    if (k < 0) k = bound.push(v) - 1;
    return `B${k}`;
  };
  const jt = (i: number) => jumpTarget(p.code, i);
  const blocks = blockInfo(p, jt);
  // (the analysis needs forward jumps: a dispatch loop's program gets every inline path)
  const kinds = force !== undefined ? new Array<Kind>(p.code.count).fill(force) : starts ? baseKinds(p, starts, (a) => starts[starts.indexOf(a) + 1] ?? p.code.count, jt) : new Array<Kind>(p.code.count).fill('any');
  const common = { blocks, bind, kinds };
  const { source, entry } = starts ? structured(p, starts, common) : dispatchLoop(p, common);
  // the address space of the program's maps (inline lookups check they run in it)
  const maps = p.maps?.find((m) => m !== undefined)?.mem;
  const fault = (pc: number, what: string) => new RuntimeFault(`program '${p.name}' instruction ${pc}: ${what}`, { insn: pc });
  const loop = (pc: number) => new RuntimeFault(`program '${p.name}' ran more than ${MAX_STEPS} backward jumps (instruction ${pc}); stopped`, { insn: pc });
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const caches = [...new Set([...source.matchAll(/\bRC(\d+)\b/g)].map((m) => m[1]!))].map((n) => `RC${n}`);
  const boundDecl = bound.map((_, k) => `const B${k} = B[${k}];`).join(' ');
  const cacheDecl = `${boundDecl} let CM;${caches.length ? ` let ${caches.map((c) => `${c} = NOREG`).join(', ')};` : ''}\n  function RESET() { ${caches.map((c) => `${c} = NOREG;`).join(' ')} }`;
  const make = new Function('A', 'RET', 'DIV', 'SWAP', 'MASK', 'T', 'H', 'P', 'fault', 'loop', 'NOREG', 'CACHEABLE', 'B', 'MEM', `${cacheDecl}\n  ${source}\n  return ${entry};`);
  const pairs = p.helpers.map((h) => (h === undefined ? undefined : pairHelper(h)));
  // The entry returns r0's low half and leaves the high half in T.h.
  const fn = make(toBig, fromBig, div64, swapAny, maskAny, T, p.helpers, pairs, fault, loop, NOREG, cacheable, bound, maps ?? null) as (env: RunEnv, stack: Region, argl: number, argh: number, topl: number, toph: number, depth: number) => number;
  const low32 = (env: RunEnv, stack: Region, r1: bigint): number => {
    const l = fromBig(r1);
    return fn(env, stack, l, T.h, stack.bytes.length | 0, stack.id | 0, 0);
  };
  const enter = (env: RunEnv, stack: Region, r1l: number, r1h: number): number => fn(env, stack, r1l, r1h, stack.bytes.length | 0, stack.id | 0, 0);
  const run = (env: RunEnv, stack: Region, r1: bigint): bigint => {
    const l = low32(env, stack, r1);
    return toBig(l, T.h);
  };
  return Object.assign(run, { low32, entry: enter });
}

