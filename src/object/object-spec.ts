/**
 * ObjectSpec: everything a compiled eBPF object holds, parsed without any system call: programs
 * (linked, with their map references), map specs, global data, license, BTF fixed up for loading.
 * Deterministic: the same bytes always give the same spec. Malformed input → BadObjectError.
 */
import { ElfFile, type ElfSymbol } from '../elf/elf-file.js';
import { SymbolBind, SymbolType, SymbolVisibility } from '../elf/constants.js';
import { badObject } from '../elf/reader.js';
import { Btf } from '../btf/btf.js';
import { parseBtfExt, type BtfExt } from '../btf/ext.js';
import { fixupBtf } from '../btf/fixup.js';
import { BadObjectError, BpfpipeError, UsageError } from '../errors.js';
import { collectCode, isCodeSection } from './code.js';
import { linkProgram } from './link.js';
import { collectMaps } from './maps.js';
import { classifySection, KNOWN_SECTIONS } from './program-section.js';
import type { MapSpec, ObjectSpecShape, ProgramSpec } from './types.js';

/** Prefix of the globals that BPFPIPE_EVENT_TYPE(map, type) declares (bpf/include/bpfpipe.h). */
export const EVENT_TYPE_PREFIX = '__bpfpipe_event__';

export class ObjectSpec implements ObjectSpecShape {
  readonly programs: readonly ProgramSpec[];
  readonly maps: readonly MapSpec[];
  readonly license: string;
  readonly btf: Btf | undefined;
  readonly btfBytes: Uint8Array | undefined;

  private constructor(programs: ProgramSpec[], maps: MapSpec[], license: string, btf: Btf | undefined, btfBytes: Uint8Array | undefined) {
    this.programs = Object.freeze(programs);
    this.maps = Object.freeze(maps);
    this.license = license;
    this.btf = btf;
    this.btfBytes = btfBytes;
  }

  /** Parses an ELF eBPF object (the bytes of a clang -target bpf .o). Pure and deterministic. */
  static parse(bytes: Uint8Array): ObjectSpec {
    try {
      const p = parseObject(bytes);
      return new ObjectSpec(p.programs, p.maps, p.license, p.btf, p.btfBytes);
    } catch (e) {
      if (e instanceof BpfpipeError) throw e;
      // A bug in the parser must still surface as a bad-object error, never as a TypeError.
      throw new BadObjectError(`malformed eBPF object: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
  }

  /** The program named `name` (its function name); UsageError listing the names when absent. */
  program(name: string): ProgramSpec {
    const p = this.programs.find((x) => x.name === name);
    if (!p) {
      throw new UsageError(`program '${name}' is not in the object (programs: ${this.programs.map((x) => x.name).join(', ') || 'none'})`);
    }
    return p;
  }

  /** The map named `name`; UsageError listing the names when absent. */
  map(name: string): MapSpec {
    const m = this.maps.find((x) => x.name === name);
    if (!m) throw new UsageError(`map '${name}' is not in the object (maps: ${this.maps.map((x) => x.name).join(', ') || 'none'})`);
    return m;
  }

  /**
   * The BTF type id of the struct that BPFPIPE_EVENT_TYPE(mapName, struct X) names, or undefined
   * when the object does not declare one.
   */
  eventType(mapName: string): number | undefined {
    const btf = this.btf;
    if (!btf) return undefined;
    const v = btf.findByName(`${EVENT_TYPE_PREFIX}${mapName}`, 'var');
    if (!v || v.kind !== 'var') return undefined;
    const ptr = btf.resolve(v.type);
    const target = ptr.kind === 'ptr' ? btf.resolve(ptr.type) : undefined;
    if (!target || (target.kind !== 'struct' && target.kind !== 'union')) {
      throw new BadObjectError(`BTF: '${v.name}' must be a pointer to the event struct (declare it with BPFPIPE_EVENT_TYPE(${mapName}, struct NAME))`);
    }
    return target.id;
  }
}

function readLicense(elf: ElfFile): string {
  const s = elf.section('license');
  if (!s) return '';
  const end = s.data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? s.data : s.data.subarray(0, end));
}

interface ParsedObject {
  programs: ProgramSpec[];
  maps: MapSpec[];
  license: string;
  btf: Btf | undefined;
  btfBytes: Uint8Array | undefined;
}

const isHidden = (s: ElfSymbol): boolean => s.visibility === SymbolVisibility.HIDDEN || s.visibility === SymbolVisibility.INTERNAL;

function parseObject(bytes: Uint8Array): ParsedObject {
  const elf = ElfFile.parse(bytes);
  const license = readLicense(elf);

  let btf: Btf | undefined;
  let btfBytes: Uint8Array | undefined;
  let ext: BtfExt | undefined;
  const btfSec = elf.section('.BTF');
  if (btfSec) {
    const raw = Btf.parse(btfSec.data);
    const hiddenFunctions = new Set(
      elf.symbols
        .filter((s) => s.type === SymbolType.FUNC && s.bind !== SymbolBind.LOCAL && isHidden(s) && elf.sections[s.section]?.name === '.text')
        .map((s) => s.name),
    );
    const variables = new Map<string, ElfSymbol>();
    for (const y of elf.symbols) {
      if (y.type === SymbolType.SECTION || y.type === SymbolType.FUNC || y.type === SymbolType.FILE) continue;
      const key = `${y.section}:${y.name}`;
      if (!variables.has(key)) variables.set(key, y);
    }
    btfBytes = fixupBtf(raw, {
      sectionSize: (name) => elf.section(name)?.size,
      variable: (section, name) => {
        const sec = elf.section(section);
        const sym = sec && variables.get(`${sec.index}:${name}`);
        return sym ? { offset: sym.value, hidden: isHidden(sym) } : undefined;
      },
      hiddenFunctions,
    });
    btf = Btf.parse(btfBytes);
    const extSec = elf.section('.BTF.ext');
    if (extSec) ext = parseBtfExt(extSec.data, btf);
  }

  const placed = collectMaps(elf, btf);
  const code = collectCode(elf, placed);
  const programs: ProgramSpec[] = [];
  for (const s of elf.sections) {
    if (!isCodeSection(s) || s.name === '.text') continue;
    const kind = classifySection(s.name);
    if (!kind) throw badObject(`section '${s.name}'`, 0, `unknown program section '${s.name}' (bpfpipe knows ${KNOWN_SECTIONS})`);
    for (const fn of code.funcs) {
      if (fn.section !== s || !fn.global) continue;
      const linked = linkProgram(fn, code, ext);
      programs.push({
        name: fn.name,
        section: s.name,
        kind: kind.kind,
        type: kind.type,
        expectedAttachType: kind.expectedAttachType,
        direction: kind.direction,
        instructions: linked.instructions,
        mapRefs: linked.mapRefs,
        functions: linked.functions,
        funcInfo: linked.funcInfo,
        lineInfo: linked.lineInfo,
        license,
      });
    }
  }
  return { programs, maps: placed.map((m) => m.spec), license, btf, btfBytes };
}
