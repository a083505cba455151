/**
 * Events that the program wrote to perf channels this command does not read. The kernel refused them
 * (the channel's slots were empty, or its reader's ring was full) and the program counted them in
 * NAME_drops (bpf/include/bpfpipe.h). The counts are taken when reading starts and again at the end;
 * what went to other channels meanwhile is said after the summary, with the option that reads them.
 */
import { DropsReader, DROPS_SUFFIX, isDropsMap, channelCount } from '../kernel/aux-maps.js';
import { MapType } from '../object/uapi.js';
import type { BpfMap } from '../kernel/map.js';
import type { LoadedObject } from '../kernel/load.js';

export class OtherChannels {
  private readonly counters: DropsReader;
  private readonly base: bigint[];

  private constructor(drops: BpfMap, private readonly read: number, private readonly channels: number[]) {
    this.counters = new DropsReader(drops);
    this.base = channels.map((ch) => this.counters.total(ch));
  }

  /** For perf event array `mapName` of `obj`, read on channel `read`; undefined when there is nothing to watch. */
  static watch(obj: LoadedObject, mapName: string, read: number): OtherChannels | undefined {
    const events = obj.maps.get(mapName);
    const drops = obj.maps.get(mapName + DROPS_SUFFIX);
    if (!events || events.type !== MapType.PERF_EVENT_ARRAY || !drops || !isDropsMap(drops)) return undefined;
    const n = Math.min(drops.maxEntries, channelCount(events));
    const channels = Array.from({ length: n }, (_, ch) => ch).filter((ch) => ch !== read);
    return channels.length ? new OtherChannels(drops, read, channels) : undefined;
  }

  /** One line for stderr on what the other channels refused since watch(), or undefined when nothing. */
  note(): string | undefined {
    const counts = this.channels.map((ch, i) => [ch, this.counters.total(ch) - this.base[i]!] as const).filter(([, n]) => n > 0n);
    if (!counts.length) return undefined;
    const total = counts.reduce((s, [, n]) => s + n, 0n);
    const list = counts.map(([ch, n]) => `${n} on channel ${ch}`).join(', ');
    const first = counts[0]![0];
    return `bpfpipe: ${total} event(s) went to other channels of the map, which no reader took (${list}); this command reads channel ${this.read}: --channel ${first} reads channel ${first}`;
  }
}
