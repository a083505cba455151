/**
 * Code emitters of the compiled path (compiler.ts): the JavaScript for one instruction's ALU, jump
 * condition, atomic, load or store, on registers held as int32 pairs. Each returns source text; the
 * names it uses at run time (T, DIV, SWAP, MASK, A, mem, the region caches) are bound by compile().
 */
import type { Kind } from './codegen-kinds.js';

/**
 * Whether an access through a base register of `kind` gets the inline path for `region` (the stack,
 * the packet, the context, a cached region): all of them when nothing is known; packet pointers are
 * never told apart (they come from context loads), so they count as unknown.
 */
const has = (kind: Kind, region: 'stack' | 'packet' | 'ctx' | 'other') => kind === 'any' || kind === region;

/** Registers every call clobbers besides r0 (the compiled path zeroes them, as the interpreter). */
export const CLOBBER = 'r1l = r1h = r2l = r2h = r3l = r3h = r4l = r4h = r5l = r5h = 0;';

/** After anything that may have copied the packet in (Region.sync): read it, and store to it inline. */
export const REFRESH = 'PB = pk.src; PLW = pk.writable ? PL : 0;';

/** An operand: a register's halves, or a sign-extended immediate's (as literals). */
export interface Operand {
  l: string;
  h: string;
  /** Unsigned views, for compares. */
  ul: string;
  uh: string;
  /** The immediate, when it is one. */
  imm?: number;
}

export const reg = (n: number): Operand => ({ l: `r${n}l`, h: `r${n}h`, ul: `(r${n}l >>> 0)`, uh: `(r${n}h >>> 0)` });
export const immOp = (imm: number): Operand => {
  const h = imm < 0 ? -1 : 0;
  return { l: `${imm | 0}`, h: `${h}`, ul: `${imm >>> 0}`, uh: `${h >>> 0}`, imm };
};


/** Arguments each helper reads (the others are passed as 0n); unknown helpers get all five. */
export const HELPER_ARGS: Record<number, number> = { 1: 2, 2: 4, 3: 2, 5: 0, 125: 0, 6: 5, 7: 0, 8: 0, 25: 5, 26: 4, 130: 4, 131: 3, 132: 1, 133: 1, 134: 2 };

const bswap32 = (x: string) => `(((${x} & 0xff) << 24) | ((${x} & 0xff00) << 8) | ((${x} >>> 8) & 0xff00) | (${x} >>> 24))`;

