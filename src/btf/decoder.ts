/**
 * compileDecoder: a fast decoder for a BTF struct/union, generated once per type as specialized
 * JavaScript (new Function) and cached per Btf instance.
 *
 * Decoded values: u64/s64 (and 128-bit) → bigint, smaller ints → number, bool → boolean, enums →
 * the enumerator name when the value matches one (else the number), char arrays → string up to the
 * first NUL, other arrays → arrays, nested structs/unions → objects (anonymous ones merged into the
 * parent), pointers → bigint, floats → number, bitfields in both BTF encodings.
 */
import { BadInputError } from '../errors.js';
import type { Btf } from './btf.js';
import { Emitter } from './decoder-emit.js';
import { planType } from './decoder-plan.js';

export interface StructDecoder<T extends object = Record<string, unknown>> {
  /** Size of the type in bytes: the decoder reads [offset, offset + size). */
  readonly size: number;
  /** BTF type id of the decoded struct/union. */
  readonly typeId: number;
  /** C name ("struct event"). */
  readonly name: string;
  /**
   * Decodes the type at `offset` (default 0) of `view`; throws BadInputError if the view is too short.
   * `viewLength`: view.byteLength, when the caller has it (reading it is not free).
   */
  decode(view: DataView, offset?: number, viewLength?: number): T;
  /** The generated JavaScript source, for debugging. */
  readonly source: string;
}

const cache = new WeakMap<Btf, Map<number, StructDecoder>>();

export function compileDecoder<T extends object = Record<string, unknown>>(btf: Btf, typeId: number): StructDecoder<T> {
  let perBtf = cache.get(btf);
  if (!perBtf) {
    perBtf = new Map();
    cache.set(btf, perBtf);
  }
  const hit = perBtf.get(typeId);
  if (hit) return hit as StructDecoder<T>;

  const plan = planType(btf, typeId);
  const name = btf.typeName(plan.typeId);
  const em = new Emitter();
  const body = em.object(plan, 'o', 0);
  const source =
    `${em.helpers.join('\n')}\n` +
    `return function decode(v, o = 0, n = v.byteLength) {\n` +
    `  if (!(o >= 0) || o + ${plan.size} > n) throw short(v, o);\n` +
    `  return ${body};\n` +
    `};`;
  const short = (v: DataView, o: number): Error =>
    new BadInputError(
      `cannot decode ${name} (${plan.size} bytes) at offset ${o} of ${v?.byteLength ?? 0} bytes: the data is too short (wrong --struct, or a truncated event?)`,
    );
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const decode = new Function('short', source)(short) as (view: DataView, offset?: number, viewLength?: number) => T;
  const dec: StructDecoder<T> = { size: plan.size, typeId: plan.typeId, name, decode, source };
  perBtf.set(typeId, dec as StructDecoder);
  return dec;
}
