/** openEvents: the public entry to the event pipe (perf event arrays and ring buffers, own or pinned). */
import { UsageError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { compileDecoder } from '../btf/decoder.js';
import type { BpfMap } from '../kernel/map.js';
import { openEventsSync, type OpenEventsOptions } from './open-events.js';
import { primeReaders } from './prime-reader.js';
import { MapType } from '../object/uapi.js';
import type { EventReader } from './reader.js';
import { withLengthField, type StructDecoder } from './struct-decoder.js';

export interface EventsOptions extends OpenEventsOptions {
  /**
   * Decode each sample's leading struct from BTF: a struct/union name ('event' or 'struct event'), a
   * BTF type id, or true for the type the program declared with BPFPIPE_EVENT_TYPE(map, ...).
   * Bytes after the struct are the sample's `packet`.
   */
  struct?: string | number | true;
  /** BTF to find the struct in, or the object spec that has it (default: the object the map was loaded from). */
  btf?: Btf | { btf: Btf | undefined; eventType?(map: string): number | undefined };
  /**
   * The struct field that gives the length of the appended packet bytes, to tell them from perf's
   * padding (default: the first of caplen, cap_len, pkt_len, packet_len, len, snaplen the struct has;
   * false: none).
   */
  packetLengthField?: string | false;
  /**
   * Run the readers' per-batch code on synthetic rings first, so that V8 has compiled it before any
   * ring opens (prime-reader.ts; once per process and kind of map, about 0.3 s). Default true; false for
   * a short-lived process that does not read at full rate.
   */
  prime?: boolean;
}

/** Find a struct/union by name and build its decoder. */
export function structDecoder(btf: Btf, struct: string | number): StructDecoder & { name: string; typeId: number } {
  let id: number;
  if (typeof struct === 'number') {
    id = struct;
  } else {
    const name = struct.replace(/^(struct|union)\s+/, '');
    const t = btf.findByName(name, 'struct') ?? btf.findByName(name, 'union');
    if (!t) throw new UsageError(`no struct or union '${name}' in the BTF of the object (see 'bpfpipe gen OBJ' for the types it has)`);
    id = t.id;
  }
  return compileDecoder(btf, id);
}

function decoderFor(map: BpfMap, o: EventsOptions): StructDecoder | undefined {
  if (o.struct === undefined) return undefined;
  const given = o.btf && 'btf' in o.btf ? o.btf.btf : (o.btf as Btf | undefined);
  const btf = given ?? map.origin.spec?.btf;
  if (!btf) {
    throw new UsageError(`map '${map.name}' has no BTF to decode '${String(o.struct)}' with; pass the object's BTF (btf: ObjectSpec.parse(bytes)) or --btf OBJ`);
  }
  if (o.struct === true) {
    const source = o.btf && 'btf' in o.btf ? o.btf : map.origin.spec;
    const id = source?.eventType?.(map.name);
    if (id === undefined) throw new UsageError(`the object does not say which struct map '${map.name}' carries (BPFPIPE_EVENT_TYPE); name one with struct`);
    return compileDecoder(btf, id);
  }
  return structDecoder(btf, o.struct);
}

/**
 * Open a reader on a perf event array (one ring per slot of the chosen channel, on its CPU) or a ring
 * buffer. The reader opens its own file on the map, so the caller may close `map` at any time.
 */
export async function openEvents(map: BpfMap, options: EventsOptions = {}): Promise<EventReader> {
  // (V8 compiles the readers' per-batch code now, before any ring exists: prime-reader.ts)
  if (options.prime !== false) await primeReaders(map.type === MapType.RINGBUF ? 'ringbuf' : 'perf');
  const base = options.decoder ?? decoderFor(map, options);
  const decoder = base && withLengthField(base, options.packetLengthField);
  return openEventsSync({ map, siblings: map.origin.siblings, pinPath: map.origin.pinPath }, { ...options, decoder });
}
