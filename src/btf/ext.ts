/**
 * .BTF.ext: per-section func_info, line_info and CO-RE relocation records, as clang emits them
 * (instruction offsets in bytes from the start of the ELF section).
 */
import { Reader } from '../elf/reader.js';
import type { Btf } from './btf.js';

export interface FuncInfoRecord {
  /** Byte offset of the function's first instruction in its section. */
  readonly insnOff: number;
  readonly typeId: number;
}

export interface LineInfoRecord {
  readonly insnOff: number;
  /** Offsets into the BTF string section. */
  readonly fileNameOff: number;
  readonly lineOff: number;
  /** line << 10 | column */
  readonly lineCol: number;
}

export interface CoreReloRecord {
  readonly insnOff: number;
  readonly typeId: number;
  readonly accessStrOff: number;
  readonly kind: number;
}

export interface BtfExt {
  /** Records per ELF section name. */
  readonly funcInfo: ReadonlyMap<string, readonly FuncInfoRecord[]>;
  readonly lineInfo: ReadonlyMap<string, readonly LineInfoRecord[]>;
  readonly coreRelos: ReadonlyMap<string, readonly CoreReloRecord[]>;
}

const BTF_MAGIC = 0xeb9f;
const MIN_HEADER = 24;
const CORE_HEADER = 32;
export const FUNC_INFO_SIZE = 8;
export const LINE_INFO_SIZE = 16;
const CORE_RELO_SIZE = 16;
/** enum bpf_core_relo_kind: highest known value (BPF_CORE_TYPE_MATCHES). */
const MAX_CORE_RELO_KIND = 12;

export function parseBtfExt(bytes: Uint8Array, btf: Btf, where = "section '.BTF.ext'"): BtfExt {
  const r = new Reader(bytes, where);
  if (bytes.length < MIN_HEADER) r.fail(`.BTF.ext is ${bytes.length} bytes, too short for its header (${MIN_HEADER} bytes)`, 0);
  const magic = r.u16('magic');
  if (magic === 0x9feb) r.fail('big-endian .BTF.ext: bpfpipe reads little-endian eBPF objects', 0);
  if (magic !== BTF_MAGIC) r.fail(`bad .BTF.ext magic 0x${magic.toString(16)} (expected 0xeb9f)`, 0);
  const version = r.u8('version');
  if (version !== 1) r.fail(`unsupported .BTF.ext version ${version} (expected 1)`, 2);
  r.u8('flags');
  const hdrLen = r.u32('hdr_len');
  if (hdrLen < MIN_HEADER || hdrLen > bytes.length) r.fail(`.BTF.ext header length ${hdrLen} is not between ${MIN_HEADER} and the section size ${bytes.length}`, 4);
  const funcOff = r.u32('func_info_off');
  const funcLen = r.u32('func_info_len');
  const lineOff = r.u32('line_info_off');
  const lineLen = r.u32('line_info_len');
  let coreOff = 0;
  let coreLen = 0;
  if (hdrLen >= CORE_HEADER) {
    coreOff = r.u32('core_relo_off');
    coreLen = r.u32('core_relo_len');
  }

  const sub = (off: number, len: number, what: string, at: number): Reader | undefined => {
    if (len === 0) return undefined;
    const body = bytes.length - hdrLen;
    if (off > body || len > body - off) r.fail(`${what} (offset ${off}, length ${len}) runs past the end of .BTF.ext`, at);
    return r.sub(hdrLen + off, len, what);
  };

  const funcInfo = readInfo(sub(funcOff, funcLen, 'func_info', 8), 'func_info', FUNC_INFO_SIZE, btf, (s) => {
    const insnOff = s.u32('insn_off');
    const typeId = s.u32('type_id');
    if (typeId === 0 || typeId >= btf.count || btf.types[typeId]!.kind !== 'func') {
      s.fail(`func_info type id ${typeId} is not a BTF FUNC`, s.pos - 4);
    }
    return { insnOff, typeId };
  });
  const lineInfo = readInfo(sub(lineOff, lineLen, 'line_info', 16), 'line_info', LINE_INFO_SIZE, btf, (s) => {
    const insnOff = s.u32('insn_off');
    const fileNameOff = s.u32('file_name_off');
    const lineOffV = s.u32('line_off');
    const lineCol = s.u32('line_col');
    if (!btf.strings.has(fileNameOff) || !btf.strings.has(lineOffV)) {
      s.fail(`line_info string offsets ${fileNameOff}/${lineOffV} are outside the BTF string section (size ${btf.strings.size})`, s.pos - 16);
    }
    return { insnOff, fileNameOff, lineOff: lineOffV, lineCol };
  });
  const coreRelos = readInfo(sub(coreOff, coreLen, 'core_relo', 24), 'core_relo', CORE_RELO_SIZE, btf, (s) => {
    const at = s.pos;
    const insnOff = s.u32('insn_off');
    const typeId = s.u32('type_id');
    const accessStrOff = s.u32('access_str_off');
    const kind = s.u32('kind');
    if (typeId >= btf.count) s.fail(`CO-RE relocation refers to type ${typeId}, but there are only ${btf.count} types`, at);
    if (kind > MAX_CORE_RELO_KIND) s.fail(`CO-RE relocation has unknown kind ${kind}`, at);
    btf.strings.get(accessStrOff, 'CO-RE access string', { where: s.where, offset: s.base + at });
    return { insnOff, typeId, accessStrOff, kind };
  });
  return { funcInfo, lineInfo, coreRelos };
}

function readInfo<T>(
  r: Reader | undefined,
  what: string,
  minRecord: number,
  btf: Btf,
  read: (r: Reader) => T,
): Map<string, T[]> {
  const out = new Map<string, T[]>();
  if (!r) return out;
  const recSize = r.u32(`${what} record size`);
  if (recSize < minRecord || recSize % 4 !== 0) r.fail(`${what} record size ${recSize} is invalid (at least ${minRecord}, a multiple of 4)`, 0);
  while (r.remaining > 0) {
    const at = r.pos;
    const nameOff = r.u32(`${what} section name_off`);
    const num = r.u32(`${what} record count`);
    const sec = btf.strings.get(nameOff, `${what} section name`, { where: r.where, offset: r.base + at });
    if (num === 0) r.fail(`${what} for section '${sec}' has no records`, at);
    if (num > Math.floor(r.remaining / recSize)) r.fail(`${what} for section '${sec}': ${num} records of ${recSize} bytes run past the end`, at);
    const list = out.get(sec) ?? [];
    for (let i = 0; i < num; i++) {
      const rec = r.pos;
      list.push(read(r));
      r.seek(rec + recSize);
    }
    out.set(sec, list);
  }
  return out;
}
