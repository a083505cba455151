/**
 * What every map of the userspace runtime is (RuntimeMap): its handle region, lookups (the BigInt
 * address, the compiled path's int32 halves, an inline form), updates, deletes, keys; the errno
 * values helpers return.
 */
import type { MapSpec } from '../object/types.js';
import type { Memory, Region } from './memory.js';

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
    return this.mem.split(this.lookupAddr(key, cpu));
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

/** The first `size` bytes of `value` (the value itself when it is that long: helpers pass exact views). */
export function valueBytes(value: Uint8Array, size: number): Uint8Array {
  return value.length === size ? value : value.subarray(0, size);
}

