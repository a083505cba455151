/**
 * loadObject: the kernel step after ObjectSpec.parse. Creates (or reuses pinned) maps, fills global
 * data, loads every program with the verifier log, and owns everything it created: close() releases
 * fds and removes the pins this load created (unless keepPins).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { kernel, possibleCpus, ensureBpffs, removeEmptyDirs, checkPinDir } from '../sys/index.js';
import { BadInputError, PinError, UsageError, SyscallError, Errno } from '../errors.js';
import { ObjectSpec } from '../object/object-spec.js';
import type { MapSpec } from '../object/types.js';
import { MapType, MapFlags, mapTypeName } from '../object/uapi.js';
import * as attr from './attr.js';
import { BpfMap } from './map.js';
import { Program } from './program.js';
import { openPinned, unpin } from './pin.js';
import { withPrivilege } from './privileges.js';
import { loadBtf } from './btf-load.js';
import { loadProgram } from './prog-load.js';
import { fillMeta, isMetaMap, META_SUFFIX } from './aux-maps.js';
import { findGlobal, encodeGlobal } from './globals.js';

/** Where iproute2 (and bpfpipe by default) pins maps that ask for pinning. */
export const DEFAULT_PIN_DIR = '/sys/fs/bpf/tc/globals';

export interface LoadOptions {
  /** Directory for maps with `pinning` (LIBBPF_PIN_BY_NAME, PIN_GLOBAL_NS). Default /sys/fs/bpf/tc/globals. */
  pinDir?: string;
  /** Keep the pins this load created after close() (default: remove them). Reused pins are never removed. */
  keepPins?: boolean;
  /** Load only these programs (default: all). */
  programs?: string[];
  /** Override max_entries per map name. */
  maxEntries?: Record<string, number>;
  /** Verifier log level for the report when a program is refused (1 or 2). */
  logLevel?: number;
  /** File mode of the pins this load creates (default 0600). */
  pinMode?: number;
  /** Initial values of global variables (the only way to set .rodata constants). */
  globals?: Record<string, number | bigint | Uint8Array | string>;
}

export interface LoadedObject {
  readonly spec: ObjectSpec;
  readonly programs: ReadonlyMap<string, Program>;
  readonly maps: ReadonlyMap<string, BpfMap>;
  /** Pins this load created (removed by close() unless keepPins). */
  readonly createdPins: readonly string[];
  /** bpffs directories this load created for its pins (removed by close() when empty, unless keepPins). */
  readonly createdDirs: readonly string[];
  /** Pin path of each pinned map (created or reused). */
  readonly pinPaths: ReadonlyMap<string, string>;
  /** Things that did not stop the load but are worth saying (e.g. BTF refused by the kernel). */
  readonly warnings: readonly string[];
  program(name: string): Program;
  map(name: string): BpfMap;
  /** Read a global variable's bytes (.data, .bss; .rodata as loaded). */
  getGlobal(name: string): Uint8Array;
  /** Write a global variable (.data, .bss) while programs run. */
  setGlobal(name: string, value: number | bigint | Uint8Array | string): void;
  close(): void;
  [Symbol.dispose](): void;
  [Symbol.asyncDispose](): Promise<void>;
}

