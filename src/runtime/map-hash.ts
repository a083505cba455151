/** Hash maps: plain, per-CPU, LRU and LRU per-CPU, each value its own region. */
import { Memory, type Region } from './memory.js';
import type { MapSpec } from '../object/types.js';
import { E, RuntimeMap, valueBytes, type InlineLookup } from './map-base.js';

export class HashMap extends RuntimeMap {
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
    if (r === undefined || off < r.lo || off + ks > r.size) return super.lookupAtP(mem, hi, lo, cpu, pc);
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
