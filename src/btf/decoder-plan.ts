/**
 * Layout plan of a struct/union for decoding: a tree of typed fields with byte (or bit) offsets
 * relative to the enclosing object or array element. Shared by the runtime decoder compiler
 * (decoder.ts) and the TypeScript generator (gen.ts). Every offset is checked to lie inside the
 * root type, so generated code never reads outside `size` bytes.
 */
import { BadObjectError, NotSupportedError, UsageError } from '../errors.js';
import type { Btf } from './btf.js';
import type { BtfType, EnumValue } from './kinds.js';

export type ScalarNode =
  | { readonly k: 'int'; readonly off: number; readonly size: number; readonly signed: boolean }
  | { readonly k: 'bool'; readonly off: number; readonly size: number }
  | { readonly k: 'float'; readonly off: number; readonly size: 4 | 8 }
  | { readonly k: 'ptr'; readonly off: number }
  /** Bitfield: `bits` bits at bit offset `bitOff`; `size` is the declared storage size in bytes. */
  | { readonly k: 'bits'; readonly bitOff: number; readonly bits: number; readonly signed: boolean; readonly size: number; readonly bool: boolean };

export interface EnumNode {
  readonly k: 'enum';
  readonly base: ScalarNode;
  readonly typeId: number;
  readonly name: string;
  readonly values: readonly EnumValue<number | bigint>[];
}

export interface StringNode {
  readonly k: 'string';
  readonly off: number;
  readonly len: number;
}

export interface ArrayNode {
  readonly k: 'array';
  readonly off: number;
  readonly count: number;
  readonly stride: number;
  /** Element plan, offsets relative to the element start. */
  readonly elem: Node;
}

export interface ObjectField {
  readonly name: string;
  readonly node: Node;
}

export interface ObjectNode {
  readonly k: 'object';
  readonly off: number;
  readonly typeId: number;
  /** C name of the struct/union ('' when anonymous). */
  readonly name: string;
  readonly union: boolean;
  readonly size: number;
  readonly fields: readonly ObjectField[];
}

export type Node = ScalarNode | EnumNode | StringNode | ArrayNode | ObjectNode;

/** Whether a scalar decodes to a bigint (8- and 16-byte integers, pointers). */
export function isBig(n: ScalarNode): boolean {
  return n.k === 'ptr' || ((n.k === 'int' || n.k === 'bits') && n.size >= 8);
}

const MAX_DEPTH = 64;
const MAX_NODES = 50_000;

/** Builds the plan of a struct, union or DATASEC. */
export function planType(btf: Btf, typeId: number): ObjectNode {
  const root = btf.resolve(typeId);
  if (root.kind !== 'struct' && root.kind !== 'union' && root.kind !== 'datasec') {
    throw new UsageError(`BTF type [${typeId}] (${btf.typeName(typeId)}) is not a struct or union: only structs and unions can be decoded`);
  }
  const b = new PlanBuilder(btf);
  return b.object(root, 0, 0, `${btf.typeName(root.id)}`);
}

class PlanBuilder {
  private nodes = 0;
  constructor(private readonly btf: Btf) {}

  private count(where: string): void {
    if (++this.nodes > MAX_NODES) throw new NotSupportedError(`${where}: the type has more than ${MAX_NODES} fields once arrays of structs are expanded; decode it in parts`);
  }

  object(t: BtfType, off: number, depth: number, where: string): ObjectNode {
    if (depth > MAX_DEPTH) throw new BadObjectError(`BTF: ${where}: structs nest more than ${MAX_DEPTH} deep (cyclic type?)`);
    const fields: ObjectField[] = [];
    if (t.kind === 'datasec') {
      for (const v of t.vars) {
        const vt = this.btf.typeById(v.type);
        if (vt.kind !== 'var') continue;
        const sz = this.size(vt.type, `${where}.${vt.name}`);
        if (v.offset + sz > t.size) throw new BadObjectError(`BTF: ${where}: variable '${vt.name}' (offset ${v.offset}, ${sz} bytes) lies outside the ${t.size}-byte section`);
        fields.push({ name: vt.name, node: this.member(vt.type, v.offset * 8, 0, t.size, depth + 1, `${where}.${vt.name}`) });
      }
      return { k: 'object', off, typeId: t.id, name: t.name, union: false, size: t.size, fields };
    }
    if (t.kind !== 'struct' && t.kind !== 'union') throw new BadObjectError(`BTF: ${where} is not a struct`);
    for (const m of t.members) {
      const mwhere = `${where}.${m.name || '(anon)'}`;
      const node = this.member(m.type, m.bitOffset, m.bitfieldSize, t.size, depth + 1, mwhere);
      if (m.name === '' && node.k === 'object') {
        // Anonymous struct/union: its members belong to the parent, as in C.
        for (const f of node.fields) fields.push({ name: f.name, node: shift(f.node, node.off) });
      } else if (m.name === '') {
        continue; // anonymous non-struct member (padding bitfield `int :3`): nothing to name
      } else {
        fields.push({ name: m.name, node });
      }
    }
    return { k: 'object', off, typeId: t.id, name: t.name, union: t.kind === 'union', size: t.size, fields };
  }

