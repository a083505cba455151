/**
 * Maps of the userspace runtime, with the kernel's semantics for what programs can observe: array,
 * per-CPU array, hash (plain, per-CPU, LRU), perf event array and ring buffer. Values live in memory
 * regions, so programs read and write them through checked pointers.
 */
import { NotSupportedError, UsageError } from '../errors.js';
import { MapType, mapTypeName } from '../object/uapi.js';
import type { MapSpec } from '../object/types.js';
import { Memory, type Region } from './memory.js';
import { RecordRing } from './record-ring.js';
import { splitU64, splitHi } from '../u64.js';

export const E = { ENOENT: 2, E2BIG: 7, EFAULT: 14, EEXIST: 17, EINVAL: 22, ENOSPC: 28, EAGAIN: 11, EOPNOTSUPP: 95, EBUSY: 16 } as const;

/**
 * How the compiled path may look up a key inline (codegen-maps.ts): the map's own lookupAtP() spelled
 * out for a key on the stack, with the same results. Undefined: the map is looked up through lookupAtP.
 */
export type InlineLookup =
  /** Array maps: key `i` (the key's first 4 bytes, LE) below maxEntries → region regionIds[cpu or 0], offset i * valueSize. */
  | { kind: 'array'; maxEntries: number; valueSize: number; regionIds: readonly number[]; perCpu: boolean }
  /** Hash maps (not LRU) with 1, 2 or 4-byte keys: entries.get(key as LE number) → values[cpu or 0], offset 0. */
  | { kind: 'hash'; keySize: 1 | 2 | 4; entries: ReadonlyMap<number | string, { values: Region[] }>; perCpu: boolean };

export abstract class RuntimeMap {
  /** The region programs get for the map itself (ld_imm64 map fd). */
  readonly handle: Region;

  constructor(readonly spec: MapSpec, readonly mem: Memory, readonly ncpus: number) {
    this.handle = mem.add('map', new Uint8Array(0), false, this);
  }

  get name(): string {
    return this.spec.name;
  }

  /** Address of the value for `key`, or 0n. */
  lookupAddr(_key: Uint8Array, _cpu: number): bigint {
    return 0n;
  }

  /**
   * lookupAddr() as int32 halves, for the compiled path: the low half returned, the high half in
   * `this.mem.hi` (no BigInt where the map can avoid it).
   */
  lookupP(key: Uint8Array, cpu: number): number {
    return splitInto(this.mem, this.lookupAddr(key, cpu));
  }

  /**
   * lookupP() of the key at the address `hi:lo` of `mem` (as mem.bytesP(), same faults): maps may
   * read the key without a view of it.
   */
  lookupAtP(mem: Memory, hi: number, lo: number, cpu: number, pc: number): number {
    return this.lookupP(mem.bytesP(hi, lo, this.spec.keySize, pc), cpu);
  }

  /** @internal The map's inline lookup for the compiled path, if it has one. */
  inlineLookup(): InlineLookup | undefined {
    return undefined;
  }

  /** 0 or a negative errno. */
  update(_key: Uint8Array, _value: Uint8Array, _flags: number, _cpu: number): number {
    return -E.EINVAL;
  }

  delete(_key: Uint8Array): number {
    return -E.EINVAL;
  }

  /** Value of `key` (for user space: the current CPU's copy for per-CPU maps), copied. */
  lookup(key: Uint8Array, cpu = 0): Uint8Array | undefined {
    const a = this.lookupAddr(key, cpu);
    if (a === 0n) return undefined;
    return this.mem.bytes(a, this.spec.valueSize, -1).slice();
  }

  /** Every CPU's value of a per-CPU map (one entry for other maps). */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined {
    const out: Uint8Array[] = [];
    for (let c = 0; c < (this.perCpu ? this.ncpus : 1); c++) {
      const v = this.lookup(key, c);
      if (!v) return undefined;
      out.push(v);
    }
    return out;
  }

  get perCpu(): boolean {
    return false;
  }

