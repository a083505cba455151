/** BpfMap: one kernel map fd, with raw-bytes element operations. Owns its fd. */
import { kernel, type NativeMemory } from '../sys/index.js';
import { possibleCpus } from '../sys/index.js';
import { ClosedError, Errno, SyscallError, UsageError, BadInputError } from '../errors.js';
import { MapType, mapTypeName, UpdateFlags } from '../object/uapi.js';
import * as attr from './attr.js';
import { readObjInfo } from './obj-info.js';
import { decodeMapInfo, MAP_INFO_SIZE, type MapInfo } from './info.js';
import { withPrivilege } from './privileges.js';
import { pinObject } from './pin.js';
import type { ObjectSpecShape } from '../object/types.js';

const PER_CPU_TYPES = new Set<number>([MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH, 21]);

export function isPerCpu(type: number): boolean {
  return PER_CPU_TYPES.has(type);
}

/** Read a map's info from its fd. */
export function mapInfo(fd: number): MapInfo {
  return decodeMapInfo(readObjInfo(fd, MAP_INFO_SIZE));
}

/** Where a map handle came from: lets readers find its sibling maps, pin directory and BTF. */
export interface MapOrigin {
  /** The maps of the same loaded object, by name. */
  siblings?: ReadonlyMap<string, BpfMap>;
  /** Where the map is pinned. */
  pinPath?: string;
  /** The object it was loaded from (for BTF and event types). */
  spec?: ObjectSpecShape & { eventType?(map: string): number | undefined };
}

export class BpfMap {
  /** Set by loadObject / openPinnedMap. */
  origin: MapOrigin = {};
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly id: number;
  private _fd: number;
  private scratch: { key: NativeMemory; value: NativeMemory; next: NativeMemory } | undefined;
  /** Native buffers of prepared lookups, freed on close. */
  private prepared: NativeMemory[] = [];

