/**
 * JavaScript source for decoding a layout plan (decoder-plan.ts) from a little-endian DataView.
 * The output is straight-line code specialized for one type: constant offsets, one DataView read per
 * scalar, one object literal per struct, so V8 compiles it to fast monomorphic code.
 * Names from BTF never reach the source unquoted: keys and enum names go through JSON.stringify.
 */
import { isBig, type ArrayNode, type EnumNode, type Node, type ObjectNode, type ScalarNode } from './decoder-plan.js';

export interface EmitOptions {
  /** Emit TypeScript (typed helper signatures) instead of plain JavaScript. */
  readonly ts?: boolean;
  /** TypeScript type of a node's decoded value (TS mode only). */
  readonly tsType?: (n: Node) => string;
  /** Prefix for helper names, so several emitters can share a module. */
  readonly prefix?: string;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
/** Arrays are unrolled when they have at most this many elements and values in total. */
const UNROLL_COUNT = 64;
const UNROLL_VALUES = 64;
const SWITCH_MAX = 64;

/** An object-literal key for `name`. */
export function propertyKey(name: string): string {
  return IDENT.test(name) && name !== '__proto__' ? name : `[${JSON.stringify(name)}]`;
}

function addr(base: string, off: number): string {
  return off === 0 ? base : `${base} + ${off}`;
}

export class Emitter {
  /** Top-level declarations the expressions refer to (helper functions, tables). */
  readonly helpers: string[] = [];
  private readonly opts: EmitOptions;
  private readonly p: string;
  private readonly enumHelpers = new Map<string, string>();
  private readonly weights = new WeakMap<Node, number>();
  private used = new Set<string>();
  private next = 0;

  constructor(opts: EmitOptions = {}) {
    this.opts = opts;
    this.p = opts.prefix ?? '';
  }

  private t(s: string): string {
    return this.opts.ts ? s : '';
  }

  private name(kind: string): string {
    return `${this.p}${kind}${this.next++}`;
  }

  /** A shared helper declared once (string decoding, 128-bit ints). */
  private shared(key: string): string {
    const n = `${this.p}${key}`;
    if (this.used.has(key)) return n;
    this.used.add(key);
    const ts = this.opts.ts;
    switch (key) {
      case 'td':
        this.helpers.push(`const ${n} = new TextDecoder();`);
        break;
      case 'str': {
        const td = this.shared('td');
        this.helpers.push(
          `function ${n}(v${this.t(': DataView')}, o${this.t(': number')}, len${this.t(': number')})${this.t(': string')} {\n` +
            `  let s = '';\n` +
            `  for (let i = 0; i < len; i++) {\n` +
            `    const c = v.getUint8(o + i);\n` +
            `    if (c === 0) return s;\n` +
            `    if (c >= 0x80) {\n` +
            `      const b = new Uint8Array(v.buffer, v.byteOffset + o, len);\n` +
            `      const end = b.indexOf(0);\n` +
            `      return ${td}.decode(end < 0 ? b : b.subarray(0, end));\n` +
            `    }\n` +
            `    s += String.fromCharCode(c);\n` +
            `  }\n` +
            `  return s;\n` +
            `}`,
        );
        break;
      }
      case 'u128':
      case 's128': {
        const body = `(v.getBigUint64(o + 8, true) << 64n) | v.getBigUint64(o, true)`;
        this.helpers.push(
          `function ${n}(v${this.t(': DataView')}, o${this.t(': number')})${this.t(': bigint')} {\n  return ${key === 's128' ? `BigInt.asIntN(128, ${body})` : body};\n}`,
        );
        break;
      }
      case 'bitsBig':
        // Bitfields wider than what fits in 32 bits after the shift: assemble the bytes as a bigint.
        this.helpers.push(
          `function ${n}(v${this.t(': DataView')}, o${this.t(': number')}, nbytes${this.t(': number')}, shift${this.t(': number')}, bits${this.t(': number')}, signed${this.t(': boolean')})${this.t(': bigint')} {\n` +
            `  let x = 0n;\n` +
            `  for (let i = nbytes - 1; i >= 0; i--) x = (x << 8n) | BigInt(v.getUint8(o + i));\n` +
            `  x = (x >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);\n` +
            `  return signed ? BigInt.asIntN(bits, x) : x;\n` +
            `}`,
        );
        break;
      default:
        throw new Error(`unknown helper ${key}`);
    }
    void ts;
    return n;
  }

