/** The maps programs output events through: perf event arrays and ring buffers, with their rings. */
import type { Region } from './memory.js';
import { RuntimeMap } from './map-base.js';
import { RecordRing } from './record-ring.js';

export class PerfEventArrayMap extends RuntimeMap {
  /** @internal The ring of each slot a reader has open (a slot without one has no perf event: ENOENT). */
  readonly rings: (RecordRing | undefined)[] = [];
}

export class RingbufMap extends RuntimeMap {
  /** @internal The ring records go to (a reader takes them; without one they wait, up to the map's size). */
  ring = new RecordRing(0, undefined, this.spec.maxEntries);
  /** @internal The ring each open reservation is placed in, by region id (undefined: not reserved). */
  readonly placedIn: (RecordRing | undefined)[] = [];
  /** Reservations open (submit and discard end them). */
  get reserved(): number {
    let n = 0;
    for (const r of this.placedIn) if (r !== undefined) n++;
    return n;
  }
  /**
   * @internal Regions of submitted or discarded records, retired (Memory.retire: they fault) until the
   * next reservations revive them over their own bytes: the same region objects come back, so the
   * compiled path's per-access region caches still hold them.
   */
  readonly spare: Region[] = [];
}
