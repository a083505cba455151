/**
 * libbpf-style BTF map definitions (SEC(".maps")): a struct whose members encode the attributes.
 * `__uint(name, val)` is `int (*name)[val]` (the value is the array length), `__type(name, T)` is
 * `T *name`, `__array(values, T)` is `T *values[]`.
 */
import { BadObjectError } from '../errors.js';
import type { Btf } from './btf.js';

export interface BtfMapDef {
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** LIBBPF_PIN_NONE (0) or LIBBPF_PIN_BY_NAME (1). */
  readonly pinning: number;
  readonly keyTypeId: number | undefined;
  readonly valueTypeId: number | undefined;
  readonly numaNode: number | undefined;
  readonly mapExtra: bigint | undefined;
  /** Inner map prototype of an array/hash of maps (`__array(values, struct {...})`). */
  readonly inner: BtfMapDef | undefined;
}

const MAP_TYPE_PROG_ARRAY = 3;
const MAP_TYPE_ARRAY_OF_MAPS = 12;
const MAP_TYPE_HASH_OF_MAPS = 13;

const INT_FIELDS = ['type', 'max_entries', 'map_flags', 'numa_node', 'key_size', 'value_size', 'pinning'] as const;

/**
 * Parses the map definition whose struct type is `defTypeId` (the VAR's type, modifiers allowed).
 * `name` is used in messages only.
 */
export function parseBtfMapDef(btf: Btf, defTypeId: number, name: string, inner = false): BtfMapDef {
  const fail: (msg: string) => never = (msg) => {
    throw new BadObjectError(`section '.maps': map '${name}': ${msg}`);
  };
  const def = btf.resolve(defTypeId);
  if (def.kind !== 'struct') fail(`definition is a ${def.kind.toUpperCase()}, expected a struct`);
  const ints = new Map<string, number>();
  let keyTypeId: number | undefined;
  let valueTypeId: number | undefined;
  let valuesMember: { type: number } | undefined;
  let mapExtra: bigint | undefined;

  if (def.kind !== 'struct') return fail('unreachable');
  for (const m of def.members) {
    if (m.name === '') fail('unnamed member in the definition');
    if ((INT_FIELDS as readonly string[]).includes(m.name)) {
      if (ints.has(m.name)) fail(`attribute '${m.name}' is given twice`);
      ints.set(m.name, fieldInt(btf, m.type, m.name, fail));
    } else if (m.name === 'map_extra') {
      mapExtra = fieldLong(btf, m.type, m.name, fail);
    } else if (m.name === 'key' || m.name === 'value') {
      const t = btf.resolve(m.type);
      if (t.kind !== 'ptr') fail(`attribute '${m.name}' must be declared with __type() (a pointer), found ${t.kind.toUpperCase()}`);
      const target = (t as { type: number }).type;
      if (m.name === 'key') keyTypeId = target;
      else valueTypeId = target;
    } else if (m.name === 'values') {
      valuesMember = { type: m.type };
    } else {
      fail(`unknown attribute '${m.name}' (bpfpipe knows type, key, value, key_size, value_size, max_entries, map_flags, pinning, numa_node, map_extra, values)`);
    }
  }

  const type = ints.get('type') ?? 0;
  let keySize = ints.get('key_size');
  let valueSize = ints.get('value_size');
  if (keyTypeId !== undefined) {
    const sz = sizeOf(btf, keyTypeId, 'key', fail);
    if (keySize !== undefined && keySize !== sz) fail(`key_size ${keySize} does not match the size of the key type (${sz})`);
    keySize = sz;
  }
  if (valueTypeId !== undefined) {
    const sz = sizeOf(btf, valueTypeId, 'value', fail);
    if (valueSize !== undefined && valueSize !== sz) fail(`value_size ${valueSize} does not match the size of the value type (${sz})`);
    valueSize = sz;
  }

  let innerDef: BtfMapDef | undefined;
  if (valuesMember) {
    if (inner) fail("an inner map definition cannot have 'values'");
    const arr = btf.resolve(valuesMember.type);
    if (arr.kind !== 'array' || arr.nelems !== 0) fail("attribute 'values' must be declared with __array() (a flexible array of pointers)");
    const ptr = btf.resolve((arr as { type: number }).type);
    if (ptr.kind !== 'ptr') fail("attribute 'values' must be an array of pointers");
    const target = btf.resolve((ptr as { type: number }).type);
    if (type === MAP_TYPE_ARRAY_OF_MAPS || type === MAP_TYPE_HASH_OF_MAPS) {
      if (target.kind !== 'struct') fail("'values' of a map of maps must point to an inner map definition (a struct)");
      innerDef = parseBtfMapDef(btf, target.id, `${name}.inner`, true);
      if (valueSize !== undefined && valueSize !== 4) fail(`value_size ${valueSize} of a map of maps must be 4 (a map id)`);
      valueSize = 4;
    } else if (type === MAP_TYPE_PROG_ARRAY) {
      if (target.kind !== 'func_proto') fail("'values' of a program array must point to a function type");
      if (valueSize !== undefined && valueSize !== 4) fail(`value_size ${valueSize} of a program array must be 4`);
      valueSize = 4;
    } else {
      fail(`'values' is only valid for maps of maps and program arrays (map type ${type})`);
    }
  }

  const pinning = ints.get('pinning') ?? 0;
  if (pinning !== 0 && pinning !== 1) fail(`pinning ${pinning} is not LIBBPF_PIN_NONE (0) or LIBBPF_PIN_BY_NAME (1)`);
  return {
    type,
    keySize: keySize ?? 0,
    valueSize: valueSize ?? 0,
    maxEntries: ints.get('max_entries') ?? 0,
    flags: ints.get('map_flags') ?? 0,
    pinning,
    keyTypeId,
    valueTypeId,
    numaNode: ints.get('numa_node'),
    mapExtra,
    inner: innerDef,
  };
}

/** `__uint(name, val)`: a pointer to an array whose length is the value. */
function fieldInt(btf: Btf, typeId: number, name: string, fail: (m: string) => never): number {
  const ptr = btf.resolve(typeId);
  if (ptr.kind !== 'ptr') fail(`attribute '${name}' must be declared with __uint() (a pointer to an array), found ${ptr.kind.toUpperCase()}`);
  const arr = btf.resolve((ptr as { type: number }).type);
  if (arr.kind !== 'array') fail(`attribute '${name}' must be declared with __uint() (a pointer to an array), found a pointer to ${arr.kind.toUpperCase()}`);
  return (arr as { nelems: number }).nelems;
}

/** `__ulong(name, val)`: an enum with one enumerator holding the value; __uint() also accepted. */
function fieldLong(btf: Btf, typeId: number, name: string, fail: (m: string) => never): bigint {
  const t = btf.resolve(typeId);
  if (t.kind === 'ptr') return BigInt(fieldInt(btf, typeId, name, fail));
  if ((t.kind === 'enum' || t.kind === 'enum64') && t.values.length === 1) return BigInt(t.values[0]!.value);
  return fail(`attribute '${name}' must be declared with __ulong() or __uint()`);
}

function sizeOf(btf: Btf, id: number, what: string, fail: (m: string) => never): number {
  try {
    return btf.sizeof(id);
  } catch (e) {
    return fail(`cannot determine the size of the ${what} type: ${(e as Error).message}`);
  }
}
