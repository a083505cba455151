/**
 * The code of an object: every function (FUNC symbol) of every executable section, and for each
 * instruction that needs it, what it refers to (a map, global data, another function), from the
 * ELF relocations or, for calls within a section, from the instruction itself.
 */
import { badObject } from '../elf/reader.js';
import { RelocType, SectionFlags, SectionType, SHN_LORESERVE, SymbolBind, SymbolType, relocTypeName } from '../elf/constants.js';
import { sectionWhere, type ElfFile, type ElfSection } from '../elf/elf-file.js';
import { Pseudo } from './uapi.js';
import type { PlacedMap } from './maps.js';

export const INSN_SIZE = 8;
export const OP_LD_IMM64 = 0x18;
export const OP_CALL = 0x85;

export interface Func {
  readonly name: string;
  readonly section: ElfSection;
  /** First instruction index within the section. */
  readonly start: number;
  /** Number of instructions. */
  readonly count: number;
  /** Global (or weak) binding: a program when outside .text. */
  readonly global: boolean;
}

/** What an instruction refers to. Keys of Code.refs are `${sectionIndex}:${insnIndex}`. */
export type InsnRef =
  | { readonly k: 'map'; readonly map: PlacedMap; readonly kind: 'fd' | 'value'; readonly offset: number }
  | { readonly k: 'func'; readonly target: Func; readonly how: 'call' | 'addr' };

export interface Code {
  readonly funcs: readonly Func[];
  readonly refs: ReadonlyMap<string, InsnRef>;
}

export function refKey(section: number, insn: number): string {
  return `${section}:${insn}`;
}

export function isCodeSection(s: ElfSection): boolean {
  return s.type === SectionType.PROGBITS && (s.flags & SectionFlags.EXECINSTR) !== 0 && s.size > 0;
}

