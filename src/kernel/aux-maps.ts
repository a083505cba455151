/**
 * The auxiliary maps of bpf/include/bpfpipe.h: for an event map NAME, NAME_meta (ARRAY[1] of u32:
 * the number of possible CPUs, which channel demux needs) and NAME_drops (PERCPU_ARRAY of u64 per
 * channel: outputs that failed). The loader fills NAME_meta; readers baseline and read NAME_drops.
 */
import { possibleCpus } from '../sys/index.js';
import { MapType } from '../object/uapi.js';
import type { BpfMap } from './map.js';

export const META_SUFFIX = '_meta';
export const DROPS_SUFFIX = '_drops';

export function isMetaMap(map: BpfMap): boolean {
  return map.type === MapType.ARRAY && map.keySize === 4 && map.valueSize === 4 && map.maxEntries >= 1;
}

export function isDropsMap(map: BpfMap): boolean {
  return map.type === MapType.PERCPU_ARRAY && map.keySize === 4 && map.valueSize === 8;
}

/** Write the number of possible CPUs into a NAME_meta map (idempotent). */
export function fillMeta(map: BpfMap): void {
  const key = new Uint8Array(4);
  const value = new Uint8Array(4);
  new DataView(value.buffer).setUint32(0, possibleCpus().length, true);
  map.update(key, value);
}

/** Drop counts of one channel, per possible CPU (index = CPU). */
export function readDrops(map: BpfMap, channel: number): bigint[] {
  const key = new Uint8Array(4);
  new DataView(key.buffer).setUint32(0, channel, true);
  const values = map.lookupPerCpu(key);
  if (!values) return possibleCpus().map(() => 0n);
  return values.map((v) => new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true));
}
