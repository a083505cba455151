/** The maps programs output events through: perf event arrays and ring buffers, with their rings. */
import type { Region } from './memory.js';
import { RuntimeMap } from './map-base.js';
import { RecordRing } from './record-ring.js';

export class PerfEventArrayMap extends RuntimeMap {
  /** @internal The ring of each slot a reader has open (a slot without one has no perf event: ENOENT). */
  readonly rings: (RecordRing | undefined)[] = [];
}

/**
 * Regions by id, in an array (ids are small and reused): a Map that gains and loses one entry per
 * run rehashes on every delete.
 */
class RegionsById {
  private readonly a: (Region | undefined)[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  has(id: number): boolean {
    return this.a[id] !== undefined;
  }

  get(id: number): Region | undefined {
    return this.a[id];
  }

  set(id: number, r: Region): this {
    while (this.a.length <= id) this.a.push(undefined);
    if (this.a[id] === undefined) this.n++;
    this.a[id] = r;
    return this;
  }

  delete(id: number): boolean {
    if (this.a[id] === undefined) return false;
    this.a[id] = undefined;
    this.n--;
    return true;
  }
}

export class RingbufMap extends RuntimeMap {
  /** @internal The ring records go to (a reader takes them; without one they wait, up to the map's size). */
  ring = new RecordRing(0, undefined, this.spec.maxEntries);
  /** Open reservations (region id → region), released on submit/discard. */
  readonly reservations = new RegionsById();
  /** @internal The ring each open reservation is placed in (by region id). */
  readonly placedIn: (RecordRing | undefined)[] = [];
  /**
   * @internal Regions of submitted or discarded records, retired (Memory.retire: they fault) until the
   * next reservations revive them over their own bytes: the same region objects come back, so the
   * compiled path's per-access region caches still hold them.
   */
  readonly spare: Region[] = [];
}
