/** The ELF symbol table (SHT_SYMTAB, with SHT_SYMTAB_SHNDX extended section indexes). */
import { SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SYMBOL_SIZE, SectionType, SymbolType } from './constants.js';
import type { ElfSection } from './elf-file.js';
import { Reader, StringTable, badObject } from './reader.js';

function sectionWhere(name: string): string {
  return `section '${name}'`;
}

export interface ElfSymbol {
  readonly index: number;
  /** Symbol name; for STT_SECTION symbols, the section's name. */
  readonly name: string;
  readonly value: number;
  readonly size: number;
  /** STT_* */
  readonly type: number;
  /** STB_* */
  readonly bind: number;
  /** STV_* */
  readonly visibility: number;
  /** Section index (SHN_UNDEF = 0 for undefined/extern symbols; SHN_ABS, SHN_COMMON above 0xff00). */
  readonly section: number;
}

/** Reads every symbol of `symtab`; names of STT_SECTION symbols are their section's name. */
export function readSymbols(sections: ElfSection[], symtab: ElfSection): ElfSymbol[] {
  const where = sectionWhere(symtab.name);
  if (symtab.entsize !== SYMBOL_SIZE) throw badObject(where, 0, `symbol entry size ${symtab.entsize} is not ${SYMBOL_SIZE}`);
  if (symtab.size % SYMBOL_SIZE !== 0) throw badObject(where, 0, `size ${symtab.size} is not a multiple of the symbol size (${SYMBOL_SIZE})`);
  const strSec = sections[symtab.link];
  if (symtab.link === 0 || !strSec || strSec.type !== SectionType.STRTAB) {
    throw badObject(where, 0, `symbol table links to section ${symtab.link}, which is not a string table`);
  }
  const strtab = new StringTable(strSec.data, sectionWhere(strSec.name));
  const shndxSec = sections.find((s) => s.type === SectionType.SYMTAB_SHNDX && s.link === symtab.index);
  const r: Reader = new Reader(symtab.data, where);
  const n = symtab.size / SYMBOL_SIZE;
  const out: ElfSymbol[] = [];
  for (let i = 0; i < n; i++) {
    const at = r.pos;
    const nameOff = r.u32('st_name');
    const info = r.u8('st_info');
    const other = r.u8('st_other');
    let section = r.u16('st_shndx');
    const value = r.u64n('st_value');
    const size = r.u64n('st_size');
    const type = info & 0xf;
    if (section === SHN_XINDEX) {
      if (!shndxSec) r.fail(`symbol ${i} uses an extended section index but there is no SHT_SYMTAB_SHNDX section`, at);
      const x = new Reader(shndxSec.data, sectionWhere(shndxSec.name));
      x.seek(Math.min(i * 4, shndxSec.data.length));
      section = x.u32(`extended section index of symbol ${i}`);
      if (section >= sections.length) r.fail(`symbol ${i} refers to section ${section}, which does not exist (there are ${sections.length})`, at);
    }
    // SHN_ABS, SHN_COMMON and the other reserved indexes (>= SHN_LORESERVE) are kept as they are.
    if (section !== SHN_UNDEF && section < SHN_LORESERVE && section >= sections.length) {
      r.fail(`symbol ${i} refers to section ${section}, which does not exist (there are ${sections.length})`, at);
    }
    let name: string;
    if (type === SymbolType.SECTION && section > 0 && section < sections.length) {
      name = sections[section]!.name;
    } else {
      name = strtab.get(nameOff, `name of symbol ${i}`, { where, offset: at });
    }
    out.push({ index: i, name, value, size, type, bind: info >> 4, visibility: other & 0x3, section });
  }
  return out;
}
