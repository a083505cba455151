/** The BTF type model (include/uapi/linux/btf.h), as parsed by src/btf/parse.ts. */

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_HEADER_SIZE = 24;
/** Size of `struct btf_type` (name_off, info, size/type). */
export const BTF_TYPE_SIZE = 12;

export const Kind = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

export type KindName =
  | 'void'
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

export const kindNames: readonly KindName[] = [
  'void',
  'int',
  'ptr',
  'array',
  'struct',
  'union',
  'enum',
  'fwd',
  'typedef',
  'volatile',
  'const',
  'restrict',
  'func',
  'func_proto',
  'var',
  'datasec',
  'float',
  'decl_tag',
  'type_tag',
  'enum64',
];

/** BTF_INT_* encoding bits. */
export const IntEncoding = { SIGNED: 1, CHAR: 2, BOOL: 4 } as const;

/** BTF_VAR_* linkage. */
export const VarLinkage = { STATIC: 0, GLOBAL_ALLOCATED: 1, GLOBAL_EXTERN: 2 } as const;

/** BTF_FUNC_* linkage. */
export const FuncLinkage = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;

interface Base {
  /** Type id (index in Btf.types). */
  readonly id: number;
  /** Name ('' when anonymous). */
  readonly name: string;
  /** Byte offset of the btf_type record within the BTF type section (for fixups). */
  readonly recordOffset: number;
}

export interface VoidType extends Base {
  readonly kind: 'void';
}

export interface IntType extends Base {
  readonly kind: 'int';
  readonly size: number;
  readonly signed: boolean;
  readonly char: boolean;
  readonly bool: boolean;
  /** BTF_INT_OFFSET: bit offset of the value within the storage (legacy bitfield encoding). */
  readonly bitOffset: number;
  /** BTF_INT_BITS: number of value bits. */
  readonly bits: number;
}

export interface PtrType extends Base {
  readonly kind: 'ptr';
  readonly type: number;
}

export interface ArrayType extends Base {
  readonly kind: 'array';
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}

export interface Member {
  readonly name: string;
  readonly type: number;
  /** Bit offset of the member within the struct/union. */
  readonly bitOffset: number;
  /** Bitfield width in bits (kind_flag encoding); 0 when not a bitfield (or legacy int encoding). */
  readonly bitfieldSize: number;
}

export interface StructType extends Base {
  readonly kind: 'struct' | 'union';
  readonly size: number;
  /** kind_flag: member offsets carry bitfield sizes in their top 8 bits. */
  readonly kindFlag: boolean;
  readonly members: readonly Member[];
}

export interface EnumValue<T extends number | bigint> {
  readonly name: string;
  readonly value: T;
}

export interface EnumType extends Base {
  readonly kind: 'enum';
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly EnumValue<number>[];
}

export interface Enum64Type extends Base {
  readonly kind: 'enum64';
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly EnumValue<bigint>[];
}

export interface FwdType extends Base {
  readonly kind: 'fwd';
  /** Forward declaration of a union (kind_flag) rather than a struct. */
  readonly union: boolean;
}

export interface RefType extends Base {
  readonly kind: 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag';
  readonly type: number;
}

export interface FuncType extends Base {
  readonly kind: 'func';
  /** The FUNC_PROTO. */
  readonly type: number;
  readonly linkage: number;
}

export interface Param {
  readonly name: string;
  readonly type: number;
}

export interface FuncProtoType extends Base {
  readonly kind: 'func_proto';
  readonly returnType: number;
  readonly params: readonly Param[];
}

export interface VarType extends Base {
  readonly kind: 'var';
  readonly type: number;
  readonly linkage: number;
}

export interface VarSecinfo {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

export interface DatasecType extends Base {
  readonly kind: 'datasec';
  readonly size: number;
  readonly vars: readonly VarSecinfo[];
}

export interface FloatType extends Base {
  readonly kind: 'float';
  readonly size: number;
}

export interface DeclTagType extends Base {
  readonly kind: 'decl_tag';
  readonly type: number;
  /** -1: the tag applies to the type itself; else the member/parameter index. */
  readonly componentIdx: number;
}

export type BtfType =
  | VoidType
  | IntType
  | PtrType
  | ArrayType
  | StructType
  | EnumType
  | Enum64Type
  | FwdType
  | RefType
  | FuncType
  | FuncProtoType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType;
