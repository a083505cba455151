/**
 * Parsed BTF: the types of an object (or of any BTF blob) with lookups, size and alignment.
 * Type chains in malformed BTF can be cyclic: every walk is bounded and fails with BadObjectError.
 */
import { BadObjectError } from '../errors.js';
import type { StringTable } from '../elf/reader.js';
import type { BtfType, KindName } from './kinds.js';
import { parseBtf, type BtfHeader } from './parse.js';

/** The kernel's MAX_RESOLVE_DEPTH: the longest chain of modifiers/typedefs/arrays it follows. */
export const MAX_RESOLVE_DEPTH = 32;

const MODIFIERS = new Set<KindName>(['typedef', 'const', 'volatile', 'restrict', 'type_tag']);
const POINTER_SIZE = 8;

export class Btf {
  /** The bytes this BTF was parsed from. */
  readonly raw: Uint8Array;
  readonly header: BtfHeader;
  /** All types, indexed by id; [0] is void. */
  readonly types: readonly BtfType[];
  readonly strings: StringTable;
  /** Offset of the type section within `raw`. */
  readonly typeBase: number;
  private byName: Map<string, BtfType[]> | undefined;

  private constructor(raw: Uint8Array, header: BtfHeader, types: BtfType[], strings: StringTable, typeBase: number) {
    this.raw = raw;
    this.header = header;
    this.types = types;
    this.strings = strings;
    this.typeBase = typeBase;
  }

  /** Parses .BTF bytes. `where` names the source in error messages. */
  static parse(bytes: Uint8Array, where = "section '.BTF'"): Btf {
    const p = parseBtf(bytes, where);
    return new Btf(bytes, p.header, p.types, p.strings, p.typeBase);
  }

  /** Number of types including void. */
  get count(): number {
    return this.types.length;
  }

  typeById(id: number): BtfType {
    const t = Number.isInteger(id) && id >= 0 ? this.types[id] : undefined;
    if (!t) throw new BadObjectError(`BTF: type id ${id} does not exist (there are ${this.types.length} types)`);
    return t;
  }

  /** The first type named `name` (of kind `kind` when given). */
  findByName(name: string, kind?: KindName): BtfType | undefined {
    return this.findAllByName(name, kind)[0];
  }

  findAllByName(name: string, kind?: KindName): BtfType[] {
    if (!this.byName) {
      this.byName = new Map();
      for (const t of this.types) {
        if (t.name === '') continue;
        const list = this.byName.get(t.name);
        if (list) list.push(t);
        else this.byName.set(t.name, [t]);
      }
    }
    const all = this.byName.get(name) ?? [];
    return kind === undefined ? all.slice() : all.filter((t) => t.kind === kind);
  }

  /** Follows typedef/const/volatile/restrict/type_tag to the underlying type. */
  resolve(id: number): BtfType {
    let t = this.typeById(id);
    for (let depth = 0; MODIFIERS.has(t.kind); depth++) {
      if (depth >= MAX_RESOLVE_DEPTH) {
        throw new BadObjectError(`BTF: type [${id}] is a chain of more than ${MAX_RESOLVE_DEPTH} typedefs/modifiers (cyclic?)`);
      }
      t = this.typeById((t as { type: number }).type);
    }
    return t;
  }

  /** Size in bytes of a type (after resolving modifiers); arrays multiply out. */
  sizeof(id: number): number {
    return this.sizeOf(id, 0);
  }

  private sizeOf(id: number, depth: number): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BadObjectError(`BTF: type [${id}] nests arrays/modifiers more than ${MAX_RESOLVE_DEPTH} deep (cyclic?)`);
    const t = this.typeById(id);
    switch (t.kind) {
      case 'int':
      case 'enum':
      case 'enum64':
      case 'struct':
      case 'union':
      case 'float':
      case 'datasec':
        return t.size;
      case 'ptr':
        return POINTER_SIZE;
      case 'typedef':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
      case 'var':
        return this.sizeOf(t.type, depth + 1);
      case 'array': {
        const n = t.nelems * this.sizeOf(t.type, depth + 1);
        if (n > 0xffffffff) throw new BadObjectError(`BTF: array type [${id}] is ${n} bytes, larger than 4 GiB`);
        return n;
      }
      default:
        throw new BadObjectError(`BTF: type [${id}] (${t.kind.toUpperCase()}${t.name ? ` '${t.name}'` : ''}) has no size`);
    }
  }

  /** Natural alignment in bytes (libbpf btf__align_of semantics; packed structs align to 1). */
  alignment(id: number): number {
    return this.alignOf(id, 0);
  }

  private alignOf(id: number, depth: number): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BadObjectError(`BTF: type [${id}] nests more than ${MAX_RESOLVE_DEPTH} deep (cyclic?)`);
    const t = this.typeById(id);
    switch (t.kind) {
      case 'int':
      case 'enum':
      case 'enum64':
      case 'float':
        return Math.min(t.size, POINTER_SIZE);
      case 'ptr':
        return POINTER_SIZE;
      case 'typedef':
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
      case 'var':
      case 'array':
        return this.alignOf(t.type, depth + 1);
      case 'struct':
      case 'union': {
        let max = 1;
        for (const m of t.members) {
          const a = this.alignOf(m.type, depth + 1);
          // A member that is not naturally aligned means the struct is packed.
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
          max = Math.max(max, a);
        }
        if (t.size % max !== 0) return 1;
        return max;
      }
      default:
        throw new BadObjectError(`BTF: type [${id}] (${t.kind.toUpperCase()}) has no alignment`);
    }
  }

  /** A C-like name for messages: "struct event", "__u32", "char[8]", "void *". */
  typeName(id: number): string {
    return this.nameOf(id, 0);
  }

  private nameOf(id: number, depth: number): string {
    if (depth > MAX_RESOLVE_DEPTH) return '…';
    const t = this.types[id];
    if (!t) return `type ${id}`;
    switch (t.kind) {
      case 'void':
        return 'void';
      case 'struct':
      case 'union':
      case 'enum':
      case 'fwd':
        return `${t.kind === 'fwd' ? (t.union ? 'union' : 'struct') : t.kind === 'enum' ? 'enum' : t.kind} ${t.name || '(anon)'}`;
      case 'enum64':
        return `enum ${t.name || '(anon)'}`;
      case 'ptr':
        return `${this.nameOf(t.type, depth + 1)} *`;
      case 'array':
        return `${this.nameOf(t.type, depth + 1)}[${t.nelems}]`;
      case 'const':
      case 'volatile':
      case 'restrict':
        return `${t.kind} ${this.nameOf(t.type, depth + 1)}`;
      case 'type_tag':
        return this.nameOf(t.type, depth + 1);
      case 'func_proto':
        return 'function';
      default:
        return t.name || `(anon ${t.kind})`;
    }
  }
}
