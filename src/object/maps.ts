/**
 * Map specs of an object: BTF-defined maps (SEC(".maps")), legacy iproute2 maps (SEC("maps"),
 * struct bpf_elf_map), and global data sections (.data*, .rodata*, .bss*) as one-entry arrays.
 */
import { Reader, badObject } from '../elf/reader.js';
import { SectionFlags, SectionType, SymbolType } from '../elf/constants.js';
import { sectionWhere, type ElfFile, type ElfSection, type ElfSymbol } from '../elf/elf-file.js';
import type { Btf } from '../btf/btf.js';
import { parseBtfMapDef, type BtfMapDef } from '../btf/map-def.js';
import { VarLinkage } from '../btf/kinds.js';
import { BadObjectError } from '../errors.js';
import type { MapSpec, Pinning } from './types.js';
import { MapFlags, MapType } from './uapi.js';

/** A map and where its definition lives, to resolve relocations. */
export interface PlacedMap {
  readonly spec: MapSpec;
  /** ELF section index of the definition (or of the data). */
  readonly section: number;
  /** Byte offset of the definition in that section (0 for data maps). */
  readonly offset: number;
}

/** Largest global data section bpfpipe accepts (the kernel caps array values far below). */
const MAX_DATA_SECTION = 256 * 1024 * 1024;

export function isDataSection(s: ElfSection): boolean {
  if (s.type !== SectionType.PROGBITS && s.type !== SectionType.NOBITS) return false;
  if ((s.flags & SectionFlags.EXECINSTR) !== 0) return false;
  return /^\.(data|rodata|bss)(\..+)?$/.test(s.name);
}

export function collectMaps(elf: ElfFile, btf: Btf | undefined): PlacedMap[] {
  const out: PlacedMap[] = [];
  const btfSec = elf.section('.maps');
  if (btfSec) out.push(...btfMaps(elf, btf, btfSec));
  const legacy = elf.section('maps');
  if (legacy) out.push(...legacyMaps(elf, btf, legacy));
  for (const s of elf.sections) if (isDataSection(s) && s.size > 0) out.push(dataMap(s, btf));
  const seen = new Set<string>();
  for (const m of out) {
    if (seen.has(m.spec.name)) throw new BadObjectError(`ELF object: two maps are named '${m.spec.name}'`);
    seen.add(m.spec.name);
  }
  return out;
}

function pinningOf(value: number): Pinning {
  return value === 1 ? 'by_name' : 'none';
}

/**
 * Map types whose creation fails (ENOTSUPP) when BTF key/value types are given: libbpf drops the
 * type ids for these (bpf_object__create_map), and so does the spec.
 */
const NO_BTF_TYPES: ReadonlySet<number> = new Set([
  MapType.PERF_EVENT_ARRAY,
  MapType.CGROUP_ARRAY,
  MapType.STACK_TRACE,
  MapType.ARRAY_OF_MAPS,
  MapType.HASH_OF_MAPS,
  MapType.DEVMAP,
  25, // DEVMAP_HASH
  MapType.CPUMAP,
  MapType.XSKMAP,
  MapType.SOCKMAP,
  MapType.SOCKHASH,
  MapType.QUEUE,
  MapType.STACK,
  33, // ARENA
]);

function specFromDef(name: string, def: BtfMapDef): MapSpec {
  const typed = !NO_BTF_TYPES.has(def.type);
  return {
    name,
    origin: 'btf',
    type: def.type,
    keySize: def.keySize,
    valueSize: def.valueSize,
    maxEntries: def.maxEntries,
    flags: def.flags,
    pinning: pinningOf(def.pinning),
    btfKeyTypeId: typed ? def.keyTypeId : undefined,
    btfValueTypeId: typed ? def.valueTypeId : undefined,
    data: undefined,
    readonly: false,
    innerMap: def.inner ? specFromDef(`${name}.inner`, def.inner) : undefined,
  };
}

function symbolsOf(elf: ElfFile, s: ElfSection): ElfSymbol[] {
  return elf.symbolsIn(s.index).filter((y) => y.type !== SymbolType.SECTION && y.type !== SymbolType.FILE && y.name !== '');
}

