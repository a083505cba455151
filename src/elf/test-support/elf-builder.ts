/**
 * A minimal ELF64 writer for tests: lays out sections, a symbol table, string tables and SHT_REL
 * sections byte by byte from the ELF specification, independently of the reader under test.
 */

export interface SectionDef {
  name: string;
  /** sh_type (default SHT_PROGBITS = 1). */
  type?: number;
  /** sh_flags (default 0). */
  flags?: number;
  data?: Uint8Array;
  /** For SHT_NOBITS: the size. */
  size?: number;
  entsize?: number;
  addralign?: number;
}

export interface SymbolDef {
  name: string;
  /** Section name, or a number (0 = SHN_UNDEF, 0xfff1 = SHN_ABS). */
  section: string | number;
  value?: number;
  size?: number;
  /** STT_* (default STT_OBJECT = 1). */
  type?: number;
  /** STB_* (default STB_GLOBAL = 1). */
  bind?: number;
  /** STV_* (default 0). */
  visibility?: number;
}

export interface RelocDef {
  /** Name of the section the relocation applies to. */
  target: string;
  offset: number;
  /** Symbol name (or STT_SECTION symbol of a section: `section:NAME`). */
  symbol: string;
  type: number;
}

export interface ElfDef {
  sections: SectionDef[];
  symbols?: SymbolDef[];
  relocations?: RelocDef[];
  /** Header overrides. */
  machine?: number;
  elfType?: number;
  class?: number;
  data?: number;
}

export const SHT = { PROGBITS: 1, SYMTAB: 2, STRTAB: 3, NOBITS: 8, REL: 9 } as const;
export const SHF = { WRITE: 1, ALLOC: 2, EXECINSTR: 4 } as const;
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3 } as const;
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;

class Strtab {
  private readonly parts: number[] = [0];
  private readonly index = new Map<string, number>([['', 0]]);
  add(s: string): number {
    const hit = this.index.get(s);
    if (hit !== undefined) return hit;
    const off = this.parts.length;
    for (const b of new TextEncoder().encode(s)) this.parts.push(b);
    this.parts.push(0);
    this.index.set(s, off);
    return off;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Builds an ELF64 little-endian relocatable eBPF object. */
export function buildElf(def: ElfDef): Uint8Array {
  const user = def.sections;
  const relocTargets = [...new Set((def.relocations ?? []).map((r) => r.target))];
  // Section order: [0] null, user sections, .rel<target>..., .symtab, .strtab, .shstrtab
  const names = ['', ...user.map((s) => s.name), ...relocTargets.map((t) => `.rel${t}`), '.symtab', '.strtab', '.shstrtab'];
  const indexOf = (name: string): number => {
    const i = names.indexOf(name);
    if (i < 0) throw new Error(`no section ${name}`);
    return i;
  };
  const symtabIndex = names.length - 3;
  const strtabIndex = names.length - 2;
  const shstrIndex = names.length - 1;

  // Symbols: null, section symbols for relocations against sections, then locals, then globals.
  const strtab = new Strtab();
  const syms = [...(def.symbols ?? [])];
  const sectionSyms = [...new Set((def.relocations ?? []).filter((r) => r.symbol.startsWith('section:')).map((r) => r.symbol.slice(8)))];
  const all: Required<SymbolDef>[] = [
    ...sectionSyms.map((s) => ({ name: `section:${s}`, section: s, value: 0, size: 0, type: STT.SECTION, bind: STB.LOCAL, visibility: 0 })),
    ...syms.map((s) => ({ value: 0, size: 0, type: STT.OBJECT, bind: STB.GLOBAL, visibility: 0, ...s })),
  ];
  all.sort((a, b) => (a.bind === STB.LOCAL ? 0 : 1) - (b.bind === STB.LOCAL ? 0 : 1));
  const firstGlobal = 1 + all.filter((s) => s.bind === STB.LOCAL).length;
  const symBytes = new Uint8Array(24 * (all.length + 1));
  const sv = new DataView(symBytes.buffer);
  all.forEach((s, i) => {
    const o = 24 * (i + 1);
    sv.setUint32(o, s.type === STT.SECTION ? 0 : strtab.add(s.name), true);
    sv.setUint8(o + 4, (s.bind << 4) | s.type);
    sv.setUint8(o + 5, s.visibility);
    sv.setUint16(o + 6, typeof s.section === 'number' ? s.section : indexOf(s.section), true);
    sv.setBigUint64(o + 8, BigInt(s.value), true);
    sv.setBigUint64(o + 16, BigInt(s.size), true);
  });
  const symIndex = (name: string): number => {
    const i = all.findIndex((s) => s.name === name);
    if (i < 0) throw new Error(`no symbol ${name}`);
    return i + 1;
  };

  const relBytes = relocTargets.map((t) => {
    const rels = (def.relocations ?? []).filter((r) => r.target === t);
    const b = new Uint8Array(16 * rels.length);
    const v = new DataView(b.buffer);
    rels.forEach((r, i) => {
      v.setBigUint64(16 * i, BigInt(r.offset), true);
      v.setBigUint64(16 * i + 8, (BigInt(symIndex(r.symbol)) << 32n) | BigInt(r.type), true);
    });
    return b;
  });

  const shstr = new Strtab();
  interface Out {
    nameOff: number;
    type: number;
    flags: number;
    data: Uint8Array;
    size: number;
    link: number;
    info: number;
    align: number;
    entsize: number;
  }
  const out: Out[] = [{ nameOff: 0, type: 0, flags: 0, data: new Uint8Array(0), size: 0, link: 0, info: 0, align: 0, entsize: 0 }];
  for (const s of user) {
    const type = s.type ?? SHT.PROGBITS;
    const data = type === SHT.NOBITS ? new Uint8Array(0) : (s.data ?? new Uint8Array(0));
    out.push({ nameOff: shstr.add(s.name), type, flags: s.flags ?? 0, data, size: type === SHT.NOBITS ? (s.size ?? 0) : data.length, link: 0, info: 0, align: s.addralign ?? 8, entsize: s.entsize ?? 0 });
  }
  relocTargets.forEach((t, i) => {
    out.push({ nameOff: shstr.add(`.rel${t}`), type: SHT.REL, flags: 0x40, data: relBytes[i]!, size: relBytes[i]!.length, link: symtabIndex, info: indexOf(t), align: 8, entsize: 16 });
  });
  out.push({ nameOff: shstr.add('.symtab'), type: SHT.SYMTAB, flags: 0, data: symBytes, size: symBytes.length, link: strtabIndex, info: firstGlobal, align: 8, entsize: 24 });
  const strBytes = strtab.bytes();
  out.push({ nameOff: shstr.add('.strtab'), type: SHT.STRTAB, flags: 0, data: strBytes, size: strBytes.length, link: 0, info: 0, align: 1, entsize: 0 });
  const shstrNameOff = shstr.add('.shstrtab');
  const shstrBytes = shstr.bytes();
  out.push({ nameOff: shstrNameOff, type: SHT.STRTAB, flags: 0, data: shstrBytes, size: shstrBytes.length, link: 0, info: 0, align: 1, entsize: 0 });

  // Layout: header, section contents (8-aligned), section header table.
  let pos = 64;
  const offsets = out.map((s) => {
    pos = Math.ceil(pos / 8) * 8;
    const at = pos;
    pos += s.data.length;
    return at;
  });
  const shoff = Math.ceil(pos / 8) * 8;
  const file = new Uint8Array(shoff + 64 * out.length);
  const v = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, def.class ?? 2, def.data ?? 1, 1], 0);
  v.setUint16(16, def.elfType ?? 1, true);
  v.setUint16(18, def.machine ?? 247, true);
  v.setUint32(20, 1, true);
  v.setBigUint64(40, BigInt(shoff), true);
  v.setUint16(52, 64, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, out.length, true);
  v.setUint16(62, shstrIndex, true);
  out.forEach((s, i) => {
    file.set(s.data, offsets[i]!);
    const h = shoff + 64 * i;
    v.setUint32(h, s.nameOff, true);
    v.setUint32(h + 4, s.type, true);
    v.setBigUint64(h + 8, BigInt(s.flags), true);
    v.setBigUint64(h + 24, BigInt(i === 0 ? 0 : offsets[i]!), true);
    v.setBigUint64(h + 32, BigInt(s.size), true);
    v.setUint32(h + 40, s.link, true);
    v.setUint32(h + 44, s.info, true);
    v.setBigUint64(h + 48, BigInt(s.align), true);
    v.setBigUint64(h + 56, BigInt(s.entsize), true);
  });
  return file;
}