  private size(typeId: number, where: string): number {
    try {
      return this.btf.sizeof(typeId);
    } catch (e) {
      throw new BadObjectError(`BTF: ${where}: ${(e as Error).message}`);
    }
  }

  /** A member at `bitOffset` within a parent of `parentSize` bytes. */
  private member(typeId: number, bitOffset: number, bitfieldSize: number, parentSize: number, depth: number, where: string): Node {
    this.count(where);
    const t = this.btf.resolve(typeId);
    const bitsEnd = bitOffset + (bitfieldSize || 0);
    if (bitfieldSize > 0) {
      if (bitsEnd > parentSize * 8) throw new BadObjectError(`BTF: ${where}: bitfield (bit ${bitOffset}, ${bitfieldSize} bits) lies outside its ${parentSize}-byte parent`);
      return this.bitfield(t, bitOffset, bitfieldSize, where);
    }
    // Legacy bitfield encoding: an INT with fewer bits, or a member that is not byte-aligned.
    if (t.kind === 'int' && (t.bitOffset !== 0 || t.bits !== t.size * 8 || bitOffset % 8 !== 0)) {
      const start = bitOffset + t.bitOffset;
      if (start + t.bits > parentSize * 8) throw new BadObjectError(`BTF: ${where}: bitfield (bit ${start}, ${t.bits} bits) lies outside its ${parentSize}-byte parent`);
      return this.bitfield(t, start, t.bits, where);
    }
    if (bitOffset % 8 !== 0) throw new BadObjectError(`BTF: ${where}: member at bit offset ${bitOffset} is not byte-aligned`);
    const off = bitOffset / 8;
    const sz = this.size(t.id, where);
    if (off + sz > parentSize) throw new BadObjectError(`BTF: ${where}: member (offset ${off}, ${sz} bytes) lies outside its ${parentSize}-byte parent`);
    return this.value(t, off, depth, where);
  }

  private bitfield(t: BtfType, bitOff: number, bits: number, where: string): Node {
    if (t.kind === 'int') {
      if (bits > t.size * 8) throw new BadObjectError(`BTF: ${where}: bitfield of ${bits} bits in a ${t.size}-byte int`);
      return { k: 'bits', bitOff, bits, signed: t.signed, size: t.size, bool: t.bool };
    }
    if (t.kind === 'enum' || t.kind === 'enum64') {
      if (bits > t.size * 8) throw new BadObjectError(`BTF: ${where}: bitfield of ${bits} bits in a ${t.size}-byte enum`);
      return { k: 'enum', typeId: t.id, name: t.name, values: t.values, base: { k: 'bits', bitOff, bits, signed: t.signed, size: t.size, bool: false } };
    }
    throw new BadObjectError(`BTF: ${where}: bitfield of type ${t.kind.toUpperCase()} (only ints and enums can be bitfields)`);
  }

  private value(t: BtfType, off: number, depth: number, where: string): Node {
    switch (t.kind) {
      case 'int':
        if (t.bool) return { k: 'bool', off, size: t.size };
        return { k: 'int', off, size: t.size, signed: t.signed };
      case 'enum':
      case 'enum64':
        return { k: 'enum', typeId: t.id, name: t.name, values: t.values, base: { k: 'int', off, size: t.size, signed: t.signed } };
      case 'ptr':
        return { k: 'ptr', off };
      case 'float':
        if (t.size !== 4 && t.size !== 8) throw new NotSupportedError(`BTF: ${where}: ${t.size}-byte floating point values cannot be decoded`);
        return { k: 'float', off, size: t.size };
      case 'struct':
      case 'union':
        return this.object(t, off, depth, where);
      case 'array': {
        const elemT = this.btf.resolve(t.type);
        if (elemT.kind === 'int' && elemT.size === 1 && (elemT.char || elemT.name === 'char') && !elemT.bool) {
          return { k: 'string', off, len: t.nelems };
        }
        if (depth > MAX_DEPTH) throw new BadObjectError(`BTF: ${where}: arrays nest more than ${MAX_DEPTH} deep (cyclic type?)`);
        const stride = this.size(elemT.id, where);
        let elem: Node;
        if (elemT.kind === 'int' && (elemT.bitOffset !== 0 || elemT.bits !== elemT.size * 8)) {
          elem = this.bitfield(elemT, elemT.bitOffset, elemT.bits, where);
        } else {
          elem = this.value(elemT, 0, depth + 1, `${where}[]`);
        }
        // Zero-size elements (empty structs) carry no data: decode as an empty array, never loop 2^32 times.
        return { k: 'array', off, count: stride === 0 ? 0 : t.nelems, stride, elem };
      }
      default:
        throw new BadObjectError(`BTF: ${where}: a member of type ${t.kind.toUpperCase()}${t.name ? ` '${t.name}'` : ''} cannot be decoded`);
    }
  }
}

/** Moves a node by `by` bytes (used when merging anonymous members into their parent). */
function shift(n: Node, by: number): Node {
  if (by === 0) return n;
  switch (n.k) {
    case 'bits':
      return { ...n, bitOff: n.bitOff + by * 8 };
    case 'enum':
      return { ...n, base: shift(n.base, by) as ScalarNode };
    default:
      return { ...n, off: n.off + by };
  }
}