function btfMaps(elf: ElfFile, btf: Btf | undefined, sec: ElfSection): PlacedMap[] {
  const where = sectionWhere(sec.name);
  if (!btf) throw badObject(where, 0, 'BTF-defined maps need the .BTF section: compile with clang -g');
  const datasec = btf.findByName('.maps', 'datasec');
  const syms = symbolsOf(elf, sec);
  if (!datasec || datasec.kind !== 'datasec') {
    if (syms.length === 0) return [];
    throw badObject(where, 0, 'the .BTF section has no DATASEC for .maps: compile with clang -g');
  }
  const out: PlacedMap[] = [];
  for (const v of datasec.vars) {
    const vt = btf.typeById(v.type);
    if (vt.kind !== 'var') throw badObject(where, 0, `DATASEC '.maps' lists a ${vt.kind.toUpperCase()}, not a variable`);
    const sym = syms.find((y) => y.name === vt.name);
    if (!sym) throw badObject(where, 0, `map '${vt.name}' has BTF but no ELF symbol in section '.maps'`);
    if (sym.value > sec.size) throw badObject(where, sym.value, `map '${vt.name}' symbol lies outside the section (size ${sec.size})`);
    if (vt.linkage === VarLinkage.GLOBAL_EXTERN) throw badObject(where, sym.value, `extern map '${vt.name}' is not supported`);
    const def = parseBtfMapDef(btf, vt.type, vt.name);
    out.push({ spec: specFromDef(vt.name, def), section: sec.index, offset: sym.value });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

const LEGACY_MIN_RECORD = 16;

function legacyMaps(elf: ElfFile, btf: Btf | undefined, sec: ElfSection): PlacedMap[] {
  const where = sectionWhere(sec.name);
  const syms = symbolsOf(elf, sec).sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  if (sec.type === SectionType.NOBITS) throw badObject(where, 0, 'legacy map definitions have no contents (SHT_NOBITS)');
  if (sec.size % syms.length !== 0) {
    throw badObject(where, 0, `section size ${sec.size} is not a multiple of the ${syms.length} map definitions in it`);
  }
  const recSize = sec.size / syms.length;
  if (recSize < LEGACY_MIN_RECORD) throw badObject(where, 0, `map definitions of ${recSize} bytes are too small (at least ${LEGACY_MIN_RECORD})`);
  const r = new Reader(sec.data, where);
  return syms.map((sym) => {
    if (sym.value % 4 !== 0 || sym.value > sec.size - recSize) {
      r.fail(`map '${sym.name}' definition (${recSize} bytes) lies outside the section (size ${sec.size})`, Math.min(sym.value, sec.size));
    }
    const field = (i: number): number => {
      if (i * 4 + 4 > recSize) return 0;
      r.seek(sym.value + i * 4);
      return r.u32(`map '${sym.name}' field ${i}`);
    };
    const pin = field(6);
    if (pin > 2) r.fail(`map '${sym.name}' has pinning ${pin}; only PIN_NONE (0), PIN_OBJECT_NS (1) and PIN_GLOBAL_NS (2) are supported`, sym.value + 24);
    const keySize = field(1);
    const valueSize = field(2);
    const kv = legacyBtfTypes(btf, sym.name, keySize, valueSize);
    const spec: MapSpec = {
      name: sym.name,
      origin: 'legacy',
      type: field(0),
      keySize,
      valueSize,
      maxEntries: field(3),
      flags: field(4),
      pinning: pin === 2 ? 'global' : pin === 1 ? 'object' : 'none',
      btfKeyTypeId: kv?.key,
      btfValueTypeId: kv?.value,
      data: undefined,
      readonly: false,
      innerMap: undefined,
    };
    return { spec, section: sec.index, offset: sym.value };
  });
}

/** iproute2's BPF_ANNOTATE_KV_PAIR: struct ____btf_map_NAME { key; value; }, used when sizes match. */
function legacyBtfTypes(btf: Btf | undefined, name: string, keySize: number, valueSize: number): { key: number; value: number } | undefined {
  const t = btf?.findByName(`____btf_map_${name}`, 'struct');
  if (!btf || !t || t.kind !== 'struct') return undefined;
  const key = t.members.find((m) => m.name === 'key');
  const value = t.members.find((m) => m.name === 'value');
  if (!key || !value) return undefined;
  try {
    if (btf.sizeof(key.type) !== keySize || btf.sizeof(value.type) !== valueSize) return undefined;
  } catch {
    return undefined;
  }
  return { key: key.type, value: value.type };
}

function dataMap(sec: ElfSection, btf: Btf | undefined): PlacedMap {
  const where = sectionWhere(sec.name);
  if (sec.size > MAX_DATA_SECTION) throw badObject(where, 0, `global data section of ${sec.size} bytes is larger than ${MAX_DATA_SECTION} bytes`);
  const readonly = sec.name.startsWith('.rodata');
  const datasec = btf?.findByName(sec.name, 'datasec');
  const mmapable =
    datasec?.kind === 'datasec' &&
    datasec.vars.some((v) => {
      const vt = btf!.types[v.type];
      return vt?.kind === 'var' && vt.linkage !== VarLinkage.STATIC;
    });
  const data = sec.type === SectionType.NOBITS ? new Uint8Array(sec.size) : sec.data.slice();
  const spec: MapSpec = {
    name: sec.name,
    origin: 'data',
    type: MapType.ARRAY,
    keySize: 4,
    valueSize: sec.size,
    maxEntries: 1,
    flags: (readonly ? MapFlags.RDONLY_PROG : 0) | (mmapable ? MapFlags.MMAPABLE : 0),
    pinning: 'none',
    btfKeyTypeId: undefined,
    btfValueTypeId: datasec?.id,
    data,
    readonly,
    innerMap: undefined,
  };
  return { spec, section: sec.index, offset: 0 };
}