function readObject(source: string | Uint8Array): { bytes: Uint8Array; name: string } {
  if (typeof source !== 'string') return { bytes: source, name: 'object' };
  try {
    return { bytes: fs.readFileSync(source), name: path.basename(source).replace(/\.(bpf\.)?o$/, '') };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new BadInputError(`cannot read object file '${source}': ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { cause: err });
  }
}

/** max_entries the kernel will see: a perf event array of 0 entries gets one per possible CPU. */
export function effectiveMaxEntries(spec: MapSpec, override?: number): number {
  if (override !== undefined) return override;
  if (spec.type === MapType.PERF_EVENT_ARRAY && spec.maxEntries === 0) return possibleCpus().length;
  return spec.maxEntries;
}

function pinPathFor(spec: MapSpec, pinDir: string, objectBytes: Uint8Array): string | undefined {
  switch (spec.pinning) {
    case 'none':
      return undefined;
    case 'by_name':
    case 'global':
      return path.join(pinDir, spec.name);
    case 'object': {
      const id = createHash('sha1').update(objectBytes).digest('hex');
      return path.join(path.dirname(pinDir), id, spec.name);
    }
  }
}

class Loaded implements LoadedObject {
  readonly programs = new Map<string, Program>();
  readonly maps = new Map<string, BpfMap>();
  readonly createdPins: string[] = [];
  readonly createdDirs: string[] = [];
  readonly pinPaths = new Map<string, string>();
  readonly warnings: string[] = [];
  btfFd = -1;
  private closed = false;

  constructor(readonly spec: ObjectSpec, private readonly keepPins: boolean) {}

  program(name: string): Program {
    const p = this.programs.get(name);
    if (!p) throw new UsageError(`no program '${name}' in the object (programs: ${[...this.programs.keys()].join(', ') || 'none'})`);
    return p;
  }

  map(name: string): BpfMap {
    const m = this.maps.get(name);
    if (!m) throw new UsageError(`no map '${name}' in the object (maps: ${[...this.maps.keys()].join(', ') || 'none'})`);
    return m;
  }

  getGlobal(name: string): Uint8Array {
    const g = findGlobal(this.spec, name);
    const value = this.map(g.section).lookup(new Uint8Array(4));
    if (!value) throw new UsageError(`global data map '${g.section}' has no value`);
    return value.slice(g.offset, g.offset + g.size);
  }

  setGlobal(name: string, value: number | bigint | Uint8Array | string): void {
    const g = findGlobal(this.spec, name);
    const m = this.map(g.section);
    const key = new Uint8Array(4);
    const current = m.lookup(key);
    if (!current) throw new UsageError(`global data map '${g.section}' has no value`);
    current.set(encodeGlobal(g, value), g.offset);
    try {
      m.update(key, current);
    } catch (err) {
      if (err instanceof SyscallError && err.errno === Errno.EPERM) {
        throw new UsageError(`global '${name}' is in ${g.section}, which is read-only once loaded; set it with the globals option of loadObject`, { cause: err });
      }
      throw err;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.programs.values()) p.close();
    for (const m of this.maps.values()) m.close();
    if (this.btfFd >= 0) kernel().close(this.btfFd);
    if (!this.keepPins) {
      for (const p of this.createdPins) unpin(p);
      removeEmptyDirs(this.createdDirs);
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

export async function loadObject(source: string | Uint8Array, options: LoadOptions = {}): Promise<LoadedObject> {
  return loadObjectSync(source, options);
}

export function loadObjectSync(source: string | Uint8Array, options: LoadOptions = {}): LoadedObject {
  const { bytes } = readObject(source);
  const spec = ObjectSpec.parse(bytes);
  const pinDir = options.pinDir ?? DEFAULT_PIN_DIR;
  if (spec.maps.some((m) => m.pinning !== 'none')) checkPinDir(pinDir);
  if (options.programs) for (const name of options.programs) spec.program(name);
  const obj = new Loaded(spec, options.keepPins ?? false);
  try {
    if (spec.btfBytes) {
      const r = withPrivilege('btf', 'loading BTF', () => loadBtf(spec.btfBytes!));
      if ('fd' in r) obj.btfFd = r.fd;
      else obj.warnings.push(`the kernel refused the object's BTF (${r.error}); maps and programs load without type information`);
    }
    if (spec.maps.some((m) => m.pinning !== 'none')) ensureBpffs();
    for (const m of withGlobals(spec, options.globals)) createOrReuseMap(obj, m, pinDir, bytes, options.maxEntries?.[m.name], options.pinMode);
    fillMetaMaps(obj);
    for (const [name, map] of obj.maps) map.origin = { siblings: obj.maps, pinPath: obj.pinPaths.get(name), spec };
    const mapFds = new Map<string, number>([...obj.maps].map(([n, m]) => [n, m.fd]));
    for (const p of spec.programs) {
      if (options.programs && !options.programs.includes(p.name)) continue;
      const fd = withPrivilege('prog', `loading program '${p.name}'`, () =>
        loadProgram({ spec: p, mapFds, btfFd: obj.btfFd, logLevel: options.logLevel }));
      obj.programs.set(p.name, new Program(fd, p.name, p.section));
    }
    return obj;
  } catch (err) {
    obj.close();
    throw err;
  }
}

/** Map specs with the `globals` option applied to their initial data. */
function withGlobals(spec: ObjectSpec, globals: LoadOptions['globals']): MapSpec[] {
  if (!globals) return [...spec.maps];
  const patched = new Map<string, Uint8Array>();
  for (const [name, value] of Object.entries(globals)) {
    const g = findGlobal(spec, name);
    const m = spec.map(g.section);
    let data = patched.get(m.name);
    if (!data) patched.set(m.name, (data = m.data ? m.data.slice() : new Uint8Array(m.valueSize)));
    data.set(encodeGlobal(g, value), g.offset);
  }
  return spec.maps.map((m) => (patched.has(m.name) ? { ...m, data: patched.get(m.name) } : m));
}