/** Encodes eBPF instructions: [opcode, dst, src, off, imm] each. */
export function insns(...list: [number, number, number, number, number][]): Uint8Array {
  const b = new Uint8Array(8 * list.length);
  const v = new DataView(b.buffer);
  list.forEach(([op, dst, src, off, imm], i) => {
    v.setUint8(8 * i, op);
    v.setUint8(8 * i + 1, (src << 4) | dst);
    v.setInt16(8 * i + 2, off, true);
    v.setInt32(8 * i + 4, imm, true);
  });
  return b;
}

/** One eBPF instruction: [opcode, dst, src, off, imm]. */
export type Insn = [number, number, number, number, number];

/** Common instructions. */
export const I = {
  movImm: (dst: number, imm: number): [number, number, number, number, number] => [0xb7, dst, 0, 0, imm],
  /** ld_imm64 of a 64-bit constant. */
  ld64: (dst: number, v: bigint): Insn[] => [
    [0x18, dst, 0, 0, Number(BigInt.asIntN(32, v))],
    [0, 0, 0, 0, Number(BigInt.asIntN(32, v >> 32n))],
  ],
  exit: (): [number, number, number, number, number] => [0x95, 0, 0, 0, 0],
  call: (imm: number, src = 0): [number, number, number, number, number] => [0x85, 0, src, 0, imm],
  ldImm64: (dst: number, imm: number, src = 0): [number, number, number, number, number][] => [
    [0x18, dst, src, 0, imm],
    [0, 0, 0, 0, 0],
  ],
};

/**
 * An object with one classifier `cls` (`code`) and one iproute2 legacy map `name` (type, key and value
 * sizes, max entries), which the ld_imm64 at instruction `ldMapAt` loads.
 */
export function legacyMapClassifier(code: Insn[], map: { name: string; type: number; keySize: number; valueSize: number; maxEntries: number }, ldMapAt: number): Uint8Array {
  const def = new Uint8Array(20);
  new Uint32Array(def.buffer).set([map.type, map.keySize, map.valueSize, map.maxEntries, 0]);
  const text = insns(...code);
  return buildElf({
    sections: [{ name: 'classifier', flags: SHF.ALLOC | SHF.EXECINSTR, data: text }, { name: 'maps', flags: SHF.ALLOC | SHF.WRITE, data: def }, { name: 'license', flags: SHF.ALLOC | SHF.WRITE, data: new TextEncoder().encode('GPL\0') }],
    symbols: [{ name: 'cls', section: 'classifier', value: 0, size: text.length, type: STT.FUNC, bind: STB.GLOBAL }, { name: map.name, section: 'maps', value: 0, size: 20 }],
    relocations: [{ target: 'classifier', offset: ldMapAt * 8, symbol: map.name, type: 1 /* R_BPF_64_64 */ }],
  });
}
