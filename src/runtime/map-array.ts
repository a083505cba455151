/** Array and per-CPU array maps (and global data: .data, .bss, .rodata as one-entry arrays). */
import { Memory, type Region } from './memory.js';
import type { MapSpec } from '../object/types.js';
import { E, RuntimeMap, valueBytes, type InlineLookup } from './map-base.js';

/** The key's first 4 bytes as a little-endian u32 (no DataView per lookup; a shorter key throws as DataView would). */
function u32(key: Uint8Array): number {
  if (key.length < 4) throw new RangeError('Offset is outside the bounds of the DataView');
  return (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
}

export class ArrayMap extends RuntimeMap {
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
    if (r === undefined || off < r.lo || off + ks > r.size) return super.lookupAtP(mem, hi, lo, cpu, pc);
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
