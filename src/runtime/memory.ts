/**
 * The runtime's address space: every object a program can point into is a region (stack, context,
 * packet, a map value, a ring buffer reservation), and an address is region id << 32 | offset. Every
 * load and store is checked against its region: an access outside every region, past its end, into a
 * read-only region or a released one stops the program with a RuntimeFault naming the instruction.
 */
import { RuntimeFault } from '../errors.js';
import { joinU64, splitU64, splitHi } from '../u64.js';

export type RegionKind = 'stack' | 'ctx' | 'packet' | 'map value' | 'map' | 'ringbuf record' | 'read-only data';

export interface Region {
  readonly id: number;
  readonly kind: RegionKind;
  /** Backing bytes; only the first `size` belong to the region. */
  bytes: Uint8Array;
  view: DataView;
  /**
   * What the region's bytes read as: `bytes`, or (the packet, before its copy is needed) the caller's
   * frame itself; the compiled path's inline packet loads read it.
   */
  src: Uint8Array;
  /**
   * Makes `bytes`/`view` current (the packet: copies the frame in at the first access that needs the
   * copy). Memory calls it before any access through a region; helpers that reach a region's bytes
   * directly call it too. Undefined when there is nothing to do.
   */
  sync: (() => void) | undefined;
  /**
   * The region's bytes are `bytes[lo, size)`: lo is 0 but for a ring buffer record, which is a window
   * of its ring's slab (written in place, as the kernel's reservations are) with addresses from lo.
   */
  lo: number;
  size: number;
  writable: boolean;
  /** False once released (a submitted ring buffer record, a deleted hash element). */
  live: boolean;
  /** For 'map' regions (a map handle): the map. */
  readonly owner?: unknown;
  /**
   * For the context: its pointer fields (skb->data, data_end, ...) as int32 halves, two per byte
   * offset: a 4-byte load at offset o gives the address pointers[2o + 1]:pointers[2o] when
   * pointers[2o + 1] (a region id) is not 0; any other load reads the bytes.
   */
  pointers?: Int32Array;
  /** For the context: which bytes may be written. */
  writableAt?: (offset: number, size: number) => boolean;
}

export const ADDR_SHIFT = 32n;
const LOW = 0xffffffffn;
const M64 = 0xffffffffffffffffn;


const VIEW_CACHE = 64;
const ADDR_CACHE = 64;
const addrCacheN = new Float64Array(ADDR_CACHE).fill(-1);
const addrCacheV = new Array<bigint>(ADDR_CACHE).fill(0n);

/** The address region `id` (a u32 as int32 or not) : offset `o` (u32). */
function pairAddress(id: number, o: number): bigint {
  return joinU64(o, id);
}

export class Memory {
  private readonly regions: (Region | undefined)[] = [undefined]; // id 0: NULL
  private readonly free: number[] = [];

  /** `view`: a DataView over exactly `bytes`, if the caller has one (else one is made). */
  add(kind: RegionKind, bytes: Uint8Array, writable: boolean, owner?: unknown, view?: DataView): Region {
    const id = this.free.pop() ?? this.regions.length;
    // Every region has the same shape (the optional fields set, if only to undefined): accesses stay monomorphic.
    const r: Region = { id, kind, bytes, view: view ?? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), lo: 0, size: bytes.byteLength, writable, live: true, owner, pointers: undefined, writableAt: undefined, src: bytes, sync: undefined };
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

  /**
   * Take a region out of use but keep its id for it (addresses into it fault, as after release()),
   * so that revive() can bring the same object back: for ring buffer records, reserved run after run.
   */
  retire(r: Region): void {
    r.live = false;
  }

  /** Bring back a region retire() took out of use (its id is still its own). */
  revive(r: Region): void {
    if (this.regions[r.id] !== r) throw new Error(`region ${r.id} was released, not retired`);
    r.live = true;
  }

  static address(r: Region, offset = 0): bigint {
    const n = r.id * 0x100000000 + offset;
    if (n >= 0 && n <= Number.MAX_SAFE_INTEGER && Number.isInteger(n)) {
      // The same addresses come back run after run (map values, the context): a small cache of them.
      const i = (r.id * 31 + offset) & (ADDR_CACHE - 1);
      if (addrCacheN[i] === n) return addrCacheV[i]!;
      const v = BigInt(n);
      addrCacheN[i] = n;
      addrCacheV[i] = v;
      return v;
    }
    return (BigInt(r.id) << ADDR_SHIFT) + BigInt(offset);
  }