  /** Expression decoding `node` whose offsets are relative to `base + off` (`indent`: TS layout). */
  expr(node: Node, base: string, off: number, indent = ''): string {
    switch (node.k) {
      case 'int':
      case 'bool':
      case 'float':
      case 'ptr':
      case 'bits':
        return this.scalar(node, base, off);
      case 'enum':
        return `${this.enumHelper(node)}(${this.scalar(node.base, base, off)})`;
      case 'string':
        return `${this.shared('str')}(v, ${addr(base, off + node.off)}, ${node.len})`;
      case 'array':
        return this.array(node, base, off, indent);
      case 'object':
        return this.object(node, base, off, indent);
    }
  }

  object(node: ObjectNode, base: string, off: number, indent = ''): string {
    const at = off + node.off;
    const inner = `${indent}  `;
    const parts = node.fields.map((f) => `${propertyKey(f.name)}: ${this.expr(f.node, base, at, inner)}`);
    if (parts.length === 0) return '{}';
    // Generated TypeScript is meant to be read: one field per line.
    return this.opts.ts ? `{\n${parts.map((p) => `${inner}${p},`).join('\n')}\n${indent}}` : `{ ${parts.join(', ')} }`;
  }

  private array(node: ArrayNode, base: string, off: number, indent: string): string {
    const at = off + node.off;
    if (node.count === 0) return '[]';
    // Unrolling nested arrays multiplies code size: only small arrays of small elements are unrolled,
    // everything else loops, so the source stays proportional to the plan.
    if (node.count <= UNROLL_COUNT && node.count * this.weight(node.elem) <= UNROLL_VALUES) {
      const items: string[] = [];
      for (let i = 0; i < node.count; i++) items.push(this.expr(node.elem, base, at + i * node.stride, indent));
      return `[${items.join(', ')}]`;
    }
    const fn = this.name('arr');
    const elemType = this.opts.tsType ? this.opts.tsType(node.elem) : 'unknown';
    const body = this.expr(node.elem, 'b', 0, '    ');
    this.helpers.push(
      `function ${fn}(v${this.t(': DataView')}, o${this.t(': number')})${this.t(`: ${elemType}[]`)} {\n` +
        `  const a${this.t(`: ${elemType}[]`)} = new Array(${node.count});\n` +
        `  for (let i = 0; i < ${node.count}; i++) {\n` +
        `    const b = o + i * ${node.stride};\n` +
        `    a[i] = ${body};\n` +
        `  }\n` +
        `  return a;\n` +
        `}`,
    );
    return `${fn}(v, ${addr(base, at)})`;
  }

  /** Number of values a node decodes to when fully unrolled (saturating). */
  private weight(n: Node): number {
    const hit = this.weights.get(n);
    if (hit !== undefined) return hit;
    let w = 1;
    if (n.k === 'array') w = Math.min(1e9, n.count * this.weight(n.elem));
    else if (n.k === 'object') w = Math.min(1e9, n.fields.reduce((sum, f) => sum + this.weight(f.node), 0));
    this.weights.set(n, w);
    return w;
  }

