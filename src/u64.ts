/**
 * A u64 as two 32-bit halves and back, through one 8-byte scratch: no BigInt arithmetic (each step of
 * which allocates) on the hot paths of the readers and the runtime. The high half of a split is left
 * in `splitHi` (read it right after the call).
 */
const S64 = new BigUint64Array(1);
const I32 = new Int32Array(S64.buffer);
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LE ? 0 : 1;
const HI = LE ? 1 : 0;

/** The high half (int32) of the last splitU64(). */
export let splitHi = 0;

/** `v` mod 2^64: its low half (int32) returned, its high half (int32) in `splitHi`. */
export function splitU64(v: bigint): number {
  S64[0] = v;
  splitHi = I32[HI]!;
  return I32[LO]!;
}

/** The u64 whose halves are `lo` and `hi` (int32 or uint32: only their 32 bits count). */
export function joinU64(lo: number, hi: number): bigint {
  I32[LO] = lo;
  I32[HI] = hi;
  return S64[0]!;
}
