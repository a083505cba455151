/**
 * Decoder of the raw .BTF format: header, type records of every kind, string section. Every
 * offset, count and type reference is checked; failures name the section and the offset.
 */
import { Reader, StringTable } from '../elf/reader.js';
import {
  BTF_HEADER_SIZE,
  BTF_MAGIC,
  BTF_VERSION,
  Kind,
  kindNames,
  type BtfType,
  type EnumValue,
  type Member,
  type Param,
  type VarSecinfo,
} from './kinds.js';

export interface BtfHeader {
  readonly version: number;
  readonly flags: number;
  readonly hdrLen: number;
  readonly typeOff: number;
  readonly typeLen: number;
  readonly strOff: number;
  readonly strLen: number;
}

export interface ParsedBtf {
  readonly header: BtfHeader;
  readonly types: BtfType[];
  readonly strings: StringTable;
  /** Offset of the type section within the BTF bytes (hdr_len + type_off). */
  readonly typeBase: number;
}

const BTF_MAGIC_SWAPPED = 0x9feb;
const MAX_TYPES = 0xfffff; // BTF_MAX_TYPE

export function parseBtf(bytes: Uint8Array, where = "section '.BTF'"): ParsedBtf {
  const r = new Reader(bytes, where);
  if (bytes.length < BTF_HEADER_SIZE) {
    r.fail(`BTF is ${bytes.length} bytes, too short for the BTF header (${BTF_HEADER_SIZE} bytes)`, 0);
  }
  const magic = r.u16('magic');
  if (magic === BTF_MAGIC_SWAPPED) r.fail('big-endian BTF: bpfpipe reads little-endian eBPF objects (compile with -target bpfel)', 0);
  if (magic !== BTF_MAGIC) r.fail(`bad BTF magic 0x${magic.toString(16)} (expected 0xeb9f)`, 0);
  const version = r.u8('version');
  if (version !== BTF_VERSION) r.fail(`unsupported BTF version ${version} (expected ${BTF_VERSION})`, 2);
  const flags = r.u8('flags');
  const hdrLen = r.u32('hdr_len');
  const typeOff = r.u32('type_off');
  const typeLen = r.u32('type_len');
  const strOff = r.u32('str_off');
  const strLen = r.u32('str_len');
  if (hdrLen < BTF_HEADER_SIZE || hdrLen > bytes.length) {
    r.fail(`BTF header length ${hdrLen} is not between ${BTF_HEADER_SIZE} and the section size ${bytes.length}`, 4);
  }
  const body = bytes.length - hdrLen;
  if (typeOff > body || typeLen > body - typeOff) {
    r.fail(`type section (offset ${typeOff}, length ${typeLen}) runs past the end of the BTF data (${body} bytes after the header)`, 8);
  }
  if (strOff > body || strLen > body - strOff) {
    r.fail(`string section (offset ${strOff}, length ${strLen}) runs past the end of the BTF data (${body} bytes after the header)`, 16);
  }
  if (typeOff % 4 !== 0) r.fail(`type section offset ${typeOff} is not 4-byte aligned`, 8);
  if (typeLen % 4 !== 0) r.fail(`type section length ${typeLen} is not a multiple of 4`, 12);
  if (typeLen > 0 && strLen > 0 && typeOff < strOff + strLen && strOff < typeOff + typeLen) {
    r.fail(`type section (offset ${typeOff}, length ${typeLen}) overlaps the string section (offset ${strOff}, length ${strLen})`, 8);
  }
  const strBase = hdrLen + strOff;
  const strBytes = bytes.subarray(strBase, strBase + strLen);
  if (strLen === 0 || strBytes[0] !== 0) r.fail('the string section must start with an empty string (a NUL byte)', strBase);
  if (strBytes[strLen - 1] !== 0) r.fail('the string section does not end with a NUL byte', strBase + strLen - 1);
  const strings = new StringTable(strBytes, where, strBase);
  const typeBase = hdrLen + typeOff;
  const types = parseTypes(new Reader(bytes.subarray(typeBase, typeBase + typeLen), where, typeBase), strings);
  return { header: { version, flags, hdrLen, typeOff, typeLen, strOff, strLen }, types, strings, typeBase };
}

