/**
 * ELF64 little-endian reader for relocatable eBPF objects (ET_REL, EM_BPF): section headers and
 * names, the symbol table, string tables and SHT_REL relocations. Pure and bounds-checked: the
 * sections are views into the caller's bytes, and any inconsistency is a BadObjectError.
 */
import { BadObjectError } from '../errors.js';
import {
  ELF_HEADER_SIZE,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  EM_BPF,
  ET_REL,
  EV_CURRENT,
  REL_SIZE,
  SECTION_HEADER_SIZE,
  SectionType,
  SHN_UNDEF,
  SHN_XINDEX,
} from './constants.js';
import { Reader, StringTable, badObject } from './reader.js';
import { readSymbols, type ElfSymbol } from './symbols.js';

export type { ElfSymbol } from './symbols.js';

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  /** sh_flags, low 32 bits (SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, ...). */
  readonly flags: number;
  /** File offset of the contents. */
  readonly offset: number;
  /** sh_size (for SHT_NOBITS: the size in memory; `data` is then empty). */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** The contents, a view into the file bytes (empty for SHT_NOBITS). */
  readonly data: Uint8Array;
}

export interface ElfRelocation {
  /** Byte offset within the target section. */
  readonly offset: number;
  /** Index into ElfFile.symbols. */
  readonly symbol: number;
  /** R_BPF_* */
  readonly type: number;
}

export function sectionWhere(name: string): string {
  return `section '${name}'`;
}

export class ElfFile {
  readonly bytes: Uint8Array;
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
  /** The SHT_SYMTAB section, if any. */
  readonly symtab: ElfSection | undefined;
  private readonly relocs = new Map<number, ElfRelocation[]>();
  private readonly relocSections = new Map<number, ElfSection[]>();
  private readonly byName = new Map<string, ElfSection>();

  private constructor(bytes: Uint8Array, sections: ElfSection[], symbols: ElfSymbol[], symtab: ElfSection | undefined) {
    this.bytes = bytes;
    this.sections = sections;
    this.symbols = symbols;
    this.symtab = symtab;
    for (const s of sections) if (!this.byName.has(s.name) && s.index !== 0) this.byName.set(s.name, s);
  }

  static parse(bytes: Uint8Array): ElfFile {
    if (!(bytes instanceof Uint8Array)) throw new BadObjectError('ELF object: expected the file contents as a Uint8Array');
    const r = new Reader(bytes, 'ELF header');
    if (bytes.length < 4 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      const found = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
      r.fail(`not an ELF file (magic 7f 45 4c 46 expected, found ${found || 'nothing'}): pass a compiled eBPF object (.o)`, 0);
    }
    if (bytes.length < ELF_HEADER_SIZE) {
      r.fail(`file is ${bytes.length} bytes, too short for an ELF64 header (${ELF_HEADER_SIZE} bytes): the object is truncated`, 0);
    }
    const cls = bytes[4]!;
    if (cls !== ELFCLASS64) {
      r.fail(`ELF class ${cls} is not ELFCLASS64: eBPF objects are 64-bit (compile with clang -target bpf)`, 4);
    }
    const data = bytes[5]!;
    if (data === ELFDATA2MSB) {
      r.fail('big-endian ELF object (ELFDATA2MSB): bpfpipe reads little-endian eBPF objects (compile with -target bpfel, or -target bpf on a little-endian host)', 5);
    }
    if (data !== ELFDATA2LSB) r.fail(`unknown ELF data encoding ${data} (expected ELFDATA2LSB)`, 5);
    if (bytes[6] !== EV_CURRENT) r.fail(`unknown ELF version ${bytes[6]} (expected 1)`, 6);

    r.seek(16);
    const type = r.u16('e_type');
    const machine = r.u16('e_machine');
    if (type !== ET_REL) r.fail(`ELF type ${type} is not a relocatable object (ET_REL): pass the .o produced by clang -c`, 16);
    if (machine !== EM_BPF) r.fail(`machine ${machine} is not eBPF (EM_BPF = 247): compile with clang -target bpf`, 18);
    r.seek(40);
    const shoff = r.u64n('e_shoff');
    r.seek(58);
    const shentsize = r.u16('e_shentsize');
    let shnum = r.u16('e_shnum');
    let shstrndx = r.u16('e_shstrndx');

    if (shoff === 0) r.fail('the object has no section headers (e_shoff is 0)', 40);
    if (shentsize !== SECTION_HEADER_SIZE) r.fail(`section header size ${shentsize} is not ${SECTION_HEADER_SIZE}`, 58);
    const file = new Reader(bytes, 'ELF file');
    file.need(SECTION_HEADER_SIZE, 'section header 0', shoff);
    // Extended numbering: the real counts live in section header 0.
    if (shnum === 0) {
      file.seek(shoff + 32);
      shnum = file.u64n('section header 0 sh_size (section count)');
    }
    if (shstrndx === SHN_XINDEX) {
      file.seek(shoff + 40);
      shstrndx = file.u32('section header 0 sh_link (section name table index)');
    }
    if (shnum > Math.floor((bytes.length - shoff) / SECTION_HEADER_SIZE)) {
      file.fail(`${shnum} section headers of ${SECTION_HEADER_SIZE} bytes run past the end of the file (size ${bytes.length})`, shoff);
    }
    if (shstrndx === SHN_UNDEF || shstrndx >= shnum) {
      r.fail(`section name table index ${shstrndx} is not a section (there are ${shnum})`, 62);
    }

    interface RawSection {
      nameOff: number;
      type: number;
      flags: number;
      offset: number;
      size: number;
      link: number;
      info: number;
      addralign: number;
      entsize: number;
      data: Uint8Array;
    }
    const raw: RawSection[] = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * SECTION_HEADER_SIZE;
      const h = new Reader(bytes, `section header ${i}`);
      h.seek(at);
      const nameOff = h.u32('sh_name');
      const stype = h.u32('sh_type');
      const flagsBig = h.u64('sh_flags');
      h.u64('sh_addr');
      const offset = h.u64n('sh_offset');
      const size = h.u64n('sh_size');
      const link = h.u32('sh_link');
      const info = h.u32('sh_info');
      const addralign = h.u64n('sh_addralign');
      const entsize = h.u64n('sh_entsize');
      let contents: Uint8Array = new Uint8Array(0);
      if (i !== 0 && stype !== SectionType.NOBITS && stype !== SectionType.NULL) {
        if (offset > bytes.length || size > bytes.length - offset) {
          h.fail(`contents (offset ${offset}, size ${size}) run past the end of the file (size ${bytes.length})`, at + 24);
        }
        contents = bytes.subarray(offset, offset + size);
      }
      raw.push({ nameOff, type: stype, flags: Number(flagsBig & 0xffffffffn), offset, size, link, info, addralign, entsize, data: contents });
    }

