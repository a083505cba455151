import type { BtfType } from '../kinds.js';

/**
 * A BTF writer for tests, written from include/uapi/linux/btf.h independently of the parser:
 * each method appends one `struct btf_type` (+ its trailing data) and returns the new type id.
 */

const K = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10,
  RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

export class BtfBuilder {
  private readonly words: number[] = [];
  private readonly strs: number[] = [0];
  private readonly strIndex = new Map<string, number>([['', 0]]);
  private nextId = 1;

  str(s: string): number {
    const hit = this.strIndex.get(s);
    if (hit !== undefined) return hit;
    const off = this.strs.length;
    for (const b of new TextEncoder().encode(s)) this.strs.push(b);
    this.strs.push(0);
    this.strIndex.set(s, off);
    return off;
  }

  /** Appends a raw type record: name, kind, vlen, kind_flag, size/type, then extra u32 words. */
  raw(name: string | number, kind: number, vlen: number, kindFlag: boolean, sizeOrType: number, extra: number[] = []): number {
    const nameOff = typeof name === 'number' ? name : this.str(name);
    this.words.push(nameOff, ((kindFlag ? 1 : 0) << 31) | (kind << 24) | vlen, sizeOrType, ...extra);
    return this.nextId++;
  }

  int(name: string, size: number, opts: { signed?: boolean; char?: boolean; bool?: boolean; bits?: number; offset?: number } = {}): number {
    const enc = (opts.signed ? 1 : 0) | (opts.char ? 2 : 0) | (opts.bool ? 4 : 0);
    return this.raw(name, K.INT, 0, false, size, [(enc << 24) | ((opts.offset ?? 0) << 16) | (opts.bits ?? size * 8)]);
  }

  ptr(type: number): number {
    return this.raw('', K.PTR, 0, false, type);
  }

  array(elem: number, index: number, nelems: number): number {
    return this.raw('', K.ARRAY, 0, false, 0, [elem, index, nelems]);
  }

  /** Members: [name, type, bitOffset, bitfieldSize?]; kindFlag encodes bitfield sizes in the offsets. */
  struct(name: string, size: number, members: [string, number, number, number?][], kindFlag = false, union = false): number {
    const extra: number[] = [];
    for (const [n, t, off, bits] of members) extra.push(this.str(n), t, kindFlag ? (((bits ?? 0) << 24) | off) >>> 0 : off);
    return this.raw(name, union ? K.UNION : K.STRUCT, members.length, kindFlag, size, extra);
  }

  union(name: string, size: number, members: [string, number, number, number?][], kindFlag = false): number {
    return this.struct(name, size, members, kindFlag, true);
  }

  enum(name: string, size: number, values: [string, number][], signed = false): number {
    const extra: number[] = [];
    for (const [n, v] of values) extra.push(this.str(n), v >>> 0);
    return this.raw(name, K.ENUM, values.length, signed, size, extra);
  }

  enum64(name: string, size: number, values: [string, bigint][], signed = false): number {
    const extra: number[] = [];
    for (const [n, v] of values) {
      const u = BigInt.asUintN(64, v);
      extra.push(this.str(n), Number(u & 0xffffffffn), Number(u >> 32n));
    }
    return this.raw(name, K.ENUM64, values.length, signed, size, extra);
  }

  fwd(name: string, union = false): number {
    return this.raw(name, K.FWD, 0, union, 0);
  }

  typedef(name: string, type: number): number {
    return this.raw(name, K.TYPEDEF, 0, false, type);
  }

  modifier(kind: 'const' | 'volatile' | 'restrict', type: number): number {
    return this.raw('', kind === 'const' ? K.CONST : kind === 'volatile' ? K.VOLATILE : K.RESTRICT, 0, false, type);
  }

  typeTag(name: string, type: number): number {
    return this.raw(name, K.TYPE_TAG, 0, false, type);
  }

  funcProto(ret: number, params: [string, number][]): number {
    const extra: number[] = [];
    for (const [n, t] of params) extra.push(this.str(n), t);
    return this.raw('', K.FUNC_PROTO, params.length, false, ret, extra);
  }

  func(name: string, proto: number, linkage = 1): number {
    return this.raw(name, K.FUNC, linkage, false, proto);
  }

  variable(name: string, type: number, linkage = 1): number {
    return this.raw(name, K.VAR, 0, false, type, [linkage]);
  }

  datasec(name: string, size: number, vars: [number, number, number][]): number {
    return this.raw(name, K.DATASEC, vars.length, false, size, vars.flat());
  }

  float(name: string, size: number): number {
    return this.raw(name, K.FLOAT, 0, false, size);
  }

  declTag(name: string, type: number, componentIdx: number): number {
    return this.raw(name, K.DECL_TAG, 0, false, type, [componentIdx >>> 0]);
  }

  /** The .BTF section bytes: header, types, strings. */
  build(): Uint8Array {
    const typeLen = this.words.length * 4;
    const strLen = this.strs.length;
    const out = new Uint8Array(24 + typeLen + strLen);
    const v = new DataView(out.buffer);
    v.setUint16(0, 0xeb9f, true);
    v.setUint8(2, 1);
    v.setUint32(4, 24, true);
    v.setUint32(8, 0, true);
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true);
    v.setUint32(20, strLen, true);
    this.words.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
    out.set(this.strs, 24 + typeLen);
    return out;
  }
}

/** A .BTF.ext section: func_info, line_info and (optionally) core_relo sub-sections. */
export function buildBtfExt(
  strOf: (s: string) => number,
  parts: {
    funcInfo?: Record<string, [number, number][]>;
    lineInfo?: Record<string, [number, number, number, number][]>;
    coreRelo?: Record<string, [number, number, number, number][]>;
  },
): Uint8Array {
  const sub = (recSize: number, bySec: Record<string, number[][]> | undefined): number[] => {
    if (!bySec) return [];
    const w = [recSize];
    for (const [sec, recs] of Object.entries(bySec)) {
      w.push(strOf(sec), recs.length);
      for (const r of recs) w.push(...r);
    }
    return w;
  };
  const fi = sub(8, parts.funcInfo);
  const li = sub(16, parts.lineInfo);
  const cr = sub(16, parts.coreRelo);
  const hdr = 32;
  const out = new Uint8Array(hdr + 4 * (fi.length + li.length + cr.length));
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, hdr, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, fi.length * 4, true);
  v.setUint32(16, fi.length * 4, true);
  v.setUint32(20, li.length * 4, true);
  v.setUint32(24, (fi.length + li.length) * 4, true);
  v.setUint32(28, cr.length * 4, true);
  [...fi, ...li, ...cr].forEach((w, i) => v.setUint32(hdr + i * 4, w >>> 0, true));
  return out;
}

/** The member of the BtfType union whose `kind` admits K ('struct' → StructType, which is also 'union'). */
type KindOf<K extends BtfType['kind'], T = BtfType> = T extends { kind: infer TK } ? (K extends TK ? T : never) : never;

/** Narrows a parsed type to a kind (throws when it is another kind): keeps tests free of casts. */
export function asKind<K extends BtfType['kind']>(t: BtfType | undefined, ...kinds: K[]): KindOf<K> {
  if (!t || !(kinds as string[]).includes(t.kind)) throw new Error(`expected ${kinds.join('/')}, got ${t?.kind}`);
  return t as KindOf<K>;
}