  /** Take ownership of `fd` (a map fd); `name` overrides the kernel's 15-byte name. */
  constructor(fd: number, name?: string) {
    let info: MapInfo;
    try {
      info = mapInfo(fd);
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.EINVAL) {
        throw new BadInputError(`fd ${fd} is not a BPF map`, { cause: err });
      }
      throw err;
    }
    this._fd = fd;
    this.name = name ?? info.name;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.id = info.id;
  }

  get fd(): number {
    if (this._fd < 0) throw new ClosedError(`map '${this.name}'`);
    return this._fd;
  }

  get closed(): boolean {
    return this._fd < 0;
  }

  get typeName(): string {
    return mapTypeName(this.type);
  }

  /** Bytes of one value as user space sees it: per-CPU maps hold one 8-aligned slot per possible CPU. */
  get userValueSize(): number {
    return isPerCpu(this.type) ? Math.ceil(this.valueSize / 8) * 8 * possibleCpus().length : this.valueSize;
  }

  private buffers(): { key: NativeMemory; value: NativeMemory; next: NativeMemory } {
    if (!this.scratch) {
      const k = kernel();
      this.scratch = {
        key: k.alloc(Math.max(this.keySize, 1)),
        value: k.alloc(Math.max(this.userValueSize, 1)),
        next: k.alloc(Math.max(this.keySize, 1)),
      };
    }
    return this.scratch;
  }

  private checkKey(key: Uint8Array): void {
    if (key.byteLength !== this.keySize) {
      throw new UsageError(`map '${this.name}': key must be ${this.keySize} bytes, got ${key.byteLength}`);
    }
  }

  /** The value stored under `key`, or undefined when there is none. */
  lookup(key: Uint8Array): Uint8Array | undefined {
    this.checkKey(key);
    const b = this.buffers();
    b.key.bytes.set(key);
    try {
      kernel().bpf(attr.Cmd.MAP_LOOKUP_ELEM, attr.mapElem(this.fd, b.key.address, b.value.address));
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.ENOENT) return undefined;
      throw err;
    }
    return b.value.bytes.slice(0, this.userValueSize);
  }

  /**
   * A lookup of one key prepared once (its attr and its key and value buffers), for a value read over
   * and over, as a reader's drop counters every few milliseconds: no allocation per read. The function
   * returns the value buffer itself (valid until its next call; per-CPU maps: one 8-aligned slot per
   * possible CPU), or undefined when the key is not there.
   */
  preparedLookup(key: Uint8Array): () => Uint8Array | undefined {
    this.checkKey(key);
    const k = kernel();
    const keyMem = k.alloc(Math.max(this.keySize, 1));
    const valueMem = k.alloc(Math.max(this.userValueSize, 1));
    this.prepared.push(keyMem, valueMem);
    keyMem.bytes.set(key);
    const elem = attr.mapElem(this.fd, keyMem.address, valueMem.address);
    const value = valueMem.bytes.subarray(0, this.userValueSize);
    return () => {
      if (this._fd < 0) throw new ClosedError(`map '${this.name}'`);
      try {
        k.bpf(attr.Cmd.MAP_LOOKUP_ELEM, elem);
      } catch (err) {
        if (err instanceof SyscallError && err.errno === Errno.ENOENT) return undefined;
        throw err;
      }
      return value;
    };
  }

  /** Per-CPU maps: the value of each possible CPU, in CPU order. */
  lookupPerCpu(key: Uint8Array): Uint8Array[] | undefined {
    if (!isPerCpu(this.type)) throw new UsageError(`map '${this.name}' is not a per-CPU map`);
    const all = this.lookup(key);
    if (!all) return undefined;
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out: Uint8Array[] = [];
    for (let i = 0; i < possibleCpus().length; i++) out.push(all.slice(i * stride, i * stride + this.valueSize));
    return out;
  }

  update(key: Uint8Array, value: Uint8Array, flags: number = UpdateFlags.ANY): void {
    this.checkKey(key);
    if (value.byteLength !== this.userValueSize) {
      throw new UsageError(`map '${this.name}': value must be ${this.userValueSize} bytes, got ${value.byteLength}`);
    }
    const b = this.buffers();
    b.key.bytes.set(key);
    b.value.bytes.set(value);
    kernel().bpf(attr.Cmd.MAP_UPDATE_ELEM, attr.mapElem(this.fd, b.key.address, b.value.address, flags));
  }

  /** Remove `key`; returns false when it was not there. */
  delete(key: Uint8Array): boolean {
    this.checkKey(key);
    const b = this.buffers();
    b.key.bytes.set(key);
    try {
      kernel().bpf(attr.Cmd.MAP_DELETE_ELEM, attr.mapElem(this.fd, b.key.address, 0n));
      return true;
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.ENOENT) return false;
      throw err;
    }
  }

  /** Keys in kernel order (synchronous). */
  *keysSync(): Generator<Uint8Array> {
    const b = this.buffers();
    let first = true;
    for (let guard = 0; guard <= this.maxEntries + 1; guard++) {
      try {
        kernel().bpf(attr.Cmd.MAP_GET_NEXT_KEY, attr.mapElem(this.fd, first ? 0n : b.key.address, b.next.address));
      } catch (err) {
        if (err instanceof SyscallError && err.errno === Errno.ENOENT) return;
        throw err;
      }
      first = false;
      const k = b.next.bytes.slice(0, this.keySize);
      b.key.bytes.set(k);
      yield k;
    }
  }

  async *keys(): AsyncGenerator<Uint8Array> {
    for (const k of this.keysSync()) yield k;
  }

  /** Pin the map at `path` (inside bpffs; missing directories are created and listed in `createdDirs`). */
  pin(path: string, options: { mode?: number; createdDirs?: string[] } = {}): void {
    pinObject(this.fd, path, `map '${this.name}'`, options.mode, options.createdDirs);
  }

  /** Make the map read-only for user space writes (global .rodata). */
  freeze(): void {
    kernel().bpf(attr.Cmd.MAP_FREEZE, attr.mapElem(this.fd, 0n, 0n));
  }

  /** A second handle on the same map with its own fd. */
  dup(): BpfMap {
    return new BpfMap(kernel().dup(this.fd), this.name);
  }

  close(): void {
    if (this._fd < 0) return;
    const k = kernel();
    if (this.scratch) {
      k.free(this.scratch.key);
      k.free(this.scratch.value);
      k.free(this.scratch.next);
      this.scratch = undefined;
    }
    for (const m of this.prepared) k.free(m);
    this.prepared = [];
    const fd = this._fd;
    this._fd = -1;
    k.close(fd);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/** Open a map by kernel id (needs CAP_SYS_ADMIN or CAP_BPF). */
export function openMapById(id: number): BpfMap {
  const fd = withPrivilege('map', `opening map id ${id}`, () => kernel().bpf(attr.Cmd.MAP_GET_FD_BY_ID, attr.getById(id)));
  return new BpfMap(fd);
}