    const shstr = raw[shstrndx]!;
    if (shstr.type !== SectionType.STRTAB) {
      r.fail(`section name table (section ${shstrndx}) has type ${shstr.type}, not SHT_STRTAB`, 62);
    }
    const shstrtab = new StringTable(shstr.data, `section ${shstrndx} (section name table)`);
    const sections: ElfSection[] = raw.map((s, index) => ({
      index,
      name: index === 0 ? '' : shstrtab.get(s.nameOff, `name of section ${index}`, { where: `section header ${index}`, offset: shoff + index * SECTION_HEADER_SIZE }),
      type: s.type,
      flags: s.flags,
      offset: s.offset,
      size: s.size,
      link: s.link,
      info: s.info,
      addralign: s.addralign,
      entsize: s.entsize,
      data: s.data,
    }));

    const symtabs = sections.filter((s) => s.type === SectionType.SYMTAB);
    if (symtabs.length > 1) {
      throw badObject(sectionWhere(symtabs[1]!.name), 0, `the object has ${symtabs.length} symbol tables (SHT_SYMTAB); expected one`);
    }
    const symtab = symtabs[0];
    const symbols = symtab ? readSymbols(sections, symtab) : [];
    const elf = new ElfFile(bytes, sections, symbols, symtab);
    elf.readRelocations();
    return elf;
  }

  /** The first section with this name. */
  section(name: string): ElfSection | undefined {
    return this.byName.get(name);
  }

  sectionAt(index: number, context = 'section index'): ElfSection {
    const s = Number.isInteger(index) && index > 0 ? this.sections[index] : undefined;
    if (!s) throw new BadObjectError(`ELF object: ${context} ${index} is not a section (there are ${this.sections.length})`);
    return s;
  }

  /** Relocations (all SHT_REL sections) that apply to section `index`, in file order. */
  relocationsFor(index: number): readonly ElfRelocation[] {
    return this.relocs.get(index) ?? [];
  }

  /** The SHT_REL/SHT_RELA sections that apply to section `index`. */
  relocationSectionsFor(index: number): readonly ElfSection[] {
    return this.relocSections.get(index) ?? [];
  }

  /** Symbols defined in section `index`, in symbol-table order. */
  symbolsIn(index: number): ElfSymbol[] {
    return this.symbols.filter((s) => s.section === index);
  }

  private readRelocations(): void {
    for (const s of this.sections) {
      if (s.type !== SectionType.REL && s.type !== SectionType.RELA) continue;
      const where = sectionWhere(s.name);
      const target = this.sections[s.info];
      if (s.info === 0 || !target) throw badObject(where, 0, `relocation section applies to section ${s.info}, which does not exist`);
      const list = this.relocSections.get(s.info) ?? [];
      list.push(s);
      this.relocSections.set(s.info, list);
      if (s.type === SectionType.RELA) continue; // BPF uses SHT_REL; consumers reject RELA where it matters.
      if (!this.symtab || s.link !== this.symtab.index) {
        throw badObject(where, 0, `relocation section links to section ${s.link}, not the symbol table`);
      }
      if (s.entsize !== REL_SIZE && s.entsize !== 0) throw badObject(where, 0, `relocation entry size ${s.entsize} is not ${REL_SIZE}`);
      if (s.size % REL_SIZE !== 0) throw badObject(where, 0, `size ${s.size} is not a multiple of the relocation entry size (${REL_SIZE})`);
      const r = new Reader(s.data, where);
      const out = this.relocs.get(s.info) ?? [];
      const n = s.size / REL_SIZE;
      for (let i = 0; i < n; i++) {
        const at = r.pos;
        const offset = r.u64n('r_offset');
        const infoLo = r.u32('r_info type');
        const sym = r.u32('r_info symbol');
        if (sym === 0 || sym >= this.symbols.length) {
          r.fail(`relocation ${i} refers to symbol ${sym}, which is not in the symbol table (${this.symbols.length} symbols)`, at);
        }
        if (offset >= target.size) {
          r.fail(`relocation ${i} at offset ${offset} points outside section '${target.name}' (size ${target.size})`, at);
        }
        out.push({ offset, symbol: sym, type: infoLo });
      }
      this.relocs.set(s.info, out);
    }
  }
}
