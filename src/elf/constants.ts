/** ELF numbers (include/uapi/linux/elf.h, LLVM's BPF relocation types) used by the reader. */

export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;
export const ET_REL = 1;
export const EM_BPF = 247;

export const ELF_HEADER_SIZE = 64;
export const SECTION_HEADER_SIZE = 64;
export const SYMBOL_SIZE = 24;
export const REL_SIZE = 16;
export const RELA_SIZE = 24;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const SectionType = {
  NULL: 0,
  PROGBITS: 1,
  SYMTAB: 2,
  STRTAB: 3,
  RELA: 4,
  HASH: 5,
  DYNAMIC: 6,
  NOTE: 7,
  NOBITS: 8,
  REL: 9,
  DYNSYM: 11,
  SYMTAB_SHNDX: 18,
} as const;

export const SectionFlags = {
  WRITE: 0x1,
  ALLOC: 0x2,
  EXECINSTR: 0x4,
} as const;

export const SymbolType = {
  NOTYPE: 0,
  OBJECT: 1,
  FUNC: 2,
  SECTION: 3,
  FILE: 4,
} as const;

export const SymbolBind = {
  LOCAL: 0,
  GLOBAL: 1,
  WEAK: 2,
} as const;

export const SymbolVisibility = {
  DEFAULT: 0,
  INTERNAL: 1,
  HIDDEN: 2,
  PROTECTED: 3,
} as const;

/** BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def). */
export const RelocType = {
  R_BPF_NONE: 0,
  R_BPF_64_64: 1,
  R_BPF_64_ABS64: 2,
  R_BPF_64_ABS32: 3,
  R_BPF_64_NODYLD32: 4,
  R_BPF_64_32: 10,
} as const;

const relocNames = new Map<number, string>(Object.entries(RelocType).map(([k, v]) => [v, k]));

export function relocTypeName(type: number): string {
  return relocNames.get(type) ?? `R_BPF type ${type}`;
}
