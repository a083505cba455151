/**
 * Global variables of an object (.data, .rodata, .bss and friends), located by name through the
 * object's BTF DATASECs (as fixed up for loading, so offsets are real). .rodata can only be set before
 * the load (it is frozen afterwards); .data and .bss can be read and written while programs run.
 */
import { Btf } from '../btf/btf.js';
import type { ObjectSpecShape } from '../object/types.js';
import { UsageError } from '../errors.js';

export interface GlobalVar {
  name: string;
  /** The global data map that holds it (its section name). */
  section: string;
  offset: number;
  size: number;
  typeId: number;
}

const cache = new WeakMap<object, Map<string, GlobalVar>>();

export function globalsOf(spec: ObjectSpecShape): Map<string, GlobalVar> {
  const hit = cache.get(spec);
  if (hit) return hit;
  const out = new Map<string, GlobalVar>();
  if (spec.btfBytes) {
    const btf = Btf.parse(spec.btfBytes);
    for (let id = 1; id < btf.count; id++) {
      const t = btf.typeById(id);
      if (t.kind !== 'datasec' || !spec.maps.some((m) => m.origin === 'data' && m.name === t.name)) continue;
      for (const v of t.vars) {
        const vt = btf.typeById(v.type);
        if (vt.kind !== 'var') continue;
        out.set(vt.name, { name: vt.name, section: t.name, offset: v.offset, size: v.size, typeId: vt.type });
      }
    }
  }
  cache.set(spec, out);
  return out;
}

export function findGlobal(spec: ObjectSpecShape, name: string): GlobalVar {
  const g = globalsOf(spec).get(name);
  if (!g) {
    const names = [...globalsOf(spec).keys()];
    throw new UsageError(`no global variable '${name}' in the object (globals: ${names.join(', ') || 'none'})`);
  }
  return g;
}

/** Encode a value for a global of `size` bytes: numbers/bigints little-endian, bytes as given. */
export function encodeGlobal(g: GlobalVar, value: number | bigint | Uint8Array | string): Uint8Array {
  if (value instanceof Uint8Array || typeof value === 'string') {
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
    if (bytes.byteLength > g.size) throw new UsageError(`global '${g.name}' is ${g.size} bytes; got ${bytes.byteLength}`);
    const out = new Uint8Array(g.size);
    out.set(bytes);
    return out;
  }
  if (![1, 2, 4, 8].includes(g.size)) throw new UsageError(`global '${g.name}' is ${g.size} bytes: give its value as bytes`);
  const out = new Uint8Array(g.size);
  const v = new DataView(out.buffer);
  const big = BigInt(value);
  if (big < -(1n << BigInt(g.size * 8 - 1)) || big >= 1n << BigInt(g.size * 8)) {
    throw new UsageError(`value ${value} does not fit in global '${g.name}' (${g.size} bytes)`);
  }
  const u = BigInt.asUintN(g.size * 8, big);
  if (g.size === 8) v.setBigUint64(0, u, true);
  else if (g.size === 4) v.setUint32(0, Number(u), true);
  else if (g.size === 2) v.setUint16(0, Number(u), true);
  else v.setUint8(0, Number(u));
  return out;
}
