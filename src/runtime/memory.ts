/**
 * The runtime's address space: every object a program can point into is a region (stack, context,
 * packet, a map value, a ring buffer reservation), and an address is region id << 32 | offset. Every
 * load and store is checked against its region: an access outside every region, past its end, into a
 * read-only region or a released one stops the program with a RuntimeFault naming the instruction.
 */
import { RuntimeFault } from '../errors.js';

export type RegionKind = 'stack' | 'ctx' | 'packet' | 'map value' | 'map' | 'ringbuf record' | 'read-only data';

export interface Region {
  readonly id: number;
  readonly kind: RegionKind;
  /** Backing bytes; only the first `size` belong to the region. */
  bytes: Uint8Array;
  view: DataView;
  size: number;
  writable: boolean;
  /** False once released (a submitted ring buffer record, a deleted hash element). */
  live: boolean;
  /** For 'map' regions (a map handle): the map. */
  readonly owner?: unknown;
  /** For the context: loads of these offsets give pointers (skb->data, data_end, ...). */
  pointerField?: (offset: number, size: number) => bigint | undefined;
  /** For the context: which bytes may be written. */
  writableAt?: (offset: number, size: number) => boolean;
}

export const ADDR_SHIFT = 32n;
const LOW = 0xffffffffn;

export class Memory {
  private readonly regions: (Region | undefined)[] = [undefined]; // id 0: NULL
  private readonly free: number[] = [];

  add(kind: RegionKind, bytes: Uint8Array, writable: boolean, owner?: unknown): Region {
    const id = this.free.pop() ?? this.regions.length;
    const r: Region = { id, kind, bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), size: bytes.byteLength, writable, live: true, owner };
    this.regions[id] = r;
    return r;
  }

  /** Release a region: its id may be reused, and addresses into it fault until then. */
  release(r: Region): void {
    r.live = false;
    if (this.regions[r.id] === r) {
      this.regions[r.id] = undefined;
      this.free.push(r.id);
    }
  }

  static address(r: Region, offset = 0): bigint {
    return (BigInt(r.id) << ADDR_SHIFT) + BigInt(offset);
  }

  /** Offset within the last resolved region (resolve() sets it; no allocation per access). */
  private off = 0;

  /** The region of `size` bytes at `addr`, checked (its offset in `this.off`); `pc` names the instruction on a fault. */
  private resolve(addr: bigint, size: number, pc: number, write: boolean): Region {
    const id = Number(addr >> ADDR_SHIFT);
    const off = Number(addr & LOW);
    const r = id < this.regions.length ? this.regions[id] : undefined;
    if (r === undefined || !r.live) throw this.fault(pc, addr, size, write, addr === 0n ? 'a NULL pointer' : 'no region (not a pointer)');
    if (off + size > r.size) throw this.fault(pc, addr, size, write, `past the end of the ${r.kind} (${r.size} bytes, offset ${off})`);
    if (write && !r.writable && !(r.writableAt?.(off, size) ?? false)) throw this.fault(pc, addr, size, write, `the ${r.kind}, which is read-only`);
    this.off = off;
    return r;
  }

  region(addr: bigint): Region | undefined {
    const id = Number(addr >> ADDR_SHIFT);
    const r = id < this.regions.length ? this.regions[id] : undefined;
    return r?.live ? r : undefined;
  }

  load(addr: bigint, size: number, pc: number): bigint {
    const r = this.resolve(addr, size, pc, false);
    const off = this.off;
    if (r.pointerField) {
      const p = r.pointerField(off, size);
      if (p !== undefined) return p;
    }
    const v = r.view;
    switch (size) {
      case 1:
        return BigInt(v.getUint8(off));
      case 2:
        return BigInt(v.getUint16(off, true));
      case 4:
        return BigInt(v.getUint32(off, true));
      default:
        return v.getBigUint64(off, true);
    }
  }

  store(addr: bigint, size: number, value: bigint, pc: number): void {
    const r = this.resolve(addr, size, pc, true);
    const off = this.off;
    const v = r.view;
    switch (size) {
      case 1:
        v.setUint8(off, Number(value & 0xffn));
        break;
      case 2:
        v.setUint16(off, Number(value & 0xffffn), true);
        break;
      case 4:
        v.setUint32(off, Number(value & LOW), true);
        break;
      default:
        v.setBigUint64(off, BigInt.asUintN(64, value), true);
    }
  }

  /** `len` bytes at `addr` for a helper argument (checked like a load). */
  bytes(addr: bigint, len: number, pc: number, write = false): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const r = this.resolve(addr, len, pc, write);
    return r.bytes.subarray(this.off, this.off + len);
  }

  fault(pc: number, addr: bigint, size: number, write: boolean, what: string): RuntimeFault {
    return new RuntimeFault(`instruction ${pc}: ${write ? 'store' : 'load'} of ${size} bytes at 0x${addr.toString(16)} is outside the program's memory: ${what}`, { insn: pc });
  }
}
