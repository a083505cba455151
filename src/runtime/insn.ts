/**
 * eBPF instructions decoded into columns once per program: opcode, registers, offset, immediate, and
 * for ld_imm64 the 64-bit constant (and the map it refers to). Load-time checks happen here: an
 * opcode, a register or a jump target the runtime does not know is an error naming the instruction.
 */
import { BadObjectError, NotSupportedError } from '../errors.js';
import type { ProgramSpec } from '../object/types.js';

export const Cls = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, JMP32: 6, ALU64: 7 } as const;
export const Mode = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, MEMSX: 0x80, ATOMIC: 0xc0 } as const;
export const SIZE_BYTES = [4, 2, 1, 8] as const; // BPF_W, BPF_H, BPF_B, BPF_DW (size bits >> 3)

export interface Decoded {
  readonly count: number;
  readonly op: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int16Array;
  readonly imm: Int32Array;
  /** ld_imm64: the constant (u64) or, for a map reference, undefined with `mapRef` set. */
  readonly imm64: (bigint | undefined)[];
  readonly mapRef: ({ map: string; kind: 'fd' | 'value'; offset: number } | undefined)[];
}

export function decode(p: Pick<ProgramSpec, 'name' | 'instructions' | 'mapRefs'>): Decoded {
  const bytes = p.instructions;
  if (bytes.byteLength % 8 !== 0 || bytes.byteLength === 0) throw new BadObjectError(`program '${p.name}': code size ${bytes.byteLength} is not a positive multiple of 8`);
  const count = bytes.byteLength / 8;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const d: Decoded = {
    count,
    op: new Uint8Array(count),
    dst: new Uint8Array(count),
    src: new Uint8Array(count),
    off: new Int16Array(count),
    imm: new Int32Array(count),
    imm64: new Array(count).fill(undefined),
    mapRef: new Array(count).fill(undefined),
  };
  for (let i = 0; i < count; i++) {
    d.op[i] = v.getUint8(i * 8);
    const regs = v.getUint8(i * 8 + 1);
    d.dst[i] = regs & 0xf;
    d.src[i] = regs >> 4;
    d.off[i] = v.getInt16(i * 8 + 2, true);
    d.imm[i] = v.getInt32(i * 8 + 4, true);
  }
  const refs = new Map(p.mapRefs.map((r) => [r.insn, r]));
  for (let i = 0; i < count; i++) {
    const op = d.op[i]!;
    const where = `program '${p.name}' instruction ${i}`;
    if (d.dst[i]! > 10 || d.src[i]! > 10) throw new BadObjectError(`${where}: register r${Math.max(d.dst[i]!, d.src[i]!)} does not exist`);
    const cls = op & 7;
    if (op === 0x18) {
      if (i + 1 >= count) throw new BadObjectError(`${where}: ld_imm64 without its second half`);
      const ref = refs.get(i);
      if (ref) d.mapRef[i] = { map: ref.map, kind: ref.kind, offset: ref.offset };
      else if (d.src[i] === 0) d.imm64[i] = (BigInt(d.imm[i + 1]! >>> 0) << 32n) | BigInt(d.imm[i]! >>> 0);
      else throw new NotSupportedError(`${where}: ld_imm64 with source ${d.src[i]} (only constants and map references are supported)`);
      i++; // the second half is not an instruction
      continue;
    }
    if (cls === Cls.LD) throw new NotSupportedError(`${where}: legacy packet access (LD_ABS/LD_IND, opcode 0x${op.toString(16)}) is not supported by the userspace runtime`);
    if (cls === Cls.JMP || cls === Cls.JMP32) {
      const code = op >> 4;
      if (cls === Cls.JMP && code === 0x8) {
        if (d.src[i] === 1) checkTarget(i + d.imm[i]! + 1, count, where);
        else if (d.src[i] !== 0) throw new NotSupportedError(`${where}: kfunc calls are not supported by the userspace runtime`);
        continue;
      }
      if (code === 0x9) continue;
      if (code > 0xd) throw new BadObjectError(`${where}: unknown jump opcode 0x${op.toString(16)}`);
      checkTarget(i + (cls === Cls.JMP32 && code === 0 ? d.imm[i]! : d.off[i]!) + 1, count, where);
    }
  }
  return d;
}

function checkTarget(t: number, count: number, where: string): void {
  if (t < 0 || t >= count) throw new BadObjectError(`${where}: jump target ${t} is outside the program (0..${count - 1})`);
}