export function alu64(pc: number, code: number, off: number, d: Operand, s: Operand, imm: number): string {
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

export function alu32(pc: number, code: number, off: number, d: Operand, s: Operand, imm: number, toLe: boolean): string {
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

export function condition(pc: number, code: number, is64: boolean, a: Operand, b: Operand): string {
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
export function atomicCode(pc: number, size: number, imm: number, d: Operand, s: Operand, off: number, kind: Kind = 'any'): string {
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
  const inline = [
    has(kind, 'stack') ? `if (${d.h} === SID && o >= 0 && o <= SLW - ${size}) { ${body(vload('SV'), vstore('SV'))} }` : '',
    has(kind, 'other') ? `if (${d.h} === (q = RC${pc}).id && q.live && q.writable && o >= q.lo && o <= q.size - ${size}) { ${body(vload('q.view'), vstore('q.view'))} }` : '',
  ].filter(Boolean);
  return `o = ${d.ul} + ${off}; ${[...inline, `{ ${slowCached(pc, d, slow)} ${REFRESH} }`].join(' else ')}`;
}

/**
 * A checked access through mem (`slow`), after which the region of `b` is remembered for the next
 * accesses of instruction `pc`: b's high half is read before the access, which may overwrite it (a
 * load into its own base register, an atomic fetch into it).
 */
const slowCached = (pc: number, b: Operand, slow: string) => `bh = ${b.h}; ${slow} if ((q = mem.regionP(bh)) !== undefined && CACHEABLE(q)) RC${pc} = q;`;

const GET: Record<number, string> = { 1: 'getUint8', 2: 'getUint16', 4: 'getInt32' };

/** Little-endian `size` bytes at t of the byte array `a` into `d`, as the DataView loads of loadCode (int32 halves). */
function fromBytes(a: string, d: Operand, size: number, sx: boolean): string {
  const w32 = (k: number) => `(${a}[t + ${k}] | (${a}[t + ${k + 1}] << 8) | (${a}[t + ${k + 2}] << 16) | (${a}[t + ${k + 3}] << 24))`;
  if (size === 8) return `${d.l} = ${w32(0)}; ${d.h} = ${w32(4)};`;
  if (size === 4) return `${d.l} = ${w32(0)}; ${d.h} = ${sx ? `${d.l} >> 31` : '0'};`;
  if (size === 2) return sx ? `${d.l} = ((${a}[t] | (${a}[t + 1] << 8)) << 16) >> 16; ${d.h} = ${d.l} >> 31;` : `${d.l} = ${a}[t] | (${a}[t + 1] << 8); ${d.h} = 0;`;
  return sx ? `${d.l} = (${a}[t] << 24) >> 24; ${d.h} = ${d.l} >> 31;` : `${d.l} = ${a}[t]; ${d.h} = 0;`;
}
const SET: Record<number, string> = { 1: 'setUint8', 2: 'setUint16', 4: 'setInt32' };

/** A load of `size` bytes at `b` + `off` into `d` (sign-extended for MEMSX); `kind`: what b points into (codegen-kinds). */
export function loadCode(pc: number, d: Operand, b: Operand, off: number, size: number, sx: boolean, kind: Kind): string {
  const fromView = (v: string) => {
    if (size === 8) return `${d.l} = ${v}.getInt32(t, true); ${d.h} = ${v}.getInt32(t + 4, true);`;
    const get = `${v}.${GET[size]}(t${size === 1 ? '' : ', true'})`;
    if (!sx) return `${d.l} = ${get}; ${d.h} = 0;`;
    return `${d.l} = ${size === 1 ? `(${get} << 24) >> 24` : size === 2 ? `(${get} << 16) >> 16` : get}; ${d.h} = ${d.l} >> 31;`;
  };
  const slow = sx
    ? `t = mem.loadP(${b.h}, ${b.l}, ${off}, ${size}, ${pc}); ${d.l} = ${size === 1 ? '(t << 24) >> 24' : size === 2 ? '(t << 16) >> 16' : 't'}; ${d.h} = ${d.l} >> 31;`
    : `${d.l} = mem.loadP(${b.h}, ${b.l}, ${off}, ${size}, ${pc}); ${d.h} = mem.hi;`;
  // the context: inline too, its pointer fields (Region.pointers) as loadP gives them
  const inline = [
    has(kind, 'stack') ? `if (${b.h} === SID && t >= 0 && t <= SL - ${size}) { ${fromView('SV')} }` : '',
    has(kind, 'packet') ? `if (${b.h} === PID && t >= 0 && t <= PL - ${size}) { ${fromBytes('PB', d, size, sx)} }` : '',
    has(kind, 'ctx')
      ? `if (${b.h} === CID && t >= 0 && t <= CL - ${size}) { ${size === 4 ? `if (CPP !== undefined && (o = CPP[2 * t + 1]) !== 0) { ${sx ? `${d.l} = CPP[2 * t]; ${d.h} = ${d.l} >> 31;` : `${d.l} = CPP[2 * t]; ${d.h} = o;`} } else ` : ''}{ ${fromView('CV')} } }`
      : '',
    has(kind, 'other') ? `if (${b.h} === (q = RC${pc}).id && q.live && t >= q.lo && t <= q.size - ${size}) { ${fromView('q.view')} }` : '',
  ].filter(Boolean);
  // (stack and context regions are never cached: their slow path does not look)
  return `t = ${b.ul} + ${off}; ${[...inline, `{ ${kind === 'stack' || kind === 'ctx' ? slow : slowCached(pc, b, slow)} }`].join(' else ')}`;
}

/** One plain store: instruction, offset from the base, width, value (int32 halves, as source text). */
export interface RunStore {
  pc: number;
  off: number;
  size: number;
  vl: string;
  vh: string;
}

/**
 * Stores at `b` + their offsets, inline when the bytes [lo, lo + span) are wholly in the stack, the
 * (copied-in) packet or the region cached for instruction `cachePc`, else `slow` (the checked path);
 * `kind`: what b points into (codegen-kinds: the inline paths tried).
 */
function checkedStores(b: Operand, run: RunStore[], lo: number, span: number, cachePc: number, slow: string, kind: Kind): string {
  const all = (v: string) =>
    run
      .map(({ off, size, vl, vh }) => {
        const at = off === lo ? 't' : `t + ${off - lo}`;
        return size === 8 ? `${v}.setInt32(${at}, ${vl}, true); ${v}.setInt32(${at} + 4, ${vh}, true);` : `${v}.${SET[size]}(${at}, ${vl}${size === 1 ? '' : ', true'});`;
      })
      .join(' ');
  const inline = [
    has(kind, 'stack') ? `if (${b.h} === SID && t >= 0 && t <= SLW - ${span}) { ${all('SV')} }` : '',
    has(kind, 'packet') ? `if (${b.h} === PID && t >= 0 && t <= PLW - ${span}) { ${all('PV')} }` : '',
    has(kind, 'other') ? `if (${b.h} === (q = RC${cachePc}).id && q.live && q.writable && t >= q.lo && t <= q.size - ${span}) { ${all('q.view')} }` : '',
  ].filter(Boolean);
  return `t = ${b.ul} + ${lo}; ${[...inline, `{ ${slow} }`].join(' else ')}`;
}

/** A store of the low `size` bytes of `vh:vl` at `b` + `off`. */
export function storeCode(pc: number, b: Operand, off: number, size: number, vl: string, vh: string, kind: Kind): string {
  const store = `mem.storeP(${b.h}, ${b.l}, ${off}, ${size}, ${vl}, ${vh}, ${pc});`;
  return checkedStores(b, [{ pc, off, size, vl, vh }], off, size, pc, kind === 'stack' ? store : `${slowCached(pc, b, store)} ${REFRESH}`, kind);
}

/**
 * Consecutive stores through one base register (a struct being filled, a memset): one bounds check for
 * the bytes they span, then each store inline; when the span is not wholly in one region (or the region
 * is not cached yet), the stores one by one (`each`: their own checks, faulting where they would).
 */
export function storeRunCode(b: Operand, run: RunStore[], each: string, kind: Kind): string {
  const lo = Math.min(...run.map((s) => s.off));
  const span = Math.max(...run.map((s) => s.off + s.size)) - lo;
  return checkedStores(b, run, lo, span, run[0]!.pc, each, kind);
}
