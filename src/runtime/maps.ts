/**
 * Maps of the userspace runtime, with the kernel's semantics for what programs can observe: array,
 * per-CPU array, hash (plain, per-CPU, LRU), perf event array and ring buffer. Values live in memory
 * regions, so programs read and write them through checked pointers.
 */
import { NotSupportedError, UsageError } from '../errors.js';
import { MapType, mapTypeName } from '../object/uapi.js';
import type { MapSpec } from '../object/types.js';
import type { Memory, Region } from './memory.js';
import { RuntimeMap } from './map-base.js';
import { ArrayMap } from './map-array.js';
import { HashMap } from './map-hash.js';
import { PerfEventArrayMap, RingbufMap } from './map-events.js';

export { E, RuntimeMap, type InlineLookup } from './map-base.js';
export { PerfEventArrayMap, RingbufMap } from './map-events.js';

export function createMap(spec: MapSpec, mem: Memory, ncpus: number): RuntimeMap {
  switch (spec.type) {
    case MapType.ARRAY:
      return new ArrayMap(spec, mem, ncpus, false);
    case MapType.PERCPU_ARRAY:
      return new ArrayMap(spec, mem, ncpus, true);
    case MapType.HASH:
      return new HashMap(spec, mem, ncpus, false, false);
    case MapType.PERCPU_HASH:
      return new HashMap(spec, mem, ncpus, true, false);
    case MapType.LRU_HASH:
      return new HashMap(spec, mem, ncpus, false, true);
    case MapType.LRU_PERCPU_HASH:
      return new HashMap(spec, mem, ncpus, true, true);
    case MapType.PERF_EVENT_ARRAY:
      return new PerfEventArrayMap({ ...spec, maxEntries: spec.maxEntries || ncpus }, mem, ncpus);
    case MapType.RINGBUF:
      return new RingbufMap(spec, mem, ncpus);
    default:
      throw new NotSupportedError(`map '${spec.name}' is a ${mapTypeName(spec.type)}, which the userspace runtime does not support (array, per-CPU array, hash, LRU hash, perf event array and ring buffer are)`);
  }
}

export function globalRegion(m: RuntimeMap): Region {
  if (!(m instanceof ArrayMap)) throw new UsageError(`map '${m.name}' is not global data`);
  return m.region;
}
