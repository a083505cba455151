/**
 * Maps of the userspace runtime, with the kernel's semantics for what programs can observe: array,
 * per-CPU array, hash (plain, per-CPU, LRU), perf event array and ring buffer. Values live in memory
 * regions, so programs read and write them through checked pointers.
 */
import { NotSupportedError, UsageError } from '../errors.js';
import { MapType, mapTypeName } from '../object/uapi.js';
import type { MapSpec } from '../object/types.js';
import { Memory, type Region } from './memory.js';

export const E = { ENOENT: 2, E2BIG: 7, EFAULT: 14, EEXIST: 17, EINVAL: 22, ENOSPC: 28, EAGAIN: 11, EOPNOTSUPP: 95, EBUSY: 16 } as const;

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

function u32(key: Uint8Array): number {
  return new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(0, true);
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

  override update(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    const i = u32(key);
    if (flags > 2) return -E.EINVAL;
    if (i >= this.spec.maxEntries) return -E.E2BIG;
    if (flags === 1) return -E.EEXIST; // BPF_NOEXIST: array elements always exist
    const r = this.copies[this.percpu ? cpu : 0]!;
    r.bytes.set(value.subarray(0, this.spec.valueSize), i * this.spec.valueSize);
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
  private readonly entries = new Map<string, { key: Uint8Array; values: Region[] }>();

  constructor(spec: MapSpec, mem: Memory, ncpus: number, private readonly percpu: boolean, private readonly lru: boolean) {
    super(spec, mem, ncpus);
  }

  override get perCpu(): boolean {
    return this.percpu;
  }

  private static id(key: Uint8Array): string {
    return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
  }

  override lookupAddr(key: Uint8Array, cpu: number): bigint {
    const k = HashMap.id(key.subarray(0, this.spec.keySize));
    const e = this.entries.get(k);
    if (!e) return 0n;
    if (this.lru) {
      this.entries.delete(k);
      this.entries.set(k, e);
    }
    return Memory.address(e.values[this.percpu ? cpu : 0]!);
  }

  override update(key: Uint8Array, value: Uint8Array, flags: number, cpu: number): number {
    if (flags > 2) return -E.EINVAL;
    const k = HashMap.id(key.subarray(0, this.spec.keySize));
    let e = this.entries.get(k);
    if (e && flags === 1) return -E.EEXIST;
    if (!e && flags === 2) return -E.ENOENT;
    if (!e) {
      if (this.entries.size >= this.spec.maxEntries) {
        if (!this.lru) return -E.E2BIG;
        const oldest = this.entries.keys().next().value as string;
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
    const targets = this.percpu && cpu >= 0 ? [e.values[cpu]!] : e.values;
    for (const r of targets) r.bytes.set(value.subarray(0, this.spec.valueSize));
    return 0;
  }

  override delete(key: Uint8Array): number {
    const k = HashMap.id(key.subarray(0, this.spec.keySize));
    return this.deleteId(k) ? 0 : -E.ENOENT;
  }

  private deleteId(k: string): boolean {
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

/** One output of a program to a perf event array slot or a ring buffer. */
export interface OutputRecord {
  cpu: number;
  slot: number | undefined;
  data: Uint8Array;
  ts: bigint;
}

/** Where perf and ring buffer outputs go: the runtime's event readers. */
export interface OutputSink {
  /** Whether a reader has the slot open (the kernel's map slot holds a perf event). */
  slotOpen(map: RuntimeMap, slot: number): boolean;
  /** Deliver a record taking `bytes` of the ring; false when the ring is full (the output fails, as in the kernel). */
  push(map: RuntimeMap, rec: OutputRecord, bytes: number): boolean;
  /** Take `bytes` of a ring buffer for a reservation; false when they are not free. */
  reserve(map: RuntimeMap, bytes: number): boolean;
  /** End a reservation: deliver `rec` (submit) or give the bytes back (discard, rec undefined). */
  commit(map: RuntimeMap, rec: OutputRecord | undefined, bytes: number): void;
}

export class PerfEventArrayMap extends RuntimeMap {}

export class RingbufMap extends RuntimeMap {
  /** Open reservations (region id → region), released on submit/discard. */
  readonly reservations = new Map<number, Region>();
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
