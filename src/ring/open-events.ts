/**
 * openEvents: the reader for a perf event array or a ring buffer map, own or pinned. It opens the
 * rings, puts the perf fds into the map slots through its own map file (so the kernel clears them
 * when the reader goes away, even on a crash), claims the slots, baselines the drop counters and
 * hands everything to an EventReader.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { possibleCpus, onlineCpus, pageSize } from '../sys/index.js';
import { BadInputError, UsageError, SyscallError, Errno, NotSupportedError } from '../errors.js';
import { MapType, mapTypeName } from '../object/uapi.js';
import { BpfMap, openMapById } from '../kernel/map.js';
import { openPinnedMapSync } from '../kernel/pinned-map.js';
import { DropsReader, isDropsMap, fillMeta, isMetaMap, channelCount, DROPS_SUFFIX, META_SUFFIX } from '../kernel/aux-maps.js';
import { PerfRing } from './perf-ring.js';
import { RingbufRing } from './ringbuf-ring.js';
import { SlotClaims } from './claims.js';
import { EventReader } from './reader.js';
import type { DropsSource } from './reader-parts.js';
import { maxPerfSample, perfSampleRecordSize } from './perf-records.js';
import type { StructDecoder } from './struct-decoder.js';

export interface OpenEventsOptions {
  /** Channel k: slots [k*ncpu, (k+1)*ncpu) of a perf event array (ncpu = possible CPUs). */
  channel?: number;
  /** Explicit perf event array slots (slot s is read on CPU s % ncpu). */
  slots?: number[];
  /**
   * Data pages per perf ring, a power of two (default 1024: 4 MiB per CPU, as the CLI's; ~32 ms of
   * 130 MB/s, more than a reader's stalls while V8 marks its old generation), at most 2 GiB of them
   * (MAX_RING_BYTES).
   */
  pagesPerCpu?: number;
  /** Wake the reader after this many bytes per ring, or a percentage of the ring ('25%', the default). */
  wakeupBytes?: number | `${number}%`;
  /** Wake the reader after this many samples per ring instead (1: every sample; lowest latency, highest cost). */
  wakeupEvents?: number;
  /**
   * Perf rings with a byte watermark: while a loop (batches(), for await) waits for slow traffic
   * (below about 1 k samples/s in all), the kernel wakes the reader at every sample instead of the
   * reader polling every millisecond — a second perf event per CPU, writing into the same ring, fills
   * the slot (default true). Latency of slow traffic drops from up to a poll interval to one wake-up,
   * for fewer wake-ups; above about 2 k samples/s, and whenever no loop runs (read() callers poll
   * themselves), the watermark fds are in the slots (wake-ups per quarter ring, polls below it). A
   * per-sample wake-up costs the producing CPU an interrupt (about 5 µs on the bench's VM).
   */
  adaptiveWakeups?: boolean;
  /**
   * Upper bound of delivery latency (default 10 ms): traffic that fills the watermark within it is
   * read at each wake-up. Traffic too slow for that (and ring buffer producers that send no wake-ups)
   * is polled every tenth of flushMs instead, at least every millisecond (every millisecond at the
   * default). Intervals below 5 ms are kept by a timerfd (hrtimer precision), longer ones by a libuv
   * timer. The drop counters (bpfpipe.h) are read every flushMs, at most every 10 ms, and at close.
   */
  flushMs?: number;
  /** Decode each sample's leading struct. */
  decoder?: StructDecoder;
  /**
   * Record a CLOCK_MONOTONIC timestamp in each perf sample (default false: it costs the program about
   * 50 ns per output on these machines; programs usually carry bpf_ktime_get_ns() in their event).
   */
  timestamps?: boolean;
  /** Streaming batches own copies of their bytes instead of leasing ring memory until the next batch. */
  copy?: boolean;
  /** Merge the per-CPU streams by timestamp, holding samples for `windowMs` (default 2 × flushMs). */
  ordered?: boolean | { windowMs?: number };
  /** Claim the slots so a second reader cannot silently steal them (default true). */
  claim?: boolean;
  /** The NAME_drops counter map (bpfpipe.h), or false to ignore it. Default: found by name next to the map. */
  drops?: BpfMap | false;
  signal?: AbortSignal;
}