  /** Offset within the last resolved region (resolve() sets it; no allocation per access). */
  private off = 0;

  /** The region of `size` bytes at `addr`, checked (its offset in `this.off`); `pc` names the instruction on a fault. */
  private resolve(addr: bigint, size: number, pc: number, write: boolean): Region {
    let id: number;
    let off: number;
    if (addr >= 0n && addr <= M64) {
      // the halves through a typed array: no BigInt arithmetic (allocations)
      off = splitU64(addr) >>> 0;
      id = splitHi >>> 0;
    } else {
      id = Number(addr >> ADDR_SHIFT);
      off = Number(addr & LOW);
    }
    const r = id < this.regions.length ? this.regions[id] : undefined;
    if (r === undefined || !r.live) throw this.fault(pc, addr, size, write, addr === 0n ? 'a NULL pointer' : 'no region (not a pointer)');
    if (r.sync !== undefined) r.sync();
    if (off < r.lo || off + size > r.size) throw this.fault(pc, addr, size, write, `${off < r.lo ? 'before the start' : 'past the end'} of the ${r.kind} (${r.size - r.lo} bytes, offset ${off - r.lo})`);
    if (write && !r.writable && !(r.writableAt?.(off, size) ?? false)) throw this.fault(pc, addr, size, write, `the ${r.kind}, which is read-only`);
    this.off = off;
    return r;
  }

  /** Whether `r` is a live region of this address space. */
  owns(r: Region): boolean {
    return r.live && this.regions[r.id] === r;
  }

  region(addr: bigint): Region | undefined {
    // (no region lies outside the u64 range)
    if (addr < 0n || addr > M64) return undefined;
    splitU64(addr);
    return this.regionP(splitHi);
  }

