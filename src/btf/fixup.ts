/**
 * Makes object BTF loadable with BPF_BTF_LOAD, as libbpf does before loading:
 * - DATASEC sizes and VAR offsets, which clang leaves at 0, are filled from the ELF section sizes
 *   and symbol values, then the variables are sorted by offset (btf_fixup_datasec);
 * - global variables and functions with hidden visibility become static;
 * - extern-backed DATASECs (.kconfig, .ksyms) are laid out and their externs turned into allocated
 *   variables, since the kernel rejects extern VARs (bpf_object__collect_externs).
 * Every kind that clang emits is supported by modern kernels, so nothing else is rewritten.
 */
import { BadObjectError } from '../errors.js';
import type { Btf } from './btf.js';
import { BTF_HEADER_SIZE, BTF_TYPE_SIZE, Kind, VarLinkage, FuncLinkage, type DatasecType, type VarType } from './kinds.js';

export interface FixupContext {
  /** Size of the ELF section with this name, or undefined when the object has no such section. */
  sectionSize(name: string): number | undefined;
  /** ELF symbol of a variable defined in section `section`: its value and whether it is hidden. */
  variable(section: string, name: string): { offset: number; hidden: boolean } | undefined;
  /** Names of global functions with hidden (or internal) visibility: their BTF FUNC becomes static. */
  hiddenFunctions?: ReadonlySet<string>;
}

const KCONFIG = '.kconfig';
const utf8 = new TextEncoder();
const KSYMS = '.ksyms';

/** Returns fixed-up BTF bytes; the input is not modified. */
export function fixupBtf(btf: Btf, ctx: FixupContext): Uint8Array {
  const p = new Patcher(btf);
  for (const t of btf.types) {
    if (t.kind === 'func' && t.linkage === FuncLinkage.GLOBAL && ctx.hiddenFunctions?.has(t.name)) {
      p.setInfo(t.id, Kind.FUNC, FuncLinkage.STATIC, false);
    }
  }
  for (const t of btf.types) {
    if (t.kind !== 'datasec') continue;
    if (t.name === KCONFIG) fixupKconfig(btf, p, t);
    else if (t.name === KSYMS) fixupKsyms(btf, p, t);
    else fixupDatasec(btf, p, t, ctx);
  }
  return p.finish();
}

function fail(sec: string, msg: string): never {
  throw new BadObjectError(`section '.BTF': DATASEC '${sec}': ${msg}`);
}

function fixupDatasec(btf: Btf, p: Patcher, t: DatasecType, ctx: FixupContext): void {
  let size = t.size;
  const fixOffsets = size === 0;
  if (fixOffsets) {
    const s = ctx.sectionSize(t.name);
    if (s === undefined || s === 0) fail(t.name, `the object has no ELF section '${t.name}' (or it is empty) to take the size from`);
    size = s;
    p.setSize(t.id, size);
  }
  const vars = t.vars.map((v) => ({ ...v }));
  for (const v of vars) {
    const vt = btf.types[v.type]!;
    if (vt.kind !== 'var') fail(t.name, `entry type ${v.type} is a ${vt.kind.toUpperCase()}, not a VAR`);
    const linkage = (vt as VarType).linkage;
    if (linkage === VarLinkage.STATIC || linkage === VarLinkage.GLOBAL_EXTERN) continue;
    const sym = ctx.variable(t.name, vt.name);
    if (!sym) fail(t.name, `no ELF symbol for variable '${vt.name}' in section '${t.name}'`);
    if (fixOffsets) v.offset = sym.offset;
    if (sym.hidden) p.setVarLinkage(vt.id, VarLinkage.STATIC);
    if (v.offset > size || v.size > size - v.offset) {
      fail(t.name, `variable '${vt.name}' (offset ${v.offset}, size ${v.size}) runs past the section size ${size}`);
    }
  }
  vars.sort((a, b) => a.offset - b.offset);
  p.setVars(t.id, vars);
}