export interface EventSource {
  /** The map to read (a handle; the reader opens its own file for it). */
  map: BpfMap;
  /** Sibling maps by name (from the loaded object), to find NAME_drops / NAME_meta. */
  siblings?: ReadonlyMap<string, BpfMap>;
  /** Pin path of the map, to find DIR/NAME_drops and DIR/NAME_meta next to it. */
  pinPath?: string;
}

/** A new file description for the map: slots set through it are cleared when it is closed. */
function ownMapFile(src: EventSource): BpfMap {
  if (src.pinPath) {
    try {
      return openPinnedMapSync(src.pinPath);
    } catch {
      /* fall through */
    }
  }
  try {
    return openMapById(src.map.id);
  } catch (err) {
    if (err instanceof SyscallError || (err as { code?: string }).code === 'EBPF_PERM') return src.map.dup();
    throw err;
  }
}

function findAux(src: EventSource, suffix: string): BpfMap | undefined {
  const name = src.map.name + suffix;
  const sib = src.siblings?.get(name);
  if (sib) return sib.dup();
  if (src.pinPath) {
    const p = path.join(path.dirname(src.pinPath), path.basename(src.pinPath) + suffix);
    if (fs.existsSync(p)) {
      try {
        return openPinnedMapSync(p);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function resolveSlots(map: BpfMap, o: OpenEventsOptions, ncpu: number): number[] {
  if (o.slots !== undefined && o.channel !== undefined) throw new UsageError('give either channel or slots, not both');
  let slots: number[];
  if (o.slots !== undefined) {
    slots = [...new Set(o.slots)];
  } else {
    const k = o.channel ?? 0;
    if (!Number.isInteger(k) || k < 0) throw new UsageError(`channel must be a non-negative integer, got ${o.channel}`);
    const channels = channelCount(map, ncpu);
    if (k >= channels) {
      throw new UsageError(`channel ${k} does not exist: map '${map.name}' has ${map.maxEntries} slots = ${channels} channel(s) of ${ncpu} CPUs`);
    }
    // Every possible CPU of the channel: rings open on the online ones, the others when they come up.
    slots = Array.from({ length: ncpu }, (_, c) => k * ncpu + c);
  }
  for (const s of slots) {
    if (!Number.isInteger(s) || s < 0 || s >= map.maxEntries) {
      throw new UsageError(`slot ${s} is out of range: map '${map.name}' has slots 0..${map.maxEntries - 1}`);
    }
  }
  if (slots.length === 0) throw new UsageError('no slots to read');
  return slots;
}

function wakeupBytes(o: OpenEventsOptions, ringBytes: number): number | undefined {
  if (o.wakeupEvents !== undefined) {
    if (o.wakeupBytes !== undefined) throw new UsageError('give either wakeupBytes or wakeupEvents, not both');
    return undefined;
  }
  const w = o.wakeupBytes ?? '25%';
  let bytes: number;
  if (typeof w === 'string') {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(w);
    if (!m) throw new UsageError(`wakeupBytes must be a number of bytes or a percentage like '25%', got '${w}'`);
    bytes = Math.floor((ringBytes * Number(m[1])) / 100);
  } else {
    bytes = w;
  }
  if (!Number.isInteger(bytes) || bytes < 1 || bytes >= ringBytes) {
    throw new UsageError(`wakeupBytes must be between 1 and the ring size (${ringBytes} bytes), got ${bytes}`);
  }
  return bytes;
}

export function openEventsSync(src: EventSource, o: OpenEventsOptions = {}): EventReader {
  const map = src.map;
  if (map.type !== MapType.PERF_EVENT_ARRAY && map.type !== MapType.RINGBUF) {
    throw new BadInputError(`map '${map.name}' is a ${mapTypeName(map.type)}, not a perf event array or a ring buffer`);
  }
  const flushMs = o.flushMs ?? 10;
  if (!(flushMs > 0) || flushMs > 60_000) throw new UsageError(`flushMs must be between 0 and 60000, got ${flushMs}`);
  const ordered = o.ordered ? { windowMs: (typeof o.ordered === 'object' && o.ordered.windowMs) || 2 * flushMs } : undefined;
  const dropsMap = o.drops === false ? undefined : (o.drops?.dup() ?? findAux(src, DROPS_SUFFIX));
  const cleanup: (() => void)[] = [];
  const undo = () => {
    for (const f of cleanup.reverse()) {
      try {
        f();
      } catch {
        /* best effort on the error path */
      }
    }
  };
  try {
    if (dropsMap) {
      cleanup.push(() => dropsMap.close());
      if (!isDropsMap(dropsMap)) throw new BadInputError(`map '${dropsMap.name}' is not a bpfpipe drops counter (PERCPU_ARRAY of u64)`);
    }
    const meta = findAux(src, META_SUFFIX);
    if (meta) {
      // A map pinned by another loader (tc) has nobody to tell the program the CPU count: do it here.
      try {
        if (isMetaMap(meta)) fillMeta(meta);
      } finally {
        meta.close();
      }
    }
    if (map.type === MapType.RINGBUF) return openRingbuf(src, o, flushMs, ordered, dropsMap, cleanup);
    return openPerf(src, o, flushMs, ordered, dropsMap, cleanup);
  } catch (err) {
    undo();
    throw err;
  }
}

function openRingbuf(
  src: EventSource,
  o: OpenEventsOptions,
  flushMs: number,
  ordered: { windowMs: number } | undefined,
  dropsMap: BpfMap | undefined,
  cleanup: (() => void)[],
): EventReader {
  if (o.channel !== undefined || o.slots !== undefined) throw new UsageError('channels and slots apply to perf event arrays, not ring buffers');
  const own = ownMapFile(src);
  cleanup.push(() => own.close());
  if (o.decoder && o.decoder.size + 8 > own.maxEntries) {
    throw new UsageError(`an event of ${o.decoder.size} bytes does not fit in ring buffer '${src.map.name}' of ${own.maxEntries} bytes`);
  }
  const ring = new RingbufRing(own.fd, own.maxEntries);
  cleanup.push(() => ring.close());
  const drops: DropsSource | undefined = dropsMap && ringbufDrops(dropsMap);
  return new EventReader({
    kind: 'ringbuf',
    perfRings: [],
    ringbuf: ring,
    openCpu: undefined,
    drops,
    decoder: o.decoder,
    flushMs,
    ordered,
    release: () => own.close(),
    signal: o.signal,
    copyBatches: o.copy,
  });
}

function openPerf(
  src: EventSource,
  o: OpenEventsOptions,
  flushMs: number,
  ordered: { windowMs: number } | undefined,
  dropsMap: BpfMap | undefined,
  cleanup: (() => void)[],
): EventReader {
  const ncpu = possibleCpus().length;
  const slots = resolveSlots(src.map, o, ncpu);
  const pages = o.pagesPerCpu ?? 1024;
  const ringBytes = pages * pageSize();
  const timestamps = o.timestamps ?? (o.ordered !== undefined && o.ordered !== false);
  const wb = wakeupBytes(o, ringBytes);
  if (o.decoder) {
    if (o.decoder.size > maxPerfSample(timestamps)) {
      throw new UsageError(`an event of ${o.decoder.size} bytes is larger than a perf record can carry (${maxPerfSample(timestamps)} bytes); use a ring buffer`);
    }
    if (perfSampleRecordSize(o.decoder.size, timestamps) > ringBytes) {
      throw new UsageError(`a ring of ${pages} page(s) (${ringBytes} bytes) is smaller than one ${o.decoder.size}-byte event; use more pagesPerCpu`);
    }
  }
  const own = ownMapFile(src);
  cleanup.push(() => own.close());
  const claims = o.claim === false ? undefined : new SlotClaims(own.id, slots, `map '${src.map.name}'`);
  if (claims) cleanup.push(() => claims.release());
  const online = new Set(onlineCpus());
  const rings: PerfRing[] = [];
  const set: number[] = [];
  const key = new Uint8Array(4);
  const value = new Uint8Array(4);
  const kv = new DataView(key.buffer);
  const vv = new DataView(value.buffer);
  // per-sample wake-ups while a loop waits for slow traffic (wakeup-mode.ts): the slots start with
  // the watermark fds
  const adaptive = wb !== undefined && o.adaptiveWakeups !== false;
  let eager = false;
  const fill = (ring: PerfRing) => {
    kv.setUint32(0, ring.slot, true);
    vv.setUint32(0, eager ? (ring.eagerFd ?? ring.fd) : ring.fd, true);
    own.update(key, value);
  };
  const attach = (slot: number): PerfRing | undefined => {
    const cpu = slot % ncpu;
    if (!online.has(cpu)) return undefined;
    const ring = new PerfRing({ cpu, slot, pages, wakeupBytes: wb, wakeupEvents: o.wakeupEvents, timestamps, eager: adaptive });
    try {
      // enabled before it fills the slot: an output to the slot of a disabled event fails
      // (EOPNOTSUPP), and the reader, which baselines the drop counters after this, would count it
      ring.enable();
      fill(ring);
    } catch (err) {
      ring.close();
      throw err;
    }
    set.push(slot);
    return ring;
  };
  cleanup.push(() => {
    for (const r of rings) r.close();
  });
  cleanup.push(() => clearSlots(own, set));
  for (const slot of slots) {
    const r = attach(slot);
    if (r) rings.push(r);
  }
  if (rings.length === 0) throw new NotSupportedError(`none of the CPUs of slots ${slots.join(',')} is online`);
  // a ring the kernel gave no eager twin (perf-ring.ts): none of them wakes per sample, all are polled
  const twins = adaptive && rings.every((r) => r.eagerFd !== undefined);
  const drops: DropsSource | undefined = dropsMap && perfDrops(dropsMap, slots, ncpu);
  return new EventReader({
    kind: 'perf',
    perfRings: rings,
    ringbuf: undefined,
    openCpu: (cpu) => {
      const slot = slots.find((s) => s % ncpu === cpu);
      if (slot === undefined) return undefined;
      online.add(cpu);
      return attach(slot);
    },
    drops,
    decoder: o.decoder,
    flushMs,
    ordered,
    release: () => {
      clearSlots(own, set);
      claims?.release();
      own.close();
    },
    signal: o.signal,
    copyBatches: o.copy,
    watermarkBytes: wb,
    setEager: twins
      ? (on, inSlots) => {
          eager = on;
          if (own.closed) return;
          for (const r of inSlots) if (r.eagerFd !== undefined) fill(r);
        }
      : undefined,
  });
}

/** Remove our perf fds from the slots (the kernel also does it when our map file closes). */
function clearSlots(map: BpfMap, slots: number[]): void {
  if (map.closed) return;
  const key = new Uint8Array(4);
  const kv = new DataView(key.buffer);
  for (const s of slots) {
    kv.setUint32(0, s, true);
    try {
      map.delete(key);
    } catch (err) {
      if (!(err instanceof SyscallError) || err.errno !== Errno.EBADF) throw err;
    }
  }
  slots.length = 0;
}

/** The drop count of a ring buffer: channel 0, all CPUs. */
function ringbufDrops(dropsMap: BpfMap): DropsSource {
  const counters = new DropsReader(dropsMap);
  const out = new Map<number, bigint>();
  return { read: () => out.set(0, counters.total(0)), close: () => dropsMap.close() };
}

/** The drop counts of perf slots, by slot: each channel's counters are read once per poll. */
function perfDrops(dropsMap: BpfMap, slots: readonly number[], ncpu: number): DropsSource {
  const counters = new DropsReader(dropsMap);
  const byChannel = new Map<number, number[]>();
  for (const slot of slots) {
    const ch = Math.floor(slot / ncpu);
    const list = byChannel.get(ch);
    if (list) list.push(slot);
    else byChannel.set(ch, [slot]);
  }
  const out = new Map<number, bigint>();
  return {
    read: () => {
      for (const [ch, list] of byChannel) {
        const values = counters.read(ch);
        for (const slot of list) out.set(slot, values?.[slot % ncpu] ?? 0n);
      }
      return out;
    },
    close: () => dropsMap.close(),
  };
}
