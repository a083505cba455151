/**
 * What compiled programs call at run time (bound by compile() under short names): BigInt conversions
 * through a scratch, 64-bit division, odd-width byte swaps, the region-cache sentinel and its test.
 */
import type { Region } from './memory.js';
import { joinU64, splitU64, splitHi } from '../u64.js';

/**
 * No region (id -1: never a region's), the initial value of the region caches: the same shape as
 * Memory's regions (Memory.add), so the accesses through a cache stay monomorphic.
 */
export const NOREG: Region = { id: -1, kind: 'map value', bytes: new Uint8Array(0), view: new DataView(new ArrayBuffer(0)), lo: 0, size: 0, writable: false, live: false, owner: undefined, pointers: undefined, writableAt: undefined, src: new Uint8Array(0), sync: undefined };

/**
 * Regions an access may reach inline once seen: fixed size and bytes (map values, global data, ring
 * buffer records; not the packet, whose size changes per run, nor the context), no pointer fields.
 */
export function cacheable(r: Region): boolean {
  return (r.kind === 'map value' || r.kind === 'read-only data' || r.kind === 'ringbuf record') && r.pointers === undefined && r.writableAt === undefined;
}

/** Scratch for the high half of two-result functions. */
export const T = { h: 0 };

/**
 * A pair as a u64 BigInt. Helper arguments repeat from run to run (map handles, stack and context
 * pointers, sizes): a small direct-mapped cache of recent conversions saves most allocations.
 */
const CACHE = 256;
const cacheL = new Int32Array(CACHE);
const cacheH = new Int32Array(CACHE);
const cacheV: bigint[] = new Array<bigint>(CACHE).fill(0n);

export function toBig(l: number, h: number): bigint {
  const i = (l ^ (l >>> 8) ^ (l >>> 16) ^ h) & (CACHE - 1);
  if (cacheL[i] === l && cacheH[i] === h) return cacheV[i]!;
  const v = joinU64(l, h);
  cacheL[i] = l;
  cacheH[i] = h;
  cacheV[i] = v;
  return v;
}

/** A BigInt (mod 2^64) as a pair: the low half returned, the high half in T.h. */
export function fromBig(v: bigint): number {
  const lo = splitU64(v);
  T.h = splitHi;
  return lo;
}

/** 64-bit division or modulo (signed: off 1), by zero as eBPF: div gives 0, mod leaves the dividend. */
export function div64(al: number, ah: number, bl: number, bh: number, signed: boolean, mod: boolean): number {
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
  let a = joinU64(al, ah);
  let b = joinU64(bl, bh);
  if (signed) {
    a = BigInt.asIntN(64, a);
    b = BigInt.asIntN(64, b);
  }
  return fromBig(BigInt.asUintN(64, mod ? a % b : a / b));
}

/** The interpreter's byte swap for widths other than 16/32/64 (the low `bits` bits, byte-reversed). */
export function swapAny(l: number, h: number, bits: number): number {
  const v = joinU64(l, h);
  let out = 0n;
  for (let i = 0; i < bits; i += 8) out = (out << 8n) | ((v >> BigInt(i)) & 0xffn);
  return fromBig(BigInt.asUintN(64, out));
}

/** to-le of another width: the low `bits` bits. */
export function maskAny(l: number, h: number, bits: number): number {
  const v = joinU64(l, h);
  return fromBig(v & ((1n << BigInt(bits)) - 1n));
}
