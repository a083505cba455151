/** Defaults of the CLI: the only program, the only event map, the struct the object declares. */
import { ObjectSpec, UsageError, MapType, type ProgramSpec, type MapSpec } from '../index.js';

const TC_KINDS = new Set(['tc', 'tcx', 'classifier', 'action']);

export function pickProgram(spec: ObjectSpec, name?: string): ProgramSpec {
  if (name) return spec.program(name);
  const tc = spec.programs.filter((p) => TC_KINDS.has(p.kind));
  if (tc.length === 1) return tc[0]!;
  if (tc.length === 0) throw new UsageError(`the object has no tc program (programs: ${spec.programs.map((p) => `${p.name} [${p.section}]`).join(', ') || 'none'})`);
  throw new UsageError(`the object has ${tc.length} tc programs (${tc.map((p) => p.name).join(', ')}); choose one with --prog`);
}

export function isEventMap(m: MapSpec): boolean {
  return m.type === MapType.PERF_EVENT_ARRAY || m.type === MapType.RINGBUF;
}

export function pickEventMap(spec: ObjectSpec, name?: string, prog?: ProgramSpec): MapSpec {
  if (name) {
    const m = spec.map(name);
    if (!isEventMap(m)) throw new UsageError(`map '${name}' is not a perf event array or a ring buffer`);
    return m;
  }
  let maps = spec.maps.filter(isEventMap);
  if (prog && maps.length > 1) {
    const used = new Set(prog.mapRefs.map((r) => r.map));
    maps = maps.filter((m) => used.has(m.name));
  }
  if (maps.length === 1) return maps[0]!;
  if (maps.length === 0) throw new UsageError('the object has no perf event array or ring buffer map to read');
  throw new UsageError(`the object has ${maps.length} event maps (${maps.map((m) => m.name).join(', ')}); choose one with --map`);
}

/** The struct to decode with: --struct, else the one the object declares for the map, else none. */
export function pickStruct(spec: ObjectSpec, map: string, name?: string): string | number | undefined {
  if (name) return name;
  return spec.eventType(map);
}
