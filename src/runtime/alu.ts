/**
 * Exact eBPF arithmetic on unsigned 64-bit BigInts: the reference semantics shared by nothing but the
 * interpreter (the compiler has its own, and the two are tested against each other).
 */
const M64 = (1n << 64n) - 1n;
const M32 = 0xffffffffn;

export const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
export const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
export const u32 = (v: bigint): bigint => v & M32;
export const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);

function bswap(v: bigint, bits: number): bigint {
  let out = 0n;
  for (let i = 0; i < bits; i += 8) out = (out << 8n) | ((v >> BigInt(i)) & 0xffn);
  return out;
}

/**
 * One ALU operation. `code` is the opcode's high nibble, `off` selects signed div/mod and movsx,
 * `is64` the class (ALU64 vs ALU), `a` the destination, `b` the source (already sign-extended
 * immediate or register). Returns the new destination value (zero-extended for 32-bit operations).
 */
export function alu(code: number, off: number, is64: boolean, a: bigint, b: bigint, imm: number, fromImm: boolean): bigint {
  if (is64) {
    switch (code) {
      case 0x0: return u64(a + b);
      case 0x1: return u64(a - b);
      case 0x2: return u64(a * b);
      case 0x3:
        if (b === 0n) return 0n;
        return off === 1 ? u64(s64(a) / s64(b)) : a / b;
      case 0x4: return a | b;
      case 0x5: return a & b;
      case 0x6: return u64(a << (b & 63n));
      case 0x7: return a >> (b & 63n);
      case 0x8: return u64(-a);
      case 0x9:
        if (b === 0n) return a;
        return off === 1 ? u64(s64(a) % s64(b)) : a % b;
      case 0xa: return a ^ b;
      case 0xb:
        if (off === 8 || off === 16 || off === 32) return u64(BigInt.asIntN(off, b));
        return b;
      case 0xc: return u64(s64(a) >> (b & 63n));
      case 0xd: return bswap(a, imm); // ALU64 END: unconditional byte swap (bswap16/32/64)
    }
    return a;
  }
  const x = u32(a);
  const y = u32(b);
  switch (code) {
    case 0x0: return u32(x + y);
    case 0x1: return u32(x - y);
    case 0x2: return u32(x * y);
    case 0x3:
      if (y === 0n) return 0n;
      return off === 1 ? u32(s32(x) / s32(y)) : x / y;
    case 0x4: return x | y;
    case 0x5: return x & y;
    case 0x6: return u32(x << (y & 31n));
    case 0x7: return x >> (y & 31n);
    case 0x8: return u32(-x);
    case 0x9:
      if (y === 0n) return x;
      return off === 1 ? u32(s32(x) % s32(y)) : x % y;
    case 0xa: return x ^ y;
    case 0xb:
      if (off === 8 || off === 16) return u32(BigInt.asIntN(off, y));
      return y;
    case 0xc: return u32(s32(x) >> (y & 31n));
    case 0xd:
      // END: source bit 0 = to big endian (a swap on this little-endian machine), else to little endian.
      if (fromImm) return imm === 64 ? a : a & ((1n << BigInt(imm)) - 1n);
      return bswap(a, imm);
  }
  return x;
}

/** A conditional jump's condition. */
export function cond(code: number, is64: boolean, a: bigint, b: bigint): boolean {
  if (!is64) {
    a = u32(a);
    b = u32(b);
  }
  const bits = is64 ? 64 : 32;
  switch (code) {
    case 0x1: return a === b;
    case 0x2: return a > b;
    case 0x3: return a >= b;
    case 0x4: return (a & b) !== 0n;
    case 0x5: return a !== b;
    case 0x6: return BigInt.asIntN(bits, a) > BigInt.asIntN(bits, b);
    case 0x7: return BigInt.asIntN(bits, a) >= BigInt.asIntN(bits, b);
    case 0xa: return a < b;
    case 0xb: return a <= b;
    case 0xc: return BigInt.asIntN(bits, a) < BigInt.asIntN(bits, b);
    case 0xd: return BigInt.asIntN(bits, a) <= BigInt.asIntN(bits, b);
  }
  return false;
}

export { M64, M32 };