/** .kconfig externs: laid out by descending alignment, ascending size, then name (libbpf cmp_externs). */
function fixupKconfig(btf: Btf, p: Patcher, t: DatasecType): void {
  const ext = t.vars.map((v, i) => {
    const vt = btf.types[v.type]!;
    if (vt.kind !== 'var') fail(t.name, `extern function '${vt.name}' is not supported in ${KCONFIG}`);
    const vty = (vt as VarType).type;
    return { i, name: vt.name, varId: vt.id, size: btf.sizeof(vty), align: btf.alignment(vty), offset: 0 };
  });
  const order = ext.slice().sort((a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let off = 0;
  for (const e of order) {
    e.offset = Math.ceil(off / e.align) * e.align;
    off = e.offset + e.size;
  }
  for (const e of ext) p.setVarLinkage(e.varId, VarLinkage.GLOBAL_ALLOCATED);
  p.setSize(t.id, off);
  const vars = ext.map((e) => ({ type: t.vars[e.i]!.type, offset: e.offset, size: t.vars[e.i]!.size }));
  vars.sort((a, b) => a.offset - b.offset);
  p.setVars(t.id, vars);
}

/** .ksyms externs: each becomes a 4-byte allocated int variable; extern functions a dummy variable. */
function fixupKsyms(btf: Btf, p: Patcher, t: DatasecType): void {
  const intId = btf.types.findIndex((x) => x.kind === 'int' && x.bits === 32);
  const typeForInt = intId > 0 ? intId : 0;
  let dummy = 0;
  const vars = t.vars.map((v, i) => {
    const vt = btf.types[v.type]!;
    let type = v.type;
    if (vt.kind === 'func') {
      if (dummy === 0) dummy = p.addVar('dummy_ksym', VarLinkage.GLOBAL_ALLOCATED, typeForInt);
      const proto = btf.types[vt.type];
      if (proto?.kind === 'func_proto') {
        proto.params.forEach((prm, j) => {
          if (prm.type !== 0 && prm.name === '') p.setParamName(proto.id, j, 'dummy_ksym');
        });
      }
      p.setInfo(vt.id, Kind.FUNC, FuncLinkage.GLOBAL, false);
      type = dummy;
    } else {
      p.setVarLinkage(vt.id, VarLinkage.GLOBAL_ALLOCATED);
      p.setRefType(vt.id, typeForInt);
    }
    return { type, offset: i * 4, size: 4 };
  });
  p.setSize(t.id, vars.length * 4);
  p.setVars(t.id, vars);
}

/** In-place edits of a copy of the BTF, plus appended VAR types and strings. */
class Patcher {
  private readonly btf: Btf;
  private readonly out: Uint8Array;
  private readonly view: DataView;
  private readonly extraTypes: number[] = [];
  private readonly extraStrings: string[] = [];
  private extraStrLen = 0;
  private readonly addedStrings = new Map<string, number>();

  constructor(btf: Btf) {
    this.btf = btf;
    this.out = btf.raw.slice();
    this.view = new DataView(this.out.buffer, this.out.byteOffset, this.out.byteLength);
  }

  private rec(id: number): number {
    return this.btf.typeBase + this.btf.types[id]!.recordOffset;
  }

  setInfo(id: number, kind: number, vlen: number, kindFlag: boolean): void {
    this.view.setUint32(this.rec(id) + 4, ((kindFlag ? 1 : 0) << 31) | (kind << 24) | vlen, true);
  }

  setSize(id: number, size: number): void {
    this.view.setUint32(this.rec(id) + 8, size >>> 0, true);
  }

  setRefType(id: number, type: number): void {
    this.view.setUint32(this.rec(id) + 8, type, true);
  }

  setVarLinkage(id: number, linkage: number): void {
    this.view.setUint32(this.rec(id) + BTF_TYPE_SIZE, linkage, true);
  }

  setVars(id: number, vars: readonly { type: number; offset: number; size: number }[]): void {
    const base = this.rec(id) + BTF_TYPE_SIZE;
    vars.forEach((v, i) => {
      this.view.setUint32(base + i * 12, v.type, true);
      this.view.setUint32(base + i * 12 + 4, v.offset >>> 0, true);
      this.view.setUint32(base + i * 12 + 8, v.size >>> 0, true);
    });
  }

  setParamName(protoId: number, index: number, name: string): void {
    this.view.setUint32(this.rec(protoId) + BTF_TYPE_SIZE + index * 8, this.addString(name), true);
  }

  /** Appends a VAR; returns its type id. */
  addVar(name: string, linkage: number, type: number): number {
    const id = this.btf.count + this.extraTypes.length / 4;
    this.extraTypes.push(this.addString(name), Kind.VAR << 24, type, linkage);
    return id;
  }

  private addString(s: string): number {
    const existing = this.addedStrings.get(s);
    if (existing !== undefined) return existing;
    const off = this.btf.header.strLen + this.extraStrLen;
    this.extraStrings.push(s);
    this.extraStrLen += utf8.encode(s).length + 1;
    this.addedStrings.set(s, off);
    return off;
  }

  finish(): Uint8Array {
    if (this.extraTypes.length === 0 && this.extraStrings.length === 0) return this.out;
    // Rebuild as header | types | strings with the additions appended to each section.
    const h = this.btf.header;
    const typesOld = this.out.subarray(h.hdrLen + h.typeOff, h.hdrLen + h.typeOff + h.typeLen);
    const stringsOld = this.out.subarray(h.hdrLen + h.strOff, h.hdrLen + h.strOff + h.strLen);
    const typeLen = h.typeLen + this.extraTypes.length * 4;
    const strLen = h.strLen + this.extraStrLen;
    const hdrLen = Math.max(BTF_HEADER_SIZE, h.hdrLen);
    const buf = new Uint8Array(hdrLen + typeLen + strLen);
    const v = new DataView(buf.buffer);
    buf.set(this.out.subarray(0, hdrLen), 0);
    v.setUint32(8, 0, true);
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true);
    v.setUint32(20, strLen, true);
    buf.set(typesOld, hdrLen);
    this.extraTypes.forEach((w, i) => v.setUint32(hdrLen + h.typeLen + i * 4, w >>> 0, true));
    buf.set(stringsOld, hdrLen + typeLen);
    let at = hdrLen + typeLen + h.strLen;
    for (const s of this.extraStrings) {
      const b = utf8.encode(s);
      buf.set(b, at);
      at += b.length + 1;
    }
    return buf;
  }
}