function createOrReuseMap(obj: Loaded, m: MapSpec, pinDir: string, objectBytes: Uint8Array, override: number | undefined, pinMode: number | undefined): void {
  const maxEntries = effectiveMaxEntries(m, override);
  const pinPath = pinPathFor(m, pinDir, objectBytes);
  if (pinPath && fs.existsSync(pinPath)) {
    obj.maps.set(m.name, reusePinned(m, pinPath, maxEntries));
    obj.pinPaths.set(m.name, pinPath);
    return;
  }
  const map = createMap(obj, m, maxEntries);
  obj.maps.set(m.name, map);
  if (m.data && m.data.some((b) => b !== 0)) map.update(new Uint8Array(4), m.data);
  if (m.readonly) map.freeze();
  if (pinPath) {
    map.pin(pinPath, { mode: pinMode, createdDirs: obj.createdDirs });
    obj.createdPins.push(pinPath);
    obj.pinPaths.set(m.name, pinPath);
  }
}

function createMap(obj: Loaded, m: MapSpec, maxEntries: number): BpfMap {
  const k = kernel();
  // The inner map of a map-of-maps is only a template: the kernel copies what it needs from it.
  const inner = m.innerMap ? createMap(obj, m.innerMap, effectiveMaxEntries(m.innerMap)) : undefined;
  const innerFd = inner ? inner.fd : -1;
  try {
    let flags = m.flags;
    if (m.readonly && m.origin === 'data') flags |= MapFlags.RDONLY_PROG;
    const base = { type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries, flags, name: m.name, innerMapFd: innerFd > 0 ? innerFd : 0 };
    const withBtf = obj.btfFd > 0 && (m.btfKeyTypeId || m.btfValueTypeId)
      ? { ...base, btfFd: obj.btfFd, btfKeyTypeId: m.btfKeyTypeId ?? 0, btfValueTypeId: m.btfValueTypeId ?? 0 }
      : undefined;
    const create = (a: attr.MapCreateAttr) => withPrivilege('map', `creating map '${m.name}'`, () => k.bpf(attr.Cmd.MAP_CREATE, attr.mapCreate(a)));
    let fd: number;
    try {
      fd = create(withBtf ?? base);
    } catch (err) {
      // As libbpf: when the kernel refuses the BTF description of a map, create it without.
      if (!withBtf || !(err instanceof SyscallError) || err.errno !== Errno.EINVAL) throw describeMapError(err, m, maxEntries);
      try {
        fd = create(base);
      } catch (err2) {
        throw describeMapError(err2, m, maxEntries);
      }
    }
    return new BpfMap(fd, m.name);
  } finally {
    inner?.close();
  }
}

function describeMapError(err: unknown, m: MapSpec, maxEntries: number): unknown {
  if (err instanceof SyscallError && (err.errno === Errno.EINVAL || err.errno === Errno.E2BIG)) {
    return new BadInputError(
      `the kernel refused map '${m.name}' (${mapTypeName(m.type)}, key ${m.keySize} B, value ${m.valueSize} B, max_entries ${maxEntries}, flags 0x${m.flags.toString(16)}): ${err.message}`,
      { errno: err.errno, cause: err },
    );
  }
  return err;
}

function reusePinned(m: MapSpec, pinPath: string, maxEntries: number): BpfMap {
  const { fd, kind } = openPinned(pinPath);
  if (kind !== 'map') {
    kernel().close(fd);
    throw new PinError(pinPath, `cannot reuse '${pinPath}' for map '${m.name}': it is a pinned ${kind}, not a map`);
  }
  const map = new BpfMap(fd, m.name);
  const want = { type: m.type, keySize: m.keySize, valueSize: m.valueSize, maxEntries };
  const have = { type: map.type, keySize: map.keySize, valueSize: map.valueSize, maxEntries: map.maxEntries };
  const diffs = (Object.keys(want) as (keyof typeof want)[]).filter((k) => want[k] !== have[k]);
  const flagMask = ~MapFlags.RDONLY_PROG;
  if ((m.flags & flagMask) !== (map.flags & flagMask)) diffs.push('flags' as keyof typeof want);
  if (diffs.length > 0) {
    map.close();
    const show = (o: typeof want) => `${mapTypeName(o.type)} key ${o.keySize} value ${o.valueSize} max_entries ${o.maxEntries}`;
    throw new PinError(
      pinPath,
      `pinned map '${pinPath}' is incompatible with map '${m.name}' of the object (pinned: ${show(have)}; object: ${show(want)}; differs in ${diffs.join(', ')}); remove the pin or use another pin directory`,
    );
  }
  return map;
}

function fillMetaMaps(obj: Loaded): void {
  for (const [name, map] of obj.maps) {
    if (!name.endsWith(META_SUFFIX)) continue;
    const base = obj.maps.get(name.slice(0, -META_SUFFIX.length));
    if (!base || (base.type !== MapType.PERF_EVENT_ARRAY && base.type !== MapType.RINGBUF)) continue;
    if (isMetaMap(map)) fillMeta(map);
  }
}

export { openPinnedMap, openPinnedMapSync } from './pinned-map.js';