  load(addr: bigint, size: number, pc: number): bigint {
    const r = this.resolve(addr, size, pc, false);
    const off = this.off;
    const ptr = r.pointers;
    if (size === 4 && ptr !== undefined && ptr[2 * off + 1] !== 0) return joinU64(ptr[2 * off]!, ptr[2 * off + 1]!);
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

  /** Region id of the last offsetOf() (the high half, after the carry). */
  private carried = 0;

  /** `ahi:alo` + `off` as 64-bit arithmetic: returns the low half (unsigned), the high half in `carried`. */
  private offsetOf(ahi: number, alo: number, off: number): number {
    let o = (alo >>> 0) + off;
    let id = ahi;
    if (o > 0xffffffff) {
      o -= 0x100000000;
      id = (id + 1) | 0;
    } else if (o < 0) {
      o += 0x100000000;
      id = (id - 1) | 0;
    }
    this.carried = id;
    return o;
  }

  /**
   * Without BigInt, for the compiled path: the address is the pair `hi:lo` (int32 halves, as the
   * compiled code holds registers) plus `off`. Returns the low 32 bits of the value (int32) and leaves
   * the high 32 bits in `hi` (0 for loads of 1, 2 or 4 bytes, unless the context gives a pointer).
   * Same checks and same faults as load(): anything but the common case goes through load() itself.
   */
  loadP(ahi: number, alo: number, off: number, size: number, pc: number): number {
    const o = this.offsetOf(ahi, alo, off);
    const id = this.carried;
    const regions = this.regions;
    const r = id >= 0 && id < regions.length ? regions[id] : undefined;
    if (r === undefined || !r.live || o < r.lo || o + size > r.size) return this.loadSlow(id, o, size, pc);
    if (r.sync !== undefined) r.sync();
    const ptr = r.pointers;
    if (size === 4 && ptr !== undefined && ptr[2 * o + 1] !== 0) {
      this.hi = ptr[2 * o + 1]!;
      return ptr[2 * o]!;
    }
    const v = r.view;
    switch (size) {
      case 1:
        this.hi = 0;
        return v.getUint8(o);
      case 2:
        this.hi = 0;
        return v.getUint16(o, true);
      case 4:
        this.hi = 0;
        return v.getInt32(o, true);
      default:
        this.hi = v.getInt32(o + 4, true);
        return v.getInt32(o, true);
    }
  }

  /** Store the pair `vhi:vlo` (its low `size` bytes) at `ahi:alo` + `off`, without BigInt; checked as store(). */
  storeP(ahi: number, alo: number, off: number, size: number, vlo: number, vhi: number, pc: number): void {
    const o = this.offsetOf(ahi, alo, off);
    const id = this.carried;
    const regions = this.regions;
    const r = id >= 0 && id < regions.length ? regions[id] : undefined;
    if (r !== undefined && r.sync !== undefined) r.sync();
    if (r === undefined || !r.live || o < r.lo || o + size > r.size || (!r.writable && !(r.writableAt !== undefined && r.writableAt(o, size)))) {
      this.store(pairAddress(id, o), size, joinU64(vlo, vhi), pc);
      return;
    }
    const v = r.view;
    switch (size) {
      case 1:
        v.setUint8(o, vlo);
        return;
      case 2:
        v.setUint16(o, vlo, true);
        return;
      case 4:
        v.setInt32(o, vlo, true);
        return;
      default:
        v.setInt32(o, vlo, true);
        v.setInt32(o + 4, vhi, true);
    }
  }

  /** High 32 bits (int32) of the last loadP(). */
  hi = 0;

  private loadSlow(id: number, o: number, size: number, pc: number): number {
    return this.split(this.load(pairAddress(id, o), size, pc));
  }

  /** A u64 BigInt as int32 halves: the low half returned, the high half in `hi`. */
  split(v: bigint): number {
    const lo = splitU64(v);
    this.hi = splitHi;
    return lo;
  }

  /** The live region of the address `hi:lo` (any offset), as region(): no BigInt. */
  regionP(hi: number): Region | undefined {
    const id = hi >>> 0;
    const r = id < this.regions.length ? this.regions[id] : undefined;
    if (r === undefined || !r.live) return undefined;
    if (r.sync !== undefined) r.sync();
    return r;
  }

  /**
   * bytes() of the address `hi:lo` (int32 halves), without BigInt: the common case here, anything
   * else (the faults) through bytes() itself, so with the same checks and messages.
   */
  bytesP(hi: number, lo: number, len: number, pc: number, write = false): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const id = hi >>> 0;
    const off = lo >>> 0;
    const r = id < this.regions.length ? this.regions[id] : undefined;
    if (r !== undefined && r.sync !== undefined) r.sync();
    if (r === undefined || !r.live || off < r.lo || off + len > r.size || (write && !r.writable && !(r.writableAt?.(off, len) ?? false))) return this.bytes(pairAddress(id, off), len, pc, write);
    return this.viewOf(r, off, len);
  }

  /** `len` bytes at `addr` for a helper argument (checked like a load). */
  bytes(addr: bigint, len: number, pc: number, write = false): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const r = this.resolve(addr, len, pc, write);
    return this.viewOf(r, this.off, len);
  }

  private viewOf(r: Region, off: number, len: number): Uint8Array {
    // Helpers ask for the same few views run after run (a key on the stack, an event): the view is
    // reused while it still shows the same bytes of the same region (callers never keep it).
    const i = (r.id * 31 + off + (off >>> 9) * 5 + len) & (VIEW_CACHE - 1); // (frames are 512 bytes apart)
    const c = this.views[i];
    if (c !== undefined && c.bytes === r.bytes && c.off === off && c.view.length === len) return c.view;
    const view = r.bytes.subarray(off, off + len);
    this.views[i] = { bytes: r.bytes, off, view };
    return view;
  }

  private readonly views: ({ bytes: Uint8Array; off: number; view: Uint8Array } | undefined)[] = new Array(VIEW_CACHE).fill(undefined);

  fault(pc: number, addr: bigint, size: number, write: boolean, what: string): RuntimeFault {
    return new RuntimeFault(`instruction ${pc}: ${write ? 'store' : 'load'} of ${size} bytes at 0x${addr.toString(16)} is outside the program's memory: ${what}`, { insn: pc });
  }
}