function parseTypes(r: Reader, strings: StringTable): BtfType[] {
  const types: BtfType[] = [{ id: 0, kind: 'void', name: '', recordOffset: -1 }];
  // Where each type's references are, to check them once the count is known.
  const refs: { id: number; at: number; what: string; ref: number }[] = [];
  while (r.remaining > 0) {
    const id = types.length;
    if (id > MAX_TYPES) r.fail(`more than ${MAX_TYPES} BTF types`);
    const at = r.pos;
    const nameOff = r.u32('name_off');
    const info = r.u32('info');
    const sizeOrType = r.u32('size/type');
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kindFlag = info >>> 31 === 1;
    const loc = { where: r.where, offset: r.base + at };
    const name = strings.get(nameOff, `name of type [${id}]`, loc);
    const kname = kindNames[kind];
    const what = `type [${id}] ${kname ? kname.toUpperCase() : 'UNKNOWN'}${name ? ` '${name}'` : ''}`;
    const ref = (target: number, role: string): number => {
      refs.push({ id, at, what: `${what} ${role}`, ref: target });
      return target;
    };
    const noVlen = (): void => {
      if (vlen !== 0) r.fail(`${what} has vlen ${vlen}, expected 0`, at);
    };
    const strAt = (off: number, role: string): string => strings.get(off, `${what} ${role}`, loc);
    switch (kind) {
      case Kind.INT: {
        noVlen();
        const data = r.u32(`${what} encoding`);
        const encoding = (data >>> 24) & 0x0f;
        const bitOffset = (data >>> 16) & 0xff;
        const bits = data & 0xff;
        if (![1, 2, 4, 8, 16].includes(sizeOrType)) r.fail(`${what} has size ${sizeOrType}, expected 1, 2, 4, 8 or 16`, at);
        if (bits === 0 || bits > 128 || bitOffset + bits > sizeOrType * 8) {
          r.fail(`${what} has ${bits} bits at bit offset ${bitOffset}, which do not fit in ${sizeOrType} bytes`, at);
        }
        if (encoding !== 0 && encoding !== 1 && encoding !== 2 && encoding !== 4) r.fail(`${what} has invalid encoding ${encoding}`, at);
        types.push({ id, kind: 'int', name, recordOffset: at, size: sizeOrType, signed: encoding === 1, char: encoding === 2, bool: encoding === 4, bitOffset, bits });
        break;
      }
      case Kind.PTR:
        noVlen();
        types.push({ id, kind: 'ptr', name, recordOffset: at, type: ref(sizeOrType, 'target') });
        break;
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        noVlen();
        types.push({ id, kind: kname as 'typedef', name, recordOffset: at, type: ref(sizeOrType, 'target') });
        break;
      case Kind.ARRAY: {
        noVlen();
        const elem = r.u32(`${what} element type`);
        const index = r.u32(`${what} index type`);
        const nelems = r.u32(`${what} nelems`);
        types.push({ id, kind: 'array', name, recordOffset: at, type: ref(elem, 'element type'), indexType: ref(index, 'index type'), nelems });
        break;
      }
      case Kind.STRUCT:
      case Kind.UNION: {
        r.need(vlen * 12, `${what} members`);
        const members: Member[] = [];
        for (let i = 0; i < vlen; i++) {
          const mName = strAt(r.u32('member name_off'), `member ${i} name`);
          const mType = ref(r.u32('member type'), `member ${i} type`);
          const off = r.u32('member offset');
          members.push({
            name: mName,
            type: mType,
            bitOffset: kindFlag ? off & 0xffffff : off,
            bitfieldSize: kindFlag ? off >>> 24 : 0,
          });
        }
        for (const m of members) {
          if (Math.ceil((m.bitOffset + m.bitfieldSize) / 8) > sizeOrType) {
            r.fail(`${what} member '${m.name}' at bit offset ${m.bitOffset} lies outside the ${sizeOrType}-byte ${kname}`, at);
          }
        }
        types.push({ id, kind: kname as 'struct', name, recordOffset: at, size: sizeOrType, kindFlag, members });
        break;
      }
      case Kind.ENUM: {
        if (![1, 2, 4, 8].includes(sizeOrType)) r.fail(`${what} has size ${sizeOrType}, expected 1, 2, 4 or 8`, at);
        r.need(vlen * 8, `${what} values`);
        const values: EnumValue<number>[] = [];
        for (let i = 0; i < vlen; i++) {
          const vName = strAt(r.u32('enumerator name_off'), `enumerator ${i} name`);
          const raw = r.u32('enumerator value');
          values.push({ name: vName, value: kindFlag ? raw | 0 : raw });
        }
        types.push({ id, kind: 'enum', name, recordOffset: at, size: sizeOrType, signed: kindFlag, values });
        break;
      }
      case Kind.ENUM64: {
        if (![1, 2, 4, 8].includes(sizeOrType)) r.fail(`${what} has size ${sizeOrType}, expected 1, 2, 4 or 8`, at);
        r.need(vlen * 12, `${what} values`);
        const values: EnumValue<bigint>[] = [];
        for (let i = 0; i < vlen; i++) {
          const vName = strAt(r.u32('enumerator name_off'), `enumerator ${i} name`);
          const lo = r.u32('enumerator value (low)');
          const hi = r.u32('enumerator value (high)');
          const u = (BigInt(hi) << 32n) | BigInt(lo);
          values.push({ name: vName, value: kindFlag ? BigInt.asIntN(64, u) : u });
        }
        types.push({ id, kind: 'enum64', name, recordOffset: at, size: sizeOrType, signed: kindFlag, values });
        break;
      }
      case Kind.FWD:
        noVlen();
        types.push({ id, kind: 'fwd', name, recordOffset: at, union: kindFlag });
        break;
      case Kind.FUNC:
        if (vlen > 2) r.fail(`${what} has linkage ${vlen}, expected 0 (static), 1 (global) or 2 (extern)`, at);
        types.push({ id, kind: 'func', name, recordOffset: at, type: ref(sizeOrType, 'prototype'), linkage: vlen });
        break;
      case Kind.FUNC_PROTO: {
        r.need(vlen * 8, `${what} parameters`);
        const params: Param[] = [];
        for (let i = 0; i < vlen; i++) {
          const pName = strAt(r.u32('parameter name_off'), `parameter ${i} name`);
          params.push({ name: pName, type: ref(r.u32('parameter type'), `parameter ${i} type`) });
        }
        types.push({ id, kind: 'func_proto', name, recordOffset: at, returnType: ref(sizeOrType, 'return type'), params });
        break;
      }
      case Kind.VAR: {
        noVlen();
        const linkage = r.u32(`${what} linkage`);
        if (linkage > 2) r.fail(`${what} has linkage ${linkage}, expected 0, 1 or 2`, at);
        types.push({ id, kind: 'var', name, recordOffset: at, type: ref(sizeOrType, 'type'), linkage });
        break;
      }
      case Kind.DATASEC: {
        r.need(vlen * 12, `${what} variables`);
        const vars: VarSecinfo[] = [];
        for (let i = 0; i < vlen; i++) {
          const vType = ref(r.u32('secinfo type'), `variable ${i}`);
          vars.push({ type: vType, offset: r.u32('secinfo offset'), size: r.u32('secinfo size') });
        }
        types.push({ id, kind: 'datasec', name, recordOffset: at, size: sizeOrType, vars });
        break;
      }
      case Kind.FLOAT:
        noVlen();
        if (![2, 4, 8, 12, 16].includes(sizeOrType)) r.fail(`${what} has size ${sizeOrType}, expected 2, 4, 8, 12 or 16`, at);
        types.push({ id, kind: 'float', name, recordOffset: at, size: sizeOrType });
        break;
      case Kind.DECL_TAG: {
        noVlen();
        const componentIdx = r.i32(`${what} component_idx`);
        if (componentIdx < -1) r.fail(`${what} has component index ${componentIdx}`, at);
        types.push({ id, kind: 'decl_tag', name, recordOffset: at, type: ref(sizeOrType, 'target'), componentIdx });
        break;
      }
      default:
        r.fail(`type [${id}] has unknown BTF kind ${kind}`, at);
    }
  }
  const count = types.length;
  for (const x of refs) {
    if (x.ref >= count) r.fail(`${x.what} refers to type ${x.ref}, but there are only ${count} types`, x.at);
  }
  // Kind-specific reference checks that need the referenced type.
  for (const t of types) {
    const at = t.recordOffset;
    if (t.kind === 'func') {
      if (types[t.type]!.kind !== 'func_proto') r.fail(`type [${t.id}] FUNC '${t.name}' refers to type ${t.type}, which is not a FUNC_PROTO`, at);
    } else if (t.kind === 'datasec') {
      for (const v of t.vars) {
        const k = types[v.type]!.kind;
        if (k !== 'var' && k !== 'func') r.fail(`type [${t.id}] DATASEC '${t.name}' lists type ${v.type} (${k.toUpperCase()}), not a VAR`, at);
      }
    } else if (t.kind === 'decl_tag') {
      const target = types[t.type]!;
      if (t.componentIdx >= 0) {
        const n = target.kind === 'struct' || target.kind === 'union' ? target.members.length
          : target.kind === 'func' ? (types[target.type] as { params?: unknown[] }).params?.length ?? 0 : -1;
        if (t.componentIdx >= n) r.fail(`type [${t.id}] DECL_TAG component index ${t.componentIdx} is out of range for type ${t.type}`, at);
      }
    }
  }
  return types;
}