export function collectCode(elf: ElfFile, maps: readonly PlacedMap[]): Code {
  const funcs: Func[] = [];
  const bySection = new Map<number, Map<number, Func>>();
  for (const s of elf.sections) {
    if (!isCodeSection(s)) continue;
    const where = sectionWhere(s.name);
    if (s.size % INSN_SIZE !== 0) throw badObject(where, 0, `code size ${s.size} is not a multiple of the instruction size (8)`);
    const list: Func[] = [];
    for (const sym of elf.symbolsIn(s.index)) {
      if (sym.type !== SymbolType.FUNC) continue;
      if (sym.value % INSN_SIZE !== 0 || sym.size % INSN_SIZE !== 0 || sym.size === 0 || sym.value > s.size || sym.size > s.size - sym.value) {
        throw badObject(where, Math.min(sym.value, s.size), `function '${sym.name}' (offset ${sym.value}, size ${sym.size}) does not fit the section (size ${s.size}) in whole instructions`);
      }
      list.push({
        name: sym.name,
        section: s,
        start: sym.value / INSN_SIZE,
        count: sym.size / INSN_SIZE,
        global: sym.bind === SymbolBind.GLOBAL || sym.bind === SymbolBind.WEAK,
      });
    }
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      if (list[i]!.start < prev.start + prev.count) {
        throw badObject(where, list[i]!.start * INSN_SIZE, `functions '${prev.name}' and '${list[i]!.name}' overlap`);
      }
    }
    bySection.set(s.index, new Map(list.map((f) => [f.start, f])));
    funcs.push(...list);
  }

  const mapsBySection = new Map<number, Map<number, PlacedMap>>();
  for (const m of maps) {
    const bySec = mapsBySection.get(m.section) ?? new Map<number, PlacedMap>();
    if (!bySec.has(m.offset)) bySec.set(m.offset, m);
    mapsBySection.set(m.section, bySec);
  }
  const funcAt = (sec: ElfSection, insn: number): Func | undefined => bySection.get(sec.index)?.get(insn);
  const refs = new Map<string, InsnRef>();
  for (const s of elf.sections) {
    if (!isCodeSection(s)) continue;
    const where = sectionWhere(s.name);
    const view = new DataView(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    const nInsns = s.size / INSN_SIZE;
    for (const rs of elf.relocationSectionsFor(s.index)) {
      if (rs.type === SectionType.RELA) throw badObject(sectionWhere(rs.name), 0, `RELA relocations for code section '${s.name}' are not supported (eBPF objects use REL)`);
    }
    for (const rel of elf.relocationsFor(s.index)) {
      const at = rel.offset;
      if (at % INSN_SIZE !== 0) throw badObject(where, at, `relocation is not at an instruction boundary`);
      const idx = at / INSN_SIZE;
      const op = view.getUint8(at);
      const srcReg = view.getUint8(at + 1) >> 4;
      const imm = view.getInt32(at + 4, true);
      const sym = elf.symbols[rel.symbol]!;
      const key = refKey(s.index, idx);
      if (refs.has(key)) throw badObject(where, at, 'two relocations apply to the same instruction');
      if (sym.section === 0) {
        throw badObject(where, at, `instruction ${idx} refers to extern symbol '${sym.name}' (kfuncs, ksyms and kconfig externs are not supported)`);
      }
      if (sym.section >= SHN_LORESERVE) throw badObject(where, at, `instruction ${idx} refers to symbol '${sym.name}' in special section 0x${sym.section.toString(16)}`);
      const target = elf.sections[sym.section]!;
      if (rel.type === RelocType.R_BPF_64_32) {
        if (op !== OP_CALL || srcReg !== Pseudo.CALL) throw badObject(where, at, `${relocTypeName(rel.type)} relocation on instruction ${idx}, which is not a BPF-to-BPF call`);
        if (!isCodeSection(target)) throw badObject(where, at, `call at instruction ${idx} targets section '${target.name}', which holds no code`);
        // libbpf: global functions are called with imm -1 against their symbol; static ones against the section with imm = start - 1.
        const insn = sym.value / INSN_SIZE + imm + 1;
        const fn = Number.isInteger(insn) ? funcAt(target, insn) : undefined;
        if (!fn) throw badObject(where, at, `call at instruction ${idx} goes to instruction ${insn} of section '${target.name}', where no function starts`);
        refs.set(key, { k: 'func', target: fn, how: 'call' });
        continue;
      }
      if (rel.type !== RelocType.R_BPF_64_64) {
        throw badObject(where, at, `unsupported relocation ${relocTypeName(rel.type)} on instruction ${idx} (code sections only use R_BPF_64_64 and R_BPF_64_32)`);
      }
      if (op !== OP_LD_IMM64 || idx + 1 >= nInsns) throw badObject(where, at, `${relocTypeName(rel.type)} relocation on instruction ${idx}, which is not a 16-byte ld_imm64`);
      const isSectionSym = sym.type === SymbolType.SECTION;
      if (isCodeSection(target)) {
        const off = sym.value + imm;
        const fn = off % INSN_SIZE === 0 ? funcAt(target, off / INSN_SIZE) : undefined;
        if (!fn) throw badObject(where, at, `function address at instruction ${idx} points to offset ${off} of section '${target.name}', where no function starts`);
        refs.set(key, { k: 'func', target: fn, how: 'addr' });
        continue;
      }
      const inSection = mapsBySection.get(target.index);
      const first = inSection?.values().next().value;
      if (!inSection || !first) {
        throw badObject(where, at, `instruction ${idx} refers to '${sym.name}' in section '${target.name}', which is neither a map nor global data`);
      }
      if (first.spec.origin === 'data') {
        const offset = sym.value + imm;
        if (offset < 0 || offset > target.size) {
          throw badObject(where, at, `instruction ${idx} points to offset ${offset} of '${target.name}' (size ${target.size})`);
        }
        refs.set(key, { k: 'map', map: first, kind: 'value', offset });
        continue;
      }
      const defOffset = sym.value + (isSectionSym ? imm : 0);
      const map = inSection.get(defOffset);
      if (!map) throw badObject(where, at, `instruction ${idx} refers to offset ${defOffset} of '${target.name}', where no map is defined`);
      refs.set(key, { k: 'map', map, kind: 'fd', offset: 0 });
    }
    // Calls and function addresses within the section need no relocation: the immediate is relative.
    for (let idx = 0; idx < nInsns; idx++) {
      const at = idx * INSN_SIZE;
      const op = view.getUint8(at);
      const srcReg = view.getUint8(at + 1) >> 4;
      const isCall = op === OP_CALL && srcReg === Pseudo.CALL;
      const isAddr = op === OP_LD_IMM64 && srcReg === Pseudo.FUNC;
      if (op === OP_CALL && srcReg === Pseudo.KFUNC_CALL && !refs.has(refKey(s.index, idx))) {
        throw badObject(where, at, `instruction ${idx} calls a kfunc, which is not supported`);
      }
      if (!(isCall || isAddr) || refs.has(refKey(s.index, idx))) continue;
      if (isAddr && idx + 1 >= nInsns) throw badObject(where, at, `ld_imm64 at instruction ${idx} is cut off at the end of the section`);
      const targetInsn = idx + view.getInt32(at + 4, true) + 1;
      const fn = funcAt(s, targetInsn);
      if (!fn) throw badObject(where, at, `${isCall ? 'call' : 'function address'} at instruction ${idx} goes to instruction ${targetInsn}, where no function starts`);
      refs.set(refKey(s.index, idx), { k: 'func', target: fn, how: isCall ? 'call' : 'addr' });
    }
  }
  return { funcs, refs };
}