  keys(): Uint8Array[] {
    return [];
  }
}

/** A u64 BigInt as int32 halves: the low half returned, the high half in `mem.hi`. */
function splitInto(mem: Memory, v: bigint): number {
  const lo = splitU64(v);
  mem.hi = splitHi;
  return lo;
}

/** The first `size` bytes of `value` (the value itself when it is that long: helpers pass exact views). */
function valueBytes(value: Uint8Array, size: number): Uint8Array {
  return value.length === size ? value : value.subarray(0, size);
}

/** The key's first 4 bytes as a little-endian u32 (no DataView per lookup; a shorter key throws as DataView would). */
function u32(key: Uint8Array): number {
  if (key.length < 4) throw new RangeError('Offset is outside the bounds of the DataView');
  return (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
}

class ArrayMap extends RuntimeMap {
  private readonly copies: Region[];

  constructor(spec: MapSpec, mem: Memory, ncpus: number, private readonly percpu: boolean) {
    super(spec, mem, ncpus);
    const n = percpu ? ncpus : 1;
    const frozen = spec.readonly;
    this.copies = Array.from({ length: n }, () => {
      const bytes = new Uint8Array(spec.valueSize * spec.maxEntries);
      if (spec.data) bytes.set(spec.data.subarray(0, bytes.byteLength));
      return mem.add(frozen ? 'read-only data' : 'map value', bytes, !frozen, this);
    });
  }

  override get perCpu(): boolean {
    return this.percpu;
  }

  /** The value region of global data (.data/.bss/.rodata): one entry. */
  get region(): Region {
    return this.copies[0]!;
  }

  override lookupAddr(key: Uint8Array, cpu: number): bigint {
    const i = u32(key);
    if (i >= this.spec.maxEntries) return 0n;
    return Memory.address(this.copies[this.percpu ? cpu : 0]!, i * this.spec.valueSize);
  }

  override lookupP(key: Uint8Array, cpu: number): number {
    const i = u32(key);
    if (i >= this.spec.maxEntries) {
      this.mem.hi = 0;
      return 0;
    }
    // Memory.address(region, offset): region id in the high half, the offset (< 2^32) in the low
    this.mem.hi = this.copies[this.percpu ? cpu : 0]!.id | 0;
    return (i * this.spec.valueSize) | 0;
  }

  override lookupAtP(mem: Memory, hi: number, lo: number, cpu: number, pc: number): number {
    const ks = this.spec.keySize;
    const r = ks >= 4 ? mem.regionP(hi) : undefined;
    const off = lo >>> 0;
    if (r === undefined || off + ks > r.size) return super.lookupAtP(mem, hi, lo, cpu, pc);
    // the key's first 4 bytes, as u32() of the key's bytes
    const i = r.view.getUint32(off, true);
    if (i >= this.spec.maxEntries) {
      this.mem.hi = 0;
      return 0;
    }
    this.mem.hi = this.copies[this.percpu ? cpu : 0]!.id | 0;
    return (i * this.spec.valueSize) | 0;
  }

  override inlineLookup(): InlineLookup | undefined {
    // (lookupAtP reads the first 4 bytes of a key of 4 bytes or more)
    if (this.spec.keySize < 4) return undefined;
    return { kind: 'array', maxEntries: this.spec.maxEntries, valueSize: this.spec.valueSize, regionIds: this.copies.map((r) => r.id), perCpu: this.percpu };
  }

  override update(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    const i = u32(key);
    if (flags > 2) return -E.EINVAL;
    if (i >= this.spec.maxEntries) return -E.E2BIG;
    if (flags === 1) return -E.EEXIST; // BPF_NOEXIST: array elements always exist
    const r = this.copies[this.percpu ? cpu : 0]!;
    r.bytes.set(valueBytes(value, this.spec.valueSize), i * this.spec.valueSize);
    return 0;
  }

  override delete(): number {
    return -E.EINVAL;
  }

  override keys(): Uint8Array[] {
    return Array.from({ length: this.spec.maxEntries }, (_, i) => new Uint8Array(new Uint32Array([i]).buffer));
  }
}

class HashMap extends RuntimeMap {
  private readonly entries = new Map<number | string, { key: Uint8Array; values: Region[] }>();

  constructor(spec: MapSpec, mem: Memory, ncpus: number, private readonly percpu: boolean, private readonly lru: boolean) {
    super(spec, mem, ncpus);
  }

  override get perCpu(): boolean {
    return this.percpu;
  }

  /**
   * The entry id of a key (its first keySize bytes), without a Buffer per lookup: keys of up to 6
   * bytes are numbers, longer ones strings of 16-bit units (both one-to-one for the map's key size); a
   * key shorter than the key size (from user space) a string of another length, tagged with its own.
   */
  private id(key: Uint8Array): number | string {
    const ks = this.spec.keySize;
    const n = Math.min(ks, key.length);
    if (n === ks) {
      if (n <= 6) {
        let v = 0;
        for (let i = n - 1; i >= 0; i--) v = v * 256 + key[i]!;
        return v;
      }
      let s = '';
      let i = 0;
      for (; i + 1 < n; i += 2) s += String.fromCharCode(key[i]! | (key[i + 1]! << 8));
      if (i < n) s += String.fromCharCode(key[i]!);
      return s;
    }
    return String.fromCharCode(n) + Buffer.from(key.buffer, key.byteOffset, n).toString('latin1') + '\0'.repeat(ks + 2 - n);
  }

  override lookupAddr(key: Uint8Array, cpu: number): bigint {
    const k = this.id(key);
    const e = this.entries.get(k);
    if (!e) return 0n;
    if (this.lru) {
      this.entries.delete(k);
      this.entries.set(k, e);
    }
    return Memory.address(e.values[this.percpu ? cpu : 0]!);
  }

  override lookupP(key: Uint8Array, cpu: number): number {
    return this.valueP(this.id(key), cpu);
  }

  /** The value of key id `k` as an address pair (region id in mem.hi, offset 0), or NULL. */
  private valueP(k: number | string, cpu: number): number {
    const e = this.entries.get(k);
    if (!e) {
      this.mem.hi = 0;
      return 0;
    }
    if (this.lru) {
      this.entries.delete(k);
      this.entries.set(k, e);
    }
    this.mem.hi = e.values[this.percpu ? cpu : 0]!.id | 0;
    return 0;
  }

  override lookupAtP(mem: Memory, hi: number, lo: number, cpu: number, pc: number): number {
    const ks = this.spec.keySize;
    const r = ks <= 6 ? mem.regionP(hi) : undefined;
    const off = lo >>> 0;
    if (r === undefined || off + ks > r.size) return super.lookupAtP(mem, hi, lo, cpu, pc);
    // id() of the key's bytes, read in place
    const b = r.bytes;
    let k = 0;
    for (let i = off + ks - 1; i >= off; i--) k = k * 256 + b[i]!;
    return this.valueP(k, cpu);
  }

  override inlineLookup(): InlineLookup | undefined {
    const ks = this.spec.keySize;
    // LRU lookups reorder the entries: through lookupAtP
    if (this.lru || (ks !== 1 && ks !== 2 && ks !== 4)) return undefined;
    return { kind: 'hash', keySize: ks, entries: this.entries, perCpu: this.percpu };
  }

  override update(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    if (flags > 2) return -E.EINVAL;
    const k = this.id(key);
    let e = this.entries.get(k);
    if (e && flags === 1) return -E.EEXIST;
    if (!e && flags === 2) return -E.ENOENT;
    if (!e) {
      if (this.entries.size >= this.spec.maxEntries) {
        if (!this.lru) return -E.E2BIG;
        const oldest = this.entries.keys().next().value as number | string;
        this.deleteId(oldest);
      }
      const n = this.percpu ? this.ncpus : 1;
      e = { key: key.slice(0, this.spec.keySize), values: Array.from({ length: n }, () => this.mem.add('map value', new Uint8Array(this.spec.valueSize), true, this)) };
      this.entries.set(k, e);
    } else if (this.lru) {
      this.entries.delete(k);
      this.entries.set(k, e);
    }
    // From a program, a per-CPU update writes the current CPU's copy; from user space, every copy.
    const v = valueBytes(value, this.spec.valueSize);
    if (this.percpu && cpu >= 0) e.values[cpu]!.bytes.set(v);
    else for (const r of e.values) r.bytes.set(v);
    return 0;
  }

  override delete(key: Uint8Array): number {
    const k = this.id(key);
    return this.deleteId(k) ? 0 : -E.ENOENT;
  }

  private deleteId(k: number | string): boolean {
    const e = this.entries.get(k);
    if (!e) return false;
    this.entries.delete(k);
    for (const r of e.values) this.mem.release(r);
    return true;
  }

  override keys(): Uint8Array[] {
    return [...this.entries.values()].map((e) => e.key.slice());
  }
}

export class PerfEventArrayMap extends RuntimeMap {
  /** @internal The ring of each slot a reader has open (a slot without one has no perf event: ENOENT). */
  readonly rings: (RecordRing | undefined)[] = [];
}

/**
 * Regions by id, in an array (ids are small and reused): a Map that gains and loses one entry per
 * run rehashes on every delete.
 */
class RegionsById {
  private readonly a: (Region | undefined)[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  has(id: number): boolean {
    return this.a[id] !== undefined;
  }

  get(id: number): Region | undefined {
    return this.a[id];
  }

  set(id: number, r: Region): this {
    while (this.a.length <= id) this.a.push(undefined);
    if (this.a[id] === undefined) this.n++;
    this.a[id] = r;
    return this;
  }

  delete(id: number): boolean {
    if (this.a[id] === undefined) return false;
    this.a[id] = undefined;
    this.n--;
    return true;
  }
}

export class RingbufMap extends RuntimeMap {
  /** @internal The ring records go to (a reader takes them; without one they wait, up to the map's size). */
  ring = new RecordRing(0, undefined, this.spec.maxEntries);
  /** Open reservations (region id → region), released on submit/discard. */
  readonly reservations = new RegionsById();
  /**
   * @internal Submitted or discarded records, by size, retired (Memory.retire: they fault) until the
   * next reservations revive them (zeroed): the same region object comes back, so the compiled path's
   * per-access region caches still hold it.
   */
  readonly spare = new Map<number, Region[]>();
}

export function createMap(spec: MapSpec, mem: Memory, ncpus: number): RuntimeMap {
  switch (spec.type) {
    case MapType.ARRAY:
      return new ArrayMap(spec, mem, ncpus, false);
    case MapType.PERCPU_ARRAY:
      return new ArrayMap(spec, mem, ncpus, true);
    case MapType.HASH:
      return new HashMap(spec, mem, ncpus, false, false);
    case MapType.PERCPU_HASH:
      return new HashMap(spec, mem, ncpus, true, false);
    case MapType.LRU_HASH:
      return new HashMap(spec, mem, ncpus, false, true);
    case MapType.LRU_PERCPU_HASH:
      return new HashMap(spec, mem, ncpus, true, true);
    case MapType.PERF_EVENT_ARRAY:
      return new PerfEventArrayMap({ ...spec, maxEntries: spec.maxEntries || ncpus }, mem, ncpus);
    case MapType.RINGBUF:
      return new RingbufMap(spec, mem, ncpus);
    default:
      throw new NotSupportedError(`map '${spec.name}' is a ${mapTypeName(spec.type)}, which the userspace runtime does not support (array, per-CPU array, hash, LRU hash, perf event array and ring buffer are)`);
  }
}

export function globalRegion(m: RuntimeMap): Region {
  if (!(m instanceof ArrayMap)) throw new UsageError(`map '${m.name}' is not global data`);
  return m.region;
}
