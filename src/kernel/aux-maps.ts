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

/** Channels of a perf event array: its slots in groups of one per possible CPU. */
export function channelCount(events: BpfMap, ncpu = possibleCpus().length): number {
  return Math.floor(events.maxEntries / ncpu);
}

/** Write the number of possible CPUs into a NAME_meta map (idempotent). */
export function fillMeta(map: BpfMap): void {
  const key = new Uint8Array(4);
  const value = new Uint8Array(4);
  new DataView(value.buffer).setUint32(0, possibleCpus().length, true);
  map.update(key, value);
}

/**
 * Reads the drop counts of a NAME_drops map's channels over and over (a reader polls them every few
 * milliseconds) with one prepared lookup per channel: one syscall and no allocation per read.
 */
export class DropsReader {
  /** Per channel: its prepared lookup, and the values' u64 view (made at the first read that finds them). */
  private readonly channels = new Map<number, { lookup: () => Uint8Array | undefined; view?: BigUint64Array }>();

  constructor(private readonly map: BpfMap) {}

  /** Drop counts of `channel` per possible CPU (index = CPU): a view valid until the channel is read again. */
  read(channel: number): BigUint64Array | undefined {
    let c = this.channels.get(channel);
    if (c === undefined) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, channel, true);
      this.channels.set(channel, (c = { lookup: this.map.preparedLookup(key) }));
    }
    const v = c.lookup();
    if (v === undefined) return undefined;
    // u64 values: the 8-aligned per-CPU slots are the values themselves
    return (c.view ??= new BigUint64Array(v.buffer, v.byteOffset, v.byteLength >>> 3));
  }

  /** Total drops of `channel` over all CPUs. */
  total(channel: number): bigint {
    const v = this.read(channel);
    let n = 0n;
    if (v) for (let i = 0; i < v.length; i++) n += v[i]!;
    return n;
  }
}
