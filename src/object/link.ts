/**
 * Links one program as libbpf does (bpf_object__reloc_code / append_subprog): the program's own
 * function first, then every function it calls or takes the address of, depth first, each once;
 * call immediates become offsets relative to the linked layout; func_info/line_info are re-based.
 */
import { badObject } from '../elf/reader.js';
import { sectionWhere } from '../elf/elf-file.js';
import { NotSupportedError } from '../errors.js';
import { FUNC_INFO_SIZE, LINE_INFO_SIZE, type BtfExt } from '../btf/ext.js';
import { INSN_SIZE, refKey, type Code, type Func } from './code.js';
import type { MapRef } from './types.js';
import { Pseudo } from './uapi.js';

export interface LinkedProgram {
  readonly instructions: Uint8Array;
  readonly mapRefs: MapRef[];
  readonly functions: { readonly name: string; readonly start: number }[];
  readonly funcInfo: Uint8Array | undefined;
  readonly lineInfo: Uint8Array | undefined;
}

export function linkProgram(main: Func, code: Code, ext: BtfExt | undefined): LinkedProgram {
  const placed = new Map<Func, number>();
  const order: Func[] = [];
  let total = 0;
  const append = (fn: Func): number => {
    const start = total;
    placed.set(fn, start);
    order.push(fn);
    total += fn.count;
    return start;
  };
  const mapRefs: MapRef[] = [];
  const patches: { insn: number; imm: number; srcReg?: number; clearNext?: boolean }[] = [];

  append(main);
  const stack: { fn: Func; start: number; i: number }[] = [{ fn: main, start: 0, i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.fn.count) {
      stack.pop();
      continue;
    }
    const i = top.i++;
    const ref = code.refs.get(refKey(top.fn.section.index, top.fn.start + i));
    if (!ref) continue;
    const at = top.start + i;
    if (ref.k === 'map') {
      if (i + 1 >= top.fn.count) {
        throw badObject(sectionWhere(top.fn.section.name), (top.fn.start + i) * INSN_SIZE, `ld_imm64 at the end of function '${top.fn.name}' is cut off`);
      }
      mapRefs.push({ insn: at, map: ref.map.spec.name, kind: ref.kind, offset: ref.offset });
      patches.push({ insn: at, imm: 0, clearNext: true });
      continue;
    }
    let target = placed.get(ref.target);
    if (target === undefined) {
      target = append(ref.target);
      stack.push({ fn: ref.target, start: target, i: 0 });
    }
    patches.push({ insn: at, imm: target - (at + 1), srcReg: ref.how === 'addr' ? Pseudo.FUNC : undefined });
  }

  const instructions = new Uint8Array(total * INSN_SIZE);
  for (const fn of order) {
    const from = fn.start * INSN_SIZE;
    instructions.set(fn.section.data.subarray(from, from + fn.count * INSN_SIZE), placed.get(fn)! * INSN_SIZE);
  }
  const view = new DataView(instructions.buffer);
  for (const p of patches) {
    const off = p.insn * INSN_SIZE;
    view.setInt32(off + 4, p.imm, true);
    if (p.srcReg !== undefined) view.setUint8(off + 1, (view.getUint8(off + 1) & 0x0f) | (p.srcReg << 4));
    if (p.clearNext) view.setInt32(off + INSN_SIZE + 4, 0, true);
  }

  mapRefs.sort((a, b) => a.insn - b.insn);
  const functions = order.map((fn) => ({ name: fn.name, start: placed.get(fn)! }));
  let funcInfo: Uint8Array | undefined;
  let lineInfo: Uint8Array | undefined;
  if (ext) {
    checkCoRe(main, order, ext);
    const fi = rebase(order, placed, ext.funcInfo, (r) => r.insnOff, 'func_info');
    const li = rebase(order, placed, ext.lineInfo, (r) => r.insnOff, 'line_info');
    if (fi) {
      funcInfo = new Uint8Array(fi.length * FUNC_INFO_SIZE);
      const v = new DataView(funcInfo.buffer);
      fi.forEach(({ rec, insn }, k) => {
        v.setUint32(k * FUNC_INFO_SIZE, insn, true);
        v.setUint32(k * FUNC_INFO_SIZE + 4, rec.typeId, true);
      });
      if (li) {
        lineInfo = new Uint8Array(li.length * LINE_INFO_SIZE);
        const w = new DataView(lineInfo.buffer);
        li.forEach(({ rec, insn }, k) => {
          const o = k * LINE_INFO_SIZE;
          w.setUint32(o, insn, true);
          w.setUint32(o + 4, rec.fileNameOff, true);
          w.setUint32(o + 8, rec.lineOff, true);
          w.setUint32(o + 12, rec.lineCol, true);
        });
      }
    }
  }
  return { instructions, mapRefs, functions, funcInfo, lineInfo };
}

/**
 * Records of each linked function, with instruction offsets moved to the linked layout. Undefined
 * when some function has none (the kernel wants them for every function or not at all).
 */
function rebase<T>(
  order: readonly Func[],
  placed: ReadonlyMap<Func, number>,
  bySection: ReadonlyMap<string, readonly T[]>,
  insnOff: (r: T) => number,
  what: string,
): { rec: T; insn: number }[] | undefined {
  const out: { rec: T; insn: number }[] = [];
  for (const fn of order) {
    const recs = bySection.get(fn.section.name);
    if (!recs) return undefined;
    const lo = fn.start * INSN_SIZE;
    const hi = (fn.start + fn.count) * INSN_SIZE;
    let found = false;
    for (const rec of recs) {
      const off = insnOff(rec);
      if (off < lo || off >= hi) continue;
      if (off % INSN_SIZE !== 0) {
        throw badObject("section '.BTF.ext'", 0, `${what} record for section '${fn.section.name}' has instruction offset ${off}, not a multiple of 8`);
      }
      out.push({ rec, insn: placed.get(fn)! + (off - lo) / INSN_SIZE });
      found = true;
    }
    if (!found) return undefined;
  }
  return out;
}

function checkCoRe(main: Func, order: readonly Func[], ext: BtfExt): void {
  for (const fn of order) {
    const recs = ext.coreRelos.get(fn.section.name);
    if (!recs) continue;
    const lo = fn.start * INSN_SIZE;
    const hi = (fn.start + fn.count) * INSN_SIZE;
    const n = recs.filter((r) => r.insnOff >= lo && r.insnOff < hi).length;
    if (n > 0) {
      throw new NotSupportedError(
        `program '${main.name}' uses ${n} CO-RE relocation(s) in function '${fn.name}' (section '${fn.section.name}'), which bpfpipe cannot apply: ` +
          'avoid BPF_CORE_READ/__builtin_preserve_access_index and vmlinux.h types with preserve_access_index',
      );
    }
  }
}