  private scalar(n: ScalarNode, base: string, off: number): string {
    switch (n.k) {
      case 'int':
        return this.int(n.size, n.signed, base, off + n.off);
      case 'bool':
        return `${this.int(n.size, false, base, off + n.off)} !== ${n.size >= 8 ? '0n' : '0'}`;
      case 'float':
        return `v.getFloat${n.size * 8}(${addr(base, off + n.off)}, true)`;
      case 'ptr':
        return `v.getBigUint64(${addr(base, off + n.off)}, true)`;
      case 'bits': {
        const abs = off * 8 + n.bitOff;
        const byte = Math.floor(abs / 8);
        const shift = abs % 8;
        const total = shift + n.bits;
        const nbytes = Math.ceil(total / 8);
        const big = isBig(n);
        let e: string;
        if (total <= 32) {
          const a = addr(base, byte);
          const a2 = addr(base, byte + 2);
          const raw =
            nbytes === 1 ? `v.getUint8(${a})`
            : nbytes === 2 ? `v.getUint16(${a}, true)`
            : nbytes === 3 ? `(v.getUint16(${a}, true) | (v.getUint8(${a2}) << 16))`
            : `v.getUint32(${a}, true)`;
          if (n.signed) {
            e = `((${raw} << ${32 - total}) >> ${32 - n.bits})`;
          } else if (n.bits === 32) {
            e = raw;
          } else {
            e = shift === 0 ? `(${raw} & ${2 ** n.bits - 1})` : `((${raw} >>> ${shift}) & ${2 ** n.bits - 1})`;
          }
          if (n.bool) return `${e} !== 0`;
          return big ? `BigInt(${e})` : e;
        }
        e = `${this.shared('bitsBig')}(v, ${addr(base, byte)}, ${nbytes}, ${shift}, ${n.bits}, ${n.signed})`;
        if (n.bool) return `${e} !== 0n`;
        return big ? e : `Number(${e})`;
      }
    }
  }

  private int(size: number, signed: boolean, base: string, off: number): string {
    const a = addr(base, off);
    switch (size) {
      case 1:
        return signed ? `v.getInt8(${a})` : `v.getUint8(${a})`;
      case 2:
        return signed ? `v.getInt16(${a}, true)` : `v.getUint16(${a}, true)`;
      case 4:
        return signed ? `v.getInt32(${a}, true)` : `v.getUint32(${a}, true)`;
      case 8:
        return signed ? `v.getBigInt64(${a}, true)` : `v.getBigUint64(${a}, true)`;
      default:
        return `${this.shared(signed ? 's128' : 'u128')}(v, ${a})`;
    }
  }

  /** A function mapping an enum's value to its enumerator name (or the value when none matches). */
  private enumHelper(node: EnumNode): string {
    const big = isBig(node.base);
    const key = `${node.typeId}:${big}`;
    const existing = this.enumHelpers.get(key);
    if (existing) return existing;
    const fn = this.name('enum');
    this.enumHelpers.set(key, fn);
    const lit = (x: number | bigint): string => (big ? `${BigInt(x)}n` : `${Number(x)}`);
    const inType = big ? 'bigint' : 'number';
    const outType = this.opts.tsType ? this.opts.tsType(node) : `string | ${inType}`;
    const seen = new Set<string>();
    const entries = node.values.filter((e) => {
      const k = lit(e.value);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    if (entries.length <= SWITCH_MAX) {
      const cases = entries.map((e) => `    case ${lit(e.value)}: return ${JSON.stringify(e.name)};`).join('\n');
      this.helpers.push(
        `function ${fn}(x${this.t(`: ${inType}`)})${this.t(`: ${outType}`)} {\n  switch (x) {\n${cases}\n    default: return x;\n  }\n}`,
      );
    } else {
      const table = this.name('enumTable');
      const pairs = entries.map((e) => `[${lit(e.value)}, ${JSON.stringify(e.name)}]`).join(', ');
      this.helpers.push(`const ${table} = new Map${this.t(`<${inType}, string>`)}([${pairs}]);`);
      this.helpers.push(
        `function ${fn}(x${this.t(`: ${inType}`)})${this.t(`: ${outType}`)} {\n  const n = ${table}.get(x);\n  return n === undefined ? x : n${this.t(` as ${outType}`)};\n}`,
      );
    }
    return fn;
  }
}
